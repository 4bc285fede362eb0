// DSM benchmarks (BENCH lines, docs/dsm.md "Measured"): fault latencies,
// Xfetch on and off, message counts per model on one workload; the
// applications are in apps.c. Application threads time their own accesses
// with the user-mode counter and leave the samples in root task memory.
#include "dsm.h"
#include "bench.h"

#define WORDS(page) ((volatile uint64_t *)(DSM_BASE + (page) * DSM_PAGE))

uint64_t dsm_samples[DSM_BENCH_SAMPLES];
static uint64_t counter_overhead;

void dsm_report(const char *name, const char *unit, uint64_t *s, unsigned n, const char *extra)
{
    for (unsigned i = 0; i < n; i++)
        s[i] = s[i] > counter_overhead ? s[i] - counter_overhead : 0;
    mf_bench_report(name, unit, s, n, extra);
}

void dsm_report_value(const char *name, const char *unit, uint64_t value, const char *extra)
{
    uint64_t one = value + counter_overhead;
    dsm_report(name, unit, &one, 1, extra);
}

enum dsm_transport_kind dsm_bench_transport = DSM_TRANSPORT_LRPC;

bool dsm_bench_start(unsigned nodes, unsigned pages, enum dsm_model model, unsigned xfetch)
{
    struct dsm_config c = {.nodes = nodes, .pages = pages, .model = model, .xfetch = xfetch,
                           .transport = dsm_bench_transport};
    if (dsm_start(&c))
        return true;
    printf("bench: cannot start %u DSM nodes\n", nodes);
    return false;
}

// --------------------------------------------------------- read faults
// Node 1 reads one word of each page nobody holds yet: even pages are
// managed by node 0 (a request and a grant with the page through the
// transport), odd ones by node 1 itself (the same protocol through its own
// ring, no transport, no copy).
#define FAULT_PAGES 256
#define SKIP 16         // warm-up faults, not kept

static void read_each_page(struct dsm_thread *t, uint64_t arg)
{
    (void)arg;
    if (dsm_self(t) != 1)
        return;
    for (unsigned p = 0; p < FAULT_PAGES; p++) {
        uint64_t t0 = mf_arch_cycles();
        (void)WORDS(p)[0];
        dsm_samples[p] = mf_arch_cycles() - t0;
    }
}

static void bench_read_faults(const char *remote_name, const char *local_name)
{
    if (!dsm_bench_start(2, FAULT_PAGES, DSM_STRONG, 0))
        return;
    static uint64_t remote[FAULT_PAGES / 2], local[FAULT_PAGES / 2];
    unsigned nr = 0, nl = 0;
    if (dsm_run(read_each_page, 0) == 0) {
        for (unsigned p = SKIP; p < FAULT_PAGES; p++) {
            if (p % 2 == 0)
                remote[nr++] = dsm_samples[p];
            else
                local[nl++] = dsm_samples[p];
        }
        dsm_report(remote_name, "cycles", remote, nr, "\"nodes\":2");
        if (local_name)
            dsm_report(local_name, "cycles", local, nl, "\"nodes\":2");
    }
    dsm_stop();
}

// -------------------------------------------------------- write faults
// Every node but 0 reads every page, then node 0 writes each: the write
// fault invalidates the readers' copies (strong) and makes node 0 the
// page's manager. 0 readers: the fault only moves the page and its role.
static void readers_then_writer(struct dsm_thread *t, uint64_t readers)
{
    if (readers & 1u << dsm_self(t))
        for (unsigned p = 0; p < FAULT_PAGES; p++)
            (void)WORDS(p)[1];
    dsm_barrier(t);
    if (dsm_self(t) == 0)
        for (unsigned p = 0; p < FAULT_PAGES; p++) {
            uint64_t t0 = mf_arch_cycles();
            WORDS(p)[2] = p;
            dsm_samples[p] = mf_arch_cycles() - t0;
        }
}

static void bench_write_faults(unsigned nodes, uint32_t readers_mask, const char *name)
{
    if (!dsm_bench_start(nodes, FAULT_PAGES, DSM_STRONG, 0))
        return;
    if (dsm_run(readers_then_writer, readers_mask) == 0) {
        struct dsm_stats s;
        dsm_get_stats(DSM_MAX_NODES, &s);
        char extra[96];
        snprintf(extra, sizeof(extra), "\"nodes\":%u,\"invalidations\":%lu", nodes, (unsigned long)s.invalidations);
        dsm_report(name, "cycles", dsm_samples + SKIP, FAULT_PAGES - SKIP, extra);
    }
    dsm_stop();
}

// ---------------------------------------------------------------- scan
// Node 0 writes every page (and so manages all); node 1 then reads them in
// order, timing each page: with Xfetch most pages are there before it
// touches them, fetched in bulk by the faults that continue the stream.
static void scan(struct dsm_thread *t, uint64_t arg)
{
    (void)arg;
    if (dsm_self(t) == 0)
        for (unsigned p = 0; p < FAULT_PAGES; p++)
            WORDS(p)[3] = p;
    dsm_barrier(t);
    if (dsm_self(t) == 1) {
        uint64_t bad = 0, start = mf_arch_cycles();
        for (unsigned p = 0; p < FAULT_PAGES; p++) {
            uint64_t t0 = mf_arch_cycles();
            bad += WORDS(p)[3] != p;
            dsm_samples[p] = mf_arch_cycles() - t0;
        }
        dsm_samples[FAULT_PAGES] = mf_arch_cycles() - start;
        dsm_samples[FAULT_PAGES + 1] = bad;
    }
}

static void bench_scan(unsigned xfetch)
{
    if (!dsm_bench_start(2, FAULT_PAGES, DSM_STRONG, xfetch))
        return;
    dsm_reset_stats();
    if (dsm_run(scan, 0) == 0) {
        struct dsm_stats s;
        dsm_get_stats(1, &s);
        char name[48], extra[160];
        snprintf(name, sizeof(name), xfetch ? "dsm.scan.xfetch%u" : "dsm.scan.xfetch_off", xfetch);
        snprintf(extra, sizeof(extra),
                 "\"pages\":%u,\"total_cycles\":%lu,\"faults\":%lu,\"prefetched\":%lu,\"messages\":%lu,\"verified\":%s",
                 FAULT_PAGES, (unsigned long)dsm_samples[FAULT_PAGES], (unsigned long)s.faults,
                 (unsigned long)s.prefetched, (unsigned long)s.sent, dsm_samples[FAULT_PAGES + 1] ? "false" : "true");
        dsm_report(name, "cycles", dsm_samples, FAULT_PAGES, extra);
    }
    dsm_stop();
}

// ----------------------------------------------------- messages per model
// The same program under each model: 4 nodes, each writing its own quarter
// of every one of 8 pages (false sharing), then everyone reading them all,
// for 10 rounds. Strong pages move whole between writers; release and weak
// pages take several writers at once (twins) and merge at the barrier
// (release) or at the sync (weak).
#define SHARED_PAGES 8
#define ROUNDS 10

static void false_sharing(struct dsm_thread *t, uint64_t model)
{
    unsigned me = dsm_self(t), quarter = DSM_PAGE / 8 / 4;
    uint64_t bad = 0;
    for (unsigned round = 1; round <= ROUNDS; round++) {
        for (unsigned p = 0; p < SHARED_PAGES; p++)
            for (unsigned i = 0; i < quarter; i++)
                WORDS(p)[me * quarter + i] = round * 100000 + p * 1000 + me;
        uint64_t date = dsm_barrier(t);
        if (model == DSM_WEAK)
            dsm_sync(t, (void *)DSM_BASE, SHARED_PAGES * DSM_PAGE, date);
        for (unsigned p = 0; p < SHARED_PAGES; p++)
            for (unsigned n = 0; n < 4; n++)
                bad += WORDS(p)[n * quarter + 7] != round * 100000 + p * 1000 + n;
        date = dsm_barrier(t);
        if (model == DSM_WEAK)
            dsm_sync(t, (void *)DSM_BASE, SHARED_PAGES * DSM_PAGE, date);
    }
    dsm_samples[me] = bad;
}

static void bench_messages(void)
{
    static const char *const names[DSM_MODEL_COUNT] = {"strong", "release", "weak"};
    for (unsigned model = 0; model < DSM_MODEL_COUNT; model++) {
        if (!dsm_bench_start(4, SHARED_PAGES, (enum dsm_model)model, 0))
            return;
        uint64_t t0 = mf_arch_cycles();
        long r = dsm_run(false_sharing, model);
        uint64_t cycles = mf_arch_cycles() - t0;
        struct dsm_stats s;
        dsm_get_stats(DSM_MAX_NODES, &s);
        bool ok = r == 0 && !dsm_samples[0] && !dsm_samples[1] && !dsm_samples[2] && !dsm_samples[3];
        char name[48], extra[400];
        int at = snprintf(extra, sizeof(extra), "\"nodes\":4,\"rounds\":%u,\"bytes\":%lu,\"cycles\":%lu,"
                          "\"twins\":%lu,\"merges\":%lu,\"verified\":%s", ROUNDS, (unsigned long)s.bytes,
                          (unsigned long)cycles, (unsigned long)s.twins, (unsigned long)s.merges,
                          ok ? "true" : "false");
        for (unsigned type = 1; type < 16 && at < (int)sizeof(extra) - 32; type++)
            if (s.by_type[type])
                at += snprintf(extra + at, sizeof(extra) - at, ",\"%s\":%lu", dsm_message_name(type),
                               (unsigned long)s.by_type[type]);
        snprintf(name, sizeof(name), "dsm.messages.%s", names[model]);
        dsm_report_value(name, "messages", s.sent, extra);
        dsm_stop();
    }
}

void run_dsm_benchmarks(void)
{
    counter_overhead = ~0ull;
    for (unsigned i = 0; i < 100; i++) {
        uint64_t a = mf_arch_cycles(), b = mf_arch_cycles();
        if (b - a < counter_overhead)
            counter_overhead = b - a;
    }
    bench_read_faults("dsm.read_fault.remote", "dsm.read_fault.local_manager");
    bench_write_faults(2, 0, "dsm.write_fault.invalidate0");
    bench_write_faults(2, 2, "dsm.write_fault.invalidate1");
    bench_write_faults(4, 0xe, "dsm.write_fault.invalidate3");
    bench_scan(0);
    bench_scan(4);
    bench_scan(8);
    bench_messages();
    run_dsm_applications("");
    // The same over the other transport: rings shared with the receiver.
    dsm_bench_transport = DSM_TRANSPORT_RINGS;
    bench_read_faults("dsm.read_fault.remote.rings", NULL);
    run_dsm_applications(".rings");
    dsm_bench_transport = DSM_TRANSPORT_LRPC;
}
