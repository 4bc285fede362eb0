// A user-level driver for QEMU's ivshmem device (PCI 1af4:1110): memory
// shared with the host and other QEMU instances (BAR2), and with
// ivshmem-doorbell, interrupts between instances through an ivshmem server
// (tools/ivshmem-server). See docs/devices.md.
//
// BAR0 registers (32-bit): IntrMask 0x0, IntrStatus 0x4 (reading clears),
// IVPosition 0x8 (our peer ID), Doorbell 0xC (peer << 16 | vector).
// Interrupts are INTx (the device with msi=off): bound to a notification
// through the device's IRQ capability.
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct ivshmem {
    volatile void *shm;      // BAR2 mapped in the caller's VAS (the shared region)
    uint64_t size;           // its size in bytes
    int peer_id;             // IVPosition (-1 for ivshmem-plain without a server)
    bool has_doorbell;       // ivshmem-doorbell with interrupts
    /* driver-private fields */
    long device;             // PCI device cap
    volatile uint32_t *regs; // BAR0
    uint64_t regs_size;      // bytes mapped at regs
    long irq, notification;  // caps in our driver slots (0: none)
    uint32_t interrupts;     // doorbell interrupts taken by ivshmem_wait
    bool msi;                // MSI-X: every signal is ours (IntrStatus is INTx's)
};

#define IVSHMEM_VENDOR 0x1af4
#define IVSHMEM_DEVICE 0x1110
#define IVSHMEM_INTR_MASK   0x0
#define IVSHMEM_INTR_STATUS 0x4
#define IVSHMEM_IV_POSITION 0x8
#define IVSHMEM_DOORBELL    0xc

// Finds the index-th ivshmem device the caller has a capability for, maps BAR2
// (and BAR0), enables memory decoding, binds its interrupt to a notification. 0 or -E_*.
// -E_NOENT: no such device. Uses libmanifold's slot allocator (mf_slot_alloc, manifold.h): two
// slots and a notification's 64 bytes of untyped for a doorbell device.
long ivshmem_open(struct ivshmem *dev, unsigned index);
// Rings vector `vector` of peer `peer` (our own ID included). -E_INVAL
// without a doorbell; -E_RANGE for a peer above 65535 or a vector above 255.
long ivshmem_ring(struct ivshmem *dev, unsigned peer, unsigned vector);   // doorbell
// Waits for a doorbell interrupt: 0 when one came, -E_AGAIN after
// timeout_ticks timer ticks (0 = no limit), -E_INVAL without a doorbell.
long ivshmem_wait(struct ivshmem *dev, uint64_t timeout_ticks);
// Unbinds and unmaps; the device's memory keeps its contents.
void ivshmem_close(struct ivshmem *dev);
// How many ivshmem devices the caller has capabilities for.
unsigned ivshmem_count(void);
