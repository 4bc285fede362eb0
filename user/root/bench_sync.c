// Threads and synchronisation on one CPU, the figures with a Linux
// counterpart (tools/bench/pairs.py, docs/benchmarks.md): thread creation,
// a notification ping-pong, a two-thread barrier and a yield ping-pong.
// Each runs in a driver thread fixed to one CPU (bench_run_pinned) with its
// partner fixed to the same CPU, as Linux's threads all run on CPU 0; the
// objects come from BENCH_UT, revoked after each benchmark.
#include "manifold.h"
#include "root.h"
#include "lib/fmt.h"

#define ROOT MF_CAP_SELF_CNODE
#define S_THREAD (BENCH_SLOTS + 40)         // the partner, or the thread created
#define S_EXIT (BENCH_SLOTS + 41)           // signalled when S_THREAD ends
#define S_PING (BENCH_SLOTS + 42)
#define S_PONG (BENCH_SLOTS + 43)
#define S_CHILD_UT (BENCH_SLOTS + 44)       // thread.retype_create: one thread's memory

static uint64_t samples[BENCH_ITERATIONS];
static uint8_t partner_stack[8192] __attribute__((aligned(16)));
static volatile bool driver_ok, stop;
static volatile uint64_t partner_count;

static void sample(unsigned i, uint64_t t0, uint64_t t1)
{
    if (i >= BENCH_WARMUP)
        samples[i - BENCH_WARMUP] = t1 - t0;
}

static bool make(unsigned type, long slot)
{
    return mf_untyped_retype(BENCH_UT, type, 0, 1, ROOT, slot) == 0;
}

// The driver runs `fn` with the partner S_THREAD and the notifications
// S_EXIT, S_PING and S_PONG made; the figure is verified if the driver
// says so (driver_ok) and ended normally.
static void run(const char *name, void (*fn)(uint64_t), uint64_t arg, uint64_t overhead)
{
    driver_ok = stop = false;
    partner_count = 0;
    if (!make(MF_OBJ_THREAD, S_THREAD) || !make(MF_OBJ_NOTIFICATION, S_EXIT) ||
        !make(MF_OBJ_NOTIFICATION, S_PING) || !make(MF_OBJ_NOTIFICATION, S_PONG)) {
        printf("bench: cannot set up %s\n", name);
        mf_cnode_revoke(ROOT, BENCH_UT);
        return;
    }
    bool ok = bench_run_pinned(fn, arg) && driver_ok;
    bench_report(name, samples, overhead, bench_verified(ok));
    mf_cnode_revoke(ROOT, BENCH_UT);
}

// Starts the partner on our CPU.
static bool start_partner(void (*fn)(uint64_t))
{
    return bench_start_pinned(S_THREAD, S_EXIT, (unsigned)mf_cpu_id(), fn, partner_stack,
                              sizeof(partner_stack), 0);
}

// ------------------------------------------------- thread.create (+ retype)
// thread.create: one Thread object, started again and again. A thread that
// has ended is INACTIVE and can be configured and started anew, so each
// sample is mf_thread_start (configure, write registers, resume: three
// invocations) of a function that returns at once, its exit, and our
// mf_notification_wait for the exit notification bound once before the
// loop. Linux's pthread_create + pthread_join likewise reuses a cached
// stack and thread descriptor after the first runs, but clones a kernel
// task each time. thread.retype_create also makes the object each time:
// retype from a 16 KiB untyped (the kernel clears it), fix it to our CPU,
// bind its exit, start, wait; the untyped is revoked between samples.
// Checked: each thread ran (it stores its argument) and ended normally.

static volatile uint64_t created_ran;

static void empty_thread(uint64_t arg)
{
    created_ran = arg;
}

static long create_one(bool retype, unsigned cpu, uint64_t arg)
{
    long r = 0;
    if (retype) {
        r = mf_untyped_retype(S_CHILD_UT, MF_OBJ_THREAD, 0, 1, ROOT, S_THREAD);
        if (!r)
            r = mf_thread_set_sched(S_THREAD, MF_SCHED_FIXED, cpu);
        if (!r)
            r = mf_thread_bind_exit(S_THREAD, S_EXIT);
    }
    if (!r)
        r = mf_thread_start(S_THREAD, empty_thread, partner_stack, sizeof(partner_stack), arg);
    if (!r)
        r = mf_notification_wait(S_EXIT);
    return r < 0 ? r : 0;
}

static void create_driver(uint64_t retype)
{
    unsigned cpu = (unsigned)mf_cpu_id();
    bool ok = retype ? mf_cnode_delete(ROOT, S_THREAD) == 0 &&
                           mf_untyped_retype(BENCH_UT, MF_OBJ_UNTYPED, 14, 1, ROOT, S_CHILD_UT) == 0
                     : mf_thread_set_sched(S_THREAD, MF_SCHED_FIXED, cpu) == 0 &&
                           mf_thread_bind_exit(S_THREAD, S_EXIT) == 0;
    for (unsigned i = 0; ok && i < BENCH_ITERATIONS; i++) {
        uint64_t t0 = mf_arch_cycles();
        long r = create_one(retype, cpu, i + 1);
        uint64_t t1 = mf_arch_cycles();
        struct mf_exit_status st;
        ok = r == 0 && created_ran == i + 1 && mf_thread_exit_status(S_THREAD, &st) == 0 && st.how == EXIT_NORMAL;
        if (retype)
            ok &= mf_cnode_revoke(ROOT, S_CHILD_UT) == 0;
        sample(i, t0, t1);
    }
    driver_ok = ok;
}

// --------------------------------------- notification.signal_wait_pingpong
// One sample: signal the partner's notification, wait on ours until it
// signals back (two signals, two waits, two thread switches), as Linux's
// FUTEX_WAKE / FUTEX_WAIT round trip. Checked: the partner answered every
// ping exactly once.

static void pong(uint64_t unused)
{
    (void)unused;
    for (;;) {
        mf_notification_wait(S_PING);
        if (stop)
            return;
        partner_count++;
        mf_notification_signal(S_PONG);
    }
}

static void ping_driver(uint64_t unused)
{
    (void)unused;
    if (!start_partner(pong))
        return;
    bool ok = true;
    for (unsigned i = 0; i < BENCH_ITERATIONS; i++) {
        uint64_t t0 = mf_arch_cycles();
        mf_notification_signal(S_PING);
        mf_notification_wait(S_PONG);
        uint64_t t1 = mf_arch_cycles();
        ok &= partner_count == i + 1;
        sample(i, t0, t1);
    }
    stop = true;
    mf_notification_signal(S_PING);
    mf_notification_wait(S_EXIT);
    driver_ok = ok;
}

// ---------------------------------------------------- barrier.episode_2threads
// A blocking barrier built from notifications, one per participant: each
// arrival decrements a count; all but the last then wait on their own
// notification, the last resets the count, signals the others' and yields
// the CPU to them. (lib/barrier.h's barriers spin, which on one CPU would
// hold the CPU until the timer took it away.) Without that yield the
// signaller runs on (a signal does not preempt a thread of equal
// priority), arrives first at the next episode and blocks there, so the
// driver's episodes would alternate between a cheap one (it arrives last
// and runs on) and a dear one (it waits for the partner): a two-valued
// distribution whose median is whichever side has the 500th sample. With
// it every episode is the same: the driver arrives first and waits, the
// partner arrives, releases it and yields back. One sample: one episode
// seen by the driver, like pthread_barrier_wait with two threads on one
// CPU. Checked: after each episode each thread finds the other arrived at
// it, and the partner finished every episode.

#define NB_MAX 2
struct nbarrier {
    uint32_t missing, n;
    long wake[NB_MAX];          // participant i's notification
};

static void nbarrier_wait(struct nbarrier *b, unsigned id)
{
    if (__atomic_sub_fetch(&b->missing, 1, __ATOMIC_ACQ_REL) == 0) {
        __atomic_store_n(&b->missing, b->n, __ATOMIC_RELEASE);    // nobody arrives again before our signal
        for (unsigned k = 0; k < b->n; k++)
            if (k != id)
                mf_notification_signal(b->wake[k]);
        mf_yield();             // hand the CPU to those released (see above)
    } else {
        mf_notification_wait(b->wake[id]);
    }
}

static struct nbarrier barrier = {.missing = 2, .n = 2, .wake = {S_PING, S_PONG}};
static volatile uint64_t arrived[NB_MAX];     // the episode each last arrived at (1-based)

static void barrier_partner(uint64_t unused)
{
    (void)unused;
    bool ok = true;
    for (uint64_t e = 1; e <= BENCH_ITERATIONS; e++) {
        arrived[1] = e;
        nbarrier_wait(&barrier, 1);
        ok &= arrived[0] >= e;
    }
    partner_count = ok ? BENCH_ITERATIONS : 0;
}

static void barrier_driver(uint64_t unused)
{
    (void)unused;
    barrier.missing = barrier.n;
    arrived[0] = arrived[1] = 0;
    if (!start_partner(barrier_partner))
        return;
    bool ok = true;
    for (unsigned i = 0; i < BENCH_ITERATIONS; i++) {
        arrived[0] = i + 1;
        uint64_t t0 = mf_arch_cycles();
        nbarrier_wait(&barrier, 0);
        uint64_t t1 = mf_arch_cycles();
        ok &= arrived[1] >= i + 1;
        sample(i, t0, t1);
    }
    mf_notification_wait(S_EXIT);
    driver_ok = ok && partner_count == BENCH_ITERATIONS;
}

// ----------------------------------------------------- syscall.yield_pingpong
// Two threads on one CPU yielding to each other: one sample is the driver's
// mf_yield until it runs again, one round through the partner's loop (two
// thread switches), as Linux's sched_yield between two threads. Checked:
// the partner ran in every sample.

static void yielder(uint64_t unused)
{
    (void)unused;
    while (!stop) {
        partner_count++;
        mf_yield();
    }
}

static void yield_driver(uint64_t unused)
{
    (void)unused;
    if (!start_partner(yielder))
        return;
    mf_yield();                 // let it start
    bool ok = true;
    for (unsigned i = 0; i < BENCH_ITERATIONS; i++) {
        uint64_t before = partner_count;
        uint64_t t0 = mf_arch_cycles();
        mf_yield();
        uint64_t t1 = mf_arch_cycles();
        ok &= partner_count != before;
        sample(i, t0, t1);
    }
    stop = true;
    mf_notification_wait(S_EXIT);
    driver_ok = ok;
}

void run_sync_benchmarks(uint64_t overhead)
{
    run("syscall.yield_pingpong", yield_driver, 0, overhead);
    run("thread.create", create_driver, 0, overhead);
    run("thread.retype_create", create_driver, 1, overhead);
    run("notification.signal_wait_pingpong", ping_driver, 0, overhead);
    run("barrier.episode_2threads", barrier_driver, 0, overhead);
}
