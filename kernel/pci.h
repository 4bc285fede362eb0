// PCI devices found at boot and the capabilities that grant them
// (docs/devices.md). The kernel only enumerates, sizes BARs and routes
// INTx; drivers are user programs holding a device capability.
//
// Locking: the table is written once at boot (pci_init), before any other
// CPU or user thread runs; afterwards it changes only through invocations,
// which run on CPU 0 with interrupts disabled.
#pragma once
#include "kernel/types.h"
#include "include/manifold/cap.h"
#include "include/manifold/device.h"

struct boot_info;
struct thread;
struct irq_line;

struct pci_bar {
    paddr_t base;
    uint64_t size;              // 0: not implemented (or the upper half of a 64-bit BAR)
    uint32_t flags;             // MF_PCI_BAR_*
};

struct pci_device {
    uint32_t bdf;               // bus << 8 | device << 3 | function
    uint16_t vendor, device;
    uint32_t class_rev;         // class code << 8 | revision
    uint8_t header_type;
    uint8_t intx_pin;           // 1 = INTA .. 4; 0 = none
    uint8_t intx_register;      // interrupt-line register as the firmware left it
    int irq;                    // arch line, -1 when none or unroutable
    struct pci_bar bar[MF_PCI_BAR_COUNT];
    // MSI-X (capability 0x11), when the device has it: where its vector
    // table and pending-bit array are. Only the kernel may write the table
    // (a message is a memory write): MAP_BAR refuses their pages.
    uint8_t msix_cap;           // config offset, 0 = none
    uint8_t msix_table_bar, msix_pba_bar;
    uint16_t msix_entries;
    uint32_t msix_table_offset, msix_pba_offset;
    volatile uint32_t *msix_table;   // kernel mapping of the table, or NULL
    bool kernel_driven;         // a NIC the kernel drives (kernel/net.c): no BAR, IRQ or command operations
    struct irq_line *line;      // kernel/irq.c: MSI-X vector 0, else INTx; NULL without
};

extern struct pci_device pci_devices[MF_DEVICE_MAX];
extern unsigned pci_device_count;

// Enumerates bus 0 and the buses behind simple bridges; prints one line
// per function. Devices past MF_DEVICE_MAX are listed but not kept.
void pci_init(const struct boot_info *bi);
// Puts a PCI device cap per device into cspace slots MF_CAP_DEVICE_BASE...
void pci_grant_root(uintptr_t cspace);
// True when no page of [pa, pa+size) is RAM the page allocator manages:
// only such ranges may be mapped as device memory.
bool pci_range_is_device(paddr_t pa, uint64_t size);
