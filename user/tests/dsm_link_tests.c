// The link transport under faults (user/dsm/link.c, channel_faulty.c) and
// failure detection (failure.c), inside one instance over the stand-in
// region: the same frames, rings, checksums and acks as between machines.
//
// Each fault test runs one workload with one kind of fault injected at a
// seeded rate: release pages written by every node (twins, diffs, grants
// with whole pages) and strong pages written by one node and read by all,
// for several rounds with barriers. Every node checks every word against
// its closed-form value, the checker runs after, and the link counters
// must show that the fault happened and what the receivers did about it.
#include "manifold.h"
#include "utest.h"
#include "user/dsm/dsm.h"

#define WORDS(page) ((volatile uint64_t *)(DSM_BASE + (page) * DSM_PAGE))
#define PAGE_WORDS (DSM_PAGE / 8)
#define NODES 3
#define SHARED_PAGES 8          // release, every node writes its words
#define OWNED_PAGES NODES       // strong, node n writes page SHARED_PAGES + n
#define ROUNDS 5

static volatile uint64_t bad[DSM_MAX_NODES], done[DSM_MAX_NODES];

static uint64_t value(unsigned round, unsigned page, unsigned node, unsigned word)
{
    return (uint64_t)round << 40 | (uint64_t)page << 24 | (uint64_t)node << 16 | word;
}

static void workload(struct dsm_thread *t, uint64_t arg)
{
    (void)arg;
    unsigned me = dsm_self(t), nodes = dsm_nodes(t);
    unsigned share = PAGE_WORDS / nodes;
    uint64_t wrong = 0;
    dsm_set_model(t, WORDS(SHARED_PAGES), OWNED_PAGES * DSM_PAGE, DSM_STRONG);
    dsm_barrier(t);
    for (unsigned round = 1; round <= ROUNDS; round++) {
        for (unsigned p = 0; p < SHARED_PAGES; p++)
            for (unsigned w = 0; w < share; w += 4)
                WORDS(p)[me * share + w] = value(round, p, me, w);
        volatile uint64_t *mine = WORDS(SHARED_PAGES + me);
        for (unsigned w = 0; w < PAGE_WORDS; w++)
            mine[w] = value(round, SHARED_PAGES + me, me, w);
        dsm_barrier(t);
        for (unsigned p = 0; p < SHARED_PAGES; p++)
            for (unsigned n = 0; n < nodes; n++)
                for (unsigned w = 0; w < share; w += 4)
                    wrong += WORDS(p)[n * share + w] != value(round, p, n, w);
        for (unsigned n = 0; n < nodes; n++)
            for (unsigned w = 0; w < PAGE_WORDS; w += 7)
                wrong += WORDS(SHARED_PAGES + n)[w] != value(round, SHARED_PAGES + n, n, w);
        dsm_barrier(t);
    }
    bad[me] = wrong;
    done[me] = 1;
}

static bool start_link(unsigned nodes, unsigned pages, enum dsm_model model, const struct dsm_faults *f,
                       unsigned dead_ticks)
{
    struct dsm_config c = {.nodes = nodes, .pages = pages, .model = model, .transport = DSM_TRANSPORT_LINK,
                           .link = {.dead_ticks = dead_ticks}};
    if (f)
        c.link.faults = *f;
    for (unsigned n = 0; n < DSM_MAX_NODES; n++)
        bad[n] = done[n] = 0;
    return dsm_start(&c);
}

static void sum_link_stats(struct dsm_link_stats *sum)
{
    *sum = (struct dsm_link_stats){0};
    for (unsigned n = 0; n < NODES; n++) {
        struct dsm_link_stats s;
        dsm_get_link_stats(n, &s);
        const uint64_t *from = (const uint64_t *)&s;
        uint64_t *to = (uint64_t *)sum;
        for (unsigned i = 0; i < __builtin_offsetof(struct dsm_link_stats, dead) / 8; i++)
            to[i] += from[i];
        sum->dead |= s.dead;
    }
}

// Runs the workload with `permille` of `kind` (or of every kind, with
// kind == DSM_FAULT_KINDS) and checks pages, invariants and counters.
static const char *under_faults(unsigned kind, unsigned permille, uint64_t seed, struct dsm_link_stats *s)
{
    struct dsm_faults f = {.seed = seed};
    for (unsigned k = 0; k < DSM_FAULT_KINDS; k++)
        f.permille[k] = (uint16_t)(kind == DSM_FAULT_KINDS || k == kind ? permille : 0);
    UCHECK(start_link(NODES, SHARED_PAGES + OWNED_PAGES, DSM_RELEASE, &f, 0));
    long r = dsm_run(workload, 0);
    const char *why = r == 0 ? dsm_check() : "an application thread did not finish";
    sum_link_stats(s);
    printf("# faults %u at %u permille: injected c%lu d%lu o%lu r%lu x%lu; bad frames %lu, duplicates %lu, "
           "out of order %lu, stale acks %lu, timeouts %lu, retransmits %lu, delivered %lu\n",
           kind, permille, (unsigned long)s->injected[0], (unsigned long)s->injected[1],
           (unsigned long)s->injected[2], (unsigned long)s->injected[3], (unsigned long)s->injected[4],
           (unsigned long)s->bad_frames, (unsigned long)s->duplicates, (unsigned long)s->out_of_order,
           (unsigned long)s->stale_acks, (unsigned long)s->timeouts, (unsigned long)s->retransmits,
           (unsigned long)s->delivered);
    if (why) {
        printf("# %s\n", why);
        dsm_dump();
        dsm_stop();
        return why;
    }
    dsm_stop();
    for (unsigned n = 0; n < NODES; n++)
        UCHECK(done[n] == 1 && bad[n] == 0);
    UCHECK(s->dead == 0);                   // faults are not deaths
    UCHECK(s->ring_errors == 0 && s->misaddressed == 0);
    return NULL;
}

UTEST(dsm_link_clean_channel_needs_no_repair)
{
    struct dsm_link_stats s;
    const char *why = under_faults(DSM_FAULT_CORRUPT, 0, 1, &s);
    if (why)
        return why;
    UCHECK(s.delivered > 100);
    // Nothing is ever damaged or out of order. A peer whose CPU the host
    // did not run for the 3-tick timeout (nodes run on their own vCPUs)
    // is sent its frames again: only then are there retransmits, and each
    // duplicate comes from one.
    UCHECK(s.bad_frames == 0 && s.out_of_order == 0);
    UCHECK(s.timeouts > 0 || s.retransmits == 0);
    UCHECK(s.duplicates <= s.retransmits);
    return NULL;
}

UTEST(dsm_link_corrupted_frames_are_dropped_and_resent)
{
    struct dsm_link_stats s;
    const char *why = under_faults(DSM_FAULT_CORRUPT, 60, 11, &s);
    if (why)
        return why;
    // Every corrupted frame that arrived was dropped; one sent just before
    // the nodes stopped may never be read (at most one per direction of
    // each of the NODES * (NODES - 1) links: seen once on an idle host).
    uint64_t injected = s.injected[DSM_FAULT_CORRUPT];
    UCHECK(injected > 0 && s.bad_frames <= injected && injected - s.bad_frames <= NODES * (NODES - 1));
    UCHECK(s.bad_frames > 0 && s.retransmits > 0);
    return NULL;
}

UTEST(dsm_link_duplicated_frames_are_dropped)
{
    struct dsm_link_stats s;
    const char *why = under_faults(DSM_FAULT_DUPLICATE, 150, 12, &s);
    if (why)
        return why;
    UCHECK(s.injected[DSM_FAULT_DUPLICATE] > 0 && s.duplicates > 0 && s.bad_frames == 0);
    return NULL;
}

UTEST(dsm_link_reordered_frames_are_resent_in_order)
{
    struct dsm_link_stats s;
    const char *why = under_faults(DSM_FAULT_REORDER, 100, 13, &s);
    if (why)
        return why;
    UCHECK(s.injected[DSM_FAULT_REORDER] > 0 && s.out_of_order > 0 && s.retransmits > 0);
    return NULL;
}

UTEST(dsm_link_replayed_frames_change_nothing)
{
    struct dsm_link_stats s;
    const char *why = under_faults(DSM_FAULT_REPLAY, 150, 14, &s);
    if (why)
        return why;
    UCHECK(s.injected[DSM_FAULT_REPLAY] > 0 && s.duplicates + s.stale_acks > 0 && s.bad_frames == 0);
    return NULL;
}

UTEST(dsm_link_dropped_frames_time_out_and_are_resent)
{
    struct dsm_link_stats s;
    const char *why = under_faults(DSM_FAULT_DROP, 60, 15, &s);
    if (why)
        return why;
    UCHECK(s.injected[DSM_FAULT_DROP] > 0 && s.timeouts > 0 && s.retransmits > 0);
    return NULL;
}

UTEST(dsm_link_every_fault_at_once)
{
    struct dsm_link_stats s;
    const char *why = under_faults(DSM_FAULT_KINDS, 30, 16, &s);
    if (why)
        return why;
    for (unsigned k = 0; k < DSM_FAULT_KINDS; k++)
        UCHECK(s.injected[k] > 0);
    UCHECK(s.bad_frames > 0 && s.duplicates > 0 && s.timeouts > 0);
    return NULL;
}

// ------------------------------------------------------------ a dead node

#define DEAD_TICKS 30
#define VICTIM 2
static volatile uint64_t killed_at;
static volatile int64_t result[DSM_MAX_NODES][6];

// Before: every node writes the page it is home to (page n, strong, so it
// stays the manager), and node 1 takes a read copy of the victim's page 5.
static void before_kill(struct dsm_thread *t, uint64_t arg)
{
    (void)arg;
    unsigned me = dsm_self(t);
    for (unsigned w = 0; w < PAGE_WORDS; w++)
        WORDS(me)[w] = 100 * me + w;
    if (me == VICTIM)
        WORDS(5)[0] = 555;
    dsm_barrier(t);
    if (me == 1)
        result[1][5] = (int64_t)WORDS(5)[0];
    dsm_barrier(t);
}

// After (nodes 0 and 1 only).
static void after_kill(struct dsm_thread *t, uint64_t arg)
{
    (void)arg;
    unsigned me = dsm_self(t);
    uint64_t word = 0;
    if (me == 0) {
        // The victim's own page: nobody else holds it.
        result[0][0] = dsm_read(t, WORDS(VICTIM), &word, sizeof(word));
        result[0][1] = mf_time() - (int64_t)killed_at;
        result[0][2] = dsm_peer_alive(t, VICTIM);
    } else {
        // Page 5: managed by the victim, but we hold a copy from before.
        result[1][0] = dsm_read(t, WORDS(5), &word, sizeof(word));
        result[1][1] = (int64_t)word;
        uint64_t one = 1;
        result[1][2] = dsm_write(t, WORDS(5), &one, sizeof(one));   // needs the dead manager
    }
    // Pages managed by live nodes keep working, across nodes.
    uint64_t mine = 7000 + me, other = 0;
    result[me][3] = dsm_write(t, WORDS(me) + 1, &mine, sizeof(mine));
    dsm_barrier(t);                                       // the live nodes only
    long r = dsm_read(t, WORDS(1 - me) + 1, &other, sizeof(other));
    result[me][4] = r == 0 && other == 7000 + (1 - me) && WORDS(1 - me)[9] == 100 * (1 - me) + 9;
}

UTEST(dsm_link_dead_peer_detected_and_its_pages_fail)
{
    UCHECK(start_link(NODES, 6, DSM_STRONG, NULL, DEAD_TICKS));
    for (unsigned n = 0; n < DSM_MAX_NODES; n++)
        for (unsigned i = 0; i < 6; i++)
            result[n][i] = -99;
    const char *step = "before the kill";
    long r = dsm_run(before_kill, 0);
    if (r == 0 && (step = "the kill", !dsm_kill(VICTIM)))
        r = -E_INVAL;
    killed_at = (uint64_t)mf_time();
    if (r == 0) {
        step = "after the kill";
        r = dsm_run_on(0x3, after_kill, 0);
    }
    if (r)
        printf("# %s: %s\n", step, mf_strerror(r));
    struct dsm_link_stats s0, s1;
    dsm_get_link_stats(0, &s0);
    dsm_get_link_stats(1, &s1);
    dsm_stop();
    printf("# dead after %ld ticks (bound %u); node 0 declared it after %u ticks of silence; "
           "its link did not run for %u\n", (long)result[0][1], DEAD_TICKS, s0.dead_after, s0.stalled_ticks);
    UCHECK(r == 0);
    UCHECK(result[1][5] == 555);
    UCHECK(result[0][0] == -E_DEAD && result[0][2] == 0);
    // Detected within the bound: silence of DEAD_TICKS, plus a heartbeat
    // period and a few ticks of scheduling, in the time node 0's link ran
    // (ticks the host did not run it count for nobody); the silence it
    // counted is just over the bound (rounds are a tick apart unless late).
    UCHECK(result[0][1] >= DEAD_TICKS - 6 && result[0][1] <= DEAD_TICKS + 20 + (long)s0.stalled_ticks);
    UCHECK(s0.dead_after > DEAD_TICKS && s0.dead_after <= DEAD_TICKS + 6);
    UCHECK(result[1][0] == 0 && result[1][1] == 555 && result[1][2] == -E_DEAD);
    UCHECK(result[0][3] == 0 && result[1][3] == 0 && result[0][4] == 1 && result[1][4] == 1);
    UCHECK(s0.dead == 1u << VICTIM && s1.dead == 1u << VICTIM);
    return NULL;
}

// ------------------------------------------------- Jacobi against one node

#include "user/dsm/cluster_app.h"
#define JACOBI_STEPS 30

// Runs the cluster Jacobi on `nodes` nodes; every node's checksum, or 0 if
// they disagree or the run failed.
static uint64_t jacobi_on(unsigned nodes, enum dsm_transport_kind transport, const struct dsm_faults *f)
{
    struct dsm_config c = {.nodes = nodes, .pages = CLUSTER_JACOBI_PAGES, .model = DSM_RELEASE,
                           .transport = transport};
    if (f)
        c.link.faults = *f;
    if (!dsm_start(&c))
        return 0;
    long r = dsm_run(cluster_jacobi, JACOBI_STEPS);
    const char *why = r == 0 ? dsm_check() : "did not finish";
    dsm_stop();
    if (why) {
        printf("# jacobi on %u nodes: %s\n", nodes, why);
        return 0;
    }
    for (unsigned n = 1; n < nodes; n++)
        if (cluster_results[n].checksum != cluster_results[0].checksum)
            return 0;
    return cluster_results[0].checksum;
}

UTEST(dsm_link_jacobi_matches_one_node_under_faults)
{
    uint64_t one = jacobi_on(1, DSM_TRANSPORT_LRPC, NULL);
    UCHECK(one != 0 && cluster_results[0].centre != 0);
    struct dsm_faults f = {.seed = 21, .permille = {20, 20, 20, 20, 20}};
    uint64_t two = jacobi_on(2, DSM_TRANSPORT_LINK, &f);
    uint64_t three = jacobi_on(3, DSM_TRANSPORT_LINK, NULL);
    printf("# jacobi checksums: 1 node %016lx, 2 nodes (faults) %016lx, 3 nodes %016lx\n", (unsigned long)one,
           (unsigned long)two, (unsigned long)three);
    UCHECK(two == one && three == one);
    return NULL;
}

// ------------------------------------------------- frames nobody sent

#include "user/dsm/link.h"

static void touch_all(struct dsm_thread *t, uint64_t round)
{
    unsigned me = dsm_self(t);
    WORDS(me)[0] = round * 10 + me;
    dsm_barrier(t);
    bad[me] = WORDS(1 - me)[0] != round * 10 + (1 - me);
    done[me] = 1;
}

// With node 1 stopped (so nobody else produces on ring 1 -> 0), frames
// written into that ring by hand: one from an earlier boot of node 1 (a
// replay across a restart), one claiming another source, one acking what
// node 0 never sent, one corrupted, each with a valid checksum but the
// corrupted; then a record whose length runs past the ring's tail. Node 0
// must refuse each, count it, deliver none, and stay well.
UTEST(dsm_link_frames_from_another_epoch_or_source_are_refused)
{
    UCHECK(start_link(2, 4, DSM_STRONG, NULL, 1000));
    UCHECK(dsm_run(touch_all, 1) == 0 && bad[0] == 0 && bad[1] == 0);
    struct dsm_link_stats before, after;
    dsm_get_link_stats(0, &before);
    UCHECK(dsm_kill(1));
    mf_sleep(2);
    volatile struct wire_header *h = (volatile struct wire_header *)dsm_standin_region;
    uint32_t ring_bytes = wire_ring_bytes(sizeof(dsm_standin_region), 2), epoch = h->node[1].epoch;
    struct { struct msg m; uint16_t page; uint8_t pad[6]; } drop = {
        .m = {.type = MSG_DROP, .src = 1, .count = 1, .length = sizeof(drop)}, .page = 0};
    struct frame frames[4] = {
        {.magic = FRAME_MAGIC, .kind = FRAME_DATA, .src = 1, .dst = 0, .epoch = epoch + 1, .seq = 1000},
        {.magic = FRAME_MAGIC, .kind = FRAME_DATA, .src = 2, .dst = 0, .epoch = epoch, .seq = 1000},
        {.magic = FRAME_MAGIC, .kind = FRAME_ACK, .src = 1, .dst = 0, .epoch = epoch, .ack = 1u << 30},
        {.magic = FRAME_MAGIC, .kind = FRAME_DATA, .src = 1, .dst = 0, .epoch = epoch, .seq = 1000},
    };
    for (unsigned i = 0; i < 4; i++) {
        frames[i].length = frames[i].kind == FRAME_DATA ? sizeof(drop) : 0;
        frames[i].crc = frame_crc(&frames[i], &drop, frames[i].length);
        if (i == 3)
            frames[i].crc ^= 4;                 // corrupted
        UCHECK(wire_put(dsm_standin_region, ring_bytes, 2, 1, 0, &frames[i], &drop) == 1);
    }
    mf_sleep(5);
    // A record longer than what the ring holds: the indices are impossible.
    struct wire_ring *r = wire_ring_at(dsm_standin_region, 2, ring_bytes, 1, 0);
    uint64_t huge = 1u << 20;
    wire_copy_in(r, ring_bytes - sizeof(*r), r->tail, &huge, 8);
    __atomic_store_n(&r->tail, r->tail + 16, __ATOMIC_RELEASE);
    mf_sleep(5);
    dsm_get_link_stats(0, &after);
    dsm_stop();
    UCHECK(after.misaddressed - before.misaddressed == 3);   // old epoch, wrong source, ack from nowhere
    UCHECK(after.bad_frames - before.bad_frames == 1);
    UCHECK(after.ring_errors - before.ring_errors == 1);
    UCHECK(after.delivered == before.delivered && after.dead == 0);
    return NULL;
}
