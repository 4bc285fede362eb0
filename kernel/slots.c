// The CPU slot vector (include/manifold/slots.h, docs/exokernel.md): each
// CPU's time is MF_SLOT_COUNT slots of MF_SLOT_TICKS ticks, repeated. A
// Slots object holds some of one CPU's slots for one thread; the scheduler
// (kernel/sched.c) runs that thread, before anyone else, in those slots
// and never outside them (slots_eligible); slots nobody holds, or whose
// holder has nothing to run, go to the ordinary scheduler.
//
// Authority: configuring Slots needs the CPU Time cap (MF_OBJ_CPU_TIME, one
// object, the root task's at MF_CAP_CPU_TIME), which a resource manager
// can pass on; a thread is bound with a WRITE cap to it.
//
// References: the object and its thread point at each other; the
// thread's destruction (slots_thread_gone) and the object's finalizer
// each unlink both, under slots_lock. The notification is a capability
// slot inside the object, marked in cap.held, whose deletion clears the
// pointer under slots_lock (slots_notification_deleted); the tick signals
// it under slots_lock.
//
// Locking: slots_lock (one, LOCK_CLASS_SLOTS) over every Slots object's
// thread and notification pointers and every CPU's slot_owner entries;
// then a CPU's run-queue lock (slot_owner, slot_active, and the done,
// denied and charge flags); a notification's lock comes after slots_lock
// and never inside a run-queue lock. The tick takes slots_lock only on a
// CPU where some slot is held.
#include "kernel/slots.h"
#include "kernel/arch.h"
#include "kernel/smp.h"
#include "kernel/invoke.h"
#include "kernel/ipc.h"
#include "kernel/lockdep.h"
#include "kernel/reclaim.h"
#include "kernel/object.h"
#include "kernel/sched.h"
#include "kernel/thread.h"
#include "kernel/usercopy.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

static struct mcs_lock slots_lock = {.lock_class = LOCK_CLASS_SLOTS};

// The CPU Time object: the authority to hold CPU slots. No state.
static struct { uint64_t unused; } cpu_time_object;

void cpu_time_grant_root(struct slot *dst)
{
    struct cap cap = {.obj = (uintptr_t)&cpu_time_object, .type = MF_OBJ_CPU_TIME, .rights = MF_RIGHTS_ALL};
    cap_insert(dst, &cap, NULL);
}

// -------------------------------------------------------------- the tick

void slots_tick(struct cpu *c)
{
    if (!__atomic_load_n(&c->slotted, __ATOMIC_RELAXED))
        return;
    struct mcs_qnode sq, q;
    mcs_lock(&slots_lock, &sq);
    mcs_lock(&c->lock, &q);
    unsigned in_slot = (unsigned)(c->ticks % MF_SLOT_TICKS);
    unsigned index = (unsigned)(c->ticks / MF_SLOT_TICKS % MF_SLOT_COUNT);
    struct cpu_slots *ran = c->slot_active, *start = NULL, *end = NULL;
    bool running = ran && ran->thread && c->current == ran->thread;
    if (running)
        ran->ticks_run++;       // the tick that just ended was its
    if (in_slot == 0) {
        // A boundary: the slot that ended, and the one that begins.
        if (running && !ran->done) {
            ran->overruns++;    // did not give the CPU up in time: its next slot starts a tick late
            ran->charge = true;
        }
        struct cpu_slots *next = c->slot_owner[index];
        if (next) {
            next->started++;
            next->done = false;
            next->denied = next->charge;
            next->charge = false;
            start = next;
        }
        c->slot_active = next;
        if (ran || next)
            c->need_resched = true;
    } else if (ran && ran->denied) {
        ran->denied = false;    // the charged tick is over
        c->need_resched = true;
    }
    if (c->slot_active && in_slot == MF_SLOT_TICKS - 1)
        end = c->slot_active;   // the last tick of its slot begins
    mcs_unlock(&c->lock, &q);
    if (start && start->notification)
        notification_signal(start->notification, MF_SLOT_START);
    if (end && end->notification)
        notification_signal(end->notification, MF_SLOT_END);
    mcs_unlock(&slots_lock, &sq);
}

// Both sides of the binding go (slots_lock held).
static void unbind(struct cpu_slots *s)
{
    struct thread *t = s->thread;
    if (!t)
        return;
    struct mcs_qnode q;
    struct cpu *c = lock_cpu_of(t, &q);
    t->slots = NULL;
    s->thread = NULL;
    c->need_resched |= c->current == t;     // an ordinary thread now: it competes again
    mcs_unlock(&c->lock, &q);
}

void slots_thread_gone(struct thread *t)
{
    if (!__atomic_load_n(&t->slots, __ATOMIC_RELAXED))
        return;
    struct mcs_qnode sq;
    mcs_lock(&slots_lock, &sq);
    if (t->slots)
        unbind(t->slots);
    mcs_unlock(&slots_lock, &sq);
}

void slots_notification_deleted(const struct slot *s)
{
    if (s->cap.held != CAP_SLOTS_NOTIFY)
        return;
    struct cpu_slots *o = (struct cpu_slots *)cap_holder_object(s);
    struct mcs_qnode sq;
    mcs_lock(&slots_lock, &sq);
    o->notification = NULL;
    mcs_unlock(&slots_lock, &sq);
}

// ------------------------------------------------------------ operations

static struct cpu_slots *target(const struct invocation *inv) { return (struct cpu_slots *)inv->target->cap.obj; }

// CONFIGURE(CPU Time cptr, thread cptr, cpu | mask << 8, notification cptr).
struct configure_args {
    struct cpu_slots *s;
    struct thread *thread;
    struct slot *notify;
    unsigned cpu;
    uint32_t mask;
};

static int decode_configure(const struct invocation *inv, struct decoded *d)
{
    struct configure_args *a = DECODED(struct configure_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *time, *thread;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_CPU_TIME, MF_RIGHT_WRITE, &time);
    if (!r)
        r = cap_lookup(inv->caller, inv->arg[1], MF_OBJ_THREAD, MF_RIGHT_WRITE, &thread);
    if (!r)
        r = cap_lookup(inv->caller, inv->arg[3], MF_OBJ_NOTIFICATION, MF_RIGHT_WRITE, &a->notify);
    if (r)
        return r;
    a->s = target(inv);
    if (a->s->configured)
        return refuse(inv, -E_BUSY, "the Slots object is configured already");
    uint64_t cpu = inv->arg[2] & 0xff, mask = inv->arg[2] >> 8;
    if (cpu >= cpu_count)
        return refuse(inv, -E_RANGE, "no such CPU");
    if (!mask || mask >> MF_SLOT_COUNT)
        return refuse(inv, -E_RANGE, "the slot mask is empty or names no such slot");
    a->thread = (struct thread *)thread->cap.obj;
    if (a->thread->slots)
        return refuse(inv, -E_BUSY, "the thread holds other slots");
    for (unsigned i = 0; i < MF_SLOT_COUNT; i++)
        if (mask >> i & 1 && cpus[cpu].slot_owner[i])
            return refuse(inv, -E_BUSY, "a slot in the mask is held already");
    a->cpu = (unsigned)cpu;
    a->mask = (uint32_t)mask;
    return 0;
}

static int64_t invoke_configure(const struct decoded *d)
{
    const struct configure_args *a = DECODED(struct configure_args, d);
    struct cpu_slots *s = a->s;
    struct cap notify;
    if (cap_derive(&a->notify->cap, MF_RIGHTS_ALL, 0, &notify))
        return -E_INVAL;    // not reached: a notification derives
    notify.held = CAP_SLOTS_NOTIFY;
    cap_insert(&s->notify_slot, &notify, a->notify);
    thread_set_sched(a->thread, MF_SCHED_FIXED, a->cpu);
    struct mcs_qnode sq, q;
    struct cpu *c = &cpus[a->cpu];
    mcs_lock(&slots_lock, &sq);
    s->notification = (struct notification *)notify.obj;
    s->cpu = a->cpu;
    s->mask = a->mask;
    s->configured = true;
    s->thread = a->thread;
    mcs_lock(&c->lock, &q);
    a->thread->slots = s;
    for (unsigned i = 0; i < MF_SLOT_COUNT; i++)
        if (a->mask >> i & 1)
            c->slot_owner[i] = s;
    __atomic_store_n(&c->slotted, c->slotted + (uint32_t)__builtin_popcount(a->mask), __ATOMIC_RELAXED);
    // Running now, outside its slots: it leaves the CPU at once.
    bool kick = c->current == a->thread;
    c->need_resched |= kick;
    mcs_unlock(&c->lock, &q);
    mcs_unlock(&slots_lock, &sq);
    if (kick && c != this_cpu())
        arch_send_ipi(c->id, IPI_RESCHEDULE);
    return 0;
}

// DONE(): the bound thread gives up the rest of its slot.
struct done_args {
    struct cpu_slots *s;
};

static int decode_done(const struct invocation *inv, struct decoded *d)
{
    struct cpu_slots *s = target(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (!s->configured || s->thread != inv->caller)
        return refuse(inv, -E_PERM, "only the thread bound to the slots gives their time up");
    DECODED(struct done_args, d)->s = s;
    return 0;
}

static int64_t invoke_done(const struct decoded *d)
{
    struct cpu_slots *s = DECODED(struct done_args, d)->s;
    struct mcs_qnode q;
    struct cpu *c = this_cpu();
    mcs_lock(&c->lock, &q);
    s->done = true;
    s->dones++;
    mcs_unlock(&c->lock, &q);
    cap_unlock();           // we leave the CPU: nothing of the caps is used after
    schedule();             // back at our next slot's start
    return 0;
}

// INFO(struct mf_slots_info *).
struct info_args {
    const struct cpu_slots *s;
    uint64_t buffer;
};

static int decode_info(const struct invocation *inv, struct decoded *d)
{
    struct info_args *a = DECODED(struct info_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    a->s = target(inv);
    a->buffer = inv->arg[0];
    return 0;
}

static int64_t invoke_info(const struct decoded *d)
{
    const struct info_args *a = DECODED(struct info_args, d);
    const struct cpu_slots *s = a->s;
    struct mf_slots_info out = {.started = s->started, .ticks_run = s->ticks_run, .overruns = s->overruns,
                                .dones = s->dones, .cpu = s->cpu, .mask = s->mask};
    return copy_to_user(a->buffer, &out, sizeof(out));
}

static const struct op_handler slots_ops[MAX_OPS] = {
    [MF_SLOTS_CONFIGURE] = {decode_configure, invoke_configure},
    [MF_SLOTS_DONE] = {decode_done, invoke_done},
    [MF_SLOTS_INFO] = {decode_info, invoke_info},
};
_Static_assert(MF_SLOTS_OP_COUNT <= MAX_OPS, "slots operation table");

static int slots_bits(unsigned size_bits) { return size_bits == 0 ? PAGE_SHIFT : -1; }
_Static_assert(sizeof(struct cpu_slots) <= PAGE_SIZE, "a Slots object is one page");

// The slots are free again and the thread an ordinary one (still fixed to
// the CPU); then the notification copy goes and the object is unconfigured
// (CONFIGURE may bind it again). When the final cap goes, and when a
// Reclaim grant of the object ends (kernel/reclaim.c). cap_lock held.
void slots_release(struct cpu_slots *s)
{
    if (!s->configured)
        return;
    struct mcs_qnode sq, q;
    struct cpu *c = &cpus[s->cpu];
    mcs_lock(&slots_lock, &sq);
    unbind(s);
    mcs_lock(&c->lock, &q);
    for (unsigned i = 0; i < MF_SLOT_COUNT; i++)
        if (c->slot_owner[i] == s)
            c->slot_owner[i] = NULL;
    if (c->slot_active == s)
        c->slot_active = NULL;
    __atomic_store_n(&c->slotted, c->slotted - (uint32_t)__builtin_popcount(s->mask), __ATOMIC_RELAXED);
    c->need_resched = true;
    s->done = s->denied = s->charge = false;
    mcs_unlock(&c->lock, &q);
    s->configured = false;
    s->mask = 0;
    mcs_unlock(&slots_lock, &sq);
    cap_delete_nested(&s->notify_slot);
}

static void slots_finalize(const struct cap *cap) { slots_release((struct cpu_slots *)cap->obj); }

const struct object_type slots_object_type = {
    .name = "slots",
    .object_bits = slots_bits,
    .finalize = slots_finalize,
    .cap_deleted = reclaim_cap_deleted,     // a Reclaim grant of it, or a cap lent through one
    .ops = slots_ops,
    .op_count = MF_SLOTS_OP_COUNT,
    .lock_class = LOCK_CAP,
};

// CPU Time: no operations; its cap is the authority CONFIGURE asks for.
const struct object_type cpu_time_object_type = {
    .name = "cpu time",
};
