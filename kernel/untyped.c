// Untyped memory: retype carves objects out of it, in order, from a
// watermark kept in the capability; revoke (kernel/cap.c) takes them all back.
#include "kernel/object.h"
#include "kernel/invoke.h"
#include "kernel/pmm.h"
#include "kernel/console.h"
#include "kernel/thread.h"
#include "kernel/ipc.h"
#include "kernel/segment.h"
#include "kernel/lrpc.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

#define RETYPE_MAX_COUNT 64

// log2 of an object's size in bytes (kernel/object.h), or -1 when the type
// is not retypable or size_bits is not valid for it; untyped_bits bounds
// what fits at all.
static int object_bits(unsigned type, unsigned size_bits, unsigned untyped_bits)
{
    if (type == MF_OBJ_NULL || type >= MF_OBJ_TYPE_COUNT || !object_types[type]->object_bits)
        return -1;
    int bits = object_types[type]->object_bits(size_bits);
    return bits >= 0 && (unsigned)bits <= untyped_bits ? bits : -1;
}

// RETYPE: count objects of `type` (size_bits as the caller gave it), each
// 2^object_bits bytes, carved from the untyped at offset and on, go into
// dst_cnode's slots first, first + 1, ...
struct retype_args {
    struct slot *untyped, *dst_cnode;
    unsigned type, size_bits;
    uint64_t count, first, offset;
    uint8_t object_bits;
};

static int decode_retype(const struct invocation *inv, struct decoded *d)
{
    struct retype_args *a = DECODED(struct retype_args, d);
    const struct cap *ut = &inv->target->cap;
    if (!(ut->rights & MF_RIGHT_WRITE))
        return refuse(inv, -E_PERM, "retype needs WRITE on the untyped");
    struct slot *dst_cnode;
    int r = cap_lookup(inv->caller, inv->arg[1], MF_OBJ_CNODE, MF_RIGHT_WRITE, &dst_cnode);
    if (r)
        return r;
    unsigned type = inv->arg[0] & 0xff, size_bits = inv->arg[0] >> 8 & 0xff;
    uint64_t count = inv->arg[0] >> 16;
    int bits = object_bits(type, size_bits, ut->size_bits);
    if (bits < 0)
        return refuse(inv, -E_INVAL, "no such type, or a size it cannot have");
    if (count == 0 || count > RETYPE_MAX_COUNT)
        return refuse(inv, -E_RANGE, "count must be 1..64");
    uint64_t first = inv->arg[2];
    for (uint64_t i = 0; i < count; i++) {
        struct slot *s = cnode_lookup(&dst_cnode->cap, first + i);
        if (!s)
            return refuse(inv, -E_RANGE, "a destination slot is past the CNode");
        if (!slot_empty(s))
            return refuse(inv, -E_BUSY, "a destination slot is occupied");
    }
    // Objects are naturally aligned after the watermark; all must fit.
    uint64_t size = 1ull << bits, start = ALIGN_UP(ut->badge, size);
    uint64_t capacity = 1ull << ut->size_bits;
    if (start > capacity || (capacity - start) / size < count)
        return refuse(inv, -E_NOMEM, "the untyped has no room left (revoke it)");
    // A thread destroyed there may not have left its CPU yet (its kernel
    // stack is in that memory): decode again once it has.
    if (sched_memory_in_use(ut->obj + start, ut->obj + start + count * size))
        return INVOKE_RETRY;
    a->untyped = inv->target;
    a->dst_cnode = dst_cnode;
    a->type = type;
    a->size_bits = size_bits;
    a->count = count;
    a->first = first;
    a->offset = start;
    a->object_bits = (uint8_t)bits;
    return 0;
}

static int64_t invoke_retype(const struct decoded *d)
{
    const struct retype_args *a = DECODED(struct retype_args, d);
    struct slot *ut = a->untyped;
    unsigned type = a->type, size_bits = a->size_bits;
    uint64_t size = 1ull << a->object_bits, offset = a->offset;
    for (uint64_t i = 0; i < a->count; i++, offset += size) {
        uintptr_t obj = ut->cap.obj + offset;
        if (type != MF_OBJ_UNTYPED)
            memset((void *)obj, 0, size);   // untyped is zeroed when retyped further
        if (object_types[type]->init)
            object_types[type]->init(obj, size_bits);
        struct cap cap = {.obj = obj, .type = (uint8_t)type, .rights = MF_RIGHTS_ALL,
                          .size_bits = (uint8_t)size_bits};
        cap_insert(cnode_lookup(&a->dst_cnode->cap, a->first + i), &cap, ut);
    }
    ut->cap.badge = offset;
    return 0;
}

const struct op_handler untyped_ops[MAX_OPS] = {
    [MF_UNTYPED_RETYPE] = {decode_retype, invoke_retype},
};

// ---------------------------------------------------------------- boot

static uint32_t root_untyped_count, root_untyped_bits;

void root_untyped_info(uint32_t *count, uint32_t *size_bits)
{
    *count = root_untyped_count;
    *size_bits = root_untyped_bits;
}

// Gives the root task its CSpace: a CNode holding a cap to itself and
// untyped caps for `untyped_count` blocks of 2^untyped_bits bytes taken from
// the page allocator. Returns 0 or -E_NOMEM.
int root_cspace_create(struct thread *root, unsigned untyped_count, unsigned untyped_bits)
{
    unsigned cnode_bits = MF_ROOT_CNODE_BITS;
    size_t cnode_pages = (1ul << (cnode_bits + 6)) / PAGE_SIZE;
    paddr_t cnode = pmm_alloc_contig(cnode_pages, PAGE_SIZE);
    if (!cnode)
        return -E_NOMEM;
    uintptr_t obj = (uintptr_t)P2V(cnode);
    cnode_init(obj, cnode_bits);
    struct slot *slots = cnode_slots(obj);
    struct cap self = {.obj = obj, .type = MF_OBJ_CNODE, .rights = MF_RIGHTS_ALL, .size_bits = (uint8_t)cnode_bits};
    cap_insert(&slots[MF_CAP_SELF_CNODE], &self, NULL);
    unsigned given = 0;
    for (; given < untyped_count; given++) {
        size_t pages = (1ul << untyped_bits) / PAGE_SIZE;
        paddr_t pa = pmm_alloc_contig(pages, 1ul << untyped_bits);
        if (!pa)
            break;
        struct cap ut = {.obj = (uintptr_t)P2V(pa), .type = MF_OBJ_UNTYPED, .rights = MF_RIGHTS_ALL,
                         .size_bits = (uint8_t)untyped_bits};
        cap_insert(&slots[MF_CAP_UNTYPED_BASE + given], &ut, NULL);
    }
    root_untyped_count = given;
    root_untyped_bits = untyped_bits;
    cap_insert(&root->cspace, &self, &slots[MF_CAP_SELF_CNODE]);
    return 0;
}

static int untyped_bits(unsigned size_bits) { return size_bits >= PAGE_SHIFT ? (int)size_bits : -1; }

const struct object_type untyped_object_type = {
    .name = "untyped",
    .object_bits = untyped_bits,
    .ops = untyped_ops,
    .op_count = MF_UNTYPED_OP_COUNT,
};
