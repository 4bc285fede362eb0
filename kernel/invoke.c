#include "kernel/invoke.h"
#include "kernel/thread.h"
#include "include/manifold/errors.h"

struct slot *cnode_lookup(const struct cap *cnode, uint64_t index)
{
    if (cnode->type != MF_OBJ_CNODE || index == 0 || index >= (1ull << cnode->size_bits))
        return NULL;
    if (cnode_header(cnode->obj)->zombie)
        return NULL;
    return &cnode_slots(cnode->obj)[index];
}

struct slot *cspace_lookup(const struct thread *t, uint64_t cptr)
{
    if (!t->cspace)
        return NULL;
    struct cnode_header *h = cnode_header(t->cspace);
    struct cap root = {.obj = t->cspace, .type = MF_OBJ_CNODE, .size_bits = h->size_bits};
    return cnode_lookup(&root, cptr);
}

int cap_lookup(const struct thread *t, uint64_t cptr, unsigned type, unsigned rights, struct slot **out)
{
    struct slot *s = cspace_lookup(t, cptr);
    if (!s || slot_empty(s))
        return -E_BADCAP;
    if (s->cap.type != type)
        return -E_TYPE;
    if ((s->cap.rights & rights) != rights)
        return -E_PERM;
    *out = s;
    return 0;
}

static const struct op_handler *const op_tables[MF_OBJ_TYPE_COUNT] = {
    [MF_OBJ_UNTYPED] = untyped_ops,
    [MF_OBJ_CNODE] = cnode_ops,
    [MF_OBJ_THREAD] = thread_ops,
    [MF_OBJ_NOTIFICATION] = notification_ops,
    [MF_OBJ_VAS] = vas_ops,
    [MF_OBJ_SEGMENT] = segment_ops,
    [MF_OBJ_FRAME] = frame_ops,
    [MF_OBJ_BINDING] = binding_ops,
    [MF_OBJ_PCI_DEVICE] = pci_device_ops,
    [MF_OBJ_IRQ] = irq_ops,
    // Endpoints are used through SYS_SEND/RECV/CALL/REPLY_RECV, not invoked.
};

int64_t invoke_dispatch(struct thread *t, uint64_t cptr, uint64_t op, const uint64_t arg[4])
{
    struct slot *target = cspace_lookup(t, cptr);
    if (!target || slot_empty(target))
        return -E_BADCAP;
    const struct op_handler *ops = op_tables[target->cap.type];
    if (!ops || op >= MAX_OPS || !ops[op].decode)
        return -E_NOSYS;
    struct invocation inv = {t, target, op, {arg[0], arg[1], arg[2], arg[3]}};
    struct decoded d = {0};
    int r = ops[op].decode(&inv, &d);
    if (r)
        return r;
    return ops[op].invoke(&d);
}
