// The DSM repository (user/dsm/repository.c, docs/dsm.md "Repository"): a
// Jacobi relaxation on the DSM is checkpointed at a barrier mid-run,
// restarted from the repository (in this boot from memory; in a second
// boot of the machine from the data disk) and finished from the iteration
// it had reached; its whole-grid checksum must equal that of a run nobody
// interrupted, computed in the same boot. A damaged repository is refused,
// and a repository whose pages or dates were changed (checksums made right
// again) restarts into a run that does not give that checksum: the
// comparison can fail.
#include "manifold.h"
#include "utest.h"
#include "ckpt.h"
#include "test_disk.h"
#include "lib/crc32.h"
#include "user/dsm/repository.h"
#include "user/dsm/engine.h"     // dsm_node_count
#include "user/dsm/jacobi.h"

#define NODES 3
#define PAGES 32                // two grids of 10 pages, 16 apart (jacobi.h)
#define STEPS 24
#define CHECKPOINT_AT 11        // an odd step: the grids have swapped roles
#define NO_CHECKPOINT (~0u)
#define REPO_BYTES (2u << 20)

// What the application threads report (root task memory).
static struct {
    unsigned steps, checkpoint_at;
    volatile long checkpoint_result[DSM_MAX_NODES];
    volatile unsigned first_step[DSM_MAX_NODES], steps_run[DSM_MAX_NODES], resumed[DSM_MAX_NODES];
    volatile uint64_t checksum;
} jr;

static uint64_t fnv(uint64_t h, uint64_t word)
{
    for (int i = 0; i < 8; i++) {
        h ^= (word >> (8 * i)) & 0xff;
        h *= 0x100000001b3ull;
    }
    return h;
}

// Jacobi on release pages, rows split among the nodes; a restarted
// instance goes on from the step its checkpoint recorded (the grids are in
// the restored pages: nothing is set up again). Node 0 checksums the whole
// final grid, reading the others' rows through the DSM.
static void jacobi(struct dsm_thread *t, uint64_t unused)
{
    (void)unused;
    unsigned me = dsm_self(t), nodes = dsm_nodes(t), rows = JN / nodes;
    unsigned first = 1 + me * rows, last = me == nodes - 1 ? JN + 1 : first + rows;
    uint64_t progress = 0;
    bool resumed = dsm_resumed(t, &progress);
    unsigned step = 0;
    if (resumed) {
        step = (unsigned)progress;
    } else {
        if (me == 0)
            jacobi_hot_border();
        dsm_barrier(t);
    }
    jr.first_step[me] = step;
    jr.resumed[me] = resumed;
    for (; step < jr.steps; step++) {
        if (step == jr.checkpoint_at && !(resumed && step == progress))
            jr.checkpoint_result[me] = dsm_checkpoint(t, step);
        jacobi_relax(step % 2, 1 - step % 2, first, last);
        dsm_barrier(t);
        jr.steps_run[me]++;
    }
    if (me == 0) {
        uint64_t h = 0xcbf29ce484222325ull;
        for (unsigned r = 0; r < JN + 2; r++)
            for (unsigned c = 0; c < JN; c++)
                h = fnv(h, (uint64_t)CELL(jr.steps % 2, r, c));
        jr.checksum = h;
    }
    dsm_barrier(t);
}

static void print_ms(const char *what, uint64_t cycles);

static struct dsm_config config = {.nodes = NODES, .pages = PAGES, .model = DSM_RELEASE,
                                   .transport = DSM_TRANSPORT_LRPC};

// Runs the Jacobi on the instance there is; its checksum, or 0 if it did
// not finish or the instance broke an invariant.
static uint64_t run_jacobi(unsigned checkpoint_at)
{
    for (unsigned n = 0; n < DSM_MAX_NODES; n++) {
        jr.checkpoint_result[n] = 1;
        jr.first_step[n] = jr.steps_run[n] = jr.resumed[n] = 0;
    }
    jr.steps = STEPS;
    jr.checkpoint_at = checkpoint_at;
    jr.checksum = 0;
    if (dsm_run(jacobi, 0) != 0) {
        printf("# the Jacobi did not finish\n");
        return 0;
    }
    const char *bad = dsm_check();
    if (bad) {
        printf("# after the Jacobi: %s\n", bad);
        dsm_dump();
        return 0;
    }
    return jr.checksum;
}

// The checksum of a run nobody interrupted, on a fresh instance.
static uint64_t fresh_start_cycles;     // dsm_start's time, to compare with a restart's

static uint64_t reference_run(void)
{
    uint64_t start = mf_arch_cycles();
    if (!dsm_start(&config))
        return 0;
    fresh_start_cycles = mf_arch_cycles() - start;
    uint64_t h = run_jacobi(NO_CHECKPOINT);
    dsm_stop();
    return h;
}

static void print_ms(const char *what, uint64_t cycles)
{
    struct mf_system_info si;
    uint64_t us = mf_system_info(&si) == 0 && si.counter_hz ? cycles * 1000000 / si.counter_hz : 0;
    printf(" %s %lu.%03lu ms", what, (unsigned long)(us / 1000), (unsigned long)(us % 1000));
}

// A fresh instance runs the Jacobi with a checkpoint at CHECKPOINT_AT into
// `st` and then to its end: that run's checksum, or 0.
static uint64_t checkpointed_run(const struct mf_ckpt_store *st)
{
    if (!dsm_start(&config))
        return 0;
    dsm_repository_target(st);
    uint64_t h = run_jacobi(CHECKPOINT_AT);
    dsm_repository_target(NULL);
    dsm_stop();
    for (unsigned n = 0; n < NODES; n++)
        if (jr.checkpoint_result[n] != 0) {
            printf("# node %u: dsm_checkpoint gave %ld\n", n, (long)jr.checkpoint_result[n]);
            return 0;
        }
    struct dsm_repository_stats s;
    dsm_repository_stats(&s);
    printf("# repository: %lu bytes, %u nodes, %u frames, date %lu;", (unsigned long)s.bytes, s.nodes, s.frames,
           (unsigned long)s.date);
    print_ms("frozen", s.frozen_cycles);
    print_ms("(quiesce", s.quiesce_cycles);
    print_ms("record", s.record_cycles);
    print_ms("write", s.write_cycles);
    printf(")\n");
    return h;
}

// Restarts from `st` and finishes the run: its checksum, 0 if the run did
// not finish or did not go on from the checkpoint on every node; the
// restart's error in *error.
static uint64_t restarted_run(const struct mf_ckpt_store *st, long *error)
{
    struct dsm_config c;
    struct dsm_repository_stats s;
    *error = dsm_restart(st, &c, &s);
    if (*error)
        return 0;
    uint64_t h = 0;
    if (c.nodes != NODES || c.pages != PAGES || c.model != DSM_RELEASE || c.transport != config.transport)
        printf("# the restart has another configuration: %u nodes, %u pages\n", c.nodes, c.pages);
    else
        h = run_jacobi(NO_CHECKPOINT);
    dsm_stop();
    printf("# restart: %lu bytes, %u frames;", (unsigned long)s.bytes, s.frames);
    print_ms("read and checked", s.read_cycles);
    print_ms("nodes booted", s.start_cycles);
    print_ms("dsm_check", s.check_cycles);
    printf("\n");
    for (unsigned n = 0; n < NODES; n++)
        if (!jr.resumed[n] || jr.first_step[n] != CHECKPOINT_AT || jr.steps_run[n] != STEPS - CHECKPOINT_AT) {
            printf("# node %u: resumed %u at step %u, ran %u steps\n", n, jr.resumed[n], jr.first_step[n],
                   jr.steps_run[n]);
            return 0;
        }
    return h;
}

// ---------------------------------------------------------------- in memory

static uint8_t saved[REPO_BYTES] __attribute__((aligned(4096)));
static uint8_t work[REPO_BYTES] __attribute__((aligned(4096)));
static struct mf_ckpt_memory saved_memory = {saved, sizeof(saved)}, work_memory = {work, sizeof(work)};

// Over each transport whose state a repository can hold: LRPC (inbox
// rings in node memory) and shared rings (in the bindings' segments).
UTEST(dsm_repository_restart_finishes_the_jacobi_in_the_same_boot)
{
    static const enum dsm_transport_kind transports[] = {DSM_TRANSPORT_LRPC, DSM_TRANSPORT_RINGS};
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &saved_memory);
    const char *why = NULL;
    for (unsigned i = 0; i < sizeof(transports) / sizeof(transports[0]) && !why; i++) {
        config.transport = transports[i];
        uint64_t reference = reference_run();
        uint64_t checkpointed = reference ? checkpointed_run(&st) : 0;
        long error = -E_INVAL;
        uint64_t restarted = checkpointed ? restarted_run(&st, &error) : 0;
        if (error)
            printf("# restart: %s\n", mf_strerror(error));
        printf("# transport %u: uninterrupted %016lx, checkpointed at step %u %016lx, restarted %016lx;",
               transports[i], (unsigned long)reference, CHECKPOINT_AT, (unsigned long)checkpointed,
               (unsigned long)restarted);
        print_ms("a fresh instance booted in", fresh_start_cycles);
        printf("\n");
        if (!reference || checkpointed != reference || restarted != reference)
            why = "a checksum differs from the uninterrupted run's";
        // A repository is not used up: the same one restarts again.
        else if (restarted_run(&st, &error) != reference)
            why = "the second restart from the repository differs";
    }
    config.transport = DSM_TRANSPORT_LRPC;
    return why;
}

// Changes to a copy of the repository (`work`), with checksums made right
// again or not.
static struct dsm_repo_header *work_header(void) { return (struct dsm_repo_header *)work; }

static struct dsm_repo_node *work_node(unsigned n)
{
    return (struct dsm_repo_node *)(work + work_header()->node[n].offset);
}

static void reseal(void)
{
    struct dsm_repo_header *h = work_header();
    for (unsigned n = 0; n < h->nodes; n++)
        h->node[n].crc = crc32_update(0, work_node(n), DSM_REPO_RECORD_SPAN + (uint64_t)h->node[n].frames * DSM_PAGE);
    h->header_crc = 0;
    h->header_crc = crc32_update(0, h, sizeof(*h));
}

// Node n's saved copy of page p (its frame, not a twin), or NULL.
static uint8_t *saved_copy(unsigned n, unsigned p)
{
    struct dsm_repo_node *r = work_node(n);
    for (unsigned i = 0; i < r->frames; i++)
        if (r->page[p].frame >= 0 && r->frame_index[i] == (uint16_t)r->page[p].frame)
            return (uint8_t *)r + DSM_REPO_RECORD_SPAN + (uint64_t)i * DSM_PAGE;
    return NULL;
}

static long restart_work(void)
{
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &work_memory);
    long r = dsm_restart(&st, NULL, NULL);
    bool left = dsm_node_count() != 0;
    dsm_stop();
    return left ? 1 : r;        // a refusal leaves nothing running
}

UTEST(dsm_repository_damaged_is_refused_and_a_changed_page_shows)
{
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &saved_memory);
    uint64_t reference = reference_run();
    UCHECK(reference != 0 && checkpointed_run(&st) == reference);
    uint64_t bytes = ((struct dsm_repo_header *)saved)->total_bytes;
    UCHECK(bytes > sizeof(struct dsm_repo_header) && bytes <= sizeof(work));
#define FRESH() memcpy(work, saved, bytes)

    FRESH();
    work[0] ^= 1;                                       // the magic
    UCHECK(restart_work() == -E_NOEXEC);
    FRESH();
    work_header()->date ^= 1;                           // the header
    UCHECK(restart_work() == -E_INVAL);
    FRESH();
    work_node(1)->clock ^= 1 << 3;                      // a record
    UCHECK(restart_work() == -E_INVAL);
    FRESH();
    work[bytes - 100] ^= 0x40;                          // a frame
    UCHECK(restart_work() == -E_INVAL);
    FRESH();
    work_header()->nodes = 2;                           // a configuration that does not add up
    reseal();
    UCHECK(restart_work() == -E_INVAL);

    // Forged records with good checksums: refused by the record checks...
    FRESH();
    struct dsm_repo_node *r = work_node(2);
    unsigned p0 = 0;
    while (p0 < PAGES && (r->page[p0].frame < 0 || r->page[p0 + 1].frame < 0))
        p0++;
    UCHECK(p0 + 1 < PAGES);
    r->page[p0 + 1].frame = r->page[p0].frame;          // two pages, one frame
    reseal();
    UCHECK(restart_work() == -E_INVAL);
    FRESH();
    UCHECK(work_node(0)->frame_free >= 0);
    work_node(0)->frame_next[work_node(0)->frame_free] = work_node(0)->frame_free;  // a free list in a loop
    reseal();
    UCHECK(restart_work() == -E_INVAL);
    // ...or by dsm_check once the nodes have taken them: a directory that
    // forgot a holder.
    FRESH();
    bool forged = false;
    for (unsigned n = 0; n < NODES && !forged; n++)
        for (unsigned p = 0; p < PAGES && !forged; p++) {
            struct dsm_repo_node *m = work_node(n);
            unsigned k = (n + 1) % NODES;
            if (m->page[p].manager && m->dir[p].access[k]) {
                m->dir[p].access[k] = 0;
                forged = true;
            }
        }
    UCHECK(forged);
    reseal();
    UCHECK(restart_work() == -E_INVAL);

    // A change that keeps the repository whole: the restart goes through
    // and the run finishes, with another checksum. A word of the grid step
    // CHECKPOINT_AT reads, in every node's copy:
    FRESH();
    unsigned src = CHECKPOINT_AT % 2, row = JN / 2, col = JN / 2;
    uint64_t offset = (uint64_t)&CELL(src, row, col) - DSM_BASE;
    unsigned changed = 0;
    for (unsigned n = 0; n < NODES; n++) {
        uint8_t *copy = saved_copy(n, (unsigned)(offset / DSM_PAGE));
        if (copy) {
            *(int64_t *)(copy + offset % DSM_PAGE) += 1 << 16;
            changed++;
        }
    }
    UCHECK(changed > 0);
    reseal();
    mf_ckpt_memory_store(&st, &work_memory);
    long error;
    uint64_t h = restarted_run(&st, &error);
    printf("# a grid word changed in %u copies: %016lx\n", changed, (unsigned long)h);
    UCHECK(error == 0 && h != 0 && h != reference);
    return NULL;
}

// dsm_checkpoint without a target, and at a barrier some node passed
// without it: every application that called it gets the error and goes on.
static volatile long park_result[DSM_MAX_NODES];

static void park_all(struct dsm_thread *t, uint64_t progress)
{
    park_result[dsm_self(t)] = dsm_checkpoint(t, progress);
}

static void park_one(struct dsm_thread *t, uint64_t progress)
{
    if (dsm_self(t) == 0)
        park_result[0] = dsm_checkpoint(t, progress);
    else
        dsm_barrier(t);         // the same barrier, and gone
}

UTEST(dsm_repository_checkpoint_needs_a_target_and_every_node)
{
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &work_memory);
    const struct dsm_config two = {.nodes = 2, .pages = 4, .model = DSM_RELEASE, .transport = DSM_TRANSPORT_LRPC};
    UCHECK(dsm_start(&two));
    park_result[0] = park_result[1] = 1;
    long r1 = dsm_run(park_all, 7);
    long no_target[2] = {park_result[0], park_result[1]};
    dsm_repository_target(&st);
    park_result[0] = park_result[1] = 1;
    long r2 = dsm_run(park_one, 7);
    long one = park_result[0];
    park_result[0] = park_result[1] = 1;
    long r3 = dsm_run(park_all, 7);         // and with every node, it is written
    dsm_repository_target(NULL);
    dsm_stop();
    printf("# no target: %ld %ld; one node of two: %ld; both: %ld %ld\n", no_target[0], no_target[1], one,
           (long)park_result[0], (long)park_result[1]);
    UCHECK(r1 == 0 && no_target[0] == -E_NOENT && no_target[1] == -E_NOENT);
    UCHECK(r2 == 0 && one == -E_INVAL);
    UCHECK(r3 == 0 && park_result[0] == 0 && park_result[1] == 0);
    const struct dsm_repo_header *h = (const struct dsm_repo_header *)work;
    UCHECK(h->nodes == 2 && ((const struct dsm_repo_node *)(work + h->node[1].offset))->progress == 7);
    return NULL;
}

// ------------------------------------------------------------------ dates
// Weak copies rely on Lamport dates: a sync at a barrier's date drops the
// copies whose valid-before date is older. Node 1 holds a weak copy of x
// across the checkpoint; after it node 0 writes x again and node 1 syncs at
// the next barrier's date: it must read the new value. With the nodes'
// clocks recorded it does; from a repository whose clocks were lost (set
// back to 0, checksums made right) the barrier's date is older than the
// copy's and node 1 keeps reading the old one.
#define DATE_NODES 2
#define WARM_BARRIERS 40        // the clocks move well past what a restart's first barrier reaches

static volatile uint64_t weak_seen[DSM_MAX_NODES][2];

static void weak_dates(struct dsm_thread *t, uint64_t unused)
{
    (void)unused;
    unsigned me = dsm_self(t);
    volatile uint64_t *x = (volatile uint64_t *)(DSM_BASE + DSM_PAGE);
    if (!dsm_resumed(t, NULL)) {
        for (unsigned i = 0; i < WARM_BARRIERS; i++)
            dsm_barrier(t);
        if (me == 0)
            *x = 1;
        dsm_sync(t, x, sizeof(*x), dsm_barrier(t));
        weak_seen[me][0] = *x;
        if (dsm_checkpoint(t, 1) != 0)
            weak_seen[me][0] = 0;
    }
    if (me == 0)
        *x = 2;
    dsm_sync(t, x, sizeof(*x), dsm_barrier(t));
    weak_seen[me][1] = *x;
    dsm_barrier(t);
}

// Runs weak_dates on the instance there is; false if it did not finish.
static bool run_weak(void)
{
    for (unsigned n = 0; n < DSM_MAX_NODES; n++)
        weak_seen[n][0] = weak_seen[n][1] = 0;
    return dsm_run(weak_dates, 0) == 0 && dsm_check() == NULL;
}

UTEST(dsm_repository_keeps_the_dates_weak_copies_rely_on)
{
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &saved_memory);
    const struct dsm_config weak = {.nodes = DATE_NODES, .pages = 4, .model = DSM_WEAK,
                                    .transport = DSM_TRANSPORT_LRPC};
    UCHECK(dsm_start(&weak));
    dsm_repository_target(&st);
    bool ran = run_weak();
    dsm_repository_target(NULL);
    dsm_stop();
    UCHECK(ran);
    for (unsigned n = 0; n < DATE_NODES; n++)
        UCHECK(weak_seen[n][0] == 1 && weak_seen[n][1] == 2);
    // Restarted: node 1's copy from before the checkpoint is dropped.
    UCHECK(dsm_restart(&st, NULL, NULL) == 0);
    ran = run_weak();
    dsm_stop();
    printf("# restarted: node 1 read %lu after the sync\n", (unsigned long)weak_seen[1][1]);
    UCHECK(ran && weak_seen[0][1] == 2 && weak_seen[1][1] == 2);
    // The clocks lost: the copy outlives the sync.
    uint64_t bytes = ((struct dsm_repo_header *)saved)->total_bytes;
    memcpy(work, saved, bytes);
    uint64_t clock = 0;
    for (unsigned n = 0; n < DATE_NODES; n++) {
        clock = work_node(n)->clock > clock ? work_node(n)->clock : clock;
        work_node(n)->clock = work_node(n)->barrier_date = work_node(n)->barrier_previous = 0;
    }
    reseal();
    mf_ckpt_memory_store(&st, &work_memory);
    UCHECK(dsm_restart(&st, NULL, NULL) == 0);
    ran = run_weak();
    dsm_stop();
    printf("# clocks (up to %lu) lost: node 1 read %lu after the sync\n", (unsigned long)clock,
           (unsigned long)weak_seen[1][1]);
    UCHECK(ran && weak_seen[0][1] == 2 && weak_seen[1][1] == 1);
    return NULL;
}

// ------------------------------------------------------------------ on disk
// The first boot writes the repository to the data disk (test_disk.h) and
// restarts from it; tools/qemu then boots the machine again on the same
// disk, where the second test restarts from it in a machine that never ran
// the Jacobi, and compares the checksums the two boots print.

UTEST(dsm_repository_goes_to_disk_and_back)
{
    if (test_disk_second_boot())
        return "SKIP the first boot writes the repository";
    struct mf_ckpt_store st;
    const char *why = test_disk_open(TEST_DISK_DSM_SECTOR, TEST_DISK_DSM_END, &st);
    uint64_t reference = 0, checkpointed = 0, restarted = 0;
    long error = 0;
    if (!why) {
        reference = reference_run();
        checkpointed = checkpointed_run(&st);
        restarted = restarted_run(&st, &error);
        if (error)
            printf("# restart from the disk: %s\n", mf_strerror(error));
    }
    test_disk_close();
    if (why)
        return why;
    printf("# dsm repository on the data disk: sector %u; uninterrupted %016lx, checkpointed %016lx, "
           "restarted %016lx\n", TEST_DISK_DSM_SECTOR, (unsigned long)reference, (unsigned long)checkpointed,
           (unsigned long)restarted);
    printf("# dsm repository: uninterrupted checksum %016lx\n", (unsigned long)reference);
    UCHECK(reference != 0 && checkpointed == reference && restarted == reference);
    return NULL;
}

UTEST(dsm_repository_restart_after_reboot)
{
    if (!test_disk_second_boot())
        return "SKIP runs in the second boot tools/qemu makes on the same disk (ckpt-reboot)";
    struct mf_ckpt_store st;
    const char *why = test_disk_open(TEST_DISK_DSM_SECTOR, TEST_DISK_DSM_END, &st);
    uint64_t reference = 0, restarted = 0;
    long error = 0;
    if (!why) {
        restarted = restarted_run(&st, &error);
        if (error)
            printf("# restart from the disk: %s\n", mf_strerror(error));
        reference = reference_run();
    }
    test_disk_close();
    if (why)
        return why;
    printf("# dsm repository: restarted checksum %016lx (uninterrupted in this boot %016lx)\n",
           (unsigned long)restarted, (unsigned long)reference);
    UCHECK(error == 0 && reference != 0 && restarted == reference);
    return NULL;
}
