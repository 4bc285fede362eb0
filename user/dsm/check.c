// The page-state invariant checker (docs/dsm.md, "Invariants"). The root
// task runs it between phases of a test, when no application thread runs
// and every node is idle: it reads each node's state by entering the
// node's VAS and checks, for every page, what the protocol promises.
#include "engine.h"
#include "link.h"
#include "lib/fmt.h"
#include "lib/crc32.h"
#include "lib/string.h"

static struct page pages[DSM_MAX_NODES][DSM_MAX_PAGES];
static uint32_t disk_crc[DSM_MAX_NODES][DSM_MAX_PAGES][2];     // of pages out of the pool (page-out)
static struct directory dirs[DSM_MAX_PAGES];    // from each page's manager
static int manager_of[DSM_MAX_PAGES];
static uint8_t reference[DSM_PAGE], copy[DSM_PAGE];
static char why[160];

#define FAIL(...) do { snprintf(why, sizeof(why), __VA_ARGS__); return why; } while (0)

// Copies node n's page table and the directories it manages; checks that
// it is idle and that its pool accounts for every frame.
static const char *snapshot(unsigned n, unsigned page_count)
{
    if (!dsm_enter(n))
        FAIL("cannot enter node %u", n);
    const struct node *s = NODE;
    const char *bad = NULL;
    unsigned frames = 0;
    for (unsigned p = 0; p < PORTS; p++)
        if (s->port[p].active || s->port[p].posted)
            bad = "a port is busy";
    for (unsigned i = 0; i < s->nodes; i++)
        if (!ring_empty(s->inbox[i]))
            bad = "a message is waiting in an inbox";
    if (!ring_empty(s->outbox))
        bad = "a message is waiting in the outbox";
    memcpy(pages[n], s->page, sizeof(pages[n]));
    memcpy(disk_crc[n], s->pageout.crc, sizeof(disk_crc[n]));
    for (unsigned p = 0; p < page_count; p++) {
        frames += (s->page[p].frame >= 0) + (s->page[p].twin >= 0);
        if (s->page[p].manager) {
            if (manager_of[p] >= 0)
                bad = "two managers";
            manager_of[p] = (int)n;
            dirs[p] = s->dir[p];
        }
    }
    if (frames != s->frames_used)
        bad = "the pool lost frames";
    mf_vas_switch(0);
    if (bad)
        FAIL("node %u: %s", n, bad);
    return NULL;
}

static bool read_copy(unsigned n, int frame, uint8_t *out)
{
    if (!dsm_enter(n))
        return false;
    memcpy(out, pool_page(frame), DSM_PAGE);
    mf_vas_switch(0);
    return true;
}

// Node n's copy of page p (which 0) or its twin (1) wherever it is: in its
// pool, in the page-out area (where its CRC must be the one the node kept),
// or nowhere yet (a zero page). False if it cannot be read, or it differs
// from what the node wrote.
static bool read_data(unsigned n, unsigned page_count, unsigned p, unsigned which, uint8_t *out)
{
    const struct page *pg = &pages[n][p];
    int frame = which ? pg->twin : pg->frame;
    if (frame >= 0)
        return read_copy(n, frame, out);
    if (pg->evicted & EVICT_ZERO) {
        memset(out, 0, DSM_PAGE);
        return true;
    }
    return (pg->evicted & EVICT_DISK) && pageout_read(n, page_count, p, which, out) &&
           crc32_update(0, out, DSM_PAGE) == disk_crc[n][p][which];
}

// Where page p is at node k: in the pool or out of it, consistently with
// what k holds: a dropped copy is a read copy of a node that does not
// manage the page; on disk, a reference copy or a writer's (with its twin
// when it has one), as the node wrote it; a zero page, a reference copy.
static const char *check_evicted(unsigned k, unsigned page_count, unsigned p, int m)
{
    const struct page *pg = &pages[k][p];
    unsigned e = pg->evicted;
    if (!e)
        return NULL;
    if (pg->frame >= 0 || pg->twin >= 0 || pg->access)
        FAIL("page %u: node %u has it both in its pool and out of it", p, k);
    bool manager = (int)k == m;
    if ((e == EVICT_DROPPED && (manager || pg->allowed != ACC_READ)) ||
        (e == EVICT_ZERO && !manager) ||
        ((e & EVICT_DISK) && !manager && pg->allowed != ACC_WRITE) ||
        ((e & EVICT_TWIN) && (manager || !(e & EVICT_DISK))) ||
        (e != EVICT_DROPPED && e != EVICT_ZERO && e != EVICT_DISK && e != (EVICT_DISK | EVICT_TWIN)))
        FAIL("page %u: node %u has it out of its pool as it should not (%#x, allowed %u)", p, k, e, pg->allowed);
    for (unsigned which = 0; (e & EVICT_DISK) && which < 1u + !!(e & EVICT_TWIN); which++)
        if (!read_data(k, page_count, p, which, copy))
            FAIL("page %u: node %u's %s in the page-out area is not what it wrote", p, k, which ? "twin" : "copy");
    return NULL;
}

// One page across the nodes.
static const char *check_page(unsigned p, unsigned nodes, unsigned page_count)
{
    int m = manager_of[p];
    if (m < 0)
        FAIL("page %u has no manager", p);
    const struct directory *d = &dirs[p];
    if (d->busy || d->queue_head >= 0)
        FAIL("page %u: a transaction is open at node %d", p, m);
    if (!has_data(&pages[m][p]) || has_twin(&pages[m][p]))
        FAIL("page %u: the manager (node %d) has no reference copy, or a twin", p, m);
    int writer = -1, strong_writer = -1;
    unsigned writers = 0, twinned_writers = 0;
    for (unsigned k = 0; k < nodes; k++) {
        const struct page *pg = &pages[k][p];
        // The directory agrees with the holders.
        if (d->access[k] != pg->allowed)
            FAIL("page %u: directory says node %u holds %u, it holds %u", p, k, d->access[k], pg->allowed);
        if (pg->allowed && d->model[k] != pg->model)
            FAIL("page %u: directory and node %u disagree on the model", p, k);
        if (pg->access > pg->allowed || (pg->access && pg->frame < 0))
            FAIL("page %u: node %u maps more than it holds", p, k);
        if ((int)k != m && !pg->allowed && (pg->frame >= 0 || pg->evicted))
            FAIL("page %u: node %u kept a copy it gave up", p, k);
        if ((int)k != m && (pg->allowed == ACC_WRITE) != has_twin(pg))
            FAIL("page %u: node %u writes without a twin (or has one without writing)", p, k);
        const char *bad = check_evicted(k, page_count, p, m);
        if (bad)
            return bad;
        if (pg->waiting)
            FAIL("page %u: node %u still waits for it", p, k);
        // Hints lead to the manager.
        unsigned at = k, steps = 0;
        while ((int)at != m && steps++ < nodes)
            at = pages[at][p].hint;
        if ((int)at != m)
            FAIL("page %u: node %u's hints do not lead to the manager", p, k);
        if (pg->allowed == ACC_WRITE) {
            writers++;
            twinned_writers += (int)k != m;
            writer = (int)k;
            if (pg->model == DSM_STRONG)
                strong_writer = (int)k;
        }
    }
    if (twinned_writers && d->access[m] != ACC_WRITE)
        FAIL("page %u: writers with twins but the manager does not write", p);
    // Contracts: a strong holder sees no other writer; a strong writer is
    // the only writer and no release copy outlives its grant.
    for (unsigned k = 0; k < nodes; k++) {
        const struct page *pg = &pages[k][p];
        if (!pg->allowed)
            continue;
        if (pg->model == DSM_STRONG && writers > (pg->allowed == ACC_WRITE))
            FAIL("page %u: strong copy at node %u with another writer (node %d)", p, k, writer);
        if (strong_writer >= 0 && (int)k != strong_writer && (pg->allowed == ACC_WRITE || pg->model == DSM_RELEASE))
            FAIL("page %u: node %u holds it beside strong writer %d", p, k, strong_writer);
    }
    if (strong_writer >= 0 && strong_writer != m)
        FAIL("page %u: strong writer %d is not the manager %d", p, strong_writer, m);
    // Strong copies without a writer are the reference, byte for byte
    // (a dropped copy has no bytes here to compare).
    if (writers)
        return NULL;
    bool have_reference = false;
    for (unsigned k = 0; k < nodes; k++) {
        const struct page *pg = &pages[k][p];
        if ((int)k == m || pg->model != DSM_STRONG || !pg->allowed || !has_data(pg))
            continue;
        if (pg->version != d->version)
            FAIL("page %u: node %u's strong copy is version %lu, the reference %lu", p, k,
                 (unsigned long)pg->version, (unsigned long)d->version);
        if (!have_reference && !read_data((unsigned)m, page_count, p, 0, reference))
            FAIL("cannot read page %u at node %d", p, m);
        have_reference = true;
        if (!read_data(k, page_count, p, 0, copy) || memcmp(copy, reference, DSM_PAGE) != 0)
            FAIL("page %u: node %u's strong copy differs from the reference", p, k);
    }
    return NULL;
}

// Whether node n has nothing in flight: its outbox, inbox rings and (link
// transport) send queues empty. Entered by the caller.
static bool node_quiet(void)
{
    struct node *self = NODE;
    if (!ring_empty(self->outbox))
        return false;
    for (unsigned k = 0; k < self->nodes; k++)
        if (!ring_empty(self->inbox[k]))
            return false;
    if (self->transport == DSM_TRANSPORT_LINK)
        for (unsigned k = 0; k < self->nodes; k++)
            if (k != self->id && !(self->dead >> k & 1) && !ring_empty(LINK->peer[k].sendq))
                return false;
    return true;
}

// Waits (at most `ticks`) until no message is in flight anywhere, twice in
// a row: the link transport may still be resending a last ack when the
// application threads have returned.
static void settle(long ticks)
{
    for (unsigned calm = 0; calm < 2 && ticks-- > 0;) {
        bool quiet = true;
        for (unsigned n = 0; n < dsm_node_count() && quiet; n++)
            if (dsm_enter(n)) {
                quiet = node_quiet();
                mf_vas_switch(0);
            }
        calm = quiet ? calm + 1 : 0;
        mf_sleep(1);
    }
}

const char *dsm_check(void)
{
    unsigned nodes = dsm_node_count();
    if (!nodes)
        return "no DSM instance";
    settle(300);
    unsigned page_count = 0;
    if (dsm_enter(0)) {
        page_count = NODE->pages;
        mf_vas_switch(0);
    }
    for (unsigned p = 0; p < DSM_MAX_PAGES; p++)
        manager_of[p] = -1;
    for (unsigned n = 0; n < nodes; n++) {
        const char *bad = snapshot(n, page_count);
        if (bad)
            return bad;
    }
    for (unsigned p = 0; p < page_count; p++) {
        const char *bad = check_page(p, nodes, page_count);
        if (bad)
            return bad;
    }
    return NULL;
}

// For a test that failed: what each node is waiting for.
void dsm_dump(void)
{
    for (unsigned n = 0; n < dsm_node_count(); n++) {
        if (!dsm_enter(n))
            continue;
        const struct node *s = NODE;
        printf("# node %u: clock %lu, frames %u/%u, ports", n, (unsigned long)s->clock, s->frames_used,
               s->pool_frames);
        for (unsigned p = 0; p < PORTS; p++)
            printf(" [op %u active %u step %u outstanding %u posted %u]", s->port[p].op, s->port[p].active,
                   s->port[p].step, s->port[p].outstanding, s->port[p].posted);
        printf("%s\n#   sent:", ring_empty(s->outbox) ? "" : ", outbox not empty");
        for (unsigned t = 1; t < MSG_TYPE_COUNT; t++)
            if (s->stats.by_type[t])
                printf(" %s %lu", dsm_message_name(t), (unsigned long)s->stats.by_type[t]);
        printf(", faults %lu (local %lu)\n", (unsigned long)s->stats.faults, (unsigned long)s->stats.local_faults);
        if (s->pageout.mailbox)
            printf("#   page-out: %lu evictions (%lu drops, %lu to disk, %lu blocks, %lu clean), %lu page-ins, "
                   "%lu zero pages, %lu copies asked for again\n", (unsigned long)s->stats.evictions,
                   (unsigned long)s->stats.drops, (unsigned long)s->stats.page_outs,
                   (unsigned long)s->stats.disk_writes, (unsigned long)s->stats.clean_outs,
                   (unsigned long)s->stats.page_ins, (unsigned long)s->stats.zero_fills,
                   (unsigned long)s->stats.refetches);
        for (unsigned p = 0; p < s->pages; p++) {
            const struct page *pg = &s->page[p];
            const struct directory *d = &s->dir[p];
            if (pg->waiting)
                printf("#   page %u: waiting (port %u), hint %u, access %u/%u, evicted %#x\n", p, pg->waiting - 1,
                       pg->hint, pg->access, pg->allowed, pg->evicted);
            if (pg->manager && (d->busy || d->queue_head >= 0))
                printf("#   page %u: managed, busy %u acks %u granted %u, serving node %u access %u, queue %d\n",
                       p, d->busy, d->acks, d->granted, d->current.origin, d->current.access, d->queue_head);
        }
        mf_vas_switch(0);
    }
}

// Tests of the checker itself: break node n's view of page p in one of a
// few ways, as a protocol bug would, so that a test can see dsm_check
// notice. Only for an instance about to be stopped.
bool dsm_test_break(unsigned n, unsigned p, enum dsm_break how)
{
    int m = -1;
    for (unsigned k = 0; k < dsm_node_count() && m < 0; k++)
        if (dsm_enter(k)) {
            if (p < NODE->pages && NODE->page[p].manager)
                m = (int)k;
            mf_vas_switch(0);
        }
    if (m < 0 || (unsigned)m == n || !dsm_enter(n))
        return false;
    struct page *pg = &NODE->page[p];
    switch (how) {
    case DSM_BREAK_UNRECORDED_COPY:     // a copy the directory does not know of
        pg->allowed = ACC_WRITE;
        break;
    case DSM_BREAK_SECOND_WRITER:       // a writer the directory agrees to, beside the manager
        pg->allowed = ACC_WRITE;
        pg->model = DSM_STRONG;
        if (pg->twin < 0)
            pg->twin = (int16_t)frame_alloc();
        mf_vas_switch(0);
        if (!dsm_enter((unsigned)m))
            return false;
        NODE->dir[p].access[n] = ACC_WRITE;
        NODE->dir[p].model[n] = DSM_STRONG;
        NODE->dir[p].access[m] = ACC_WRITE;
        NODE->dir[p].model[m] = DSM_STRONG;
        NODE->page[p].allowed = ACC_WRITE;
        NODE->page[p].model = DSM_STRONG;
        break;
    case DSM_BREAK_HINT_CYCLE:          // forwarding that never reaches the manager
        pg->hint = (uint8_t)n;
        break;
    }
    mf_vas_switch(0);
    return true;
}
