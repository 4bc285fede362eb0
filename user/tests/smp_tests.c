// User threads on several CPUs: placement, IPC and wake-ups across CPUs,
// pinning, timer preemption on every CPU, idle CPUs stealing work.
#include "manifold.h"
#include "utest.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT (MF_CAP_UNTYPED_BASE + 2)
#define THREADS 700         // 700..707: thread objects
#define EP 710
#define NTFN 711
#define SEG 712
#define MAX_THREADS 8
#define STACK 8192

static uint8_t stacks[MAX_THREADS][STACK] __attribute__((aligned(16)));
static volatile long seen_cpu[MAX_THREADS], wrong_cpu[MAX_THREADS], done[MAX_THREADS];
static volatile uint64_t progress[MAX_THREADS];
static volatile long stop_all;

static long cpus(void)
{
    struct mf_system_info si;
    return mf_system_info(&si) == 0 ? (long)si.cpus : 1;
}

static bool make(unsigned type, long slot)
{
    long r = mf_untyped_retype(UT, type, 0, 1, ROOT, slot);
    if (r)
        printf("# retype of type %u into slot %ld: %s\n", type, slot, mf_strerror(r));
    return r == 0;
}

static bool cleanup(void)
{
    stop_all = 1;
    return mf_cnode_revoke(ROOT, UT) == 0;
}

static void reset(void)
{
    stop_all = 0;
    for (int i = 0; i < MAX_THREADS; i++)
        seen_cpu[i] = -1, wrong_cpu[i] = 0, done[i] = 0, progress[i] = 0;
}

// Thread k fixed to CPU k: starts it with fn(k).
static bool start_fixed(long k, long cpu, void (*fn)(uint64_t))
{
    return make(MF_OBJ_THREAD, THREADS + k) &&
           mf_thread_set_sched(THREADS + k, MF_SCHED_FIXED, (unsigned)cpu) == 0 &&
           mf_thread_start(THREADS + k, fn, stacks[k], STACK, (uint64_t)k) == 0;
}

// Checks where it runs, many times, yielding in between.
static void reporter(uint64_t k)
{
    for (int i = 0; i < 200; i++) {
        long c = mf_cpu_id();
        if (seen_cpu[k] < 0)
            seen_cpu[k] = c;
        if (c != seen_cpu[k])
            wrong_cpu[k]++;
        mf_yield();
    }
    done[k] = 1;
}

UTEST(smp_threads_run_on_the_cpus_they_are_fixed_to)
{
    long n = cpus();
    if (n > MAX_THREADS)
        n = MAX_THREADS;
    reset();
    for (long k = 0; k < n; k++)
        UCHECK(start_fixed(k, k, reporter));
    bool all = false;
    for (int t = 0; t < 300 && !all; t++) {
        all = true;
        for (long k = 0; k < n; k++)
            all &= done[k] != 0;
        if (!all)
            mf_sleep(1);
    }
    UCHECK(all);
    for (long k = 0; k < n; k++)
        UCHECK(seen_cpu[k] == k && wrong_cpu[k] == 0);
    UCHECK(cleanup());
    return NULL;
}

// Replies with mr0 + 1 and the CPU it runs on.
static void pinned_server(uint64_t unused)
{
    struct mf_msg m = {0};
    mf_recv(EP, &m);
    for (;;) {
        m.mr[0] += 1;
        m.mr[1] = (uint64_t)mf_cpu_id();
        m.info = MF_INFO(0, 2);
        mf_reply_recv(EP, &m);
    }
}

static void pinned_client(uint64_t k)
{
    long me = mf_cpu_id();
    for (uint64_t i = 0; i < 100; i++) {
        struct mf_msg m = {.info = MF_INFO(0, 1), .mr = {i * 3}};
        if (mf_call(EP, &m) != 0 || m.mr[0] != i * 3 + 1 || (long)m.mr[1] != 1 || mf_cpu_id() != me)
            wrong_cpu[k]++;
    }
    seen_cpu[k] = me;
    done[k] = 1;
}

UTEST(smp_ipc_call_reply_between_two_cpus)
{
    long n = cpus();
    if (n < 2)
        return NULL;
    reset();
    long client_cpu = n > 2 ? 2 : 0;
    UCHECK(make(MF_OBJ_ENDPOINT, EP));
    UCHECK(start_fixed(0, 1, pinned_server));
    UCHECK(start_fixed(1, client_cpu, pinned_client));
    UWAIT(done[1], 300);
    UCHECK(done[1] && wrong_cpu[1] == 0 && seen_cpu[1] == client_cpu);
    UCHECK(cleanup());
    return NULL;
}

static void waiter(uint64_t k)
{
    seen_cpu[k] = mf_cpu_id();
    progress[k] = (uint64_t)mf_notification_wait(NTFN);
    if (mf_cpu_id() != seen_cpu[k])
        wrong_cpu[k]++;
    done[k] = 1;
}

UTEST(smp_notification_wakes_a_thread_on_another_cpu)
{
    long n = cpus();
    if (n < 2)
        return NULL;
    reset();
    long cpu = (mf_cpu_id() + 1) % n;
    UCHECK(make(MF_OBJ_NOTIFICATION, NTFN));
    UCHECK(start_fixed(0, cpu, waiter));
    UWAIT(seen_cpu[0] >= 0, 300);
    mf_sleep(2);                                // it is blocked in wait by now
    UCHECK(!done[0]);
    UCHECK(mf_notification_signal(NTFN) == 0);
    UWAIT(done[0], 300);
    UCHECK(done[0] && progress[0] == 1 && seen_cpu[0] == cpu && wrong_cpu[0] == 0);
    UCHECK(cleanup());
    return NULL;
}

// Never yields: only the timer takes the CPU away from it.
static void spinner(uint64_t k)
{
    while (!stop_all) {
        progress[k]++;
        long c = mf_cpu_id();
        if (progress[k] % 64 == 0)
            seen_cpu[k] = c;
    }
    done[k] = 1;
}

UTEST(smp_cpu_bound_thread_on_each_cpu_progresses)
{
    long n = cpus();
    if (n + 1 > MAX_THREADS)
        n = MAX_THREADS - 1;
    reset();
    // One spinner fixed to each CPU, and a second one on CPU 0: the two
    // there share it only through timer preemption, like us and the
    // spinner on our own CPU.
    for (long k = 0; k < n; k++)
        UCHECK(start_fixed(k, k, spinner));
    UCHECK(start_fixed(n, 0, spinner));
    // Every spinner, the two on CPU 0 included, moves on: within 5 s, even
    // on a loaded host.
    UWAIT(progress[n] > 0 && progress[0] > 0, 500);
    uint64_t before[MAX_THREADS];
    for (long k = 0; k <= n; k++)
        before[k] = progress[k];
    bool moved = false;
    for (long w = 0; w < 500 && !moved; w++) {
        mf_sleep(1);
        moved = true;
        for (long k = 0; k <= n; k++)
            moved &= progress[k] > before[k] + 64;
    }
    if (!moved)
        for (long k = 0; k <= n; k++)
            printf("# spinner %ld: %lu -> %lu\n", k, (unsigned long)before[k], (unsigned long)progress[k]);
    bool placed = seen_cpu[n] == 0;
    for (long k = 0; k < n; k++)
        if (seen_cpu[k] != k) {
            printf("# spinner %ld fixed to CPU %ld ran on CPU %ld\n", k, k, seen_cpu[k]);
            placed = false;
        }
    UCHECK(cleanup());
    UCHECK(moved && placed);
    return NULL;
}

// Reports its CPU until told to move, then until it runs on the new one.
static volatile long move_to;
static volatile uint32_t mover_migrations;
static void mover(uint64_t k)
{
    while (!stop_all) {
        struct mf_thread_info self;
        if (mf_thread_info(MF_THREAD_SELF, &self) == 0)
            mover_migrations = self.migrations;
        long c = mf_cpu_id();
        if (c != seen_cpu[k]) {
            if (seen_cpu[k] >= 0 && c != move_to)
                wrong_cpu[k]++;     // anywhere but the old or the new CPU
            seen_cpu[k] = c;
        }
        progress[k]++;
        mf_yield();
    }
}

UTEST(smp_fixed_thread_moves_when_refixed)
{
    long n = cpus();
    if (n < 2)
        return NULL;
    reset();
    long from = n - 1, to = n - 2;
    move_to = from;
    UCHECK(start_fixed(0, from, mover));
    UWAIT(seen_cpu[0] == from, 300);
    UCHECK(seen_cpu[0] == from);
    uint32_t before = mover_migrations;
    move_to = to;
    UCHECK(mf_thread_set_sched(THREADS, MF_SCHED_FIXED, (unsigned)to) == 0);
    UWAIT(seen_cpu[0] == to, 300);
    UCHECK(seen_cpu[0] == to && wrong_cpu[0] == 0);
    uint64_t p = progress[0];
    UWAIT(progress[0] > p + 10, 300);
    UCHECK(seen_cpu[0] == to && wrong_cpu[0] == 0);
    UCHECK(mover_migrations == before + 1);         // counted once, at the move
    UCHECK(cleanup());
    return NULL;
}

UTEST(smp_idle_cpu_steals_waiting_work)
{
    long n = cpus();
    if (n < 2)
        return NULL;
    reset();
    // Two spinners queued on one CPU, then left to the default policy:
    // one runs there, the other waits until an idle CPU takes it.
    long cpu = n - 1;
    UCHECK(start_fixed(0, cpu, spinner) && start_fixed(1, cpu, spinner));
    UCHECK(mf_thread_set_sched(THREADS, MF_SCHED_LAST, 0) == 0);
    UCHECK(mf_thread_set_sched(THREADS + 1, MF_SCHED_LAST, 0) == 0);
    UWAIT(seen_cpu[0] >= 0 && seen_cpu[1] >= 0 && seen_cpu[0] != seen_cpu[1], 300);
    UCHECK(seen_cpu[0] >= 0 && seen_cpu[1] >= 0 && seen_cpu[0] != seen_cpu[1]);
    UCHECK(cleanup());
    return NULL;
}

UTEST(smp_sched_policies_set_and_checked)
{
    long n = cpus();
    reset();
    UCHECK(make(MF_OBJ_THREAD, THREADS));
    UCHECK(mf_thread_set_sched(THREADS, MF_SCHED_POLICIES, 0) == -E_INVAL);
    UCHECK(mf_thread_set_sched(THREADS, MF_SCHED_FIXED, (unsigned)n) == -E_RANGE);
    for (unsigned p = MF_SCHED_DEFAULT; p < MF_SCHED_POLICIES; p++)
        UCHECK(mf_thread_set_sched(THREADS, p, 0) == 0);
    UCHECK(mf_cnode_copy(ROOT, THREADS, THREADS + 1, MF_RIGHT_READ) == 0);
    UCHECK(mf_thread_set_sched(THREADS + 1, MF_SCHED_FCFS, 0) == -E_PERM);
    struct mf_thread_info self;
    UCHECK(mf_thread_info(MF_THREAD_SELF, &self) == 0);
    UCHECK(self.policy >= MF_SCHED_FCFS && self.policy < MF_SCHED_POLICIES && self.switches_in > 0);
    UCHECK(self.cpu == (uint32_t)mf_cpu_id() || n > 1);     // we may have moved in between
    UCHECK(cleanup());
    return NULL;
}

static void mark_done(uint64_t k)
{
    done[k] = 1;
}

// Issue 12: a CPU that goes idle after a thread object exits there keeps
// pointing at it as the thread it last switched away from. Once the
// object is deleted and its memory retyped into something else (a segment
// whose base lies where the thread's on_cpu flag was), that memory must
// still be free to retype again, not busy until the idle CPU switches.
UTEST(smp_memory_of_a_thread_that_left_an_idle_cpu_is_reusable)
{
    long n = cpus();
    if (n < 2)
        return NULL;
    reset();
    UCHECK(start_fixed(0, (mf_cpu_id() + 1) % n, mark_done));
    // Spin, not sleep: a wake-up might run us on that CPU, which would
    // then switch away from the thread's memory again.
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0);
    uint64_t until = mf_arch_cycles() + 5 * si.counter_hz;
    while (!done[0] && mf_arch_cycles() < until)
        ;
    UCHECK(done[0]);
    UCHECK(cleanup());
    UCHECK(mf_untyped_retype(UT, MF_OBJ_SEGMENT, 13, 1, ROOT, SEG) == 0);
    UCHECK(mf_segment_configure(SEG, 0x80000000ul, 1ul << 30) == 0);
    UCHECK(cleanup());
    UCHECK(make(MF_OBJ_THREAD, THREADS));
    UCHECK(cleanup());
    return NULL;
}
