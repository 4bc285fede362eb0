// In-kernel SMP benchmarks: lock acquire+release and barrier episodes, for
// each algorithm of lib/spinlock.h and lib/barrier.h, and a counter
// increment and a page alloc+free, each as a clustered object against a
// shared atomic and an MCS-locked shared one (kernel/clustered.h), on
// 1..cpu_count CPUs at once; and the packet demultiplexer on one CPU (CPUs 0..k-1, one participant each,
// interrupts off). The root task starts them with MF_SYSTEM_KBENCH on its
// System cap in benchmark mode.
//
// Method (docs/benchmarks.md): every participating CPU runs WARMUP
// discarded operations, then SAMPLES timed ones, each timed alone with the
// counter user programs read (arch_user_counter: same unit as the user
// benchmarks), minus the minimum cost of two back-to-back reads. The
// samples of all k CPUs are pooled: n = k * SAMPLES; min, median, max.
#include "kernel/arch.h"
#include "kernel/clustered.h"
#include "kernel/console.h"
#include "kernel/lockdep.h"
#include "kernel/net.h"
#include "kernel/pmm.h"
#include "kernel/smp.h"
#include "kernel/smp_bench.h"
#include "kernel/thread.h"
#include "lib/barrier.h"
#include "lib/spinlock.h"

#define WARMUP 100
#define SAMPLES 200
#define BENCH_CALL_MS 120000

static uint64_t samples[MAX_CPUS][SAMPLES];
static uint64_t pooled[MAX_CPUS * SAMPLES];
static uint64_t overhead;

static struct {
    unsigned k;                         // participants: CPUs 0..k-1
    struct any_lock lock;
    struct barrier_counter start;       // all begin together
    struct any_barrier barrier;
} b;

static void sort(uint64_t *a, unsigned n)
{
    // Shell sort: n is at most MAX_CPUS * SAMPLES.
    for (unsigned gap = n / 2; gap; gap /= 2)
        for (unsigned i = gap; i < n; i++) {
            uint64_t v = a[i];
            unsigned j = i;
            for (; j >= gap && a[j - gap] > v; j -= gap)
                a[j] = a[j - gap];
            a[j] = v;
        }
}

static void report(const char *what, const char *kind, unsigned k)
{
    unsigned n = 0;
    for (unsigned c = 0; c < k; c++)
        for (unsigned i = 0; i < SAMPLES; i++)
            pooled[n++] = samples[c][i] > overhead ? samples[c][i] - overhead : 0;
    sort(pooled, n);
    kprintf("BENCH {\"name\":\"%s.%s.cpus%u\",\"arch\":\"%s\",\"system\":\"manifold\",\"unit\":\"cycles\","
            "\"n\":%u,\"min\":%lu,\"median\":%lu,\"max\":%lu}\n",
            what, kind, k, arch_name, n, pooled[0], pooled[n / 2], pooled[n - 1]);
}

static void lock_worker(void *arg)
{
    unsigned me = arch_cpu_id();
    struct mcs_qnode q;
    barrier_counter_wait(&b.start, me);
    for (unsigned i = 0; i < WARMUP + SAMPLES; i++) {
        uint64_t t0 = arch_user_counter();
        any_lock_acquire(&b.lock, &q);
        any_lock_release(&b.lock, &q);
        uint64_t t1 = arch_user_counter();
        if (i >= WARMUP)
            samples[me][i - WARMUP] = t1 - t0;
    }
}

static void barrier_worker(void *arg)
{
    unsigned me = arch_cpu_id();
    barrier_counter_wait(&b.start, me);
    for (unsigned i = 0; i < WARMUP + SAMPLES; i++) {
        uint64_t t0 = arch_user_counter();
        any_barrier_wait(&b.barrier, me);
        uint64_t t1 = arch_user_counter();
        if (i >= WARMUP)
            samples[me][i - WARMUP] = t1 - t0;
    }
}

// ------------------------------------- counters and pages, three ways

// PER_CPU: co_enter/co_exit (what a destroyable object pays for
// quiescence); PER_CPU_LOCAL: co_local, as the kernel's permanent counters.
enum sharing { PER_CPU, PER_CPU_LOCAL, SHARED_ATOMIC, SHARED_LOCKED, SHARINGS };
static const char *const sharing_names[SHARINGS] = {"clustered", "clustered_local", "atomic", "mcs"};

static struct {
    enum sharing how;
    uint64_t shared __attribute__((aligned(CACHE_LINE_SIZE)));
    struct mcs_lock lock;
    uint64_t total;             // page_worker: set when an allocation failed
} cnt;

static void count_rep_init(struct clustered *co, void *rep, unsigned cpu) { (void)co, (void)rep, (void)cpu; }
static const struct co_type count_type = {.name = "bench counter", .rep_size = sizeof(uint64_t),
                                          .init = count_rep_init};
static struct clustered counter;

static void counter_worker(void *arg)
{
    (void)arg;
    unsigned me = arch_cpu_id();
    struct mcs_qnode q;
    barrier_counter_wait(&b.start, me);
    for (unsigned i = 0; i < WARMUP + SAMPLES; i++) {
        uint64_t t0 = arch_user_counter();
        if (cnt.how == PER_CPU) {
            uint64_t *rep = co_enter(&counter);
            if (rep) {
                __atomic_store_n(rep, *rep + 1, __ATOMIC_RELAXED);
                co_exit(&counter);
            }
        } else if (cnt.how == PER_CPU_LOCAL) {
            uint64_t *rep = co_local(&counter);     // destroyed only after every CPU is done
            if (rep)
                __atomic_store_n(rep, *rep + 1, __ATOMIC_RELAXED);
        } else if (cnt.how == SHARED_ATOMIC) {
            __atomic_fetch_add(&cnt.shared, 1, __ATOMIC_RELAXED);
        } else {
            mcs_lock(&cnt.lock, &q);
            cnt.shared++;
            mcs_unlock(&cnt.lock, &q);
        }
        uint64_t t1 = arch_user_counter();
        if (i >= WARMUP)
            samples[me][i - WARMUP] = t1 - t0;
    }
}

static void sum_rep(void *rep, unsigned cpu, void *arg)
{
    (void)cpu;
    *(uint64_t *)arg += *(uint64_t *)rep;
}

// One page allocated and freed: through this CPU's cache, or straight from
// the bitmap under its one MCS lock (what every CPU did before the caches).
static void page_worker(void *arg)
{
    (void)arg;
    unsigned me = arch_cpu_id();
    barrier_counter_wait(&b.start, me);
    for (unsigned i = 0; i < WARMUP + SAMPLES; i++) {
        uint64_t t0 = arch_user_counter();
        paddr_t pa = cnt.how == PER_CPU ? pmm_alloc() : pmm_alloc_uncached();
        if (pa) {
            if (cnt.how == PER_CPU)
                pmm_free(pa);
            else
                pmm_free_uncached(pa);
        }
        uint64_t t1 = arch_user_counter();
        if (i >= WARMUP)
            samples[me][i - WARMUP] = t1 - t0;
        if (!pa)
            __atomic_store_n(&cnt.total, 1, __ATOMIC_RELAXED);     // no memory: no figure
    }
}

static bool run_on_first(unsigned k, smp_fn fn);

// False if a counter lost an increment (the figures would be of a broken
// counter) or the CPUs did not finish.
static bool bench_counters_and_pages(void)
{
    for (enum sharing how = 0; how < SHARINGS; how++)
        for (unsigned k = 1; k <= cpu_count; k++) {
            cnt.how = how;
            cnt.shared = 0;
            cnt.lock = (struct mcs_lock){.lock_class = LOCK_CLASS_NONE};
            co_init(&counter, &count_type, NULL);
            if (!run_on_first(k, counter_worker))
                return false;
            uint64_t sum = 0;
            co_for_each(&counter, sum_rep, &sum);
            co_destroy(&counter);
            sum += cnt.shared;
            if (sum != (uint64_t)k * (WARMUP + SAMPLES)) {
                kprintf("kbench: the %s counter counted %lu of %u\n", sharing_names[how], sum,
                        k * (WARMUP + SAMPLES));
                return false;
            }
            report("counter", sharing_names[how], k);
        }
    static const enum sharing page_ways[] = {PER_CPU, SHARED_LOCKED};   // the cache, or the bitmap's lock
    for (unsigned w = 0; w < sizeof(page_ways) / sizeof(page_ways[0]); w++)
        for (unsigned k = 1; k <= cpu_count; k++) {
            enum sharing how = page_ways[w];
            cnt.how = how;
            cnt.total = 0;
            uint64_t free_before = pmm_free_bytes();
            if (!run_on_first(k, page_worker))
                return false;
            if (cnt.total || pmm_free_bytes() != free_before) {
                kprintf("kbench: page alloc+free %s\n", cnt.total ? "found no memory" : "lost memory");
                return false;
            }
            report("page_alloc_free", how == PER_CPU ? "cached" : "bitmap", k);
        }
    return true;
}

static bool run_on_first(unsigned k, smp_fn fn)
{
    b.k = k;
    barrier_counter_init(&b.start, k);
    uint64_t late = smp_call((1ull << k) - 1, fn, NULL, BENCH_CALL_MS);
    if (late)
        kprintf("kbench: CPUs %#lx did not finish\n", late);
    return late == 0;
}

static void measure_overhead(void)
{
    overhead = ~0ull;
    for (unsigned i = 0; i < 1000; i++) {
        uint64_t a = arch_user_counter();
        uint64_t c = arch_user_counter();
        if (c - a < overhead)
            overhead = c - a;
    }
}

int kbench_run(void)
{
    measure_overhead();
    for (enum lock_kind kind = 0; kind < LOCK_KINDS; kind++)
        for (unsigned k = 1; k <= cpu_count; k++) {
            any_lock_init(&b.lock, kind);
            if (!run_on_first(k, lock_worker))
                return -1;
            report("lock", lock_kind_name(kind), k);
        }
    for (enum barrier_kind kind = 0; kind < BARRIER_KINDS; kind++)
        for (unsigned k = 1; k <= cpu_count; k++) {
            any_barrier_init(&b.barrier, kind, k);
            if (!run_on_first(k, barrier_worker))
                return -1;
            report("barrier", barrier_kind_name(kind), k);
        }
    if (!bench_counters_and_pages())
        return -1;
    // The packet demultiplexer (kernel/net.c): a frame tried against 1
    // and 16 bindings' filters, its own last: the difference over 15 is
    // one filter's cost (docs/exokernel.md).
    for (unsigned k = 1; k <= NIC_FILTERS; k += NIC_FILTERS - 1) {
        if (!net_demux_bench(k, samples[0], SAMPLES, WARMUP, overhead))
            return -1;
        sort(samples[0], SAMPLES);
        kprintf("BENCH {\"name\":\"net.demux.filters%u\",\"arch\":\"%s\",\"system\":\"manifold\",\"unit\":\"cycles\","
                "\"n\":%u,\"min\":%lu,\"median\":%lu,\"max\":%lu,\"verified\":true}\n",
                k, arch_name, SAMPLES, samples[0][0], samples[0][SAMPLES / 2], samples[0][SAMPLES - 1]);
    }
    return 0;
}
