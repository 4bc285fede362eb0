// Slots and objects without hand-numbered slots (manifold.h, "Slots and
// objects"). A program hands libmanifold a range of its CSpace's slots and
// an untyped; mf_new carves an object into a free slot of the range and
// returns its cptr, mf_slot_free deletes a cap and makes its slot free again.
//
// The range is a bitmap of slots handed out but not yet filled, claimed
// with atomic operations so threads of one program may allocate at once. A
// slot is handed out only if it is empty too, so slots filled by hand (or
// by mf_new and friends, which give the bit back once the kernel has filled
// the slot) are skipped; a slot emptied any way at all — mf_slot_free, a
// delete, a move, a revoke of the untyped — is free again. The untyped is a
// watermark allocator (docs/capabilities.md): deleting an object frees its
// slot, not its memory; memory comes back when the untyped is revoked.
#include "manifold.h"

#define MAX_SLOTS 4096                      // a CSpace of 2^12 slots at most

static uint64_t handed_out[MAX_SLOTS / 64];
static long alloc_untyped = MF_CAP_UNTYPED_BASE;
static long alloc_first = MF_CAP_ALLOC_FIRST, alloc_count = MF_ALLOC_SLOT_COUNT;

void mf_alloc_init(long untyped, long first_slot, long slot_count)
{
    if (first_slot < 1)
        first_slot = 1;
    if (slot_count < 0 || first_slot >= MAX_SLOTS)
        slot_count = 0;
    if (slot_count > MAX_SLOTS - first_slot)
        slot_count = MAX_SLOTS - first_slot;
    alloc_untyped = untyped;
    alloc_first = first_slot;
    alloc_count = slot_count;
}

long mf_alloc_untyped(void) { return alloc_untyped; }

static bool claim(long slot)
{
    uint64_t bit = 1ul << (slot % 64);
    return !(__atomic_fetch_or(&handed_out[slot / 64], bit, __ATOMIC_ACQ_REL) & bit);
}

static void release(long slot)
{
    __atomic_fetch_and(&handed_out[slot / 64], ~(1ul << (slot % 64)), __ATOMIC_RELEASE);
}

long mf_slot_alloc(void)
{
    for (long s = alloc_first; s < alloc_first + alloc_count; s++) {
        if (!claim(s))
            continue;
        if (mf_cnode_identify(MF_CAP_SELF_CNODE, s) == 0)
            return s;
        release(s);                  // filled by hand: not ours to give
    }
    return -E_NOMEM;
}

long mf_slot_range(unsigned count)
{
    if (count == 0)
        return -E_INVAL;
    for (long first = alloc_first; first + (long)count <= alloc_first + alloc_count; first++) {
        long got = 0;
        while (got < (long)count && claim(first + got)) {
            if (mf_cnode_identify(MF_CAP_SELF_CNODE, first + got) != 0) {
                release(first + got);   // filled by hand
                break;
            }
            got++;
        }
        if (got == (long)count)
            return first;
        while (got--)
            release(first + got);       // not long enough here: try further on
    }
    return -E_NOMEM;
}

long mf_slot_free_range(long first, unsigned count)
{
    long r = 0;
    for (unsigned i = 0; i < count; i++) {
        long one = mf_slot_free(first + (long)i);
        if (one < 0 && r == 0)
            r = one;
    }
    return r;
}

long mf_new_range(unsigned type, unsigned size_bits, unsigned count)
{
    long first = mf_slot_range(count);
    if (first < 0)
        return first;
    long r = mf_untyped_retype(alloc_untyped, type, size_bits, count, MF_CAP_SELF_CNODE, first);
    for (unsigned i = 0; i < count; i++)
        release(first + (long)i);
    return r < 0 ? r : first;
}

long mf_slot_free(long slot)
{
    long r = mf_cnode_delete(MF_CAP_SELF_CNODE, slot);
    if (r == 0 && slot >= alloc_first && slot < alloc_first + alloc_count)
        release(slot);
    return r;
}

// A claimed slot the kernel was just asked to fill: the claim ends either
// way (the slot is occupied now, or empty again); its cptr, or the error.
static long filled(long slot, long r)
{
    release(slot);
    return r < 0 ? r : slot;
}

long mf_new(unsigned type, unsigned size_bits) { return mf_new_range(type, size_bits, 1); }

long mf_copy(long src, unsigned rights)
{
    long slot = mf_slot_alloc();
    return slot < 0 ? slot : filled(slot, mf_cnode_copy(MF_CAP_SELF_CNODE, src, slot, rights));
}

long mf_mint(long src, unsigned rights, uint64_t badge)
{
    long slot = mf_slot_alloc();
    return slot < 0 ? slot : filled(slot, mf_cnode_mint(MF_CAP_SELF_CNODE, src, slot, rights, badge));
}
