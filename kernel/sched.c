// A priority round-robin scheduler, one run queue per CPU, with the
// seed's cache-affinity policies (docs/smp.md); blocking, waking, stopping
// threads; the timer tick and the idle loop.
//
// Locking (kernel/thread.h, docs/smp.md): cpus[c].lock for c's run queue
// and the state of c's threads. A run-queue lock is the innermost lock but
// for the leaves; it is never held across a context switch.
#include "kernel/clustered.h"
#include "kernel/lockdep.h"
#include "kernel/thread.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/ipc.h"
#include "kernel/locks.h"
#include "kernel/slots.h"
#include "kernel/sched.h"
#include "kernel/segment.h"
#include "kernel/smp.h"
#include "kernel/version.h"
#include "include/manifold/cap.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

struct cpu cpus[MAX_CPUS];
unsigned cpu_count = 1;

#define SLICE_TICKS 5

// ------------------------------------------------------------ run queues
//
// Each CPU has a FIFO of runnable threads; schedule() runs the one with the
// highest effective priority, the earliest queued among equals:
//
//   effective = base priority * PRIO_SCALE + age + affinity
//   age       = ticks waited / AGE_TICKS, at most AGE_MAX
//   affinity  = LAST, MIN_INTERVENING: AFFINITY_MAX minus the threads that
//               ran on this CPU since this one did (none: AFFINITY_MAX),
//               at least 0; FCFS and FIXED: 0
//
// age + affinity can lift a thread by one base priority level at most. The
// running thread competes with its base priority alone (it has the CPU):
// it keeps running while nothing waiting is effectively at least that.
// Where a thread goes when it starts or wakes is its policy's choice
// (place()); an idle CPU steals threads that wait elsewhere (steal_into()).

#define PRIO_SCALE 8
#define AGE_TICKS 2
#define AGE_MAX 8
#define AFFINITY_MAX 4
#define LAST_STEAL_TICKS 2      // LAST: how long affinity is worth waiting for

static unsigned default_policy = MF_SCHED_LAST;

unsigned sched_default_policy(void) { return default_policy; }

unsigned policy_of(const struct thread *t)
{
    return t->policy ? t->policy : default_policy;
}

// Locks the CPU t belongs to (t->cpu may change until it is locked).
struct cpu *lock_cpu_of(struct thread *t, struct mcs_qnode *q)
{
    for (;;) {
        struct cpu *c = &cpus[__atomic_load_n(&t->cpu, __ATOMIC_ACQUIRE)];
        mcs_lock(&c->lock, q);
        if (t->cpu == c->id)
            return c;
        mcs_unlock(&c->lock, q);
    }
}

static void runqueue_push(struct cpu *c, struct thread *t, uint64_t now)
{
    assert(!t->on_rq && t->cpu == c->id && (!t->waiting_on || t->wait_expired));
    struct thread **p = &c->run_head;
    while (*p)
        p = &(*p)->next;
    t->next = NULL;
    *p = t;
    t->on_rq = true;
    t->enqueued_at = now;
    __atomic_store_n(&c->queued, c->queued + 1, __ATOMIC_RELAXED);
}

static void runqueue_remove(struct cpu *c, struct thread *t)
{
    for (struct thread **p = &c->run_head; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            t->next = NULL;
            t->on_rq = false;
            __atomic_store_n(&c->queued, c->queued - 1, __ATOMIC_RELAXED);
            return;
        }
}

// Threads that ran on c since t last did; ~0 if t never ran there.
static uint32_t intervening(const struct thread *t, const struct cpu *c)
{
    uint32_t left = t->left_at[c->id];
    return left ? __atomic_load_n(&c->switches, __ATOMIC_RELAXED) - (left - 1) : ~0u;
}

static unsigned effective(const struct thread *t, const struct cpu *c, uint64_t now)
{
    uint64_t waited = (now - t->enqueued_at) / AGE_TICKS;
    unsigned e = t->priority * PRIO_SCALE + (waited < AGE_MAX ? (unsigned)waited : AGE_MAX);
    unsigned policy = policy_of(t);
    if (policy == MF_SCHED_LAST || policy == MF_SCHED_MIN_INTERVENING) {
        uint32_t n = intervening(t, c);
        e += n < AFFINITY_MAX ? AFFINITY_MAX - n : 0;
    }
    return e;
}

// The queued thread to run next on c (locked), or NULL. A thread bound to
// CPU slots (kernel/slots.c) runs only in a slot of its own, and then
// before anyone else.
static struct thread *pick(struct cpu *c, uint64_t now)
{
    struct thread *best = NULL;
    unsigned best_e = 0;
    for (struct thread *t = c->run_head; t; t = t->next) {
        if (unlikely(t->slots)) {
            if (slots_eligible(t, c))
                return t;
            continue;
        }
        unsigned e = effective(t, c, now);
        if (!best || e > best_e) {
            best = t;
            best_e = e;
        }
    }
    return best;
}

static unsigned load_of(const struct cpu *c)
{
    return __atomic_load_n(&c->queued, __ATOMIC_RELAXED) +
           (__atomic_load_n(&c->current, __ATOMIC_RELAXED) != c->idle);
}

// The least loaded CPU; `prefer` when it ties.
static unsigned least_loaded(unsigned prefer)
{
    unsigned best = prefer < cpu_count ? prefer : 0, best_load = ~0u;
    for (unsigned i = 0; i < cpu_count; i++) {
        unsigned c = (best + i) % cpu_count;
        unsigned load = load_of(&cpus[c]);
        if (load < best_load) {
            best_load = load;
            best = c;
        }
    }
    return best;
}

// Where t runs next, when it starts or wakes (on no CPU's queue).
static unsigned place(const struct thread *t)
{
    bool ran = t->last_cpu != NEVER_RAN && t->last_cpu < cpu_count;
    switch (policy_of(t)) {
    case MF_SCHED_FIXED:
        return t->fixed_cpu < cpu_count ? t->fixed_cpu : 0;
    case MF_SCHED_LAST:
        return ran ? t->last_cpu : least_loaded(t->cpu);
    case MF_SCHED_MIN_INTERVENING: {
        // Fewest intervening threads; the least loaded among equals.
        unsigned best = ran ? t->last_cpu : least_loaded(t->cpu);
        uint32_t best_n = intervening(t, &cpus[best]);
        unsigned best_load = load_of(&cpus[best]);
        for (unsigned c = 0; c < cpu_count; c++) {
            uint32_t n = intervening(t, &cpus[c]);
            unsigned load = load_of(&cpus[c]);
            if (n < best_n || (n == best_n && load < best_load)) {
                best = c;
                best_n = n;
                best_load = load;
            }
        }
        return best;
    }
    default: {                  // FCFS: wherever it can run soonest, no preference
        static unsigned rotor;  // among equally loaded CPUs, round robin
        return least_loaded(__atomic_fetch_add(&rotor, 1, __ATOMIC_RELAXED) % cpu_count);
    }
    }
}

// Should CPU c switch to t at once? (Base priorities only.)
static bool preempts(const struct cpu *c, const struct thread *t)
{
    const struct thread *cur = __atomic_load_n(&c->current, __ATOMIC_ACQUIRE);
    if (unlikely(t->slots))         // in its own slot it comes first; outside, never
        return slots_eligible(t, c);
    if (cur && unlikely(cur->slots) && slots_eligible(cur, c))
        return false;
    return !cur || cur == c->idle || t->priority > cur->priority;     // none yet: still starting
}

// Second half of a move: t (runnable, on no queue) was given cpu m under its
// old CPU's lock; it joins m's queue unless stopped or moved meanwhile.
static void enqueue_on(struct thread *t, unsigned m)
{
    struct mcs_qnode q;
    struct cpu *c = &cpus[m];
    mcs_lock(&c->lock, &q);
    bool tell = false;
    if (t->state == THREAD_RUNNABLE && t->cpu == m && !t->on_rq && t != c->current) {
        runqueue_push(c, t, sched_ticks());
        tell = c != this_cpu() && preempts(c, t);
        if (c == this_cpu() && c->current && preempts(c, t))
            c->need_resched = true;
    }
    mcs_unlock(&c->lock, &q);
    if (tell)
        arch_send_ipi(m, IPI_RESCHEDULE);
}

// t (INACTIVE or BLOCKED, as `from`) becomes runnable, on the CPU its
// policy chooses, or here for a synchronous hand-off (`sync`: we block
// next) unless it is fixed elsewhere. A thread still current on its CPU
// (about to block) just keeps running there.
// Whether a blocked thread's time is up at tick `now`: a sleeper's, a
// timed notification waiter's (armed once it is queued: ipc.c,
// wait_locked), or a console reader's (it re-checks the UART itself).
static bool timed_out(const struct thread *t, uint64_t now)
{
    uint64_t wake_tick = __atomic_load_n(&t->wake_tick, __ATOMIC_ACQUIRE);
    return (t->blocked_on == BLOCK_SLEEP && now >= wake_tick) || t->blocked_on == BLOCK_CONSOLE ||
           (t->blocked_on == BLOCK_NOTIFICATION && wake_tick && now >= wake_tick);
}

// t leaves state `from` and runs (now, or from a run queue). timed_now:
// a timer wake-up at that tick, which happens only if t's time is still
// up, checked under t's run-queue lock: the t seen blocked by wake_timed
// may have been woken since and be blocking again, not yet queued.
static void make_ready(struct thread *t, enum thread_state from, bool sync, uint64_t timed_now)
{
    struct mcs_qnode q;
    struct cpu *c = lock_cpu_of(t, &q);
    if (t->state != from || (timed_now && !timed_out(t, timed_now))) {
        mcs_unlock(&c->lock, &q);
        return;
    }
    if (timed_now && t->blocked_on == BLOCK_NOTIFICATION)
        t->wait_expired = true;     // runs while still queued, to leave the queue itself
    t->state = THREAD_RUNNABLE;
    t->blocked_on = BLOCK_NONE;
    if (t == c->current) {
        mcs_unlock(&c->lock, &q);
        return;
    }
    unsigned m = sync && policy_of(t) != MF_SCHED_FIXED ? this_cpu()->id : place(t);
    bool tell = false;
    if (m == c->id) {
        runqueue_push(c, t, sched_ticks());
        tell = c != this_cpu() && preempts(c, t);
        if (c == this_cpu() && c->current && preempts(c, t))   // no current yet while booting
            c->need_resched = true;     // runs as soon as we leave the kernel
    } else {
        __atomic_store_n(&t->cpu, m, __ATOMIC_RELEASE);
    }
    mcs_unlock(&c->lock, &q);
    if (m != c->id)
        enqueue_on(t, m);
    else if (tell)
        arch_send_ipi(m, IPI_RESCHEDULE);
}

void thread_start(struct thread *t) { make_ready(t, THREAD_INACTIVE, false, 0); }

void thread_kick(struct thread *t)
{
    struct mcs_qnode q;
    struct cpu *c = lock_cpu_of(t, &q);
    bool blocked = t->state == THREAD_BLOCKED;
    bool remote = t == c->current && c != this_cpu();
    mcs_unlock(&c->lock, &q);
    if (blocked) {
        ipc_cancel(t);
        thread_wake(t);
    } else if (remote) {
        arch_send_ipi(c->id, IPI_RESCHEDULE);
    }
}
void thread_wake(struct thread *t) { make_ready(t, THREAD_BLOCKED, false, 0); }
void thread_wake_sync(struct thread *t) { make_ready(t, THREAD_BLOCKED, true, 0); }

// Can an idle CPU take t, waiting on c, now?
static bool stealable(const struct thread *t, const struct cpu *c, uint64_t now)
{
    const struct thread *cur = c->current;
    if (!cur || t->priority > cur->priority || cur == c->idle)
        return false;           // c runs it next anyway (or is still starting)
    switch (policy_of(t)) {
    case MF_SCHED_FIXED:
        return false;
    case MF_SCHED_LAST:
        return now - t->enqueued_at >= LAST_STEAL_TICKS;
    default:
        return true;
    }
}

// An idle CPU looks for work queued elsewhere; a stolen thread joins our
// queue. Locks one queue at a time.
static void steal_into(struct cpu *me, uint64_t now)
{
    struct mcs_qnode q;
    for (unsigned i = 1; i < cpu_count; i++) {
        struct cpu *c = &cpus[(me->id + i) % cpu_count];
        if (!__atomic_load_n(&c->queued, __ATOMIC_RELAXED))
            continue;
        mcs_lock(&c->lock, &q);
        struct thread *t = c->run_head;
        while (t && !stealable(t, c, now))
            t = t->next;
        if (t) {
            runqueue_remove(c, t);
            __atomic_store_n(&t->cpu, me->id, __ATOMIC_RELEASE);
        }
        mcs_unlock(&c->lock, &q);
        if (t) {
            enqueue_on(t, me->id);
            return;
        }
    }
}

static bool work_elsewhere(const struct cpu *me)
{
    for (unsigned c = 0; c < cpu_count; c++)
        if (c != me->id && __atomic_load_n(&cpus[c].queued, __ATOMIC_RELAXED))
            return true;
    return false;
}

// t runs on c but its policy fixes it elsewhere.
static bool must_move(const struct thread *t, const struct cpu *c)
{
    return policy_of(t) == MF_SCHED_FIXED && t->fixed_cpu != c->id && t->fixed_cpu < cpu_count;
}

bool thread_block_prepare(enum block_reason why)
{
    struct mcs_qnode q;
    struct cpu *c = this_cpu();
    mcs_lock(&c->lock, &q);
    struct thread *t = c->current;
    // A thread whose LRPC call was aborted must reach its system call's
    // exit and unwind (thread_kick may have looked before we blocked).
    bool ok = t->state == THREAD_RUNNABLE &&
              __atomic_load_n(&t->lrpc_abort_to, __ATOMIC_ACQUIRE) == LRPC_NO_ABORT;
    // Stopped before it blocked: nothing was done, the call is made again
    // (kernel/syscall.c, "Restart"); a fault's call to its pager is not a
    // system call (SC_IN is clear then).
    if (!ok && t->state == THREAD_INACTIVE && (t->syscall_flags & SC_IN) && !t->in_fault && !t->lrpc_depth)
        t->syscall_flags |= SC_RESTART;
    if (ok) {
        t->state = THREAD_BLOCKED;
        t->blocked_on = why;
    }
    mcs_unlock(&c->lock, &q);
    return ok;
}

bool thread_block(enum block_reason why)
{
    struct thread *self = current_thread();
    self->block_interrupted = false;
    if (!thread_block_prepare(why))
        return false;
    schedule();
    bool interrupted = self->block_interrupted;
    self->block_interrupted = false;
    return !interrupted;
}

// Threads this CPU stopped while they ran on another one, for
// sched_wait_stopped(): block addresses, not pointers to read.
#define STOPPING_MAX 4
static struct {
    uintptr_t block[STOPPING_MAX];
    unsigned count;
} stopping[MAX_CPUS];

// Sets t's state (INACTIVE or DEAD) and takes it off its run queue; a CPU
// running it is told to switch away. Returns the state it had; blocked_on
// stays (ipc_cancel reads it) when keep_reason.
static enum thread_state stop_keeping(struct thread *t, enum thread_state state, bool keep_reason)
{
    struct mcs_qnode q;
    struct cpu *c = lock_cpu_of(t, &q);
    enum thread_state was = t->state;
    if (was == THREAD_DEAD) {       // final: a thread destroyed meanwhile stays so
        mcs_unlock(&c->lock, &q);
        return was;
    }
    if (t->on_rq)
        runqueue_remove(c, t);
    t->state = state;
    if (!keep_reason)
        t->blocked_on = BLOCK_NONE;
    bool running = t == c->current && c != this_cpu();
    mcs_unlock(&c->lock, &q);
    if (running) {
        unsigned me = arch_cpu_id();
        if (stopping[me].count < STOPPING_MAX)
            stopping[me].block[stopping[me].count++] = t->kstack;
        arch_send_ipi(c->id, IPI_RESCHEDULE);
    }
    return was;
}

void stop(struct thread *t, enum thread_state state) { stop_keeping(t, state, false); }

void sched_wait_stopped(void)
{
    unsigned me = arch_cpu_id();
    if (likely(!stopping[me].count))
        return;
    uint64_t deadline = arch_cycles() + arch_cycles_per_second();
    for (unsigned i = 0; i < stopping[me].count; i++) {
        uintptr_t b = stopping[me].block[i];
        while (sched_memory_in_use(b, b + (1ul << THREAD_OBJECT_BITS)) && arch_cycles() < deadline)
            cpu_relax();
    }
    stopping[me].count = 0;
}

// A thread blocks in two steps under the lock of what it waits on (an
// endpoint, a notification, a server's reply link): it marks itself
// blocked (thread_block_prepare), then queues or links itself, unlocks and
// switches away. Stopped between the two, it would queue itself after
// ipc_cancel had looked, and stay queued while inactive or freed (found
// by the fuzzer). So a thread stopped while blocked but still on its CPU
// is waited for: in that window it takes no lock its stopper can hold
// (cap_lock), and it is off its CPU within a bounded number of steps.
// Then ipc_cancel finds it queued or linked. An earlier stop makes
// thread_block_prepare fail instead.
enum thread_state thread_deactivate(struct thread *t)
{
    enum thread_state was = stop_keeping(t, THREAD_INACTIVE, true);
    if (was == THREAD_BLOCKED)
        t->block_interrupted = true;    // its thread_block returns false once resumed
    if (was == THREAD_BLOCKED && t != current_thread())
        while (__atomic_load_n(&t->on_cpu, __ATOMIC_ACQUIRE))
            cpu_relax();
    bool untouched = ipc_cancel(t);
    // A call is made again once resumed (kernel/syscall.c, "Restart") when
    // nothing happened to it: ipc_cancel took it off its queue under the
    // queue's lock before any sender, receiver or signal reached it; or it
    // slept or polled the console (the tick wakes those, with no result).
    // A waker that got there first gave it its result: it returns that.
    // t is off its CPU: it does not touch the flags meanwhile.
    bool restartable = untouched || t->blocked_on == BLOCK_SLEEP || t->blocked_on == BLOCK_CONSOLE;
    if (was == THREAD_BLOCKED && restartable && (t->syscall_flags & SC_IN) && !t->in_fault && !t->lrpc_depth)
        t->syscall_flags |= SC_RESTART;
    struct mcs_qnode q;
    struct cpu *c = lock_cpu_of(t, &q);
    if (t->state == THREAD_INACTIVE)
        t->blocked_on = BLOCK_NONE;
    mcs_unlock(&c->lock, &q);
    return was;
}

void thread_set_priority(struct thread *t, unsigned priority)
{
    struct mcs_qnode q;
    struct cpu *c = lock_cpu_of(t, &q);
    t->priority = priority;     // queues are picked by scanning: nothing moves
    mcs_unlock(&c->lock, &q);
}

void thread_set_sched(struct thread *t, unsigned policy, unsigned cpu)
{
    struct mcs_qnode q;
    struct cpu *c = lock_cpu_of(t, &q);
    t->policy = (uint8_t)policy;
    t->fixed_cpu = (uint8_t)cpu;
    bool move = must_move(t, c) && t->on_rq;
    bool running = must_move(t, c) && t == c->current;
    if (move) {
        runqueue_remove(c, t);
        __atomic_store_n(&t->cpu, cpu, __ATOMIC_RELEASE);
    }
    mcs_unlock(&c->lock, &q);
    if (move)
        enqueue_on(t, cpu);
    else if (running)
        arch_send_ipi(c->id, IPI_RESCHEDULE);     // moves when it switches away (us too)
}

// --------------------------------------------------------------- schedule

static void switch_locked(struct cpu *c, struct thread *prev, struct thread *next, struct mcs_qnode *q,
                          struct thread *moving);

void schedule(void)
{
    struct mcs_qnode q;
    struct cpu *c = this_cpu();
    assert(!cap_lock_held() && !space_lock_held());     // never switch holding them
    uint64_t now = sched_ticks();
    c->need_resched = false;
    struct thread *prev = c->current, *moving = NULL;
    if (!c->run_head && (prev == c->idle || prev->state != THREAD_RUNNABLE))
        steal_into(c, now);
    mcs_lock(&c->lock, &q);
    bool prev_runs = prev->state == THREAD_RUNNABLE && prev != c->idle;
    if (prev_runs && must_move(prev, c)) {
        // Fixed to another CPU: it joins that CPU's queue once we are off it.
        moving = prev;
        __atomic_store_n(&prev->cpu, prev->fixed_cpu, __ATOMIC_RELEASE);
        prev_runs = false;
    }
    struct thread *next = pick(c, now);
    if (prev_runs && !slots_eligible(prev, c)) {
        runqueue_push(c, prev, now);    // runnable, but its slot is over: it waits for the next one
        prev_runs = false;
    }
    if (prev_runs) {
        // Keep running unless something waiting is at least as important
        // (a thread in its own CPU slot always is; one in its slot is
        // never displaced).
        bool keep = !next || (!next->slots && (prev->slots || effective(next, c, now) < prev->priority * PRIO_SCALE));
        if (keep) {
            c->slice_left = SLICE_TICKS;    // a new slice, or the timer never preempts it again
            mcs_unlock(&c->lock, &q);
            return;
        }
        runqueue_push(c, prev, now);
    }
    if (next)
        runqueue_remove(c, next);
    else
        next = c->idle;
    c->slice_left = SLICE_TICKS;
    if (next == prev) {
        mcs_unlock(&c->lock, &q);
        return;
    }
    switch_locked(c, prev, next, &q, moving);
}

// The second half of a switch on c (this CPU, locked with *q) from prev to
// next, which is runnable and on no queue; releases the lock. `moving`: a
// thread to queue on its new CPU once we are off it (schedule()).
static void switch_locked(struct cpu *c, struct thread *prev, struct thread *next, struct mcs_qnode *q,
                          struct thread *moving)
{
    if (prev != c->idle) {
        prev->left_at[c->id] = c->switches + 1;
        prev->last_cpu = (uint8_t)c->id;
    }
    if (next != c->idle) {
        __atomic_store_n(&c->switches, c->switches + 1, __ATOMIC_RELAXED);
        next->switches_in++;
        if (next->last_cpu != NEVER_RAN && next->last_cpu != c->id)
            next->migrations++;     // runs on another CPU than the time before
    }
    // A thread that just left another CPU may not be saved there yet.
    while (__atomic_load_n(&next->on_cpu, __ATOMIC_ACQUIRE))
        cpu_relax();
    next->on_cpu = 1;
    __atomic_store_n(&c->current, next, __ATOMIC_RELEASE);
    c->prev = prev;
    mcs_unlock(&c->lock, q);
    if (moving)
        enqueue_on(moving, moving->cpu);
    // Whoever moves next to another space (space_lock) meanwhile also
    // makes every CPU that has next's old space loaded leave it (vas.c).
    vas_enter(next);
    arch_thread_activate(next);
    tls_switch(prev, next);
    arch_context_switch(prev, next);
}

// Whether c is still saving the thread it last switched away from, if that
// lies in [start, end). A saved one is forgotten, under c's lock so that c
// cannot switch away from it again meanwhile: the caller may retype its
// memory next, and on_cpu read there afterwards would be the new object's
// data, busy until c switches again, never if c stays idle (issue 12).
static bool prev_saving(struct cpu *c, uintptr_t start, uintptr_t end)
{
    struct mcs_qnode q;
    mcs_lock(&c->lock, &q);
    struct thread *prev = c->prev;
    bool in = (uintptr_t)prev >= start && (uintptr_t)prev < end;
    bool saving = in && __atomic_load_n(&prev->on_cpu, __ATOMIC_ACQUIRE);
    if (in && !saving)
        c->prev = NULL;
    mcs_unlock(&c->lock, &q);
    return saving;
}

bool sched_memory_in_use(uintptr_t start, uintptr_t end)
{
    for (unsigned i = 0; i < cpu_count; i++) {
        uintptr_t cur = (uintptr_t)__atomic_load_n(&cpus[i].current, __ATOMIC_ACQUIRE);
        struct thread *prev = __atomic_load_n(&cpus[i].prev, __ATOMIC_ACQUIRE);
        if (cur >= start && cur < end)
            return true;
        if ((uintptr_t)prev >= start && (uintptr_t)prev < end && prev_saving(&cpus[i], start, end))
            return true;
    }
    return false;
}

// The boot CPU's tick count is the system's clock.
uint64_t sched_ticks(void) { return __atomic_load_n(&cpus[0].ticks, __ATOMIC_RELAXED); }

// Under threads_lock, which comes after the endpoint and notification
// locks: a timed notification wait that ran out is woken still queued, and
// the waiter takes itself off the queue (ipc.c: invoke_wait).
static void wake_timed(struct thread *t, uintptr_t now)
{
    if (__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == THREAD_BLOCKED && timed_out(t, now))
        make_ready(t, THREAD_BLOCKED, false, now);      // checks again, under t's run-queue lock
}

// Timer interrupt (user mode or idle: this CPU holds no lock): the boot CPU
// wakes sleepers and console readers; every CPU preempts on slice end.
void timer_tick(void)
{
    struct cpu *c = this_cpu();
    __atomic_store_n(&c->ticks, c->ticks + 1, __ATOMIC_RELAXED);
    quiescent_state(c);         // as in sched_reschedule_ipi: taken in user mode or idle
    if (c->id == 0)
        thread_for_each(wake_timed, c->ticks);
    slots_tick(c);
    if (c->slice_left && --c->slice_left == 0)
        c->need_resched = true;             // return_to_user, or the idle loop, switches
    else if (c->current == c->idle && c->run_head)
        schedule();
}

void grace_period_wait(void)
{
    unsigned me = arch_cpu_id();
    uint64_t seen[MAX_CPUS], waiting = smp_online_cpus() & ~(1ull << me);
    assert(!cap_lock_held() && !space_lock_held());     // CPUs spinning on them are not quiescent
    // What the caller changed is visible everywhere before the counts are
    // read: a CPU that starts using it later sees the change.
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (uint64_t m = waiting; m; m &= m - 1) {
        unsigned c = (unsigned)__builtin_ctzll(m);
        seen[c] = __atomic_load_n(&cpus[c].quiescent, __ATOMIC_ACQUIRE);
        arch_send_ipi(c, IPI_RESCHEDULE);   // out of user mode or the idle wait, through a quiescent state
    }
    kstat_inc(MF_KSTAT_GRACE_PERIODS);
    while (waiting) {
        // Waiting here we hold nothing: a grace period another CPU waits
        // for may end on us.
        quiescent_state(&cpus[me]);
        for (uint64_t m = waiting; m; m &= m - 1) {
            unsigned c = (unsigned)__builtin_ctzll(m);
            if (__atomic_load_n(&cpus[c].quiescent, __ATOMIC_ACQUIRE) != seen[c])
                waiting &= ~(1ull << c);
        }
        smp_spin_poll();
        cpu_relax();
    }
}

static void idle_loop(void *arg)
{
    (void)arg;
    for (;;) {
        quiescent_state(this_cpu());
        arch_wait_for_interrupt();
        arch_interrupts_disable();
        struct cpu *c = this_cpu();
        quiescent_state(c);
        if (c->run_head || work_elsewhere(c))
            schedule();
    }
}

bool sched_init_cpu(unsigned cpu)
{
    struct cpu *c = &cpus[cpu];
    c->id = cpu;
    c->lock.lock_class = LOCK_CLASS_RUNQUEUE;
    struct thread *idle = thread_alloc("idle");
    if (!idle)
        return false;
    arch_thread_init_kernel(idle, idle_loop, NULL);
    idle->state = THREAD_RUNNABLE;
    idle->priority = 0;
    idle->cpu = cpu;
    idle->policy = MF_SCHED_FIXED;
    idle->fixed_cpu = (uint8_t)cpu;
    c->idle = idle;
    return true;
}

void sched_init(void)
{
    static const char *const names[MF_SCHED_POLICIES] = {
        [MF_SCHED_FCFS] = "fcfs", [MF_SCHED_FIXED] = "fixed", [MF_SCHED_LAST] = "last",
        [MF_SCHED_MIN_INTERVENING] = "min-intervening",
    };
    char value[20];
    if (cmdline_option("sched", value, sizeof(value))) {
        unsigned p = MF_SCHED_FCFS;
        while (p < MF_SCHED_POLICIES && strcmp(value, names[p]) != 0)
            p++;
        if (p < MF_SCHED_POLICIES)
            default_policy = p;
        else
            kprintf("manifold: unknown sched=%s; using %s\n", value, names[default_policy]);
    }
    kprintf("manifold: scheduling policy %s\n", names[default_policy]);
    if (!sched_init_cpu(0))
        panic("sched: no idle thread");
}

// Another CPU made a thread runnable here, stopped the one running, or
// fixed it to another CPU.
void sched_reschedule_ipi(void)
{
    struct cpu *c = this_cpu();
    // Interrupts are taken only in user mode or in the idle loop (the
    // kernel runs with them off): this CPU held nothing of the kernel's
    // when this came, a quiescent state (grace_period_wait sends it).
    quiescent_state(c);
    if (c->current == c->idle) {
        if (c->run_head)
            schedule();
    } else if (c->run_head || c->current->state != THREAD_RUNNABLE || must_move(c->current, c)) {
        c->need_resched = true;             // and an aborted LRPC call unwinds there too
    }
}

static struct thread boot_contexts[MAX_CPUS];  // hold the abandoned boot contexts

void sched_adopt_boot_context(void)
{
    struct cpu *c = this_cpu();
    boot_contexts[c->id].state = THREAD_DEAD;
    __atomic_store_n(&c->current, &boot_contexts[c->id], __ATOMIC_RELEASE);
}

_Noreturn void sched_run_idle(void)
{
    if (!this_cpu()->current)
        sched_adopt_boot_context();     // the boot CPU: nobody looked at it before
    schedule();
    panic("sched: returned to the boot context");
}

// ------------------------------------------------------------- hand-off

struct cpu *sched_lock_this(struct mcs_qnode *q)
{
    struct cpu *c = this_cpu();
    mcs_lock(&c->lock, q);
    return c;
}

enum ipc_path sched_handoff_check(struct cpu *c, const struct thread *next)
{
    struct thread *self = c->current;
    if (self->state != THREAD_RUNNABLE || __atomic_load_n(&self->lrpc_abort_to, __ATOMIC_ACQUIRE) != LRPC_NO_ABORT ||
        c->need_resched || must_move(self, c))
        return IPC_SLOW_STATE;
    if (next->state != THREAD_BLOCKED || next->cpu != c->id || __atomic_load_n(&next->on_cpu, __ATOMIC_ACQUIRE) ||
        must_move(next, c) || !slots_eligible(next, c) || self->slots)
        return IPC_SLOW_CPU;        // (CPU slots: the scheduler decides)
    if (next->priority != self->priority)
        return IPC_SLOW_PRIORITY;
    if (c->run_head) {
        // (pick() finds nobody when only threads outside their CPU slots wait.)
        uint64_t now = sched_ticks();
        struct thread *queued = pick(c, now);
        if (queued && (queued->slots || effective(queued, c, now) >= next->priority * PRIO_SCALE))
            return IPC_SLOW_QUEUED;
    }
    return IPC_FAST;
}

void sched_handoff_commit(struct cpu *c, struct thread *next, enum block_reason why)
{
    struct thread *self = c->current;
    self->state = THREAD_BLOCKED;
    self->blocked_on = why;
    next->state = THREAD_RUNNABLE;
    next->blocked_on = BLOCK_NONE;
}

void sched_handoff_switch(struct cpu *c, struct thread *next, struct mcs_qnode *q)
{
    c->need_resched = false;
    c->slice_left = SLICE_TICKS;
    switch_locked(c, c->current, next, q, NULL);
}
