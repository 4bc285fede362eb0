// The copy side of the protocol: what a node does with its own copies.
//
// A node's copy of page p is a frame of its pool (seen by the engine at its
// alias in node memory) mapped into the node's segment at DSM_BASE + p pages
// with the rights the directory granted. Faults turn into requests to the
// page's probable manager; grants install copies; the manager's demands
// (invalidate, downgrade, pull) are answered with the writer's diff.
#include "node.h"

// ------------------------------------------------------------ the pool

int frame_alloc(void)
{
    struct node *self = NODE;
    int f = self->frame_free;
    if (f < 0) {
        printf("dsm: node %u: out of frames (%u)\n", self->id, self->pool_frames);
        return -1;
    }
    self->frame_free = self->frame_next[f];
    if (++self->frames_used > self->frames_peak)
        self->frames_peak = self->frames_used;
    return f;
}

void frame_free(int f)
{
    struct node *self = NODE;
    self->frame_next[f] = self->frame_free;
    self->frame_free = (int16_t)f;
    self->frames_used--;
}

// Makes our segment map page p with `access` (the copy must exist; read
// back first if it is paged out); false if it could not be or the kernel
// refused (printed).
bool map_app(unsigned p, unsigned access)
{
    struct page *pg = &NODE->page[p];
    if (access == pg->access)
        return true;
    if (access != ACC_NONE && (!page_ready(p) || pg->frame < 0)) {
        printf("dsm: node %u: page %u: no copy to map\n", NODE->id, p);
        return false;
    }
    if (access == ACC_WRITE)
        pageout_changed(p);     // the application may write it
    long cap = CAP_POOL_APP + pg->frame, r;
    unsigned rights = MF_RIGHT_READ | (access == ACC_WRITE ? MF_RIGHT_WRITE : 0);
    if (access == ACC_NONE)
        r = mf_frame_unmap(cap);
    else if (pg->access == ACC_NONE)
        r = mf_frame_map(cap, CAP_SEGMENT, DSM_BASE + p * DSM_PAGE, rights);
    else
        r = mf_frame_protect(cap, rights);   // in place: readers never fault meanwhile
    if (r)
        printf("dsm: node %u: page %u: mapping %u -> %u failed: %s\n", NODE->id, p, pg->access, access,
               mf_strerror(r));
    pg->access = (uint8_t)access;
    return r == 0;
}

// Forgets our copy of p (not the reference, if we are its manager), in
// the pool or paged out.
static void forget_copy(unsigned p)
{
    struct page *pg = &NODE->page[p];
    map_app(p, ACC_NONE);
    if (pg->twin >= 0)
        frame_free(pg->twin);
    pg->twin = -1;
    if (!pg->manager && pg->frame >= 0) {
        frame_free(pg->frame);
        pg->frame = -1;
    }
    pg->evicted = pg->manager ? pg->evicted & ~EVICT_TWIN : 0;
    pageout_changed(p);
    pg->allowed = ACC_NONE;
    pg->dirty = 0;
}

void holder_drop_copy(unsigned p)
{
    forget_copy(p);
}

// The copy's diff against its twin, into `out`; afterwards the twin is what
// the diff was taken from. With `stop`, write access goes first and the copy
// is forgotten after. Otherwise a snapshot is diffed, so that a write racing
// with us lands in this diff or (the twin being the snapshot) in the next.
size_t holder_take_diff(unsigned p, uint8_t *out, bool stop)
{
    struct page *pg = &NODE->page[p];
    if (!has_twin(pg) || !page_ready(p) || pg->twin < 0)
        return 0;
    if (stop) {
        map_app(p, ACC_NONE);
        size_t bytes = diff_make(pool_page(pg->frame), pool_page(pg->twin), out);
        forget_copy(p);
        return bytes;
    }
    uint8_t *snapshot = (uint8_t *)(NODE_BASE + OFF_SCRATCH);
    memcpy(snapshot, pool_page(pg->frame), DSM_PAGE);
    size_t bytes = diff_make(snapshot, pool_page(pg->twin), out);
    memcpy(pool_page(pg->twin), snapshot, DSM_PAGE);
    pageout_changed(p);
    page_done(p);           // a release flushes many pages in one message
    return bytes;
}

// ------------------------------------------------------------- requests

void holder_request(unsigned p, unsigned access, unsigned model, unsigned port, uint8_t xmask)
{
    struct node *self = NODE;
    struct page *pg = &self->page[p];
    struct request r = {
        .page = (uint16_t)p,
        .origin = (uint8_t)self->id,
        .access = (uint8_t)access,
        .model = (uint8_t)model,
        .xmask = xmask,
        .next = -1,
        .have_version = has_data(pg) ? pg->version : 0,
        .constraint = pg->constraint,
    };
    for (unsigned i = 0; i < DSM_XFETCH_MAX; i++)
        r.xmodel[i] = p + 1 + i < self->pages ? self->page[p + 1 + i].model : 0;
    if (pg->evicted & EVICT_DROPPED)
        self->stats.refetches++;
    pg->waiting = (uint8_t)(port + 1);
    struct msg *m = msg_begin(MSG_REQUEST);
    msg_put(m, &r, sizeof(r));
    msg_send(m, pg->manager ? self->id : pg->hint);
}

// Xfetch (DEX): a read fault on the page where the last fetch stopped
// continues a sequential stream; from the second such fault on, ask for the
// next k pages too, in the same request, from the same manager. Pages we
// hold, are fetching, or believe managed elsewhere are left out: the bulk
// reply is one message from one node.
static uint8_t xfetch_mask(unsigned p)
{
    struct node *self = NODE;
    self->run = (int32_t)p == self->stream_next ? self->run + 1 : 0;
    self->stream_next = (int32_t)p + 1;
    if (!self->xfetch || self->run < 1 || self->page[p].manager)
        return 0;
    uint8_t mask = 0;
    unsigned hint = self->page[p].hint, last = p;
    for (unsigned i = 0; i < self->xfetch && p + 1 + i < self->pages; i++) {
        const struct page *q = &self->page[p + 1 + i];
        if (!has_data(q) && !q->waiting && !q->manager && q->hint == hint) {
            mask |= (uint8_t)(1u << i);
            last = p + 1 + i;
        }
    }
    self->stream_next = (int32_t)last + 1;
    return mask;
}

void holder_fault(unsigned port, uint64_t addr, unsigned mf_access)
{
    struct node *self = NODE;
    self->stats.faults++;
    if (addr < DSM_BASE || addr >= DSM_BASE + self->pages * DSM_PAGE) {
        port_complete(port, -E_RANGE);
        return;
    }
    unsigned p = (unsigned)((addr - DSM_BASE) / DSM_PAGE);
    unsigned access = mf_access & MF_ACCESS_WRITE ? ACC_WRITE : ACC_READ;
    struct page *pg = &self->page[p];
    pageout_used(p);
    if (pg->access >= access) {
        self->stats.local_faults++;     // a grant got here first
        port_complete(port, 0);
        return;
    }
    if (pg->allowed >= access && has_data(pg)) {
        // Ours to allow: a release writer writing again after a release,
        // or a page we hold that was paged out (read back first; held,
        // as a fetched page is, until the faulting thread has used it).
        bool back = pg->frame < 0;
        if (!map_app(p, access)) {
            port_complete(port, -E_NOMEM);
            return;
        }
        if (access == ACC_WRITE)
            pg->dirty = 1;
        if (back)
            pg->hold_until = (uint32_t)mf_time() + HOLD_TICKS;
        self->stats.local_faults++;
        port_complete(port, 0);
        return;
    }
    if (pg->orphan || (!pg->manager && node_dead(pg->hint))) {
        pg->orphan = 1;                 // its manager died (failure.c)
        port_complete(port, -E_DEAD);
        return;
    }
    if (pg->waiting) {
        // Another port's request for the page is in flight (one request per
        // page at a time): let the thread retry; it finds the grant or
        // faults again.
        port_complete(port, 0);
        return;
    }
    holder_request(p, access, pg->model, port, access == ACC_READ ? xfetch_mask(p) : 0);
}

// --------------------------------------------------------------- grants

// Installs one granted page; `data` is its contents or NULL (then our
// copy, read back if paged out, is current). False if there is no room.
static bool install(const struct grant_entry *e, const uint8_t *data, const struct directory_image *image)
{
    struct node *self = NODE;
    struct page *pg = &self->page[e->page];
    pageout_used(e->page);
    if (!page_ready(e->page) || (pg->frame < 0 && (pg->frame = (int16_t)frame_take()) < 0))
        return false;
    pg->evicted = 0;            // a dropped copy is back
    pageout_changed(e->page);
    if (data)
        memcpy(pool_page(pg->frame), data, DSM_PAGE);
    if (e->flags & GRANT_TWIN) {
        if (pg->twin < 0 && (pg->twin = (int16_t)frame_take()) < 0)
            return false;
        memcpy(pool_page(pg->twin), pool_page(pg->frame), DSM_PAGE);
        self->stats.twins++;
    } else if (pg->twin >= 0) {
        frame_free(pg->twin);
        pg->twin = -1;
    }
    if (image) {
        struct directory *d = &self->dir[e->page];
        memset(d, 0, sizeof(*d));
        memcpy(d->access, image->access, sizeof(d->access));
        memcpy(d->model, image->model, sizeof(d->model));
        memcpy(d->pulled, image->pulled, sizeof(d->pulled));
        d->version = image->version;
        d->queue_head = d->queue_tail = -1;
        pg->manager = 1;
        pg->hint = (uint8_t)self->id;
        self->stats.migrations++;
    }
    pg->version = e->version;
    pg->valid_before = e->valid_before;
    pg->model = e->model;
    pg->allowed = e->access;
    if (e->access == ACC_WRITE)
        pg->dirty = 1;
    if (e->access == ACC_WRITE && e->model == DSM_WEAK)
        bit_set(self->weak_written, e->page);
    pg->prefetched = (e->flags & GRANT_PREFETCH) != 0;
    if (pg->prefetched)
        self->stats.prefetched++;
    return map_app(e->page, e->access);
}

void holder_grant(const struct msg *m)
{
    struct node *self = NODE;
    const struct grant_entry *e = (const struct grant_entry *)m->payload;
    const uint8_t *at = (const uint8_t *)(e + m->count);
    const struct directory_image *image = NULL;
    if (m->count && e[0].flags & GRANT_MANAGER) {
        image = (const struct directory_image *)at;
        at += sizeof(*image);
    }
    uint16_t installed[1 + DSM_XFETCH_MAX];
    bool ok[1 + DSM_XFETCH_MAX];
    for (unsigned i = 0; i < m->count; i++) {
        const uint8_t *data = e[i].flags & GRANT_DATA ? at : NULL;
        if (data)
            at += DSM_PAGE;
        ok[i] = install(&e[i], data, i == 0 ? image : NULL);
        if (!image)
            self->page[e[i].page].hint = m->src;
        installed[i] = e[i].page;
    }
    // The manager's transaction ends with our ack; a migration ends at once.
    if (!image) {
        struct msg *ack = msg_begin(MSG_GRANT_ACK);
        ack->count = m->count;
        msg_put(ack, installed, m->count * sizeof(installed[0]));
        msg_send(ack, m->src);
    }
    for (unsigned i = 0; i < m->count; i++) {
        struct page *pg = &self->page[e[i].page];
        if (!pg->waiting)
            continue;
        unsigned port = pg->waiting - 1u;
        pg->waiting = 0;
        if (!ok[i] && (self->port[port].op == OP_FAULT || self->port[port].op == OP_ACCESS)) {
            port_complete(port, -E_NOMEM);     // no room for it: the node has failed (node_fail)
        } else if (self->port[port].op == OP_FAULT) {
            pg->hold_until = (uint32_t)mf_time() + HOLD_TICKS;
            port_complete(port, 0);
        } else {
            port_progress(port);
        }
    }
}

// ------------------------------------------------------ manager's demands

// INVALIDATE (drop the copy), DOWNGRADE (stop writing) or PULL (send what
// you wrote, keep writing). Write access goes first, so the diff taken
// after it is final; a pull diffs a snapshot (holder_take_diff). A writer
// that is not the manager always has a twin; the manager's writes are in
// the reference already.
//
// Progress (not correctness): a page fetched for a fault is held until the
// next timer tick (Mirage's delta) before an INVALIDATE or DOWNGRADE takes
// it away, so the faulting thread gets to use it; otherwise two nodes that
// keep faulting on one page can take it from each other forever, each
// losing it before its thread runs again.
static void answer_demand(unsigned type, unsigned p, unsigned from);

void holder_invalidate(const struct msg *m)
{
    struct node *self = NODE;
    unsigned p = (unsigned)m->arg[0];
    struct page *pg = &self->page[p];
    if (!pg->manager)
        pg->hint = m->src;      // only a manager sends these
    if (m->type != MSG_PULL && (int32_t)(pg->hold_until - (uint32_t)mf_time()) > 0 &&
        self->deferred_count < DEFERRED_MAX) {
        self->deferred[self->deferred_count++] = (struct deferred){m->type, m->src, (uint16_t)p};
        return;
    }
    answer_demand(m->type, p, m->src);
}

bool holder_deferred(void)
{
    struct node *self = NODE;
    if (!self->deferred_count)
        return false;
    uint32_t now = (uint32_t)mf_time();
    for (unsigned i = 0; i < self->deferred_count;) {
        struct deferred d = self->deferred[i];
        if ((int32_t)(self->page[d.page].hold_until - now) > 0) {
            i++;
            continue;
        }
        self->deferred[i] = self->deferred[--self->deferred_count];
        pageout_event();
        answer_demand(d.type, d.page, d.from);
    }
    return self->deferred_count != 0;
}

// The manager's own copy, downgraded without a message (Xfetch).
bool holder_may_downgrade(unsigned p)
{
    return (int32_t)(NODE->page[p].hold_until - (uint32_t)mf_time()) <= 0;
}

void holder_downgrade_local(unsigned p)
{
    struct page *pg = &NODE->page[p];
    if (pg->access == ACC_WRITE)
        map_app(p, ACC_READ);
    if (pg->allowed == ACC_WRITE)
        pg->allowed = ACC_READ;
    pg->dirty = 0;
}

static void answer_demand(unsigned type, unsigned p, unsigned from)
{
    struct node *self = NODE;
    struct page *pg = &self->page[p];
    if (has_twin(pg))
        page_ready(p);          // a writer's copy and twin come back for the diff
    struct msg *ack = msg_begin(MSG_ACK);
    ack->arg[0] = p;
    ack->arg[2] = ++self->clock;    // our writes dated before this are in the diff
    uint8_t *diff = msg_put(ack, NULL, 0);
    size_t bytes = 0;
    switch (type) {
    case MSG_INVALIDATE:
        ack->arg[1] = ACK_INVALIDATE;
        map_app(p, ACC_NONE);
        if (pg->twin >= 0)
            bytes = diff_make(pool_page(pg->frame), pool_page(pg->twin), diff);
        if (pg->frame >= 0 && !pg->manager)
            self->stats.invalidations++;
        forget_copy(p);
        break;
    case MSG_DOWNGRADE:
        ack->arg[1] = ACK_DOWNGRADE;
        if (pg->access == ACC_WRITE)
            map_app(p, ACC_READ);
        if (pg->twin >= 0) {
            bytes = diff_make(pool_page(pg->frame), pool_page(pg->twin), diff);
            frame_free(pg->twin);
            pg->twin = -1;
            pageout_changed(p);
        }
        if (pg->allowed == ACC_WRITE)
            pg->allowed = ACC_READ;
        pg->dirty = 0;
        break;
    default:    // MSG_PULL
        ack->arg[1] = ACK_PULL;
        bytes = holder_take_diff(p, diff, false);
        break;
    }
    ack->length += (uint32_t)bytes;
    msg_send(ack, from);
}
