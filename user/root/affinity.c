// The cache-affinity benchmark (seed 004, issue 5): the same workload under
// each scheduling policy. One and a half threads per CPU each sweep a
// private working set and then give the CPU up, by yielding or by sleeping
// 1 or 2 ticks (a pattern that differs per thread and round), so threads
// wake at different times onto CPUs of different load, and every wake-up
// asks the policy where the thread runs next. Per policy it prints the cycles
// of one sweep (every sweep of every thread), the migrations of each
// thread (how often it ran on another CPU than the time before: on real
// hardware, each one refills the caches), and the wall-clock cycles of the
// whole run.
//
// QEMU's TCG does not model caches: the sweep costs the same wherever it
// runs, so under QEMU the policies differ in migrations and scheduling
// work, not in miss penalties (docs/benchmarks.md).
#include "manifold.h"
#include "lib/fmt.h"
#include "root.h"
#include "lib/string.h"

#define AFF_UT (MF_CAP_UNTYPED_BASE + 4)
#define AFF_THREAD 3100
#define THREADS 8                   // at most; 1.5 per CPU
#define ROUNDS 40
#define WORKING_SET (32 * 1024)

static uint8_t working_set[THREADS][WORKING_SET] __attribute__((aligned(64)));
static uint8_t stacks[THREADS][8192] __attribute__((aligned(16)));
static uint64_t sweep_cycles[THREADS][ROUNDS];
static volatile uint64_t migrations[THREADS];
static volatile long done[THREADS];
static volatile long go;
static unsigned threads;

static void worker(uint64_t k)
{
    while (!go)
        mf_yield();
    uint8_t *ws = working_set[k];
    for (unsigned r = 0; r < ROUNDS; r++) {
        uint64_t t0 = mf_arch_cycles();
        for (unsigned i = 0; i < WORKING_SET; i += 64)
            ws[i] = (uint8_t)(ws[i] + r + 1);
        sweep_cycles[k][r] = mf_arch_cycles() - t0;
        unsigned pause = (unsigned)(k + r) % 3;     // 0: yield; 1, 2: ticks asleep
        if (pause)
            mf_sleep(pause);
        else
            mf_yield();
    }
    struct mf_thread_info info;
    migrations[k] = mf_thread_info(MF_THREAD_SELF, &info) == 0 ? info.migrations : ~0ull;
    done[k] = 1;
}

static void print(const char *name, const char *policy, const char *unit, uint64_t *s, unsigned n,
                  const struct mf_system_info *si)
{
    char full[64], extra[48];
    snprintf(full, sizeof(full), "sched.affinity.%s.%s", policy, name);
    snprintf(extra, sizeof(extra), "\"cpus\":%u,\"threads\":%u", si->cpus, threads);
    mf_bench_report(full, unit, s, n, extra);
}

static bool run_policy(unsigned policy, const char *label, const struct mf_system_info *si)
{
    go = 0;
    for (unsigned k = 0; k < threads; k++) {
        done[k] = 0;
        migrations[k] = 0;
        long slot = AFF_THREAD + k;
        if (mf_untyped_retype(AFF_UT, MF_OBJ_THREAD, 0, 1, MF_CAP_SELF_CNODE, slot) ||
            mf_thread_set_sched(slot, policy, k % si->cpus) ||
            mf_thread_start(slot, worker, stacks[k], sizeof(stacks[k]), k)) {
            printf("bench: affinity: cannot start thread %u\n", k);
            mf_cnode_revoke(MF_CAP_SELF_CNODE, AFF_UT);
            return false;
        }
    }
    uint64_t t0 = mf_arch_cycles();
    go = 1;
    bool all = false;
    for (int w = 0; w < 3000 && !all; w++) {
        all = true;
        for (unsigned k = 0; k < threads; k++)
            all &= done[k] == 1;
        if (!all)
            mf_sleep(1);
    }
    uint64_t total = mf_arch_cycles() - t0;
    mf_cnode_revoke(MF_CAP_SELF_CNODE, AFF_UT);
    if (!all) {
        printf("bench: affinity: %s did not finish\n", label);
        return false;
    }
    static uint64_t s[THREADS * ROUNDS];
    unsigned n = 0;
    for (unsigned k = 0; k < threads; k++)
        for (unsigned r = 1; r < ROUNDS; r++)      // the first sweep warms up
            s[n++] = sweep_cycles[k][r];
    print("sweep", label, "cycles", s, n, si);
    for (unsigned k = 0; k < threads; k++)
        s[k] = migrations[k];
    print("migrations", label, "count", s, threads, si);
    s[0] = total;
    print("run", label, "cycles", s, 1, si);
    return true;
}

void run_affinity_benchmark(void)
{
    struct mf_system_info si;
    if (mf_system_info(&si) < 0 || !si.cpus)
        return;
    threads = si.cpus + (si.cpus + 1) / 2;
    if (threads > THREADS)
        threads = THREADS;
    static const struct {
        unsigned policy;
        const char *label;
    } policies[] = {
        {MF_SCHED_FCFS, "fcfs"},
        {MF_SCHED_FIXED, "fixed"},
        {MF_SCHED_LAST, "last"},
        {MF_SCHED_MIN_INTERVENING, "min-intervening"},
    };
    for (unsigned i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
        run_policy(policies[i].policy, policies[i].label, &si);
}
