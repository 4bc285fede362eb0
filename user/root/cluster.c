// mode=cluster: this instance is one node of a DSM spread over several QEMU
// instances (tools/cluster), x86_64 and aarch64 mixed, linked by ivshmem.
//
//   mode=cluster node=I nodes=N app=jacobi|bench|idle [steps=S]
//
// The shared ivshmem region carries frames only (user/dsm/wire.h); each
// instance builds its own node of an N-node DSM instance (link transport,
// dsm_link_config.local = 1 << I) and runs the application thread there.
// Each phase (a DSM instance started and stopped) uses its own quarter of
// the region, so a phase never sees the frames of the one before.
//
// jacobi: first the same Jacobi on a single-node DSM in this instance
// (the reference), then on the cluster; prints
//   CLUSTER {"node":I,...,"checksum":"...","reference":"...","verified":true}
// bench: remote read faults, an Xfetch scan and Jacobi on 1 and N
// instances, as BENCH lines (microseconds, from the cycle counter
// calibrated against the timer), then the CLUSTER line.
#include "manifold.h"
#include "root.h"
#include "ivshmem.h"
#include "lib/fmt.h"
#include "lib/string.h"
#include "user/dsm/dsm.h"
#include "user/dsm/cluster_app.h"

#define PHASE_BYTES (4ul << 20)
#define PEER_WAIT_TICKS 6000           // 60 s for every instance to boot and join (the link waits as long)

static struct ivshmem dev;
static struct mf_system_info si;
static unsigned self, nodes, phase;
static uint64_t cycles_per_ms;

static long option(const char *name, long fallback)
{
    size_t n = strlen(name);
    for (const char *p = si.cmdline; *p; p++)
        if ((p == si.cmdline || p[-1] == ' ') && strncmp(p, name, n) == 0 && p[n] == '=') {
            long v = 0;
            for (p += n + 1; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (*p - '0');
            return v;
        }
    return fallback;
}

static bool option_is(const char *name, const char *value)
{
    char word[48];
    snprintf(word, sizeof(word), "%s=%s", name, value);
    size_t n = strlen(word);
    for (const char *p = si.cmdline; *p; p++)
        if ((p == si.cmdline || p[-1] == ' ') && strncmp(p, word, n) == 0 && (p[n] == ' ' || !p[n]))
            return true;
    return false;
}

static void ring_peer(uint32_t id) { ivshmem_ring(&dev, id, 0); }

// The cycle counter against the timer, over 20 ticks.
static void calibrate(void)
{
    long t = mf_time();
    while (mf_time() == t)
        ;
    uint64_t c0 = mf_arch_cycles();
    t = mf_time();
    while (mf_time() < t + 20)
        ;
    uint64_t per_tick = (mf_arch_cycles() - c0) / 20;
    cycles_per_ms = per_tick * si.timer_hz / 1000;
    if (!cycles_per_ms)
        cycles_per_ms = 1;
}

static uint64_t to_us(uint64_t cycles) { return cycles * 1000 / cycles_per_ms; }

// ------------------------------------------------------------- doorbells
// ivshmem's interrupt comes to this instance's notification; a thread of
// ours passes each on to the node's link thread (its link bell, a copy in
// our CSpace). Ringing needs no capability: the register is mapped in the
// home region every VAS shares.
static long relay_bell;
static uint8_t relay_stack[8192] __attribute__((aligned(16)));

static void relay(uint64_t unused)
{
    (void)unused;
    for (;;)
        if (ivshmem_wait(&dev, 0) == 0 && relay_bell > 0)
            mf_notification_signal(relay_bell);
}

static bool start_relay(void)
{
    static long thread;
    if (!dev.has_doorbell)
        return true;
    if (!relay_bell && (relay_bell = mf_slot_alloc()) < 0)
        return false;
    mf_cnode_delete(MF_CAP_SELF_CNODE, relay_bell);
    if (!dsm_copy_link_bell(self, relay_bell))
        return false;
    if (thread)
        return true;
    thread = mf_slot_alloc();
    return thread > 0 &&
           mf_untyped_retype(mf_alloc_untyped(), MF_OBJ_THREAD, 0, 1, MF_CAP_SELF_CNODE, thread) == 0 &&
           mf_thread_start(thread, relay, relay_stack, sizeof(relay_stack), 0) == 0;
}

// --------------------------------------------------------------- phases

// Starts this instance's node of an N-node DSM on the next part of the
// region and waits for every peer to be heard from.
static unsigned dead_ticks = DSM_DEAD_TICKS * 3;

static bool cluster_start(unsigned pages, enum dsm_model model, unsigned xfetch)
{
    if ((phase + 1) * PHASE_BYTES > dev.size) {
        printf("cluster: the region (%lu MiB) has no room for phase %u\n", (unsigned long)(dev.size >> 20), phase);
        return false;
    }
    struct dsm_config c = {
        .nodes = nodes, .pages = pages, .model = model, .xfetch = xfetch, .transport = DSM_TRANSPORT_LINK,
        .link = {.region = (volatile uint8_t *)dev.shm + phase * PHASE_BYTES, .region_bytes = PHASE_BYTES,
                 .local = 1u << self, .dead_ticks = dead_ticks,
                 .doorbell = dev.has_doorbell ? ring_peer : NULL,
                 .doorbell_id = dev.peer_id < 0 ? 0 : (uint32_t)dev.peer_id},
    };
    phase++;
    if (!dsm_start(&c) || !start_relay()) {
        printf("cluster: node %u: cannot start\n", self);
        return false;
    }
    uint32_t all = (1u << nodes) - 1;
    long t0 = mf_time();
    while ((dsm_link_up(self) | 1u << self) != all) {
        if (mf_time() - t0 > PEER_WAIT_TICKS) {
            printf("cluster: node %u: peers %#x never came (heard %#x)\n", self, all, dsm_link_up(self));
            return false;
        }
        mf_sleep(2);
    }
    printf("cluster: node %u: phase %u, all %u nodes up after %ld ticks\n", self, phase, nodes, mf_time() - t0);
    return true;
}

// Waits until everything we sent was acknowledged (at most 5 s) and stops:
// a peer may still need our last messages (a barrier's end, an ack).
static void cluster_stop(void)
{
    for (long t = 0; t < 500 && !dsm_link_idle(self); t++)
        mf_sleep(1);
    mf_sleep(50);
    dsm_stop();
}

static uint64_t median_us(uint64_t *s, unsigned n, uint64_t *min, uint64_t *max)
{
    mf_bench_sort(s, n);
    *min = to_us(s[0]);
    *max = to_us(s[n - 1]);
    return to_us(s[n / 2]);
}

static void bench_line(const char *name, uint64_t *samples, unsigned n, const char *extra)
{
    for (unsigned i = 0; i < n; i++)
        samples[i] = to_us(samples[i]);
    char fields[160];
    snprintf(fields, sizeof(fields), "\"node\":%u,\"instances\":%u%s%s", self, nodes, extra && *extra ? "," : "",
             extra ? extra : "");
    mf_bench_report(name, "us", samples, n, fields);
}

// ----------------------------------------------------------------- Jacobi

static bool jacobi_reference(unsigned steps, uint64_t *checksum, uint64_t *step_median)
{
    struct dsm_config c = {.nodes = 1, .pages = CLUSTER_JACOBI_PAGES, .model = DSM_RELEASE};
    if (!dsm_start(&c))
        return false;
    long r = dsm_run(cluster_jacobi, steps);
    dsm_stop();
    if (r != 0 || !cluster_results[0].done)
        return false;
    *checksum = cluster_results[0].checksum;
    uint64_t min, max;
    *step_median = median_us(cluster_results[0].step_cycles, steps, &min, &max);
    if (option_is("app", "bench"))
        bench_line("dsm.cluster.jacobi.n1", cluster_results[0].step_cycles, steps, "\"per\":\"step\"");
    return true;
}

static bool jacobi_cluster(unsigned steps, uint64_t *checksum, uint64_t *step_median, struct dsm_link_stats *s)
{
    if (!cluster_start(CLUSTER_JACOBI_PAGES, DSM_RELEASE, 0))
        return false;
    long r = dsm_run_on(1u << self, cluster_jacobi, steps);
    dsm_get_link_stats(self, s);
    cluster_stop();
    const struct cluster_result *out = &cluster_results[self];
    if (r != 0 || !out->done)
        return false;
    *checksum = out->checksum;
    uint64_t min, max;
    *step_median = median_us(cluster_results[self].step_cycles, steps, &min, &max);
    if (option_is("app", "bench") && self == 0) {
        char name[48];
        snprintf(name, sizeof(name), "dsm.cluster.jacobi.n%u", nodes);
        bench_line(name, cluster_results[self].step_cycles, steps, "\"per\":\"step\"");
    }
    return true;
}

// ------------------------------------------------------------- benchmarks

static void read_fault_benchmarks(void)
{
    static const unsigned xfetch[2] = {0, 8};
    for (unsigned i = 0; i < 2; i++) {
        if (!cluster_start(64, DSM_STRONG, xfetch[i]))
            return;
        long r = dsm_run_on(1u << self, cluster_read_faults, 0);
        struct dsm_stats st;
        dsm_get_stats(self, &st);
        cluster_stop();
        struct cluster_result *out = &cluster_results[self];
        if (self != 1)
            continue;
        if (r != 0 || out->checksum != 0) {
            printf("cluster: read-fault run %u failed (%ld, %lu wrong)\n", i, r, (unsigned long)out->checksum);
            continue;
        }
        char extra[160];
        uint64_t total = to_us(out->cycles);
        snprintf(extra, sizeof(extra), "\"xfetch\":%u,\"pages\":64,\"scan_us\":%lu,\"pages_per_s\":%lu,\"prefetched\":%lu",
                 xfetch[i], (unsigned long)total, (unsigned long)(total ? 64ull * 1000000 / total : 0),
                 (unsigned long)st.prefetched);
        bench_line(i == 0 ? "dsm.cluster.read_fault" : "dsm.cluster.read_fault_xfetch8", out->step_cycles, 64, extra);
    }
}

// The last node's instance leaves once its messages are acknowledged; the
// others must see it dead within the bound and its page fail.
static void dead_peer(void)
{
    unsigned victim = nodes - 1;
    dead_ticks = (unsigned)option("dead", 50);
    bool ok = nodes >= 2 && cluster_start(nodes, DSM_STRONG, 0) &&
              dsm_run_on(1u << self, cluster_dead_peer_before, 0) == 0;
    if (ok && self == victim) {
        printf("CLUSTER {\"node\":%u,\"nodes\":%u,\"arch\":\"%s\",\"app\":\"deadpeer\",\"role\":\"victim\","
               "\"verified\":true}\n", self, nodes, si.arch);
        mf_poweroff(0);                 // as a crash would: no goodbye to anyone
    }
    struct dsm_link_stats s = {0};
    ok = ok && dsm_run_on(1u << self, cluster_dead_peer_after, victim) == 0;
    dsm_get_link_stats(self, &s);
    if (ok)
        cluster_stop();
    const struct cluster_result *out = &cluster_results[self];
    // Detected within the bound: silence of dead_ticks after the victim's
    // last frame, which came at most a heartbeat before it left (the
    // barrier's end here, give or take the link's latency), in the time
    // our link ran (ticks our QEMU was descheduled count for nobody).
    bool in_time = out->cycles + 10 >= dead_ticks && out->cycles <= dead_ticks + 40 + s.stalled_ticks;
    printf("CLUSTER {\"node\":%u,\"nodes\":%u,\"arch\":\"%s\",\"app\":\"deadpeer\",\"role\":\"survivor\","
           "\"error\":\"%s\",\"gave_up_after_ticks\":%lu,\"dead_ticks\":%u,\"stalled_ticks\":%u,\"declared_dead\":\"%#x\","
           "\"live_pages_ok\":%s,\"verified\":%s}\n",
           self, nodes, si.arch, mf_strerror(-(long)out->checksum), (unsigned long)out->cycles, dead_ticks, s.stalled_ticks, s.dead,
           out->centre ? "true" : "false",
           ok && out->checksum == E_DEAD && in_time && out->centre && s.dead == 1u << victim ? "true" : "false");
}

void run_cluster(void)
{
    mf_system_info(&si);
    self = (unsigned)option("node", 0);
    nodes = (unsigned)option("nodes", 1);
    unsigned steps = (unsigned)option("steps", 30);
    if (steps > CLUSTER_MAX_STEPS)
        steps = CLUSTER_MAX_STEPS;
    const char *app = option_is("app", "bench") ? "bench" : option_is("app", "idle") ? "idle"
                    : option_is("app", "deadpeer") ? "deadpeer" : "jacobi";
    long r = ivshmem_open(&dev, 0);
    if (r < 0 || self >= nodes || nodes > 4) {
        printf("CLUSTER {\"node\":%u,\"arch\":\"%s\",\"verified\":false,\"error\":\"%s\"}\n", self, si.arch,
               r < 0 ? mf_strerror(r) : "bad node or nodes");
        return;
    }
    printf("cluster: node %u of %u on %s: ivshmem %lu MiB, %s (peer id %d), app %s\n", self, nodes, si.arch,
           (unsigned long)(dev.size >> 20), dev.has_doorbell ? "doorbell" : "no doorbell: polling each tick",
           dev.peer_id, app);
    calibrate();
    if (option_is("app", "deadpeer")) {
        dead_peer();
        return;
    }
    uint64_t reference = 0, checksum = 0, one_us = 0, many_us = 0;
    struct dsm_link_stats s = {0};
    bool ok = true;
    if (!option_is("app", "idle"))
        ok = jacobi_reference(steps, &reference, &one_us) && jacobi_cluster(steps, &checksum, &many_us, &s);
    else
        ok = cluster_start(1, DSM_STRONG, 0) && (cluster_stop(), true);
    uint64_t probe = cluster_results[self].centre;
    if (ok && option_is("app", "bench"))
        read_fault_benchmarks();
    printf("CLUSTER {\"node\":%u,\"nodes\":%u,\"arch\":\"%s\",\"app\":\"%s\",\"steps\":%u,"
           "\"checksum\":\"%016lx\",\"reference\":\"%016lx\",\"probe\":%lu,\"verified\":%s,"
           "\"step_us_1\":%lu,\"step_us_n\":%lu,\"delivered\":%lu,\"retransmits\":%lu,\"bad_frames\":%lu}\n",
           self, nodes, si.arch, app, steps, (unsigned long)checksum, (unsigned long)reference,
           (unsigned long)probe,
           ok && (option_is("app", "idle") || checksum == reference) ? "true" : "false", (unsigned long)one_us,
           (unsigned long)many_us, (unsigned long)s.delivered, (unsigned long)s.retransmits,
           (unsigned long)s.bad_frames);
}
