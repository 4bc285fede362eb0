// IRQ objects: device interrupt lines bound to notifications.
#include "kernel/lockdep.h"
#include "kernel/object.h"
#include "kernel/irq.h"
#include "kernel/arch.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/ipc.h"
#include "kernel/pci.h"
#include "lib/spinlock.h"
#include "include/manifold/errors.h"

static struct irq_line lines[MF_DEVICE_MAX];
static unsigned line_count;

// irq_lock guards lines[] (bindings, acks, masks): taken by the operations
// below (under cap_lock) and by irq_handler on whatever CPU the interrupt
// arrives (user mode or idle: it holds no lock). Lock order: cap_lock,
// irq_lock, then the bound notification's lock (notification_signal).
static struct mcs_lock irq_lock = {.lock_class = LOCK_CLASS_IRQ};

// MSI-X vector 0's entry: message address (low, high), data, vector
// control (bit 0 = masked). Message control (capability + 2): bit 15
// enables MSI-X, bit 14 masks the whole function.
#define MSIX_MASKED 1u
#define MSIX_ENABLE (1u << 15)
#define MSIX_FUNCTION_MASK (1u << 14)

static void msix_mask(const struct irq_line *l, bool masked)
{
    l->device->msix_table[3] = masked ? MSIX_MASKED : 0;
}

// Programs vector 0 and turns MSI-X on. The device must decode memory to
// take the table writes and master the bus to send the message, so both
// command bits are set (the only change the kernel makes for the driver).
static void msix_program(const struct irq_line *l)
{
    struct pci_device *d = l->device;
    uint32_t cmd = arch_pci_config_read(d->bdf, MF_PCI_COMMAND, 2);
    arch_pci_config_write(d->bdf, MF_PCI_COMMAND, 2, cmd | MF_PCI_COMMAND_MEMORY | MF_PCI_COMMAND_BUS_MASTER);
    d->msix_table[3] = MSIX_MASKED;
    d->msix_table[0] = (uint32_t)l->msi_address;
    d->msix_table[1] = (uint32_t)(l->msi_address >> 32);
    d->msix_table[2] = l->msi_data;
    uint32_t ctl = arch_pci_config_read(d->bdf, d->msix_cap + 2u, 2);
    arch_pci_config_write(d->bdf, d->msix_cap + 2u, 2, (ctl | MSIX_ENABLE) & ~MSIX_FUNCTION_MASK);
}

// Lines already configured at the controller (several devices may share one).
static bool line_configured(unsigned line)
{
    for (unsigned i = 0; i < line_count; i++)
        if (lines[i].line == line)
            return true;
    return false;
}

// A new entry is filled in before line_count counts it (handlers on other
// CPUs read up to line_count).
struct irq_line *irq_line_create(struct pci_device *dev, unsigned line)
{
    struct mcs_qnode q;
    struct irq_line *l = NULL;
    mcs_lock(&irq_lock, &q);
    if (line_count < MF_DEVICE_MAX && (line_configured(line) || arch_irq_configure(line))) {
        l = &lines[line_count];
        *l = (struct irq_line){.line = line, .device = dev};
        line_count++;
    }
    mcs_unlock(&irq_lock, &q);
    return l;
}

struct irq_line *irq_line_create_msi(struct pci_device *dev)
{
    struct mcs_qnode q;
    unsigned line;
    uint64_t address;
    uint32_t data;
    struct irq_line *l = NULL;
    mcs_lock(&irq_lock, &q);
    if (line_count < MF_DEVICE_MAX && arch_msi_allocate(dev->bdf, &line, &address, &data)) {
        l = &lines[line_count];
        *l = (struct irq_line){.line = line, .device = dev, .msi = true, .msi_address = address, .msi_data = data};
        line_count++;
    }
    mcs_unlock(&irq_lock, &q);
    return l;
}

// Unmasks `line` unless a bound sharer still has to ack.
static void maybe_unmask(unsigned line)
{
    bool any_bound = false;
    for (unsigned i = 0; i < line_count; i++) {
        if (lines[i].line != line || (!lines[i].notification && !lines[i].kernel_handler))
            continue;
        if (lines[i].awaiting_ack)
            return;
        any_bound = true;
    }
    if (any_bound)
        arch_irq_unmask(line);
}

static void unbind(struct irq_line *l)
{
    l->notification = NULL;
    l->badge = 0;
    l->awaiting_ack = false;
    if (l->msi) {
        msix_mask(l, true);
        arch_irq_mask(l->line);
        return;
    }
    bool others = false;
    for (unsigned i = 0; i < line_count; i++)
        if (lines[i].line == l->line && (lines[i].notification || lines[i].kernel_handler))
            others = true;      // (a NIC the kernel drives may share an INTx line)
    if (others)
        maybe_unmask(l->line);
    else
        arch_irq_mask(l->line);
}

// Interrupt context, line masked and acknowledged at the controller. Every
// bound device on the line is signalled: INTx cannot say which one asserted.
// With none bound the line simply stays masked.
void irq_handler(unsigned line)
{
    struct mcs_qnode q;
    mcs_lock(&irq_lock, &q);
    bool kernel = false;
    for (unsigned i = 0; i < line_count; i++) {
        struct irq_line *l = &lines[i];
        if (l->line == line && l->kernel_handler) {
            l->delivered++;
            l->kernel_handler(l->kernel_arg);
            kernel = true;
            continue;
        }
        if (l->line != line || !l->notification)
            continue;
        if (l->msi)
            msix_mask(l, true);     // the device keeps the next one pending
        l->awaiting_ack = true;
        l->delivered++;
        notification_signal(l->notification, l->badge);
    }
    if (kernel)
        maybe_unmask(line);     // handled: unless a user-bound sharer still has to ack
    mcs_unlock(&irq_lock, &q);
}

void irq_bind_kernel(struct irq_line *l, void (*handler)(void *arg), void *arg)
{
    struct mcs_qnode q;
    mcs_lock(&irq_lock, &q);
    l->kernel_handler = handler;
    l->kernel_arg = arg;
    if (l->msi) {
        msix_program(l);
        msix_mask(l, false);
    }
    maybe_unmask(l->line);
    mcs_unlock(&irq_lock, &q);
}

void irq_cap_destroyed(struct irq_line *l)
{
    struct mcs_qnode q;
    mcs_lock(&irq_lock, &q);
    if (l->notification)
        unbind(l);
    mcs_unlock(&irq_lock, &q);
}

// Before the notification goes: no handler signals it after this.
void irq_forget_notification(struct notification *n)
{
    struct mcs_qnode q;
    mcs_lock(&irq_lock, &q);
    for (unsigned i = 0; i < line_count; i++)
        if (lines[i].notification == n)
            unbind(&lines[i]);
    mcs_unlock(&irq_lock, &q);
}

// ------------------------------------------------------------ operations

// BIND: the line signals `bits` (the notification cap's badge, or 1) on
// the notification.
struct bind_args {
    struct irq_line *line;
    struct notification *notification;
    uint64_t bits;
};

static int decode_bind(const struct invocation *inv, struct decoded *d)
{
    struct bind_args *a = DECODED(struct bind_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *n;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_NOTIFICATION, MF_RIGHT_WRITE, &n);
    if (r)
        return r;
    struct irq_line *l = (struct irq_line *)inv->target->cap.obj;
    if (l->notification)
        return -E_BUSY;
    a->line = l;
    a->notification = (struct notification *)n->cap.obj;
    a->bits = n->cap.badge ? n->cap.badge : 1;
    return 0;
}

static int64_t invoke_bind(const struct decoded *d)
{
    struct mcs_qnode q;
    const struct bind_args *a = DECODED(struct bind_args, d);
    struct irq_line *l = a->line;
    mcs_lock(&irq_lock, &q);
    l->notification = a->notification;
    l->badge = a->bits;
    l->awaiting_ack = false;
    if (l->msi) {
        msix_program(l);
        msix_mask(l, false);
    }
    maybe_unmask(l->line);
    mcs_unlock(&irq_lock, &q);
    return 0;
}

// ACK, UNBIND, INFO: the invoked line.
struct line_args {
    struct irq_line *line;
};

static int decode_line(const struct invocation *inv, struct decoded *d, unsigned right, bool bound)
{
    if (!(inv->target->cap.rights & right))
        return -E_PERM;
    struct irq_line *l = (struct irq_line *)inv->target->cap.obj;
    if (bound && !l->notification)
        return -E_INVAL;            // nothing to ack or unbind
    DECODED(struct line_args, d)->line = l;
    return 0;
}

static int decode_ack(const struct invocation *inv, struct decoded *d) { return decode_line(inv, d, MF_RIGHT_WRITE, true); }
static int decode_info(const struct invocation *inv, struct decoded *d) { return decode_line(inv, d, MF_RIGHT_READ, false); }

static int64_t invoke_ack(const struct decoded *d)
{
    struct mcs_qnode q;
    struct irq_line *l = DECODED(struct line_args, d)->line;
    mcs_lock(&irq_lock, &q);
    if (l->notification) {      // unbound meanwhile: nothing to ack
        l->awaiting_ack = false;
        if (l->msi)
            msix_mask(l, false);
        maybe_unmask(l->line);
    }
    mcs_unlock(&irq_lock, &q);
    return 0;
}

static int64_t invoke_unbind(const struct decoded *d)
{
    struct mcs_qnode q;
    mcs_lock(&irq_lock, &q);
    unbind(DECODED(struct line_args, d)->line);
    mcs_unlock(&irq_lock, &q);
    return 0;
}

static int64_t invoke_info(const struct decoded *d)
{
    const struct irq_line *l = DECODED(struct line_args, d)->line;
    return (int64_t)((uint64_t)l->line | (l->msi ? MF_IRQ_INFO_MSI : 0) |
                     (uint64_t)(l->delivered & 0x7fffffffu) << 32);
}

const struct op_handler irq_ops[MAX_OPS] = {
    [MF_IRQ_BIND] = {decode_bind, invoke_bind},
    [MF_IRQ_ACK] = {decode_ack, invoke_ack},
    [MF_IRQ_UNBIND] = {decode_ack, invoke_unbind},
    [MF_IRQ_INFO] = {decode_info, invoke_info},
};
_Static_assert(MF_IRQ_OP_COUNT <= MAX_OPS, "IRQ operations fit the table");

static void irq_finalize(const struct cap *cap) { irq_cap_destroyed((struct irq_line *)cap->obj); }

const struct object_type irq_object_type = {
    .name = "irq",
    .finalize = irq_finalize,
    .ops = irq_ops,
    .op_count = MF_IRQ_OP_COUNT,
};
