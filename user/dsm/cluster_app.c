// Applications for DSM across machines (docs/dsm.md "Across machines"):
// a Jacobi relaxation whose result every node checksums, and the
// cross-instance benchmarks. They run the same on nodes in one instance
// (tests, over the stand-in region) and on one node per QEMU instance
// (user/root/cluster.c), an x86_64 and an aarch64 one included.
//
// Layout rules for a DSM program whose pages are shared between ISAs
// (both little-endian, 64-bit): only fixed-width integer types in the
// shared region (int64_t, uint32_t, ...; never long double, size_t-sized
// unions, bit-fields or enums whose width the ABI picks), each naturally
// aligned; no pointers into the segment except as offsets from DSM_BASE
// (the base is the same on every node, but a pointer's width and meaning
// are the program's, not the ISA's); no floating point that must match
// bit for bit (x86_64 and aarch64 round some operations differently under
// fused multiply-add): this program uses integer arithmetic, so results
// compare exactly across ISAs.
#include "cluster_app.h"
#include "jacobi.h"

// ------------------------------------------------------------------ Jacobi
// The grid and its step: jacobi.h (the same as the one-machine benchmark's).

struct cluster_result cluster_results[DSM_MAX_NODES];

static uint64_t fnv(uint64_t h, uint64_t word)
{
    for (int i = 0; i < 8; i++) {
        h ^= (word >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

void cluster_jacobi(struct dsm_thread *t, uint64_t steps)
{
    unsigned me = dsm_self(t), nodes = dsm_nodes(t), rows = JN / nodes;
    unsigned first = 1 + me * rows, last = me == nodes - 1 ? JN + 1 : first + rows;    // [first, last)
    struct cluster_result *out = &cluster_results[me];
    *out = (struct cluster_result){0};
    if (me == 0)
        jacobi_hot_border();
    dsm_barrier(t);
    uint64_t begin = mf_arch_cycles(), previous = begin;
    for (unsigned step = 0; step < steps; step++) {
        unsigned src = step % 2;
        jacobi_relax(src, 1 - src, first, last);
        dsm_barrier(t);
        uint64_t now = mf_arch_cycles();
        if (step < CLUSTER_MAX_STEPS)
            out->step_cycles[step] = now - previous;
        previous = now;
    }
    out->cycles = previous - begin;
    // Every node checksums the whole result (reading its neighbours' rows
    // through the DSM), then waits until all have, before anyone leaves.
    unsigned final = (unsigned)(steps % 2);
    uint64_t h = 0xcbf29ce484222325ull;
    for (unsigned r = 0; r < JN + 2; r++)
        for (unsigned c = 0; c < JN; c++)
            h = fnv(h, (uint64_t)CELL(final, r, c));
    out->checksum = h;
    out->centre = (uint64_t)CELL(final, 8, JN / 2);     // reached by the heat in 8 steps
    dsm_barrier(t);
    out->done = 1;
}

// ---------------------------------------------------------- benchmarks
// Node 0 writes BENCH_PAGES pages (strong: it becomes their only writer and
// manager), then node 1 touches each once, timing every first access: a
// remote read fault is a request, a grant with the page and its ack
// across the link. With Xfetch the scan takes pages in bulk.
#define BENCH_PAGES 64

void cluster_read_faults(struct dsm_thread *t, uint64_t unused)
{
    (void)unused;
    unsigned me = dsm_self(t);
    struct cluster_result *out = &cluster_results[me];
    *out = (struct cluster_result){0};
    volatile uint64_t *base = (volatile uint64_t *)DSM_BASE;
    if (me == 0)
        for (unsigned p = 0; p < BENCH_PAGES; p++)
            base[p * (DSM_PAGE / 8)] = p + 1;
    dsm_barrier(t);
    if (me == 1) {
        uint64_t bad = 0, begin = mf_arch_cycles();
        for (unsigned p = 0; p < BENCH_PAGES; p++) {
            uint64_t before = mf_arch_cycles();
            bad += base[p * (DSM_PAGE / 8)] != p + 1;
            out->step_cycles[p] = mf_arch_cycles() - before;
        }
        out->cycles = mf_arch_cycles() - begin;
        out->checksum = bad;
    }
    dsm_barrier(t);
    out->done = 1;
}

// ------------------------------------------------------------ a dead node
// Every node writes the page it is home to (page n, strong, so it stays
// its manager). Then the last node's instance powers off; the others find
// its page gone (-E_DEAD, not a hang) and each other's still there.

void cluster_dead_peer_before(struct dsm_thread *t, uint64_t unused)
{
    (void)unused;
    unsigned me = dsm_self(t);
    volatile uint64_t *page = (volatile uint64_t *)(DSM_BASE + me * DSM_PAGE);
    cluster_results[me] = (struct cluster_result){0};
    for (unsigned w = 0; w < DSM_PAGE / 8; w++)
        page[w] = 100 * me + w;
    dsm_barrier(t);
    cluster_results[me].cycles = (uint64_t)mf_time();  // when the victim may leave
    cluster_results[me].done = 1;
}

void cluster_dead_peer_after(struct dsm_thread *t, uint64_t victim)
{
    unsigned me = dsm_self(t), other = (me + 1) % (unsigned)victim;
    struct cluster_result *out = &cluster_results[me];
    long start = (long)out->cycles;
    mf_sleep(20);                                       // the victim is gone by now
    uint64_t word = 0, mine = 7000 + me;
    out->checksum = (uint64_t)-dsm_read(t, (volatile void *)(DSM_BASE + victim * DSM_PAGE), &word, sizeof(word));
    out->cycles = (uint64_t)(mf_time() - start);       // ticks from the victim leaving to the read giving up
    bool ok = dsm_write(t, (volatile uint64_t *)(DSM_BASE + me * DSM_PAGE) + 1, &mine, sizeof(mine)) == 0;
    dsm_barrier(t);                                     // the live nodes only
    ok = ok && dsm_read(t, (volatile uint64_t *)(DSM_BASE + other * DSM_PAGE) + 1, &word, sizeof(word)) == 0 &&
         word == 7000 + other;
    ok = ok && dsm_read(t, (volatile uint64_t *)(DSM_BASE + other * DSM_PAGE) + 9, &word, sizeof(word)) == 0 &&
         word == 100 * other + 9;
    out->centre = ok;
    out->done = 1;
}
