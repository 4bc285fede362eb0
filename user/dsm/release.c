// Release, acquire and sync: when the copies of release and weak pages
// catch up with other nodes' writes.
//
// Release pages (lazy release consistency with MWPF's delayed, batched
// invalidations): a writer's changes reach the page's manager at its
// release, as diffs, and each manager answers with the page's new version.
// Those (page, version) write notices travel with the synchronisation —
// the unlock to the lock's manager and on with the next lock grant; the
// barrier arrival to the barrier master and back to everyone with the
// release — and the acquirer drops its copies older than a notice. A node
// hands on every notice it knows of, not only its own, so a write released
// under one lock reaches a node that later passes a barrier or another
// lock after the writer's acquirer (release consistency is transitive). No
// invalidation message is sent when a release page is written: they are
// delayed to the acquire and batched into the one message it waits for.
//
// Weak pages (Mome): no invalidation is sent when they are written.
// dsm_sync(range, date) drops the copies not known to hold every write
// dated before `date` (their valid-before date is older); the next access
// fetches a version that does, the manager pulling the diffs it needs. At a
// barrier's date the barrier's batch of written pages (MWPF) spares the
// copies nobody wrote since the barrier before.
#include "engine.h"

// ---------------------------------------------------------------- work
// A port's operation lists its steps (struct work) and port_pump sends
// them, PORT_WINDOW unanswered at most; each reply (a FLUSH_ACK entry, a
// GRANT) lets the next go.

static void work_reset(unsigned port)
{
    struct port *pt = &NODE->port[port];
    pt->work_count = pt->work_next = 0;
    pt->outstanding = 0;
}

static void work_add(unsigned port, unsigned page, unsigned kind, unsigned access, unsigned model)
{
    struct port *pt = &NODE->port[port];
    if (pt->work_count < sizeof(pt->work) / sizeof(pt->work[0]))
        pt->work[pt->work_count++] = (struct work){.page = (uint16_t)page, .kind = (uint8_t)kind,
                                                   .access = (uint8_t)access, .model = (uint8_t)model};
}

// One FLUSH: the diffs of the next flush steps for the same manager, as
// many as the window and the message allow. A page with nothing written
// since its last flush is skipped, unless it is being given up.
static void send_flush(unsigned port)
{
    struct node *self = NODE;
    struct port *pt = &self->port[port];
    const struct work *first = &pt->work[pt->work_next];
    unsigned dst = self->page[first->page].hint, kind = first->kind;
    bool drop = kind == WORK_FLUSH_DROP;
    struct msg *m = msg_begin(MSG_FLUSH);
    m->arg[0] = port;
    m->arg[1] = ++self->clock;      // our writes dated before this are in the diffs
    while (pt->work_next < pt->work_count && pt->outstanding < PORT_WINDOW &&
           m->length + sizeof(struct flush_entry) + DIFF_MAX <= MSG_MAX) {
        const struct work *w = &pt->work[pt->work_next];
        if (w->kind != kind || self->page[w->page].hint != dst)
            break;
        pt->work_next++;
        struct flush_entry *fe = msg_put(m, NULL, sizeof(*fe));
        size_t bytes = holder_take_diff(w->page, (uint8_t *)(fe + 1), drop);
        if (!bytes && !drop) {
            m->length -= sizeof(*fe);
            continue;
        }
        *fe = (struct flush_entry){.page = w->page, .flags = drop ? FLUSH_DROP : 0, .diff_bytes = (uint32_t)bytes};
        m->length += (uint32_t)((bytes + 7) & ~(size_t)7);
        m->count++;
        pt->outstanding++;
    }
    if (m->count)
        msg_send(m, dst);
    else
        msg_cancel(m);
}

void port_pump(unsigned port)
{
    struct port *pt = &NODE->port[port];
    while (pt->work_next < pt->work_count && pt->outstanding < PORT_WINDOW) {
        const struct work *w = &pt->work[pt->work_next];
        if (w->kind != WORK_REQUEST) {
            send_flush(port);
            continue;
        }
        pt->work_next++;
        pt->outstanding++;
        holder_request(w->page, w->access, w->model, port, 0);
    }
    if (pt->work_next == pt->work_count && pt->outstanding == 0)
        port_continue(port);
}

// Tells the managers of `pages` that we no longer hold them (no reply).
static void send_drops(const uint16_t *pages, unsigned count)
{
    struct node *self = NODE;
    for (unsigned dst = 0; dst < self->nodes; dst++) {
        struct msg *m = NULL;
        for (unsigned i = 0; i < count; i++) {
            if (self->page[pages[i]].hint != dst)
                continue;
            if (!m)
                m = msg_begin(MSG_DROP);
            msg_put(m, &pages[i], sizeof(pages[i]));
            m->count++;
        }
        if (m)
            msg_send(m, dst);
    }
}

// ----------------------------------------------------------------- release

// First half of an unlock or a barrier: our writes to release pages go to
// their managers. As the manager of a page we write, our writes are in the
// reference already: a new version is the notice, and the page turns
// read-only so that the next write shows it changed again.
void release_start(unsigned port)
{
    struct node *self = NODE;
    work_reset(port);
    for (unsigned q = 0; q < self->pages; q++) {
        struct page *pg = &self->page[q];
        if (pg->model != DSM_RELEASE || pg->allowed != ACC_WRITE)
            continue;
        if (!pg->manager) {
            work_add(port, q, WORK_FLUSH, 0, 0);
        } else if (pg->dirty) {
            // Read-only first: a write from now on faults and counts for
            // the next release, not this one. (Paged out, it is unmapped.)
            if (pg->access == ACC_WRITE)
                map_app(q, ACC_READ);
            pg->dirty = 0;
            self->known[q] = ++self->dir[q].version;
        }
    }
    port_pump(port);
}

// The managers' answers to our flushes: versions for our write notices.
void release_flush_ack(const struct msg *m)
{
    struct node *self = NODE;
    const struct notice *n = (const struct notice *)m->payload;
    for (unsigned i = 0; i < m->count; i++) {
        if (n[i].page < self->pages)
            self->known[n[i].page] = max_u64(self->known[n[i].page], n[i].version);
        port_progress((unsigned)m->arg[0] % PORTS);
    }
}

// ----------------------------------------------------------------- acquire

// Second half of a lock or a barrier: drop the release copies the notices
// say are old (flushing what we wrote to them first).
void acquire_notices(unsigned port, const struct notice *n, unsigned count)
{
    struct node *self = NODE;
    uint16_t drop[DSM_MAX_PAGES];
    unsigned drops = 0;
    self->port[port].step = 1;
    work_reset(port);
    for (unsigned i = 0; i < count; i++) {
        unsigned q = n[i].page;
        if (q >= self->pages)
            continue;
        struct page *pg = &self->page[q];
        self->known[q] = max_u64(self->known[q], n[i].version);
        if (pg->model != DSM_RELEASE || pg->manager || !has_data(pg) || pg->version >= n[i].version)
            continue;
        self->stats.notices_applied++;
        if (has_twin(pg)) {
            work_add(port, q, WORK_FLUSH_DROP, 0, 0);
        } else {
            holder_drop_copy(q);
            drop[drops++] = (uint16_t)q;
        }
    }
    send_drops(drop, drops);
    port_pump(port);
}

// -------------------------------------------------------------------- sync

// Whether a twinned writer of p may have writes dated before `date` that
// are not in the reference yet.
static bool needs_pull(unsigned p, uint64_t date)
{
    const struct directory *d = &NODE->dir[p];
    for (unsigned k = 0; k < NODE->nodes; k++)
        if (k != NODE->id && d->access[k] == ACC_WRITE && d->pulled[k] < date)
            return true;
    return false;
}

void sync_start(unsigned port, unsigned first, unsigned count, uint64_t date)
{
    struct node *self = NODE;
    uint16_t drop[DSM_MAX_PAGES];
    unsigned drops = 0;
    work_reset(port);
    self->clock = max_u64(self->clock, date);
    for (unsigned q = first; q < first + count && q < self->pages; q++) {
        struct page *pg = &self->page[q];
        if (pg->model != DSM_WEAK)
            continue;
        pg->constraint = max_u64(pg->constraint, date);
        if (pg->manager) {
            // Our copy is the reference: bring the writers' diffs in.
            if (needs_pull(q, date))
                work_add(port, q, WORK_REQUEST, pg->allowed > ACC_READ ? pg->allowed : ACC_READ, DSM_WEAK);
            continue;
        }
        if (!has_data(pg) || pg->valid_before >= date)
            continue;
        // MWPF: at the last barrier's date, a copy holding every write up to
        // the barrier before is still whole unless the barrier's batch says
        // someone wrote the page in between (the arrivals cover every write
        // dated between the two barriers).
        if (date == self->barrier_date && pg->valid_before >= self->barrier_previous &&
            !bit_test(self->weak_changed, q)) {
            pg->valid_before = date;
            self->stats.sync_kept++;
            continue;
        }
        self->stats.notices_applied++;
        if (has_twin(pg)) {
            work_add(port, q, WORK_FLUSH_DROP, 0, 0);
        } else {
            holder_drop_copy(q);
            drop[drops++] = (uint16_t)q;
        }
    }
    send_drops(drop, drops);
    port_pump(port);
}

// ------------------------------------------------------------ model change

// Copies held under another model are asked for again under the new one
// (twinned writers flush first, on the same path, so the manager merges
// before it answers); the manager applies its rules to the new contract.
void set_model_start(unsigned port, unsigned first, unsigned count, unsigned model)
{
    struct node *self = NODE;
    work_reset(port);
    unsigned last = first + count < self->pages ? first + count : self->pages;
    for (unsigned q = first; q < last; q++) {
        struct page *pg = &self->page[q];
        if (pg->model != model && pg->allowed == ACC_NONE)
            pg->model = (uint8_t)model;
        else if (pg->model != model && has_twin(pg))
            work_add(port, q, WORK_FLUSH, 0, 0);
    }
    // The requests after every flush: each reaches the manager behind its page's diff.
    for (unsigned q = first; q < last; q++) {
        struct page *pg = &self->page[q];
        if (pg->model != model)
            work_add(port, q, WORK_REQUEST, pg->allowed, model);
    }
    port_pump(port);
}
