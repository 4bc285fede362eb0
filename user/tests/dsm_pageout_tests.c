// Distant page-out (user/dsm/pageout.c, docs/dsm.md "Page-out"): nodes
// whose pools are too small for the pages they use evict pages to a
// page-out area on the data disk, through blkd, and take them back when
// they are needed. A Jacobi relaxation on 3 nodes whose pools hold fewer
// frames than the pages each node uses must end with the checksum of the
// same run in pools that hold everything, having evicted and read pages
// back, with the invariants (dsm_check, which reads the pages on disk
// back and checks them against the nodes' CRCs) holding with pages still
// out of the pools. Without a page-out area the small pools fail: the
// run's dsm_run gives -E_NOMEM, at once, and the instance stops. And each
// consistency model keeps every write through pools far smaller still.
#include "manifold.h"
#include "utest.h"
#include "ckpt.h"
#include "test_disk.h"
#include "user/dsm/dsm.h"
#include "user/dsm/engine.h"     // dsm_node_count
#include "user/dsm/jacobi.h"

#define NODES 3
#define PAGES 32                // two grids of 10 pages, 16 apart (jacobi.h)
#define STEPS 12
#define SMALL_POOL 8            // frames per node; each node uses 12-18 in big pools (printed)

static volatile uint64_t checksum;

static uint64_t fnv(uint64_t h, uint64_t word)
{
    for (int i = 0; i < 8; i++) {
        h ^= (word >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

// Jacobi on release pages, rows split among the nodes; node 0 checksums
// the whole final grid, reading the others' rows through the DSM. Every
// node first fills its rows of both grids with a pattern, so that every
// page holds values of its own from the start (a write lost anywhere
// changes the checksum, even far from the hot border).
static void jacobi(struct dsm_thread *t, uint64_t steps)
{
    unsigned me = dsm_self(t), nodes = dsm_nodes(t), rows = JN / nodes;
    unsigned first = 1 + me * rows, last = me == nodes - 1 ? JN + 1 : first + rows;
    if (me == 0)
        jacobi_hot_border();
    for (unsigned g = 0; g < 2; g++)
        for (unsigned r = first; r < last; r++)
            for (unsigned c = 0; c < JN; c++)
                CELL(g, r, c) = (int64_t)((r * 131 + c * 17 + g) % 1021) << 8;
    dsm_barrier(t);
    for (unsigned step = 0; step < steps; step++) {
        jacobi_relax(step % 2, 1 - step % 2, first, last);
        dsm_barrier(t);
    }
    if (me == 0) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (unsigned r = 0; r < JN + 2; r++)
            for (unsigned c = 0; c < JN; c++)
                h = fnv(h, (uint64_t)CELL(steps % 2, r, c));
        checksum = h;
    }
    dsm_barrier(t);
}

static uint64_t us(uint64_t cycles, uint64_t count)
{
    struct mf_system_info si;
    if (!count || mf_system_info(&si) != 0 || !si.counter_hz)
        return 0;
    return cycles * 1000000 / si.counter_hz / count;
}

// Starts an instance of `config`, runs the Jacobi, checks the invariants
// and stops it: the checksum (0 if it did not finish or an invariant
// broke), dsm_run's result in *run, the counters in *s (summed) and each
// node's peak pool use in peak[].
static uint64_t run_jacobi(const struct dsm_config *config, long *run, struct dsm_stats *s, unsigned *peak)
{
    *run = -E_INVAL;
    *s = (struct dsm_stats){0};
    checksum = 0;
    if (!dsm_start(config))
        return 0;
    *run = dsm_run(jacobi, STEPS);
    const char *bad = *run == 0 ? dsm_check() : "the Jacobi did not finish";
    dsm_get_stats(DSM_MAX_NODES, s);
    for (unsigned n = 0; peak && n < NODES; n++)
        peak[n] = dsm_pool_peak(n);
    if (bad) {
        printf("# %s\n", bad);
        dsm_dump();
    }
    dsm_stop();
    return bad ? 0 : checksum;
}

UTEST(dsm_pageout_jacobi_in_small_pools_matches_big_ones)
{
    struct dsm_config config = {.nodes = NODES, .pages = PAGES, .model = DSM_RELEASE,
                                .transport = DSM_TRANSPORT_LRPC};
    struct dsm_stats s;
    unsigned peak[NODES];
    long run;
    uint64_t start = mf_arch_cycles();
    uint64_t reference = run_jacobi(&config, &run, &s, peak);
    printf("# pools of every page: checksum %016lx in %lu ms, frames used at most %u, %u, %u per node\n",
           (unsigned long)reference, (unsigned long)(us(mf_arch_cycles() - start, 1) / 1000), peak[0], peak[1],
           peak[2]);
    UCHECK(reference != 0 && s.evictions == 0);
    unsigned least = peak[0] < peak[1] ? peak[0] : peak[1];
    least = least < peak[2] ? least : peak[2];
    UCHECK(least > SMALL_POOL);         // the small pools cannot hold what the nodes use

    struct mf_ckpt_store st;
    const char *why = test_disk_open(TEST_DISK_PAGEOUT_SECTOR, TEST_DISK_PAGEOUT_END, &st);
    uint64_t paged = 0;
    if (!why) {
        config.pool_frames = SMALL_POOL;
        config.pageout = (struct dsm_pageout){.store = &st, .offset = 0};
        start = mf_arch_cycles();
        paged = run_jacobi(&config, &run, &s, peak);
        uint64_t took = mf_arch_cycles() - start;
        printf("# pools of %u frames, page-out to the data disk (sector %u): checksum %016lx (run %ld) in %lu ms; "
               "frames used at most %u, %u, %u\n", SMALL_POOL, TEST_DISK_PAGEOUT_SECTOR, (unsigned long)paged, run,
               (unsigned long)(us(took, 1) / 1000), peak[0], peak[1], peak[2]);
        printf("# page-out: %lu evictions (%lu read copies dropped, %lu pages to disk in %lu blocks, %lu still good "
               "there), %lu page-ins, %lu zero pages, %lu dropped copies asked for again, %lu pages out at the end\n",
               (unsigned long)s.evictions, (unsigned long)s.drops, (unsigned long)s.page_outs,
               (unsigned long)s.disk_writes, (unsigned long)s.clean_outs, (unsigned long)s.page_ins,
               (unsigned long)s.zero_fills, (unsigned long)s.refetches, (unsigned long)s.paged_out);
        printf("# page-out latency through blkd: %lu us per page written, %lu us per page read back "
               "(the engine waiting; of all that, %lu us per page in the store); %lu messages\n",
               (unsigned long)us(s.pageout_cycles, s.page_outs), (unsigned long)us(s.pagein_cycles, s.page_ins),
               (unsigned long)us(s.store_cycles, s.page_outs + s.page_ins), (unsigned long)s.sent);
    }
    test_disk_close();
    if (why)
        return why;
    UCHECK(run == 0 && paged == reference);
    UCHECK(s.evictions > 0 && s.drops > 0 && s.page_outs > 0 && s.disk_writes >= s.page_outs);
    UCHECK(s.page_ins > 0);
    UCHECK(s.paged_out > 0);                            // dsm_check ran with pages out of the pools
    for (unsigned n = 0; n < NODES; n++)
        UCHECK(peak[n] <= SMALL_POOL);
    return NULL;
}

// A store that fails from its 20th call on (-E_DEAD: the disk went away).
static uint8_t failing_area[NODES * PAGES * 2 * 4096] __attribute__((aligned(4096)));
static struct mf_ckpt_memory failing_memory = {failing_area, sizeof(failing_area)};
static struct mf_ckpt_store failing_inner;
static unsigned failing_calls;

static long failing_write(void *ctx, uint64_t offset, const void *buf, uint64_t len)
{
    return ++failing_calls >= 20 ? -E_DEAD : failing_inner.write(ctx, offset, buf, len);
}

static long failing_read(void *ctx, uint64_t offset, void *buf, uint64_t len)
{
    return ++failing_calls >= 20 ? -E_DEAD : failing_inner.read(ctx, offset, buf, len);
}

// Without a page-out area a full pool is an error: the fault that needs a
// frame kills its thread (an unresolvable fault), the node reports
// -E_NOMEM and dsm_run returns it at once rather than wait for the other
// nodes' applications, stuck at a barrier; dsm_stop takes it all back. A
// page-out store that fails is the same, with its error.
UTEST_FAULTS(dsm_pageout_small_pools_without_an_area_fail_cleanly)
{
    struct dsm_config config = {.nodes = NODES, .pages = PAGES, .model = DSM_RELEASE,
                                .transport = DSM_TRANSPORT_LRPC, .pool_frames = 12};
    UCHECK(dsm_start(&config));
    uint64_t start = mf_time();
    long r = dsm_run(jacobi, STEPS);
    uint64_t ticks = mf_time() - start;
    dsm_stop();
    printf("# pools of %u frames, no page-out area: dsm_run gave %s after %lu ticks\n", config.pool_frames,
           mf_strerror(r), (unsigned long)ticks);
    UCHECK(r == -E_NOMEM && ticks < 500 && dsm_node_count() == 0);
    // The same pools cannot even boot an instance whose nodes manage more
    // pages than they hold; and the store must hold the area.
    config.pool_frames = 8;
    bool started = dsm_start(&config);
    dsm_stop();
    UCHECK(!started);
    static uint8_t small[64 << 10];
    static struct mf_ckpt_memory memory = {small, sizeof(small)};
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &memory);
    config.pageout = (struct dsm_pageout){.store = &st, .offset = 0};
    started = dsm_start(&config);
    dsm_stop();
    UCHECK(!started);

    mf_ckpt_memory_store(&failing_inner, &failing_memory);
    st = failing_inner;
    st.write = failing_write;
    st.read = failing_read;
    failing_calls = 0;
    config.pageout.store = &st;
    UCHECK(dsm_start(&config));
    start = mf_time();
    r = dsm_run(jacobi, STEPS);
    ticks = mf_time() - start;
    dsm_stop();
    printf("# pools of %u frames, a page-out store that fails from its 20th call on (%u calls): dsm_run gave %s "
           "after %lu ticks\n", config.pool_frames, failing_calls, mf_strerror(r), (unsigned long)ticks);
    UCHECK(r == -E_DEAD && failing_calls >= 20 && ticks < 500 && dsm_node_count() == 0);
    return NULL;
}

// ------------------------------------------------------------- every model
// Each model's paths with pages out of the pools: invalidations and
// downgrades of evicted copies and migrations of evicted reference copies
// (strong), twins written out and read back for their diffs (release, with
// Xfetch grants too), pulls and syncs (weak). Three nodes write their own
// word of random pages and read others', then every node writes its word
// of all 16 pages and, after a barrier (and under weak a sync at its
// date), checks every node's word of every page: 16 pages and their twins
// in pools of 6 to 8 frames. Two rounds, dsm_check after each. The area
// is in memory here (the same store interface as the disk's, faster).
#define MIX_NODES 3
#define MIX_PAGES 16
#define MIX_ROUNDS 2
#define MIX_WORDS(page) ((volatile uint64_t *)(DSM_BASE + (page) * DSM_PAGE))

static volatile uint64_t mix_bad[DSM_MAX_NODES];

static void mix(struct dsm_thread *t, uint64_t round)
{
    unsigned me = dsm_self(t), nodes = dsm_nodes(t);
    uint64_t state = 0x9e3779b97f4a7c15ull * (me + 1) + round, sum = 0;
    for (unsigned i = 0; i < 30; i++) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        unsigned p = (unsigned)(state % MIX_PAGES);
        if (state & 0x100)
            MIX_WORDS(p)[me] = round * 1000 + i;
        else
            sum += MIX_WORDS(p)[(me + 1) % nodes];
    }
    for (unsigned p = 0; p < MIX_PAGES; p++)
        MIX_WORDS(p)[8 + me] = round * 100 + p;
    uint64_t date = dsm_barrier(t);
    dsm_sync(t, (const void *)DSM_BASE, MIX_PAGES * DSM_PAGE, date);     // weak pages only
    uint64_t bad = 0;
    for (unsigned p = 0; p < MIX_PAGES; p++)
        for (unsigned n = 0; n < nodes; n++)
            bad += MIX_WORDS(p)[8 + n] != round * 100 + p;
    mix_bad[me] += bad + (sum == ~0ull);
    dsm_barrier(t);
}

static uint8_t mix_area[MIX_NODES * MIX_PAGES * 2 * 4096] __attribute__((aligned(4096)));

UTEST(dsm_pageout_every_model_keeps_its_writes_in_small_pools)
{
    static const struct { enum dsm_model model; unsigned pool, xfetch; const char *name; } runs[] = {
        {DSM_STRONG, 6, 0, "strong"}, {DSM_RELEASE, 8, 2, "release"}, {DSM_WEAK, 6, 0, "weak"}};
    static struct mf_ckpt_memory memory = {mix_area, sizeof(mix_area)};
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &memory);
    uint64_t drops = 0, refetches = 0;
    for (unsigned i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        struct dsm_config c = {.nodes = MIX_NODES, .pages = MIX_PAGES, .model = runs[i].model,
                               .xfetch = runs[i].xfetch, .transport = DSM_TRANSPORT_LRPC,
                               .pool_frames = runs[i].pool, .pageout = {.store = &st, .offset = 0}};
        for (unsigned n = 0; n < DSM_MAX_NODES; n++)
            mix_bad[n] = 0;
        UCHECK(dsm_start(&c));
        uint64_t start = mf_arch_cycles();
        const char *bad = NULL;
        for (unsigned round = 1; round <= MIX_ROUNDS && !bad; round++) {
            long r = dsm_run(mix, round);
            bad = r ? "a round did not finish" : dsm_check();
        }
        uint64_t took = mf_arch_cycles() - start;
        struct dsm_stats s;
        dsm_get_stats(DSM_MAX_NODES, &s);
        if (bad) {
            printf("# %s: %s\n", runs[i].name, bad);
            dsm_dump();
        }
        dsm_stop();
        printf("# %s, pools of %u frames, xfetch %u: %lu wrong words; %lu evictions (%lu drops, %lu to disk "
               "in %lu blocks, %lu clean), %lu page-ins, %lu pages out at the end; %lu invalidations, %lu migrations, "
               "%lu twins, %lu merges, %lu prefetched\n", runs[i].name, runs[i].pool, runs[i].xfetch,
               (unsigned long)(mix_bad[0] + mix_bad[1] + mix_bad[2]), (unsigned long)s.evictions,
               (unsigned long)s.drops, (unsigned long)s.page_outs, (unsigned long)s.disk_writes,
               (unsigned long)s.clean_outs,
               (unsigned long)s.page_ins, (unsigned long)s.paged_out, (unsigned long)s.invalidations,
               (unsigned long)s.migrations, (unsigned long)s.twins, (unsigned long)s.merges,
               (unsigned long)s.prefetched);
        printf("#   %lu ms; %lu us per page written, %lu us per page read back, %lu us of each in the store\n",
               (unsigned long)(us(took, 1) / 1000), (unsigned long)us(s.pageout_cycles, s.page_outs),
               (unsigned long)us(s.pagein_cycles, s.page_ins),
               (unsigned long)us(s.store_cycles, s.page_outs + s.page_ins));
        if (bad)
            return bad;
        UCHECK(mix_bad[0] == 0 && mix_bad[1] == 0 && mix_bad[2] == 0);
        UCHECK(s.page_outs > 0 && s.page_ins > 0 && s.paged_out > 0);
        UCHECK(runs[i].model == DSM_STRONG || s.disk_writes > s.page_outs);     // twins went out too
        drops += s.drops;
        refetches += s.refetches;
    }
    UCHECK(drops > 0 && refetches > 0);                 // read copies dropped and asked for again
    return NULL;
}
