// Self-tests of clustered objects (clustered.h) and the page allocator's
// per-CPU caches on real concurrent CPUs (smp_call: one participant per
// CPU, interrupts off).
#include "kernel/arch.h"
#include "kernel/clustered.h"
#include "kernel/console.h"
#include "kernel/ktest.h"
#include "kernel/pmm.h"
#include "kernel/smp.h"
#include "kernel/thread.h"
#include "lib/string.h"

#define CALL_MS 60000

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

// ------------------------------------------- a counter, on 1..all CPUs
// Each CPU adds random values through its representative and keeps what
// it added on the side; the sum over representatives, and the root after
// destruction folds them in, must be what one representative would hold.

struct tally {
    uint64_t sum, ops;
};

static void tally_fold(struct clustered *co, void *rep, unsigned cpu)
{
    (void)cpu;
    struct tally *root = co->root, *r = rep;
    root->sum += r->sum;
    root->ops += r->ops;
}

static const struct co_type tally_type = {.name = "test tally", .rep_size = sizeof(struct tally), .fold = tally_fold};

static struct {
    struct clustered co;
    struct tally root;
    struct tally expect[MAX_CPUS];
    uint32_t failed;
} t;

#define TALLY_OPS 2000

static void tally_worker(void *arg)
{
    (void)arg;
    unsigned me = arch_cpu_id();
    uint64_t seed = 0x9e3779b97f4a7c15ull * (me + 1);
    for (unsigned i = 0; i < TALLY_OPS; i++) {
        uint64_t v = xorshift(&seed) & 0xffff;
        struct tally *r = co_enter(&t.co);
        if (!r) {
            t.failed++;
            return;
        }
        r->sum += v;
        r->ops++;
        co_exit(&t.co);
        t.expect[me].sum += v;
        t.expect[me].ops++;
    }
}

static void add_tally(void *rep, unsigned cpu, void *arg)
{
    (void)cpu;
    struct tally *sum = arg, *r = rep;
    sum->sum += r->sum;
    sum->ops += r->ops;
}

KTEST(clustered_counter_on_1_to_all_cpus_matches_one_representative)
{
    for (unsigned k = 1; k <= cpu_count; k++) {
        memset(&t, 0, sizeof(t));
        co_init(&t.co, &tally_type, &t.root);
        KCHECK(t.co.reps == 0);       // made on first use, not before
        KCHECK(smp_call((1ull << k) - 1, tally_worker, NULL, CALL_MS) == 0);
        KCHECK(t.failed == 0);
        KCHECK(t.co.reps == k);       // one per CPU that used it
        struct tally want = {0}, seen = {0};
        for (unsigned c = 0; c < k; c++) {
            want.sum += t.expect[c].sum;
            want.ops += t.expect[c].ops;
        }
        co_for_each(&t.co, add_tally, &seen);
        KCHECK(want.ops == (uint64_t)k * TALLY_OPS);
        KCHECK(seen.sum == want.sum && seen.ops == want.ops);
        co_destroy(&t.co);
        KCHECK(t.root.sum == want.sum && t.root.ops == want.ops);   // folded back
        KCHECK(t.co.reps == 0 && co_enter(&t.co) == NULL);          // gone for good
    }
    return NULL;
}

// ------------------------------------- destroy waits for readers in flight

static struct {
    struct clustered co;
    struct tally root;
    volatile uint32_t entered, destroying, left;
    uint64_t hold;
} q;

static void slow_reader(void *arg)
{
    (void)arg;
    struct tally *r = co_enter(&q.co);
    if (!r)
        return;
    __atomic_store_n(&q.entered, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&q.destroying, __ATOMIC_ACQUIRE))
        cpu_relax();
    // co_destroy has started: hold on a while, then write and leave.
    uint64_t until = arch_cycles() + q.hold;
    while (arch_cycles() < until)
        cpu_relax();
    r->sum = 42;
    __atomic_store_n(&q.left, 1, __ATOMIC_RELEASE);
    co_exit(&q.co);
}

static unsigned destroying_cpu;

static void destroyer_or_reader(void *arg)
{
    if (arch_cpu_id() != destroying_cpu) {
        slow_reader(arg);
        return;
    }
    while (!__atomic_load_n(&q.entered, __ATOMIC_ACQUIRE))
        cpu_relax();
    __atomic_store_n(&q.destroying, 1, __ATOMIC_RELEASE);
    co_destroy(&q.co);
    // Returned: the reader must have left, and its write be folded.
    if (!__atomic_load_n(&q.left, __ATOMIC_ACQUIRE) || q.root.sum != 42)
        q.hold = 0;
}

KTEST(clustered_destroy_waits_for_operations_in_flight)
{
    if (cpu_count < 2)
        return NULL;
    memset(&q, 0, sizeof(q));
    q.hold = arch_cycles_per_second() / 200;       // 5 ms
    co_init(&q.co, &tally_type, &q.root);
    // One CPU enters and holds; this one destroys meanwhile.
    destroying_cpu = arch_cpu_id();
    unsigned reader = destroying_cpu == 0 ? 1 : 0;
    KCHECK(smp_call(1ull << destroying_cpu | 1ull << reader, destroyer_or_reader, NULL, CALL_MS) == 0);
    KCHECK(q.left && q.root.sum == 42 && q.hold != 0);
    KCHECK(co_enter(&q.co) == NULL && q.co.reps == 0);
    return NULL;
}

// ------------------------------------------------ the per-CPU page caches
// Every CPU allocates and frees single pages at random, each page stamped
// with its owner while it holds it: a page handed to two CPUs at once
// shows as a stamp overwritten. At the end all is freed, and free memory
// is what it was; draining the caches changes the total by nothing.

#define PAGE_OPS 3000
#define HELD_MAX 96

static struct {
    paddr_t held[MAX_CPUS][HELD_MAX];
    uint32_t bad[MAX_CPUS], failed[MAX_CPUS];
} pc;

static void page_worker(void *arg)
{
    (void)arg;
    unsigned me = arch_cpu_id();
    uint64_t seed = 0xda942042e4dd58b5ull * (me + 3);
    unsigned n = 0;
    for (unsigned i = 0; i < PAGE_OPS; i++) {
        bool alloc = n == 0 || (n < HELD_MAX && (xorshift(&seed) & 3) != 0);
        if (alloc) {
            paddr_t pa = pmm_alloc();
            if (!pa) {
                pc.failed[me]++;
                continue;
            }
            uint64_t *w = P2V(pa);
            if (w[0] || w[511])
                pc.bad[me]++;           // not zeroed
            w[0] = w[511] = me + 1;
            pc.held[me][n++] = pa;
        } else {
            unsigned k = (unsigned)(xorshift(&seed) % n);
            paddr_t pa = pc.held[me][k];
            uint64_t *w = P2V(pa);
            if (w[0] != me + 1 || w[511] != me + 1)
                pc.bad[me]++;           // another CPU had it too
            pc.held[me][k] = pc.held[me][--n];
            pmm_free(pa);
        }
    }
    while (n)
        pmm_free(pc.held[me][--n]);
}

KTEST(page_caches_hand_out_each_page_once_on_all_cpus)
{
    uint64_t before = pmm_free_bytes();
    memset(&pc, 0, sizeof(pc));
    KCHECK(smp_call((1ull << cpu_count) - 1, page_worker, NULL, CALL_MS) == 0);
    for (unsigned c = 0; c < cpu_count; c++)
        KCHECK(pc.bad[c] == 0 && pc.failed[c] == 0);
    KCHECK(pmm_free_bytes() == before);
    KCHECK(pmm_cached_bytes() > 0);     // the frees went to the caches
    pmm_drain_caches();
    KCHECK(pmm_cached_bytes() == 0 && pmm_free_bytes() == before);
    // A run larger than the bitmap holds free is refused, caches or not.
    KCHECK(pmm_alloc_contig(pmm_free_bytes() / PAGE_SIZE + 1, PAGE_SIZE) == 0);
    return NULL;
}
