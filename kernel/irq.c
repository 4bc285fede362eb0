// IRQ objects: device interrupt lines bound to notifications.
#include "kernel/irq.h"
#include "kernel/arch.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/ipc.h"
#include "kernel/pci.h"
#include "include/manifold/errors.h"

static struct irq_line lines[MF_DEVICE_MAX];
static unsigned line_count;

// Lines already configured at the controller (several devices may share one).
static bool line_configured(unsigned line)
{
    for (unsigned i = 0; i < line_count; i++)
        if (lines[i].line == line)
            return true;
    return false;
}

struct irq_line *irq_line_create(struct pci_device *dev, unsigned line)
{
    if (line_count == MF_DEVICE_MAX)
        return NULL;
    if (!line_configured(line) && !arch_irq_configure(line))
        return NULL;
    struct irq_line *l = &lines[line_count++];
    *l = (struct irq_line){.line = line, .device = dev};
    return l;
}

// Unmasks `line` unless a bound sharer still has to ack.
static void maybe_unmask(unsigned line)
{
    bool any_bound = false;
    for (unsigned i = 0; i < line_count; i++) {
        if (lines[i].line != line || !lines[i].notification)
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
    bool others = false;
    for (unsigned i = 0; i < line_count; i++)
        if (lines[i].line == l->line && lines[i].notification)
            others = true;
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
    for (unsigned i = 0; i < line_count; i++) {
        struct irq_line *l = &lines[i];
        if (l->line != line || !l->notification)
            continue;
        l->awaiting_ack = true;
        l->delivered++;
        notification_signal(l->notification, l->badge);
    }
}

void irq_cap_destroyed(struct irq_line *l)
{
    if (l->notification)
        unbind(l);
}

void irq_forget_notification(struct notification *n)
{
    for (unsigned i = 0; i < line_count; i++)
        if (lines[i].notification == n)
            unbind(&lines[i]);
}

// ------------------------------------------------------------ operations

static int decode_bind(const struct invocation *inv, struct decoded *d)
{
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *n;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_NOTIFICATION, MF_RIGHT_WRITE, &n);
    if (r)
        return r;
    struct irq_line *l = (struct irq_line *)inv->target->cap.obj;
    if (l->notification)
        return -E_BUSY;
    d->value[0] = (uintptr_t)l;
    d->value[1] = n->cap.obj;
    d->value[2] = n->cap.badge ? n->cap.badge : 1;
    return 0;
}

static int64_t invoke_bind(const struct decoded *d)
{
    struct irq_line *l = (struct irq_line *)d->value[0];
    l->notification = (struct notification *)d->value[1];
    l->badge = d->value[2];
    l->awaiting_ack = false;
    maybe_unmask(l->line);
    return 0;
}

static int decode_line(const struct invocation *inv, struct decoded *d, unsigned right, bool bound)
{
    if (!(inv->target->cap.rights & right))
        return -E_PERM;
    struct irq_line *l = (struct irq_line *)inv->target->cap.obj;
    if (bound && !l->notification)
        return -E_INVAL;            // nothing to ack or unbind
    d->value[0] = (uintptr_t)l;
    return 0;
}

static int decode_ack(const struct invocation *inv, struct decoded *d) { return decode_line(inv, d, MF_RIGHT_WRITE, true); }
static int decode_info(const struct invocation *inv, struct decoded *d) { return decode_line(inv, d, MF_RIGHT_READ, false); }

static int64_t invoke_ack(const struct decoded *d)
{
    struct irq_line *l = (struct irq_line *)d->value[0];
    l->awaiting_ack = false;
    maybe_unmask(l->line);
    return 0;
}

static int64_t invoke_unbind(const struct decoded *d)
{
    unbind((struct irq_line *)d->value[0]);
    return 0;
}

static int64_t invoke_info(const struct decoded *d)
{
    const struct irq_line *l = (const struct irq_line *)d->value[0];
    return (int64_t)((uint64_t)l->line | (uint64_t)(l->delivered & 0x7fffffffu) << 32);
}

const struct op_handler irq_ops[MAX_OPS] = {
    [MF_IRQ_BIND] = {decode_bind, invoke_bind},
    [MF_IRQ_ACK] = {decode_ack, invoke_ack},
    [MF_IRQ_UNBIND] = {decode_ack, invoke_unbind},
    [MF_IRQ_INFO] = {decode_info, invoke_info},
};
_Static_assert(MF_IRQ_OP_COUNT <= MAX_OPS, "IRQ operations fit the table");
