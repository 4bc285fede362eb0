// Reclaim objects: visible revocation of lent frames and CPU slots
// (include/manifold/reclaim.h, docs/exokernel.md), the exokernel's
// repossession protocol. A grant is a frame cap or a Slots cap; ending a
// Slots grant (COLLECT, released or taken) also frees its slots
// (slots_release): time comes back as memory does.
//
// Each grant is a capability slot inside the object (grant[i]), a copy of
// the manager's frame cap, and the library OS's cap is derived from it.
// Everything the object refers to is therefore in the derivation tree,
// as the reference rule asks (docs/capabilities.md): the page and the
// notification are nested copies too, and no pointer here can outlive
// its target.
//
// Who took a grant. A grant slot carries CAP_RECLAIM_GRANT in its cap
// (never copied: cap_derive clears it), so the frame and Slots types'
// cap_deleted hooks tell reclaim_cap_deleted when the slot, or
// a cap derived directly from it, goes. A cap below a grant that goes
// while a revocation is under way (cap_revoking()) was taken from the
// library OS: by COLLECT past the deadline, or by the manager revoking
// its own frame or the untyped it came from. Either way a record goes
// into the repossession vector. A cap the library OS deletes itself is a
// release, which COLLECT finds as a grant with nothing left below it.
//
// The object is one page and its grant slots come first, so a grant
// slot's page is its object (reclaim_of), as seL4 finds a TCB from the
// slots inside it.
//
// Locking: invocations hold cap_lock only (LOCK_CAP); the hook runs under
// cap_lock, perhaps with space_lock too (a frame deleted by a segment's
// destruction), and takes the notification's lock to signal: the
// documented order (kernel/locks.h).
#include "kernel/reclaim.h"
#include "kernel/object.h"
#include "kernel/slots.h"
#include "kernel/invoke.h"
#include "kernel/ipc.h"
#include "kernel/thread.h"
#include "include/manifold/errors.h"
#include "include/manifold/reclaim.h"
#include "lib/string.h"

struct reclaim {
    struct slot grant[MF_RECLAIM_ENTRIES];  // first: reclaim_of depends on it
    struct slot page;                       // the struct mf_reclaim_page frame
    struct slot notify;                     // signalled at requests and takings
    uint64_t deadline[MF_RECLAIM_ENTRIES];
    uint64_t cptr[MF_RECLAIM_ENTRIES];
    // Masks by entry. granted: grant[i] holds a cap (cleared as the slot
    // goes, before it is empty); recorded: its taking is listed (once per grant).
    uint32_t granted, requested, pinned, recorded;
    bool configured, finalizing;
    uint64_t requests, taken;
};
_Static_assert(sizeof(struct reclaim) <= PAGE_SIZE, "a Reclaim object is one page");
_Static_assert(offsetof(struct reclaim, grant) == 0, "grant slots first (reclaim_of)");

static struct reclaim *reclaim_of(const struct slot *grant)
{
    return (struct reclaim *)cap_holder_object(grant);
}

static bool granted(const struct reclaim *r, unsigned i) { return r->granted >> i & 1; }

// Brings the page up to date (and signals the library OS when `signal`).
static void publish(struct reclaim *r, bool signal)
{
    if (slot_empty(&r->page))
        return;     // the page's frame was taken from the manager: nothing to write
    struct mf_reclaim_page *p = (struct mf_reclaim_page *)r->page.cap.obj;
    uint64_t seq = p->sequence | 1;
    __atomic_store_n(&p->sequence, seq, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
    p->now = sched_ticks();
    p->requests = r->requests;
    p->taken = r->taken;
    for (unsigned i = 0; i < MF_RECLAIM_ENTRIES; i++) {
        uint32_t bit = 1u << i;
        p->entry[i].cptr = granted(r, i) ? r->cptr[i] : 0;
        p->entry[i].deadline = r->requested & bit ? r->deadline[i] : 0;
        p->entry[i].flags = (granted(r, i) ? MF_RECLAIM_GRANTED : 0) | (r->requested & bit ? MF_RECLAIM_REQUESTED : 0) |
                            (r->pinned & bit ? MF_RECLAIM_PINNED : 0);
    }
    __atomic_store_n(&p->sequence, seq + 1, __ATOMIC_RELEASE);
    if (signal && !slot_empty(&r->notify)) {
        const struct cap *n = &r->notify.cap;
        notification_signal((struct notification *)n->obj, n->badge ? n->badge : 1);
    }
}

// Appends entry i's taking to the vector (once per grant).
static void record_taken(struct reclaim *r, unsigned i, bool forced)
{
    uint32_t bit = 1u << i;
    if (r->recorded & bit)
        return;
    r->recorded |= bit;
    if (!slot_empty(&r->page)) {
        struct mf_reclaim_page *p = (struct mf_reclaim_page *)r->page.cap.obj;
        struct mf_reclaim_record *rec = &p->vector[r->taken % MF_RECLAIM_VECTOR];
        // The record's slot is past `taken` until publish() moves it: a
        // reader checking the sequence never takes it half-written.
        __atomic_store_n(&p->sequence, p->sequence | 1, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_RELEASE);
        rec->entry = i;
        rec->forced = forced;
        rec->cptr = r->cptr[i];
        rec->tick = sched_ticks();
    }
    r->taken++;
    publish(r, true);
}

static struct reclaim *collecting;   // revoking a grant past its deadline (cap_lock)

void reclaim_cap_deleted(const struct slot *s)
{
    const struct slot *grant = s->cap.held == CAP_RECLAIM_GRANT ? s : s->parent;
    if (!grant || (grant->cap.type != MF_OBJ_FRAME && grant->cap.type != MF_OBJ_SLOTS) ||
        grant->cap.held != CAP_RECLAIM_GRANT)
        return;
    struct reclaim *r = reclaim_of(grant);
    if (grant == s && grant->cap.type == MF_OBJ_SLOTS)
        ((struct cpu_slots *)grant->cap.obj)->lent = false;     // may be lent again (also as the object goes)
    if (r->finalizing)
        return;
    unsigned i = (unsigned)(grant - r->grant);
    uint32_t bit = 1u << i;
    if (grant != s) {
        // A cap lent through the grant: taken (a revocation is deleting
        // it), or released by its holder (COLLECT will find the grant bare).
        if (cap_revoking())
            record_taken(r, i, collecting == r);
        return;
    }
    // The grant itself goes: COLLECT ended it, or the manager's frame cap
    // was revoked from above (its lent caps went first, recorded above).
    r->granted &= ~bit;
    r->requested &= ~bit;
    r->pinned &= ~bit;
    r->recorded &= ~bit;
    r->deadline[i] = r->cptr[i] = 0;
    publish(r, false);
}

// ------------------------------------------------------------- operations

static struct reclaim *target(const struct invocation *inv) { return (struct reclaim *)inv->target->cap.obj; }

// CONFIGURE(page frame cptr, notification cptr).
struct configure_args {
    struct reclaim *r;
    struct slot *page, *notify;
};

static int decode_configure(const struct invocation *inv, struct decoded *d)
{
    struct configure_args *a = DECODED(struct configure_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_FRAME, MF_RIGHT_READ | MF_RIGHT_WRITE, &a->page);
    if (r)
        return r;
    r = cap_lookup(inv->caller, inv->arg[1], MF_OBJ_NOTIFICATION, MF_RIGHT_WRITE, &a->notify);
    if (r)
        return r;
    if (a->page->cap.size_bits != PAGE_SHIFT)
        return refuse(inv, -E_INVAL, "the reclaim page must be a 4 KiB frame");
    a->r = target(inv);
    if (a->r->configured)
        return refuse(inv, -E_BUSY, "the Reclaim object is configured already");
    return 0;
}

static int64_t invoke_configure(const struct decoded *d)
{
    const struct configure_args *a = DECODED(struct configure_args, d);
    struct reclaim *r = a->r;
    struct cap page, notify;
    // Copies, as cap_derive makes them (the page's starts unmapped).
    if (cap_derive(&a->page->cap, MF_RIGHTS_ALL, 0, &page) || cap_derive(&a->notify->cap, MF_RIGHTS_ALL, 0, &notify))
        return -E_INVAL;    // not reached: decode checked both types
    cap_insert(&r->page, &page, a->page);
    cap_insert(&r->notify, &notify, a->notify);
    memset((void *)page.obj, 0, PAGE_SIZE);
    r->configured = true;
    publish(r, false);
    return 0;
}

// GRANT(frame cptr, dst CNode cptr, dst index, entry | rights << 8 | flags).
struct grant_args {
    struct reclaim *r;
    struct slot *frame, *dst;
    unsigned entry;
    uint64_t rights, index;
    bool pinned;
};

static int decode_grant(const struct invocation *inv, struct decoded *d)
{
    struct grant_args *a = DECODED(struct grant_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    // A frame, or a Slots object (then its thread is the library OS's).
    const struct slot *lent = cspace_lookup(inv->caller, inv->arg[0]);
    unsigned type = lent && !slot_empty(lent) && lent->cap.type == MF_OBJ_SLOTS ? MF_OBJ_SLOTS : MF_OBJ_FRAME;
    // Lending Slots lends the power to end them (COLLECT frees them): WRITE,
    // as CONFIGURE needs. One grant per Slots object at a time.
    int r = cap_lookup(inv->caller, inv->arg[0], type, type == MF_OBJ_SLOTS ? MF_RIGHT_WRITE : 0, &a->frame);
    if (r)
        return r;
    if (type == MF_OBJ_SLOTS && !((const struct cpu_slots *)a->frame->cap.obj)->configured)
        return refuse(inv, -E_INVAL, "the Slots object holds no slots (CONFIGURE it first)");
    if (type == MF_OBJ_SLOTS && ((const struct cpu_slots *)a->frame->cap.obj)->lent)
        return refuse(inv, -E_BUSY, "the Slots object is lent through a grant already");
    struct slot *cnode;
    r = cap_lookup(inv->caller, inv->arg[1], MF_OBJ_CNODE, MF_RIGHT_WRITE, &cnode);
    if (r)
        return r;
    a->r = target(inv);
    if (!a->r->configured)
        return refuse(inv, -E_INVAL, "the Reclaim object is not configured");
    uint64_t packed = inv->arg[3];
    a->entry = (unsigned)(packed & 0xff);
    a->rights = packed >> 8 & 0xff;
    a->pinned = packed & MF_RECLAIM_GUARANTEED;
    if (packed >> 17)
        return refuse(inv, -E_INVAL, "unknown bits in entry | rights << 8 | flags");
    if (a->entry >= MF_RECLAIM_ENTRIES)
        return refuse(inv, -E_RANGE, "no such entry");
    if (a->rights & ~(uint64_t)MF_RIGHTS_ALL)
        return refuse(inv, -E_INVAL, "rights outside MF_RIGHTS_ALL");
    if ((a->rights & a->frame->cap.rights) != a->rights)
        return refuse(inv, -E_PERM, "the frame cap lacks a right asked for");
    if (granted(a->r, a->entry))
        return refuse(inv, -E_BUSY, "the entry holds a grant already");
    a->index = inv->arg[2];
    a->dst = cnode_lookup(&cnode->cap, a->index);
    if (!a->dst)
        return refuse(inv, -E_RANGE, "the destination index is 0 or past its CNode");
    if (!slot_empty(a->dst))
        return refuse(inv, -E_BUSY, "the destination slot is occupied");
    return 0;
}

static int64_t invoke_grant(const struct decoded *d)
{
    const struct grant_args *a = DECODED(struct grant_args, d);
    struct reclaim *r = a->r;
    struct slot *grant = &r->grant[a->entry];
    struct cap held, lent;
    if (cap_derive(&a->frame->cap, MF_RIGHTS_ALL, 0, &held))
        return -E_INVAL;    // not reached: a frame always derives
    held.held = CAP_RECLAIM_GRANT;
    cap_insert(grant, &held, a->frame);
    if (held.type == MF_OBJ_SLOTS)
        ((struct cpu_slots *)held.obj)->lent = true;
    cap_derive(&held, a->rights, 0, &lent);     // clears CAP_RECLAIM_GRANT
    cap_insert(a->dst, &lent, grant);
    uint32_t bit = 1u << a->entry;
    r->cptr[a->entry] = a->index;
    r->granted |= bit;
    r->pinned = a->pinned ? r->pinned | bit : r->pinned & ~bit;
    r->recorded &= ~bit;
    publish(r, false);
    return 0;
}

// REQUEST(entry mask, ticks).
struct request_args {
    struct reclaim *r;
    uint32_t mask;
    uint64_t deadline;
};

static int decode_request(const struct invocation *inv, struct decoded *d)
{
    struct request_args *a = DECODED(struct request_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    a->r = target(inv);
    uint64_t mask = inv->arg[0], ticks = inv->arg[1];
    if (!a->r->configured)
        return refuse(inv, -E_INVAL, "the Reclaim object is not configured");
    if (!mask || mask >> MF_RECLAIM_ENTRIES)
        return refuse(inv, -E_RANGE, "the entry mask is empty or names no such entry");
    for (unsigned i = 0; i < MF_RECLAIM_ENTRIES; i++)
        if (mask >> i & 1 && !granted(a->r, i))
            return refuse(inv, -E_INVAL, "an entry in the mask holds no grant");
    if (mask & a->r->pinned)
        return refuse(inv, -E_PERM, "a guaranteed grant is never asked back");
    if (ticks == 0 || ticks > (1ull << 32))
        return refuse(inv, -E_RANGE, "ticks: 1 .. 2^32");
    a->mask = (uint32_t)mask;
    a->deadline = sched_ticks() + ticks;
    return 0;
}

static int64_t invoke_request(const struct decoded *d)
{
    const struct request_args *a = DECODED(struct request_args, d);
    struct reclaim *r = a->r;
    for (unsigned i = 0; i < MF_RECLAIM_ENTRIES; i++)
        if (a->mask >> i & 1)
            r->deadline[i] = a->deadline;
    r->requested |= a->mask;
    r->requests++;
    publish(r, true);
    return 0;
}

// COLLECT().
struct collect_args {
    struct reclaim *r;
};

static int decode_collect(const struct invocation *inv, struct decoded *d)
{
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    DECODED(struct collect_args, d)->r = target(inv);
    return 0;
}

static int64_t invoke_collect(const struct decoded *d)
{
    struct reclaim *r = DECODED(struct collect_args, d)->r;
    uint64_t now = sched_ticks(), released = 0, taken = 0, pending = 0;
    unsigned budget = MF_REVOKE_BUDGET;
    for (unsigned i = 0; i < MF_RECLAIM_ENTRIES; i++) {
        struct slot *grant = &r->grant[i];
        if (!(r->requested >> i & 1) || !granted(r, i))
            continue;
        if (grant->first_child && now < r->deadline[i]) {
            pending++;
            continue;
        }
        bool forced = grant->first_child != NULL;
        if (forced) {
            collecting = r;
            int err = cap_revoke(grant, &budget);
            collecting = NULL;
            if (err)
                return err;     // -E_AGAIN: the rest on the next call
        }
        if (grant->cap.type == MF_OBJ_SLOTS)
            slots_release((struct cpu_slots *)grant->cap.obj);     // the time comes back too
        cap_delete_nested(grant);   // bounded (reclaim_cap_deleted clears the entry)
        if (forced)
            taken++;
        else
            released++;
    }
    return (int64_t)(released | taken << 8 | pending << 16);
}

static const struct op_handler reclaim_ops[MAX_OPS] = {
    [MF_RECLAIM_CONFIGURE] = {decode_configure, invoke_configure},
    [MF_RECLAIM_GRANT] = {decode_grant, invoke_grant},
    [MF_RECLAIM_REQUEST] = {decode_request, invoke_request},
    [MF_RECLAIM_COLLECT] = {decode_collect, invoke_collect},
};
_Static_assert(MF_RECLAIM_OP_COUNT <= MAX_OPS, "reclaim operation table");

static int reclaim_bits(unsigned size_bits) { return size_bits == 0 ? PAGE_SHIFT : -1; }

// The final cap is gone: the nested copies go (bounded: 34 frame and
// notification caps). Caps lent through a grant stay with their holders,
// re-linked to the manager's frame cap, which can still revoke them.
static void reclaim_finalize(const struct cap *cap)
{
    struct reclaim *r = (struct reclaim *)cap->obj;
    r->finalizing = true;
    for (unsigned i = 0; i < MF_RECLAIM_ENTRIES; i++)
        cap_delete_nested(&r->grant[i]);
    cap_delete_nested(&r->page);
    cap_delete_nested(&r->notify);
}

const struct object_type reclaim_object_type = {
    .name = "reclaim",
    .object_bits = reclaim_bits,
    .finalize = reclaim_finalize,
    .ops = reclaim_ops,
    .op_count = MF_RECLAIM_OP_COUNT,
    .lock_class = LOCK_CAP,
};
