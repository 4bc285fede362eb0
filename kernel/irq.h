// Device interrupt lines granted by capability (MF_OBJ_IRQ, docs/devices.md).
//
// An IRQ object is one device's interrupt (static, made at boot by
// pci_init): MSI-X vector 0 where the device has MSI-X and the arch a
// message target, else its INTx line. Bound to a notification, each
// interrupt masks it (MSI-X: the vector's mask bit, the device keeps the
// next message pending; INTx: the controller line) and signals the
// notification; the driver handles the cause at the device and acks the
// IRQ cap, which unmasks. INTx devices that share a controller line share
// its mask: it is unmasked once every bound sharer that was signalled has
// acked.
//
// Locking: interrupts are taken on CPU 0 (the only CPU running user
// threads) with interrupts disabled, like invocations; no lock is needed.
#pragma once
#include "kernel/types.h"

struct pci_device;
struct notification;

struct irq_line {
    unsigned line;              // arch line (x86_64 GSI or MSI vector line, aarch64 INTID)
    bool msi;                   // MSI-X vector 0 of the device (never shared)
    uint64_t msi_address;
    uint32_t msi_data;
    struct pci_device *device;
    struct notification *notification;   // bound, or NULL
    uint64_t badge;
    bool awaiting_ack;          // signalled; the line stays masked until acked
    uint32_t delivered;         // interrupts signalled so far
    // A line the kernel handles itself (a NIC it drives): called in
    // interrupt context with irq_lock held; then the line is unmasked.
    void (*kernel_handler)(void *arg);
    void *kernel_arg;
};

// A line object for a device whose INTx the arch routes to `line`; NULL
// when the table is full or the controller refuses the line.
struct irq_line *irq_line_create(struct pci_device *dev, unsigned line);
// A line object for MSI-X vector 0 of dev (whose msix_table is mapped):
// the message is programmed and MSI-X enabled when the line is bound.
struct irq_line *irq_line_create_msi(struct pci_device *dev);
// The kernel takes the line for itself (before any user binding: boot).
void irq_bind_kernel(struct irq_line *l, void (*handler)(void *arg), void *arg);
// The final IRQ cap is gone: unbind (the line stays masked).
void irq_cap_destroyed(struct irq_line *l);
// A notification's final cap is gone: lines bound to it are unbound.
void irq_forget_notification(struct notification *n);
