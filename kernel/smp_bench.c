// In-kernel SMP benchmarks: lock acquire+release and barrier episodes, for
// each algorithm of lib/spinlock.h and lib/barrier.h, on 1..cpu_count CPUs
// at once (CPUs 0..k-1, one participant each, interrupts off). The root
// task starts them with MF_SYSTEM_KBENCH on its System cap in benchmark mode.
//
// Method (docs/benchmarks.md): every participating CPU runs WARMUP
// discarded operations, then SAMPLES timed ones, each timed alone with the
// counter user programs read (arch_user_counter: same unit as the user
// benchmarks), minus the minimum cost of two back-to-back reads. The
// samples of all k CPUs are pooled: n = k * SAMPLES; min, median, max.
#include "kernel/arch.h"
#include "kernel/console.h"
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
    return 0;
}
