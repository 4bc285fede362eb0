// CNode invocations: copy, mint, move, delete, revoke, identify.
// Delete and revoke do a bounded amount of work per call and return -E_AGAIN
// when more remains: a continuation, not a failure (the tree is consistent
// after every step, and calling again finishes the job).
#include "kernel/object.h"
#include "kernel/invoke.h"
#include "include/manifold/errors.h"

// Source and destination slots of the invoked CNode: src full, dst empty.
static int decode_pair(const struct invocation *inv, struct decoded *d, bool need_src, bool need_dst)
{
    const struct cap *cn = &inv->target->cap;
    if (!(cn->rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *src = need_src ? cnode_lookup(cn, inv->arg[0]) : NULL;
    struct slot *dst = need_dst ? cnode_lookup(cn, inv->arg[1]) : NULL;
    if ((need_src && !src) || (need_dst && !dst))
        return -E_RANGE;
    if (need_src && slot_empty(src))
        return -E_BADCAP;
    if (need_dst && !slot_empty(dst))
        return -E_BUSY;
    d->slot[0] = src;
    d->slot[1] = dst;
    return 0;
}

static int decode_derive(const struct invocation *inv, struct decoded *d, bool mint)
{
    int r = decode_pair(inv, d, true, true);
    if (r)
        return r;
    return cap_derive(&d->slot[0]->cap, inv->arg[2], mint ? inv->arg[3] : 0, &d->cap);
}

static int decode_copy(const struct invocation *inv, struct decoded *d) { return decode_derive(inv, d, false); }
static int decode_mint(const struct invocation *inv, struct decoded *d) { return decode_derive(inv, d, true); }

static int64_t invoke_derive(const struct decoded *d)
{
    cap_insert(d->slot[1], &d->cap, d->slot[0]);
    return 0;
}

static int decode_move(const struct invocation *inv, struct decoded *d)
{
    return decode_pair(inv, d, true, true);
}

static int64_t invoke_move(const struct decoded *d)
{
    cap_move(d->slot[1], d->slot[0]);
    return 0;
}

static int decode_single(const struct invocation *inv, struct decoded *d)
{
    return decode_pair(inv, d, true, false);
}

// Deleting an empty slot is not an error: the slot ends up empty either way.
static int decode_delete(const struct invocation *inv, struct decoded *d)
{
    const struct cap *cn = &inv->target->cap;
    if (!(cn->rights & MF_RIGHT_WRITE))
        return -E_PERM;
    d->slot[0] = cnode_lookup(cn, inv->arg[0]);
    return d->slot[0] ? 0 : -E_RANGE;
}

static int64_t invoke_delete(const struct decoded *d)
{
    unsigned budget = MF_REVOKE_BUDGET;
    return cap_delete(d->slot[0], &budget);
}

static int64_t invoke_revoke(const struct decoded *d)
{
    unsigned budget = MF_REVOKE_BUDGET;
    return cap_revoke(d->slot[0], &budget);
}

static int decode_identify(const struct invocation *inv, struct decoded *d)
{
    d->slot[0] = cnode_lookup(&inv->target->cap, inv->arg[0]);
    return d->slot[0] ? 0 : -E_RANGE;
}

static int64_t invoke_identify(const struct decoded *d)
{
    const struct cap *c = &d->slot[0]->cap;
    return c->type | c->rights << 8 | (int64_t)c->size_bits << 16;
}

// Copy from the invoked CNode into another one the caller holds (e.g. to
// give a program it spawns a CSpace).
static int decode_copy_to(const struct invocation *inv, struct decoded *d)
{
    const struct cap *cn = &inv->target->cap;
    if (!(cn->rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *dst_cnode;
    int r = cap_lookup(inv->caller, inv->arg[1], MF_OBJ_CNODE, MF_RIGHT_WRITE, &dst_cnode);
    if (r)
        return r;
    struct slot *src = cnode_lookup(cn, inv->arg[0]);
    struct slot *dst = cnode_lookup(&dst_cnode->cap, inv->arg[2]);
    if (!src || !dst)
        return -E_RANGE;
    if (slot_empty(src))
        return -E_BADCAP;
    if (!slot_empty(dst))
        return -E_BUSY;
    d->slot[0] = src;
    d->slot[1] = dst;
    return cap_derive(&src->cap, inv->arg[3], 0, &d->cap);
}

const struct op_handler cnode_ops[MAX_OPS] = {
    [MF_CNODE_COPY] = {decode_copy, invoke_derive},
    [MF_CNODE_MINT] = {decode_mint, invoke_derive},
    [MF_CNODE_MOVE] = {decode_move, invoke_move},
    [MF_CNODE_DELETE] = {decode_delete, invoke_delete},
    [MF_CNODE_REVOKE] = {decode_single, invoke_revoke},
    [MF_CNODE_IDENTIFY] = {decode_identify, invoke_identify},
    [MF_CNODE_COPY_TO] = {decode_copy_to, invoke_derive},
};
_Static_assert(MF_CNODE_OP_COUNT <= MAX_OPS, "cnode operation table");

// 2^size_bits slots of 64 bytes; slot 0 is the header.
static int cnode_bits(unsigned size_bits) { return size_bits >= 2 && size_bits <= 16 ? (int)size_bits + 6 : -1; }

static void cnode_object_init(uintptr_t obj, unsigned size_bits) { cnode_init(obj, size_bits); }

const struct object_type cnode_object_type = {
    .name = "cnode",
    .object_bits = cnode_bits,
    .init = cnode_object_init,
    .finalize = cnode_finalize,
    .ops = cnode_ops,
    .op_count = MF_CNODE_OP_COUNT,
};
