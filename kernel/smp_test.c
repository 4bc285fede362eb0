// Self-tests of SMP start-up, cross-CPU calls, and the lib/ locks and
// barriers on real concurrent CPUs (one participant per CPU, interrupts
// off, through smp_call).
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/ktest.h"
#include "kernel/smp.h"
#include "kernel/thread.h"
#include "lib/barrier.h"
#include "lib/spinlock.h"

#define ALL_CPUS (~0ull)
#define LONG_CALL_MS 60000      // a whole test's worth of work on every CPU
#define WATCHDOG_MS 20000       // spinning longer than this in a test is a hang

static uint64_t ms(unsigned n) { return arch_cycles_per_second() / 1000 * n; }

KTEST(smp_all_reported_cpus_online)
{
    unsigned want = smp_cpus_reported() < MAX_CPUS ? smp_cpus_reported() : MAX_CPUS;
    KCHECK(cpu_count == want);
    KCHECK(smp_online_cpus() == (1ull << cpu_count) - 1);
    for (unsigned c = 0; c < cpu_count; c++)
        KCHECK(cpus[c].online && cpus[c].id == c && cpus[c].idle && (c == 0 || cpus[c].idle != cpus[0].idle));
    return NULL;
}

// ------------------------------------------------------------ smp_call

static struct {
    uint64_t seen;
    uint32_t id[MAX_CPUS];
    uint32_t interrupts_on;
} reach;

static void record_cpu(void *arg)
{
    unsigned me = arch_cpu_id();
    reach.id[me] = me + 1;
    if (arch_interrupts_enabled())
        __atomic_fetch_add(&reach.interrupts_on, 1, __ATOMIC_RELAXED);
    __atomic_fetch_or(&reach.seen, 1ull << me, __ATOMIC_RELAXED);
}

KTEST(smp_call_runs_on_every_cpu)
{
    reach = (typeof(reach)){0};
    KCHECK(smp_call(ALL_CPUS, record_cpu, NULL, SMP_CALL_TIMEOUT_MS) == 0);
    KCHECK(reach.seen == smp_online_cpus());
    KCHECK(reach.interrupts_on == 0);
    for (unsigned c = 0; c < cpu_count; c++)
        KCHECK(reach.id[c] == c + 1);
    // Only the CPUs asked, the caller excluded.
    reach = (typeof(reach)){0};
    uint64_t others = smp_online_cpus() & ~1ull;
    KCHECK(smp_call(others, record_cpu, NULL, SMP_CALL_TIMEOUT_MS) == 0);
    KCHECK(reach.seen == others);
    return NULL;
}

static volatile uint32_t hold_release, hold_running;

// Spins without serving anything: the CPU does not answer while in here.
static void hold_cpu(void *arg)
{
    hold_running = 1;
    uint64_t end = arch_cycles() + ms(5000);
    while (!hold_release && arch_cycles() < end)
        __asm__ volatile("" ::: "memory");
    hold_running = 0;
}

KTEST(smp_call_timeout_names_the_silent_cpu)
{
    if (cpu_count < 2)
        return NULL;
    hold_release = 0;
    uint64_t late = smp_call(1ull << 1, hold_cpu, NULL, 50);
    KCHECK(late == 1ull << 1);          // started, not finished: reported
    KCHECK(hold_running);
    // Still busy: the next call from here reports it too, and does not hang.
    KCHECK(smp_call(ALL_CPUS, record_cpu, NULL, 50) == 1ull << 1);
    hold_release = 1;
    reach = (typeof(reach)){0};
    KCHECK(smp_call(ALL_CPUS, record_cpu, NULL, SMP_CALL_TIMEOUT_MS) == 0);
    KCHECK(reach.seen == smp_online_cpus());
    return NULL;
}

// --------------------------------------------------------------- locks

// Each CPU takes the lock in batches until the CPUs have handed it to each
// other LOCK_HANDOFFS times (they overlapped) or LOCK_MS passed. Under QEMU
// more vCPUs than host cores run, so how much they overlap varies; a FIFO
// lock handed to a descheduled vCPU stalls for a host time slice.
#define LOCK_BATCH 100
#define LOCK_HANDOFFS 400
#define LOCK_MS 3000

static struct {
    struct any_lock lock;
    struct barrier_counter start;       // every CPU begins at once
    uint64_t counter;                   // plain: only the lock protects it
    uint32_t inside;                    // atomic occupancy
    uint32_t overlaps;
    uint32_t last_holder, handoffs;     // holder changes: the CPUs interleaved
    uint32_t stop;
    uint64_t deadline;
    uint64_t rounds[MAX_CPUS];
} __attribute__((aligned(CACHE_LINE_SIZE))) lt;

static void lock_worker(void *arg)
{
    struct mcs_qnode q;
    unsigned me = arch_cpu_id();
    barrier_counter_wait(&lt.start, me);
    for (unsigned i = 0; !__atomic_load_n(&lt.stop, __ATOMIC_RELAXED); i++) {
        any_lock_acquire(&lt.lock, &q);
        if (__atomic_add_fetch(&lt.inside, 1, __ATOMIC_RELAXED) != 1)
            lt.overlaps++;
        if (lt.last_holder != me) {
            lt.last_holder = me;
            lt.handoffs++;
        }
        uint64_t v = *(volatile uint64_t *)&lt.counter;
        if (i % 16 == 0)
            cpu_relax();                // widen the window a lost update needs
        *(volatile uint64_t *)&lt.counter = v + 1;
        __atomic_sub_fetch(&lt.inside, 1, __ATOMIC_RELAXED);
        bool enough = lt.handoffs >= LOCK_HANDOFFS;
        any_lock_release(&lt.lock, &q);
        lt.rounds[me]++;
        if (i % LOCK_BATCH == LOCK_BATCH - 1 && (enough || arch_cycles() > lt.deadline))
            __atomic_store_n(&lt.stop, 1, __ATOMIC_RELAXED);
        // Work outside the lock, of varying length: the lock is often free.
        for (volatile unsigned d = (i * 7 + me * 13) % 64 * 8; d; d--)
            ;
    }
}

static const char *lock_test(enum lock_kind kind)
{
    KCHECK(any_lock_init(&lt.lock, kind));
    KCHECK(barrier_counter_init(&lt.start, cpu_count));
    lt.counter = lt.inside = lt.overlaps = lt.handoffs = lt.stop = 0;
    lt.last_holder = ~0u;
    for (unsigned c = 0; c < MAX_CPUS; c++)
        lt.rounds[c] = 0;
    lt.deadline = arch_cycles() + ms(LOCK_MS);
    smp_watchdog_arm(arch_cycles() + ms(WATCHDOG_MS), lock_kind_name(kind), NULL);
    uint64_t late = smp_call(ALL_CPUS, lock_worker, NULL, LONG_CALL_MS);
    smp_watchdog_disarm();
    KCHECK(late == 0);
    uint64_t total = 0;
    for (unsigned c = 0; c < cpu_count; c++)
        total += lt.rounds[c];
    kprintf("# %s lock: %lu acquisitions on %u CPUs, %u hand-offs between CPUs\n", lock_kind_name(kind),
            total, cpu_count, lt.handoffs);
    KCHECK(lt.overlaps == 0);
    KCHECK(lt.counter == total);
    return NULL;
}

KTEST(smp_mcs_lock_excludes_all_cpus) { return lock_test(LOCK_MCS); }
KTEST(smp_ticket_lock_excludes_all_cpus) { return lock_test(LOCK_TICKET); }
KTEST(smp_tatas_lock_excludes_all_cpus) { return lock_test(LOCK_TAS); }

// ------------------------------------------------------------ barriers

#define BARRIER_EPISODES 100

static struct {
    struct any_barrier barrier;
    uint32_t slot[2][MAX_CPUS];         // episode e writes slot[e % 2]
    uint32_t reached[MAX_CPUS];         // last episode each CPU entered
    uint32_t errors, first_bad_episode;
} bt;

static void barrier_worker(void *arg)
{
    unsigned me = arch_cpu_id();
    for (uint32_t e = 1; e <= BARRIER_EPISODES; e++) {
        bt.slot[e % 2][me] = e;
        __atomic_store_n(&bt.reached[me], e, __ATOMIC_RELAXED);
        any_barrier_wait(&bt.barrier, me);
        for (unsigned c = 0; c < cpu_count; c++) {
            if (__atomic_load_n(&bt.slot[e % 2][c], __ATOMIC_RELAXED) != e &&
                __atomic_fetch_add(&bt.errors, 1, __ATOMIC_RELAXED) == 0)
                bt.first_bad_episode = e;
        }
    }
}

static void barrier_report(void)
{
    for (unsigned c = 0; c < cpu_count; c++)
        kprintf("# CPU %u reached episode %u of %u\n", c, bt.reached[c], BARRIER_EPISODES);
}

static const char *barrier_test(enum barrier_kind kind)
{
    KCHECK(any_barrier_init(&bt.barrier, kind, cpu_count));
    for (unsigned c = 0; c < MAX_CPUS; c++)
        bt.slot[0][c] = bt.slot[1][c] = bt.reached[c] = 0;
    bt.errors = bt.first_bad_episode = 0;
    smp_watchdog_arm(arch_cycles() + ms(WATCHDOG_MS), barrier_kind_name(kind), barrier_report);
    uint64_t late = smp_call(ALL_CPUS, barrier_worker, NULL, LONG_CALL_MS);
    smp_watchdog_disarm();
    KCHECK(late == 0);
    if (bt.errors)
        kprintf("# %u stale slots, first in episode %u\n", bt.errors, bt.first_bad_episode);
    KCHECK(bt.errors == 0);
    for (unsigned c = 0; c < cpu_count; c++)
        KCHECK(bt.reached[c] == BARRIER_EPISODES);
    return NULL;
}

KTEST(smp_counter_barrier_episodes_in_order) { return barrier_test(BARRIER_COUNTER); }
KTEST(smp_combining_barrier_episodes_in_order) { return barrier_test(BARRIER_COMBINING); }
KTEST(smp_mcs_tree_barrier_episodes_in_order) { return barrier_test(BARRIER_MCS_TREE); }
KTEST(smp_tournament_barrier_episodes_in_order) { return barrier_test(BARRIER_TOURNAMENT); }
KTEST(smp_dissemination_barrier_episodes_in_order) { return barrier_test(BARRIER_DISSEMINATION); }
