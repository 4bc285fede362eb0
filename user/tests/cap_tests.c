// Capability core: lookup, retype, copy/mint/move, delete and revoke.
// Each test works in its own range of root CSpace slots and revokes the
// untyped it used, so tests do not depend on each other.
#include "manifold.h"
#include "utest.h"
#include "../root/root.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT MF_CAP_UNTYPED_BASE

static long type_of(long slot) { return mf_cnode_identify(ROOT, slot) & 0xff; }
static long rights_of(long slot) { return mf_cnode_identify(ROOT, slot) >> 8 & 0xff; }

UTEST(cap_root_cspace_layout)
{
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0);
    UCHECK(si.untyped_count >= 2);
    long self = mf_cnode_identify(ROOT, ROOT);
    UCHECK((self & 0xff) == MF_OBJ_CNODE && (self >> 8 & 0xff) == MF_RIGHTS_ALL);
    UCHECK((self >> 16 & 0xff) == MF_ROOT_CNODE_BITS);
    long ut = mf_cnode_identify(ROOT, UT);
    UCHECK((ut & 0xff) == MF_OBJ_UNTYPED && (unsigned)(ut >> 16 & 0xff) == si.untyped_size_bits);
    return NULL;
}

UTEST(cap_forged_and_empty_slots_rejected)
{
    // cptr 0, past the CSpace, huge, negative, and an empty slot.
    UCHECK(mf_invoke(0, MF_CNODE_IDENTIFY, 1, 0, 0, 0) == -E_BADCAP);
    UCHECK(mf_invoke(1l << MF_ROOT_CNODE_BITS, MF_CNODE_IDENTIFY, 1, 0, 0, 0) == -E_BADCAP);
    UCHECK(mf_invoke(1l << 40, MF_CNODE_IDENTIFY, 1, 0, 0, 0) == -E_BADCAP);
    UCHECK(mf_invoke(-1, MF_CNODE_IDENTIFY, 1, 0, 0, 0) == -E_BADCAP);
    UCHECK(mf_invoke(300, MF_CNODE_IDENTIFY, 1, 0, 0, 0) == -E_BADCAP);
    // Unknown operations on a real cap.
    UCHECK(mf_invoke(ROOT, 99, 0, 0, 0, 0) == -E_NOSYS);
    UCHECK(mf_invoke(UT, MF_CNODE_IDENTIFY, 1, 0, 0, 0) == -E_NOSYS);  // untyped has no op 5
    UCHECK(mf_cnode_identify(ROOT, 0) == -E_RANGE);
    UCHECK(mf_cnode_identify(ROOT, 300) == 0);
    return NULL;
}

UTEST(cap_retype_and_revoke_untyped)
{
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 4, ROOT, 200) == 0);
    for (int i = 0; i < 4; i++)
        UCHECK(type_of(200 + i) == MF_OBJ_FRAME);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_CNODE, 4, 1, ROOT, 204) == 0);
    UCHECK(type_of(204) == MF_OBJ_CNODE);
    // Objects may be retyped into another CNode the caller holds.
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 2, 204, 1) == 0);
    UCHECK((mf_cnode_identify(204, 2) & 0xff) == MF_OBJ_FRAME);
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    for (int i = 0; i < 5; i++)
        UCHECK(type_of(200 + i) == MF_OBJ_NULL);
    UCHECK(type_of(UT) == MF_OBJ_UNTYPED);
    return NULL;
}

UTEST(cap_retype_refuses_bad_requests)
{
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0);
    unsigned big = si.untyped_size_bits;
    long ut = UT + 1;
    UCHECK(mf_untyped_retype(ut, 77, 12, 1, ROOT, 210) == -E_INVAL);           // no such type
    UCHECK(mf_untyped_retype(ut, MF_OBJ_NULL, 12, 1, ROOT, 210) == -E_INVAL);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 13, 1, ROOT, 210) == -E_INVAL); // frame size
    UCHECK(mf_untyped_retype(ut, MF_OBJ_CNODE, 30, 1, ROOT, 210) == -E_INVAL);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_UNTYPED, big + 1, 1, ROOT, 210) == -E_INVAL); // oversized
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 12, 0, ROOT, 210) == -E_RANGE);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 12, 65, ROOT, 210) == -E_RANGE);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 12, 2, ROOT, (1l << MF_ROOT_CNODE_BITS) - 1) == -E_RANGE);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 12, 1, ut, 210) == -E_TYPE);    // dst not a CNode
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 12, 1, 999, 210) == -E_BADCAP); // empty dst
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 12, 2, ROOT, ROOT) == -E_BUSY); // occupied
    // Fill the untyped exactly with 2 MiB frames; one more does not fit and
    // cannot overlap what exists.
    unsigned n = 1u << (big - 21);
    UCHECK(n <= 64);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 21, n, ROOT, 210) == 0);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 21, 1, ROOT, 210 + n) == -E_NOMEM);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 12, 1, ROOT, 210 + n) == -E_NOMEM);
    UCHECK(type_of(210 + n) == MF_OBJ_NULL);   // the refusals changed nothing
    UCHECK(mf_cnode_revoke(ROOT, ut) == 0);
    // After revoke the memory is whole again.
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 21, n, ROOT, 210) == 0);
    UCHECK(mf_cnode_revoke(ROOT, ut) == 0);
    return NULL;
}

UTEST(cap_copy_and_mint_reduce_rights)
{
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 1, ROOT, 300) == 0);
    UCHECK(mf_cnode_copy(ROOT, 300, 301, MF_RIGHT_READ) == 0);
    UCHECK(type_of(301) == MF_OBJ_FRAME && rights_of(301) == MF_RIGHT_READ);
    // Rights never grow back through a further copy.
    UCHECK(mf_cnode_copy(ROOT, 301, 302, MF_RIGHTS_ALL) == 0);
    UCHECK(rights_of(302) == MF_RIGHT_READ);
    UCHECK(mf_cnode_mint(ROOT, 300, 303, MF_RIGHT_WRITE, 0) == 0);
    UCHECK(rights_of(303) == MF_RIGHT_WRITE);
    UCHECK(mf_cnode_copy(ROOT, 300, 304, 0x80) == -E_INVAL);         // unknown right
    UCHECK(mf_cnode_mint(ROOT, 300, 304, MF_RIGHT_READ, 5) == -E_INVAL); // frames take no badge
    UCHECK(mf_cnode_copy(ROOT, 300, 301, MF_RIGHT_READ) == -E_BUSY);    // occupied
    UCHECK(mf_cnode_copy(ROOT, 305, 306, MF_RIGHT_READ) == -E_BADCAP);  // empty source
    UCHECK(mf_cnode_copy(ROOT, UT, 306, MF_RIGHT_READ) == -E_TYPE);     // untyped: move only
    UCHECK(mf_cnode_copy(ROOT, 300, 1l << 20, MF_RIGHT_READ) == -E_RANGE);
    UCHECK(type_of(304) == MF_OBJ_NULL && type_of(306) == MF_OBJ_NULL);
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    UCHECK(type_of(300) == MF_OBJ_NULL && type_of(303) == MF_OBJ_NULL);
    return NULL;
}

UTEST(cap_revoke_removes_only_derived)
{
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 2, ROOT, 320) == 0);
    UCHECK(mf_cnode_copy(ROOT, 320, 322, MF_RIGHTS_ALL) == 0);   // 322 from 320
    UCHECK(mf_cnode_copy(ROOT, 322, 323, MF_RIGHTS_ALL) == 0);   // 323 from 322
    UCHECK(mf_cnode_copy(ROOT, 321, 324, MF_RIGHTS_ALL) == 0);   // 324 from the other frame
    UCHECK(mf_cnode_revoke(ROOT, 322) == 0);
    UCHECK(type_of(323) == MF_OBJ_NULL && type_of(322) == MF_OBJ_FRAME);
    UCHECK(type_of(320) == MF_OBJ_FRAME && type_of(324) == MF_OBJ_FRAME);
    // Deleting a middle cap keeps its children, now derived from its parent.
    UCHECK(mf_cnode_copy(ROOT, 322, 325, MF_RIGHTS_ALL) == 0);
    UCHECK(mf_cnode_delete(ROOT, 322) == 0);
    UCHECK(type_of(322) == MF_OBJ_NULL && type_of(325) == MF_OBJ_FRAME);
    UCHECK(mf_cnode_revoke(ROOT, 320) == 0);
    UCHECK(type_of(325) == MF_OBJ_NULL && type_of(324) == MF_OBJ_FRAME);
    UCHECK(mf_cnode_delete(ROOT, 330) == 0);   // deleting an empty slot is fine
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    UCHECK(type_of(320) == MF_OBJ_NULL && type_of(321) == MF_OBJ_NULL && type_of(324) == MF_OBJ_NULL);
    return NULL;
}

UTEST(cap_move_keeps_derivation)
{
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 1, ROOT, 340) == 0);
    UCHECK(mf_cnode_copy(ROOT, 340, 341, MF_RIGHT_READ) == 0);
    UCHECK(mf_cnode_move(ROOT, 340, 342) == 0);
    UCHECK(type_of(340) == MF_OBJ_NULL && type_of(342) == MF_OBJ_FRAME);
    UCHECK(mf_cnode_move(ROOT, 340, 343) == -E_BADCAP);
    UCHECK(mf_cnode_move(ROOT, 342, 341) == -E_BUSY);
    UCHECK(mf_cnode_revoke(ROOT, 342) == 0);      // the copy still derives from it
    UCHECK(type_of(341) == MF_OBJ_NULL);
    // Untyped caps move too, and retype keeps working from the new slot.
    UCHECK(mf_cnode_move(ROOT, UT + 2, 344) == 0);
    UCHECK(mf_untyped_retype(344, MF_OBJ_FRAME, 12, 1, ROOT, 345) == 0);
    UCHECK(mf_cnode_revoke(ROOT, 344) == 0 && type_of(345) == MF_OBJ_NULL);
    UCHECK(mf_cnode_move(ROOT, 344, UT + 2) == 0);
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    return NULL;
}

UTEST(cap_rights_are_enforced)
{
    // A read-only copy of our own CNode cannot be used to change slots.
    UCHECK(mf_cnode_copy(ROOT, ROOT, 360, MF_RIGHT_READ) == 0);
    UCHECK(mf_cnode_copy(360, ROOT, 361, MF_RIGHTS_ALL) == -E_PERM);
    UCHECK(mf_invoke(360, MF_CNODE_DELETE, 360, 0, 0, 0) == -E_PERM);
    UCHECK(mf_cnode_identify(360, ROOT) > 0);    // reading is allowed
    UCHECK(type_of(361) == MF_OBJ_NULL);
    // Nor can a read-only CNode receive retyped objects.
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 1, 360, 362) == -E_PERM);
    UCHECK(mf_cnode_delete(ROOT, 360) == 0);
    UCHECK(type_of(360) == MF_OBJ_NULL && type_of(ROOT) == MF_OBJ_CNODE);
    return NULL;
}

UTEST(cap_revoke_of_1000_is_bounded)
{
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 1, ROOT, 1000) == 0);
    for (long i = 1; i < 1000; i++)
        UCHECK(mf_cnode_copy(ROOT, 1000 + (i - 1) / 2, 1000 + i, MF_RIGHTS_ALL) == 0);  // a binary tree
    // One call deletes at most MF_REVOKE_BUDGET caps and asks to be called again.
    long calls = 0, r;
    while ((r = mf_invoke(ROOT, MF_CNODE_REVOKE, 1000, 0, 0, 0)) == -E_AGAIN)
        calls++;
    UCHECK(r == 0);
    UCHECK(calls >= 999 / MF_REVOKE_BUDGET);
    for (long i = 1; i < 1000; i++)
        UCHECK(type_of(1000 + i) == MF_OBJ_NULL);
    UCHECK(type_of(1000) == MF_OBJ_FRAME);
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    return NULL;
}

UTEST(cap_deleting_a_cnode_deletes_its_contents)
{
    UCHECK(mf_untyped_retype(UT, MF_OBJ_CNODE, 8, 1, ROOT, 400) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 40, 400, 1) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 40, 400, 41) == 0);
    UCHECK(mf_cnode_copy(ROOT, 400, 401, MF_RIGHTS_ALL) == 0);
    UCHECK((mf_cnode_identify(401, 80) & 0xff) == MF_OBJ_FRAME);
    // Not final: the copy keeps the CNode alive.
    UCHECK(mf_cnode_delete(ROOT, 400) == 0);
    UCHECK((mf_cnode_identify(401, 80) & 0xff) == MF_OBJ_FRAME);
    // Final: the CNode and the 80 caps inside go.
    UCHECK(mf_cnode_delete(ROOT, 401) == 0);
    UCHECK(mf_cnode_identify(401, 80) == -E_BADCAP);
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 21, 2, ROOT, 402) == 0);
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    return NULL;
}

// A refused operation says why: the thread's refusal record names the
// cptr, what its slot held and the check, and mf_strerror_detail words it.
#include "lib/string.h"
static bool contains(const char *s, const char *part)
{
    for (size_t n = strlen(part); *s; s++)
        if (strncmp(s, part, n) == 0)
            return true;
    return false;
}

static const struct mf_thread_info *refusal(void)
{
    static struct mf_thread_info me;
    return mf_thread_info(MF_THREAD_SELF, &me) == 0 ? &me : NULL;
}

UTEST(cap_refusals_say_why)
{
    const struct mf_thread_info *r;
    // An argument cap of the wrong type: the untyped where a CNode belongs.
    UCHECK(mf_untyped_retype(UT, MF_OBJ_ENDPOINT, 0, 1, UT, 700) == -E_TYPE);
    UCHECK((r = refusal()) && r->refused_error == -E_TYPE && r->refused_cptr == UT &&
           r->refused_found == MF_OBJ_UNTYPED && r->refused_expected == MF_OBJ_CNODE);
    UCHECK(contains(mf_strerror_detail(-E_TYPE), "holds untyped, needs cnode"));
    // A missing right on an argument cap.
    UCHECK(mf_cnode_copy(ROOT, ROOT, 701, MF_RIGHT_READ) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_ENDPOINT, 0, 1, 701, 700) == -E_PERM);
    UCHECK((r = refusal()) && r->refused_cptr == 701 && r->refused_rights == MF_RIGHT_WRITE);
    UCHECK(contains(mf_strerror_detail(-E_PERM), "lacks WRITE"));
    // The decoder's own words, and the invoked cptr.
    UCHECK(mf_untyped_retype(UT, MF_OBJ_ENDPOINT, 0, 0, ROOT, 700) == -E_RANGE);
    UCHECK((r = refusal()) && r->refused_cptr == UT && r->refused_op == MF_UNTYPED_RETYPE);
    UCHECK(contains(mf_strerror_detail(-E_RANGE), "count must be 1..64"));
    // An empty invoked slot, and an operation the type does not have.
    UCHECK(mf_invoke(702, MF_CNODE_IDENTIFY, 1, 0, 0, 0) == -E_BADCAP);
    UCHECK(contains(mf_strerror_detail(-E_BADCAP), "the slot is empty"));
    UCHECK(mf_invoke(UT, 9, 0, 0, 0, 0) == -E_NOSYS);
    UCHECK((r = refusal()) && r->refused_found == MF_OBJ_UNTYPED && r->refused_op == 9);
    UCHECK(mf_cnode_delete(ROOT, 701) == 0);
    // An error the kernel did not record is only named.
    UCHECK(strcmp(mf_strerror_detail(-E_NOEXEC), mf_strerror(-E_NOEXEC)) == 0);
    return NULL;
}

// libmanifold's slot allocator (user/lib/alloc.c) on a range of our own:
// single slots and consecutive ranges, slots filled by hand skipped, a
// range too long refused, freed slots handed out again.
UTEST(alloc_slots_and_ranges)
{
    enum { FIRST = 3900, COUNT = 16 };
    for (long s = FIRST; s < FIRST + COUNT; s++)
        UCHECK(mf_cnode_identify(ROOT, s) == 0);
    mf_alloc_init(UT, FIRST, COUNT);
    long a = mf_slot_range(4), b = mf_slot_alloc();
    UCHECK(mf_untyped_retype(UT, MF_OBJ_NOTIFICATION, 0, 1, ROOT, FIRST + 6) == 0);   // by hand
    long c = mf_slot_range(4);                       // 3905 is free, 3906 is not: from 3907
    long objects = mf_new_range(MF_OBJ_NOTIFICATION, 0, 3);
    long too_long = mf_slot_range(10);
    bool made = objects > 0;
    for (long i = 0; made && i < 3; i++)
        made = (mf_cnode_identify(ROOT, objects + i) & 0xff) == MF_OBJ_NOTIFICATION;
    long freed = mf_slot_free_range(a, 4);
    long again = mf_slot_range(4);
    long single = mf_slot_alloc();                   // 3905: the one gap left before c
    mf_slot_free_range(again, 4);
    mf_slot_free_range(c, 4);
    mf_slot_free_range(objects, 3);
    mf_slot_free(b);
    mf_slot_free(single);
    mf_cnode_delete(ROOT, FIRST + 6);
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    mf_alloc_init(NS_UNTYPED, ROOT_ALLOC_SLOTS, ROOT_ALLOC_SLOT_COUNT);    // the root task's own again
    UCHECK(a == FIRST && b == FIRST + 4);
    UCHECK(c == FIRST + 7);
    UCHECK(objects == FIRST + 11 && made);
    UCHECK(too_long == -E_NOMEM);
    UCHECK(freed == 0 && again == FIRST && single == FIRST + 5);
    for (long s = FIRST; s < FIRST + COUNT; s++)
        UCHECK(mf_cnode_identify(ROOT, s) == 0);
    return NULL;
}
