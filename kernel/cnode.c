// CNode invocations: copy, mint, move, delete, revoke, identify, and copy
// or move into another CNode.
// Delete and revoke do a bounded amount of work per call and return -E_AGAIN
// when more remains: a continuation, not a failure (the tree is consistent
// after every step, and calling again finishes the job).
#include "kernel/object.h"
#include "kernel/invoke.h"
#include "kernel/usercopy.h"
#include "include/manifold/errors.h"

// COPY, MINT, COPY_TO: src's cap, derived, goes into the empty dst.
struct derive_args {
    struct slot *src, *dst;
    struct cap derived;
};

// MOVE: src's cap goes into the empty dst.
struct move_args {
    struct slot *src, *dst;
};

// DELETE, REVOKE, IDENTIFY: one slot of the invoked CNode.
struct slot_args {
    struct slot *slot;
};

// Source and destination slots of the invoked CNode: src full, dst empty.
// *src and *dst are set only on success.
static int decode_pair(const struct invocation *inv, bool need_src, bool need_dst,
                       struct slot **src_out, struct slot **dst_out)
{
    const struct cap *cn = &inv->target->cap;
    if (!(cn->rights & MF_RIGHT_WRITE))
        return refuse(inv, -E_PERM, "changing a CNode needs WRITE on it");
    struct slot *src = need_src ? cnode_lookup(cn, inv->arg[0]) : NULL;
    struct slot *dst = need_dst ? cnode_lookup(cn, inv->arg[1]) : NULL;
    if ((need_src && !src) || (need_dst && !dst))
        return refuse(inv, -E_RANGE, "a slot index is 0 or past the CNode");
    if (need_src && slot_empty(src))
        return refuse(inv, -E_BADCAP, "the source slot (first argument) is empty");
    if (need_dst && !slot_empty(dst))
        return refuse(inv, -E_BUSY, "the destination slot is occupied");
    *src_out = src;
    if (dst_out)
        *dst_out = dst;
    return 0;
}

static int decode_derive(const struct invocation *inv, struct decoded *d, bool mint)
{
    struct derive_args *a = DECODED(struct derive_args, d);
    int r = decode_pair(inv, true, true, &a->src, &a->dst);
    if (r)
        return r;
    return cap_derive(&a->src->cap, inv->arg[2], mint ? inv->arg[3] : 0, &a->derived);
}

static int decode_copy(const struct invocation *inv, struct decoded *d) { return decode_derive(inv, d, false); }
static int decode_mint(const struct invocation *inv, struct decoded *d) { return decode_derive(inv, d, true); }

static int64_t invoke_derive(const struct decoded *d)
{
    const struct derive_args *a = DECODED(struct derive_args, d);
    cap_insert(a->dst, &a->derived, a->src);
    return 0;
}

static int decode_move(const struct invocation *inv, struct decoded *d)
{
    struct move_args *a = DECODED(struct move_args, d);
    return decode_pair(inv, true, true, &a->src, &a->dst);
}

static int64_t invoke_move(const struct decoded *d)
{
    const struct move_args *a = DECODED(struct move_args, d);
    cap_move(a->dst, a->src);
    return 0;
}

static int decode_revoke(const struct invocation *inv, struct decoded *d)
{
    struct slot_args *a = DECODED(struct slot_args, d);
    return decode_pair(inv, true, false, &a->slot, NULL);
}

// Deleting an empty slot is not an error: the slot ends up empty either way.
static int decode_delete(const struct invocation *inv, struct decoded *d)
{
    struct slot_args *a = DECODED(struct slot_args, d);
    const struct cap *cn = &inv->target->cap;
    if (!(cn->rights & MF_RIGHT_WRITE))
        return -E_PERM;
    a->slot = cnode_lookup(cn, inv->arg[0]);
    return a->slot ? 0 : -E_RANGE;
}

static int64_t invoke_delete(const struct decoded *d)
{
    unsigned budget = MF_REVOKE_BUDGET;
    return cap_delete(DECODED(struct slot_args, d)->slot, &budget);
}

static int64_t invoke_revoke(const struct decoded *d)
{
    unsigned budget = MF_REVOKE_BUDGET;
    return cap_revoke(DECODED(struct slot_args, d)->slot, &budget);
}

static int decode_identify(const struct invocation *inv, struct decoded *d)
{
    struct slot_args *a = DECODED(struct slot_args, d);
    a->slot = cnode_lookup(&inv->target->cap, inv->arg[0]);
    return a->slot ? 0 : -E_RANGE;
}

static int64_t invoke_identify(const struct decoded *d)
{
    const struct cap *c = &DECODED(struct slot_args, d)->slot->cap;
    return c->type | c->rights << 8 | (int64_t)c->size_bits << 16;
}

static int decode_other(const struct invocation *inv, unsigned right, struct slot **src_out, struct slot **dst_out);

// Copy from the invoked CNode into another one the caller holds (e.g. to
// give a program it spawns a CSpace). Copying out only reads the invoked
// CNode: READ is enough there (a read-only images CNode hands out copies).
static int decode_copy_to(const struct invocation *inv, struct decoded *d)
{
    struct derive_args *a = DECODED(struct derive_args, d);
    int r = decode_other(inv, MF_RIGHT_READ, &a->src, &a->dst);
    if (r)
        return r;
    return cap_derive(&a->src->cap, inv->arg[3], 0, &a->derived);
}

// The invoked CNode's slot src (full; the invoked cap needs `right`) and
// slot dst of another CNode the caller holds with WRITE (empty).
static int decode_other(const struct invocation *inv, unsigned right, struct slot **src_out, struct slot **dst_out)
{
    const struct cap *cn = &inv->target->cap;
    if (!(cn->rights & right))
        return -E_PERM;
    struct slot *dst_cnode;
    int r = cap_lookup(inv->caller, inv->arg[1], MF_OBJ_CNODE, MF_RIGHT_WRITE, &dst_cnode);
    if (r)
        return r;
    struct slot *src = cnode_lookup(cn, inv->arg[0]);
    struct slot *dst = cnode_lookup(&dst_cnode->cap, inv->arg[2]);
    if (!src || !dst)
        return refuse(inv, -E_RANGE, "a slot index is 0 or past its CNode");
    if (slot_empty(src))
        return refuse(inv, -E_BADCAP, "the source slot (first argument) is empty");
    if (!slot_empty(dst))
        return refuse(inv, -E_BUSY, "the destination slot is occupied");
    *src_out = src;
    *dst_out = dst;
    return 0;
}

// Move from the invoked CNode into another one (a loader files a program's
// mapped frames away in the program's own object CNode).
static int decode_move_to(const struct invocation *inv, struct decoded *d)
{
    struct move_args *a = DECODED(struct move_args, d);
    return decode_other(inv, MF_RIGHT_WRITE, &a->src, &a->dst);
}

// DESCRIBE: a slot of the invoked CNode (READ on it), written out as
// struct mf_cap_info for checkpointers (include/manifold/cap.h). Badges
// are shown for endpoints and notifications only: other types keep kernel
// state in that field (a frame's segment, an untyped's watermark). The
// object's state only when the described cap has READ: without it, its
// holder could not read that state through the cap either (a
// notification's word, a thread's registers).
struct describe_args {
    struct slot *slot;
    const struct cap *cnode;
    uint64_t index, buffer;
    bool want_next;
};
#define DESCRIBE_SCAN 1024

static int decode_describe(const struct invocation *inv, struct decoded *d)
{
    struct describe_args *a = DECODED(struct describe_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return refuse(inv, -E_PERM, "describing a slot needs READ on the CNode");
    a->slot = cnode_lookup(&inv->target->cap, inv->arg[0]);
    if (!a->slot)
        return refuse(inv, -E_RANGE, "a slot index is 0 or past the CNode");
    a->cnode = &inv->target->cap;
    a->index = inv->arg[0];
    a->buffer = inv->arg[1];
    a->want_next = inv->arg[2] == 1;
    return 0;
}

static int64_t invoke_describe(const struct decoded *d)
{
    const struct describe_args *a = DECODED(struct describe_args, d);
    const struct cap *c = &a->slot->cap;
    struct mf_cap_info info = {0};
    if (!slot_empty(a->slot)) {
        info.type = c->type;
        info.rights = c->rights;
        info.size_bits = c->size_bits;
        info.object = object_name(c->obj);
        if (c->type == MF_OBJ_ENDPOINT || c->type == MF_OBJ_NOTIFICATION || c->type == MF_OBJ_VAS ||
            c->type == MF_OBJ_SEGMENT)
            info.badge = c->badge;      // VAS and segment caps: the half (segment.c, "Halves")
        switch (c->rights & MF_RIGHT_READ ? c->type : MF_OBJ_NULL) {
        case MF_OBJ_FRAME: frame_describe(a->slot, &info); break;
        case MF_OBJ_SEGMENT: segment_describe(c->obj, &info); break;
        case MF_OBJ_VAS: vas_object_describe(c->obj, &info); break;
        case MF_OBJ_THREAD: thread_describe(c->obj, &info); break;
        case MF_OBJ_NOTIFICATION: notification_describe(c->obj, &info); break;
        case MF_OBJ_BINDING: binding_describe(c->obj, &info); break;
        default: break;
        }
    }
    // Asked for (arg 2 = 1): a walk over a sparse CNode (a checkpointer's)
    // visits occupied slots only. At most DESCRIBE_SCAN slots are looked
    // at under cap_lock: past them `next` is the first slot not looked at
    // (perhaps empty: the walk describes it and goes on).
    if (a->want_next) {
        const struct slot *slots = cnode_slots(a->cnode->obj);
        uint64_t end = 1ul << a->cnode->size_bits, stop = a->index + 1 + DESCRIBE_SCAN;
        for (uint64_t i = a->index + 1; i < end && !info.next; i++)
            if (i == stop || !slot_empty(&slots[i]))
                info.next = (uint32_t)i;
    }
    return copy_to_user(a->buffer, &info, sizeof(info));
}

const struct op_handler cnode_ops[MAX_OPS] = {
    [MF_CNODE_COPY] = {decode_copy, invoke_derive},
    [MF_CNODE_MINT] = {decode_mint, invoke_derive},
    [MF_CNODE_MOVE] = {decode_move, invoke_move},
    [MF_CNODE_DELETE] = {decode_delete, invoke_delete},
    [MF_CNODE_REVOKE] = {decode_revoke, invoke_revoke},
    [MF_CNODE_IDENTIFY] = {decode_identify, invoke_identify},
    [MF_CNODE_COPY_TO] = {decode_copy_to, invoke_derive},
    [MF_CNODE_MOVE_TO] = {decode_move_to, invoke_move},
    [MF_CNODE_DESCRIBE] = {decode_describe, invoke_describe},
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
