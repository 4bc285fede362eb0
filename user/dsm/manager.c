// The directory side of the protocol (Mome's page manager).
//
// Every page has one manager: the node holding its directory (who holds the
// page, under which contract) and its reference copy. There is no fixed
// home: a page starts at node p % nodes and the manager role migrates to a
// node that becomes the page's only writer, with the directory travelling
// in the grant. Requests go to a node's probable manager and are forwarded
// along the hints of former managers (Li & Hudak's dynamic distributed
// manager); hints only ever point from an older manager to a newer one, so
// forwarding ends.
//
// The manager serves one request per page at a time. Serving a request is
// a transaction:
//
//   1. for every other holder, decide (action_for) whether the requester's
//      contract or the holder's own forces it to drop its copy
//      (INVALIDATE), to stop writing (DOWNGRADE), or to hand over what it
//      wrote so far (PULL, weak pages); send those and count the replies;
//   2. merge the diffs the replies carry into the reference copy;
//   3. grant: either the manager role itself (a sole writer), or a copy,
//      with a twin if other writers remain; the transaction ends when the
//      requester acknowledges the grant, so nothing overtakes a copy in
//      flight (the GRANT_ACK closes the race an invalidation would
//      otherwise have with it).
//
// Requests arriving meanwhile wait in the page's queue.
#include "node.h"

// ------------------------------------------------------------------- queue

static void enqueue(struct directory *d, const struct request *r)
{
    struct node *self = NODE;
    int16_t i = self->request_free;
    if (i < 0) {
        printf("dsm: node %u: request pool exhausted\n", self->id);
        return;
    }
    self->request_free = self->requests[i].next;
    self->requests[i] = *r;
    self->requests[i].next = -1;
    if (d->queue_tail >= 0)
        self->requests[d->queue_tail].next = i;
    else
        d->queue_head = i;
    d->queue_tail = i;
}

static bool dequeue(struct directory *d, struct request *out)
{
    struct node *self = NODE;
    int16_t i = d->queue_head;
    if (i < 0)
        return false;
    *out = self->requests[i];
    d->queue_head = self->requests[i].next;
    if (d->queue_head < 0)
        d->queue_tail = -1;
    self->requests[i].next = self->request_free;
    self->request_free = i;
    return true;
}

bool manager_init_page(unsigned p)
{
    struct node *self = NODE;
    struct page *pg = &self->page[p];
    pg->manager = 1;
    pg->hint = (uint8_t)self->id;
    if (self->pageout.mailbox)
        pageout_init_page(p);               // in the pool once it is used
    else
        pg->frame = (int16_t)frame_alloc(); // fresh from retype: zero
    struct directory *d = &self->dir[p];
    d->version = 1;
    d->queue_head = d->queue_tail = -1;
    return has_data(pg);
}

// ------------------------------------------------------------- the rules

enum action { KEEP, INVALIDATE, DOWNGRADE, PULL, ACTION_COUNT };

static bool twinned_writer(const struct directory *d, unsigned k)
{
    return d->access[k] == ACC_WRITE && k != NODE->id;
}

// What holder k must do before request r can be granted. A contract is
// what a holder is promised while its copy is valid (Mome): STRONG, that
// nobody else writes; RELEASE, that nobody else wrote before its last
// acquire; WEAK, nothing (it asks with dsm_sync). So a strong party on
// either side keeps a single writer; release and weak writers share a page
// through twins; and a weak reader's sync date is met by pulling what the
// twinned writers have written.
static enum action contract_action(const struct directory *d, const struct request *r, unsigned k)
{
    unsigned held = d->access[k], mk = d->model[k];
    if (r->access == ACC_WRITE) {
        if (mk == DSM_STRONG)
            return INVALIDATE;                      // k: nobody else writes
        if (r->model == DSM_STRONG)                 // r: nobody else writes
            return mk == DSM_RELEASE ? INVALIDATE : held == ACC_WRITE ? DOWNGRADE : KEEP;
        return KEEP;                                // multiple writers
    }
    if (held != ACC_WRITE)
        return KEEP;                                // readers never conflict
    if (r->model == DSM_STRONG)
        return DOWNGRADE;                           // r: nobody else writes
    if (mk == DSM_STRONG)                           // a strong writer (the manager)
        return r->model == DSM_RELEASE ? DOWNGRADE : KEEP;
    return KEEP;
}

static enum action action_for(const struct directory *d, const struct request *r, unsigned k)
{
    if (k == r->origin || d->access[k] == ACC_NONE)
        return KEEP;
    enum action a = contract_action(d, r, k);
    // A weak requester's date: what twinned writers wrote before it must be in.
    if (a == KEEP && r->model == DSM_WEAK && twinned_writer(d, k) && d->pulled[k] < r->constraint)
        return PULL;
    return a;
}

static bool other_writer(const struct directory *d, unsigned origin)
{
    for (unsigned k = 0; k < NODE->nodes; k++)
        if (k != origin && d->access[k] == ACC_WRITE)
            return true;
    return false;
}

// Every write dated before this is in the reference copy: twinned writers'
// writes are merged up to their last pull or flush.
static uint64_t valid_before(const struct directory *d, unsigned origin)
{
    uint64_t v = NODE->clock;
    for (unsigned k = 0; k < NODE->nodes; k++)
        if (k != origin && twinned_writer(d, k) && d->pulled[k] < v)
            v = d->pulled[k];
    return v;
}

// ---------------------------------------------------------- transactions

static void finish(unsigned p);

static void start(unsigned p, const struct request *r)
{
    static const uint8_t message[ACTION_COUNT] = {
        [INVALIDATE] = MSG_INVALIDATE, [DOWNGRADE] = MSG_DOWNGRADE, [PULL] = MSG_PULL,
    };
    struct node *self = NODE;
    struct directory *d = &self->dir[p];
    d->busy = 1;
    d->granted = 0;
    d->current = *r;
    d->acks = 0;
    d->owed = 0;
    for (unsigned k = 0; k < self->nodes; k++) {
        enum action a = action_for(d, r, k);
        if (a == KEEP)
            continue;
        struct msg *m = msg_begin(message[a]);
        m->arg[0] = p;
        msg_send(m, k);
        d->acks++;
        d->owed |= (uint8_t)(1u << k);
    }
    if (d->acks == 0)
        finish(p);
}

static void next(unsigned p)
{
    struct request r;
    if (dequeue(&NODE->dir[p], &r))
        start(p, &r);
}

void manager_request(const struct request *r)
{
    struct node *self = NODE;
    if (r->page >= self->pages)
        return;
    struct page *pg = &self->page[r->page];
    if (node_dead(r->origin))
        return;
    if (!pg->manager && (node_dead(pg->hint) || pg->orphan)) {
        nack_request(r, -E_DEAD);       // its directory died with its manager
        return;
    }
    if (!pg->manager) {
        struct msg *m = msg_begin(MSG_REQUEST);
        msg_put(m, r, sizeof(*r));
        msg_send(m, pg->hint);
        self->stats.forwards++;
        return;
    }
    struct directory *d = &self->dir[r->page];
    if (d->busy)
        enqueue(d, r);
    else
        start(r->page, r);
}

// A reply to INVALIDATE, DOWNGRADE or PULL, with the writer's diff if any.
void manager_ack(const struct msg *m)
{
    struct node *self = NODE;
    unsigned p = (unsigned)m->arg[0], k = m->src;
    struct directory *d = &self->dir[p];
    size_t bytes = m->length - sizeof(*m);
    if (bytes && page_ready(p) && self->page[p].frame >= 0) {
        diff_apply(pool_page(self->page[p].frame), m->payload, bytes);
        pageout_changed(p);
        self->stats.merges++;
        d->version++;
    }
    unsigned was = d->access[k];
    if (m->arg[1] == ACK_INVALIDATE)
        d->access[k] = ACC_NONE;
    else if (m->arg[1] == ACK_DOWNGRADE && was == ACC_WRITE)
        d->access[k] = ACC_READ;
    if (was == ACC_WRITE && m->arg[1] != ACK_PULL)
        d->version++;       // a writer stopped: copies taken while it wrote are old
    if (was == ACC_WRITE && k != self->id)
        d->pulled[k] = m->arg[2];
    d->owed &= (uint8_t)~(1u << k);
    if (d->acks && --d->acks == 0)
        finish(p);
}

// Appends page p's grant entry for `origin` (and, later, its data).
static struct grant_entry entry_for(unsigned p, unsigned access, unsigned model, unsigned flags)
{
    const struct directory *d = &NODE->dir[p];
    return (struct grant_entry){.page = (uint16_t)p, .access = (uint8_t)access, .model = (uint8_t)model,
                                .flags = (uint8_t)flags, .version = d->version,
                                .valid_before = valid_before(d, NODE->dir[p].current.origin)};
}

// Xfetch: page q can go along with a read grant to `origin` if we manage
// it, nobody is using its directory, and the grant needs no other node: at
// most our own write access has to go, which we take away here.
static bool prefetchable(unsigned q, unsigned origin, unsigned model)
{
    struct node *self = NODE;
    if (q >= self->pages || !self->page[q].manager || self->page[q].frame < 0)
        return false;       // (a page out of the pool is not read back for a prefetch)
    struct directory *d = &self->dir[q];
    if (d->busy || d->access[origin] != ACC_NONE)
        return false;
    struct request r = {.page = (uint16_t)q, .origin = (uint8_t)origin, .access = ACC_READ, .model = (uint8_t)model};
    bool downgrade_self = false;
    for (unsigned k = 0; k < self->nodes; k++) {
        enum action a = action_for(d, &r, k);
        if (a == DOWNGRADE && k == self->id && holder_may_downgrade(q))
            downgrade_self = true;
        else if (a != KEEP)
            return false;
    }
    if (downgrade_self) {
        holder_downgrade_local(q);
        d->access[self->id] = ACC_READ;
        d->version++;           // a writer stopped
    }
    return true;
}

// A copy (and the prefetched pages) for the requester; the manager stays.
static void grant(unsigned p)
{
    struct node *self = NODE;
    struct directory *d = &self->dir[p];
    const struct request *r = &d->current;
    unsigned o = r->origin;
    bool remote = o != self->id, writers = other_writer(d, o);
    bool current = d->access[o] != ACC_NONE && r->have_version == d->version && !writers;
    if (remote && !current && (!page_ready(p) || self->page[p].frame < 0))
        return;             // the node has failed (node_fail): nothing to grant
    if (r->access == ACC_WRITE) {
        d->version++;               // copies from before this writer are old
        if (remote)
            d->pulled[o] = self->clock;
    }
    d->access[o] = r->access;
    d->model[o] = r->model;
    struct grant_entry e[1 + DSM_XFETCH_MAX];
    unsigned count = 0;
    e[count++] = entry_for(p, r->access, r->model,
                           (remote && !current ? GRANT_DATA : 0) | (remote && r->access == ACC_WRITE ? GRANT_TWIN : 0));
    for (unsigned i = 0; remote && r->access == ACC_READ && i < DSM_XFETCH_MAX; i++) {
        unsigned q = p + 1 + i;
        if (!(r->xmask & (1u << i)) || !prefetchable(q, o, r->xmodel[i]))
            continue;
        struct directory *dq = &self->dir[q];
        dq->busy = dq->granted = 1;         // until the same GRANT_ACK
        dq->current = (struct request){.page = (uint16_t)q, .origin = (uint8_t)o, .access = ACC_READ};
        dq->access[o] = ACC_READ;
        dq->model[o] = r->xmodel[i];
        e[count++] = entry_for(q, ACC_READ, r->xmodel[i], GRANT_DATA | GRANT_PREFETCH);
    }
    struct msg *m = msg_begin(MSG_GRANT);
    m->count = (uint16_t)count;
    msg_put(m, e, count * sizeof(e[0]));
    for (unsigned i = 0; i < count; i++)
        if (e[i].flags & GRANT_DATA)
            msg_put(m, pool_page(self->page[e[i].page].frame), DSM_PAGE);
    d->granted = 1;
    msg_send(m, o);
}

// The requester becomes the page's only writer: it becomes the manager.
static void migrate(unsigned p)
{
    struct node *self = NODE;
    struct page *pg = &self->page[p];
    struct directory *d = &self->dir[p];
    const struct request r = d->current;
    unsigned o = r.origin;
    bool current = d->access[o] != ACC_NONE && r.have_version == d->version;
    if (!current && (!page_ready(p) || pg->frame < 0))
        return;             // the node has failed (node_fail): nothing to grant
    d->access[o] = ACC_WRITE;
    d->model[o] = r.model;
    d->version++;
    struct grant_entry e = entry_for(p, ACC_WRITE, r.model, GRANT_MANAGER | (current ? 0 : GRANT_DATA));
    struct directory_image image;
    memcpy(image.access, d->access, sizeof(image.access));
    memcpy(image.model, d->model, sizeof(image.model));
    memcpy(image.pulled, d->pulled, sizeof(image.pulled));
    image.version = d->version;
    struct msg *m = msg_begin(MSG_GRANT);
    m->count = 1;
    msg_put(m, &e, sizeof(e));
    msg_put(m, &image, sizeof(image));
    if (!current)
        msg_put(m, pool_page(pg->frame), DSM_PAGE);
    msg_send(m, o);
    // We keep our reference copy as an ordinary copy if the rules let us
    // keep it, as of the version before the new writer's.
    pg->manager = 0;
    pg->hint = (uint8_t)o;
    pageout_changed(p);
    if (d->access[self->id] == ACC_NONE) {
        if (pg->frame >= 0)
            frame_free(pg->frame);
        pg->frame = -1;
        pg->evicted = 0;
    } else if (pg->evicted) {
        pg->evicted = EVICT_DROPPED;    // kept as a read copy whose data is not here: asked for when needed
    }
    pg->version = d->version - 1;
    pg->valid_before = self->clock;
    d->busy = 0;
    // Whoever waited here asks the new manager; our messages to it stay in
    // order, so they arrive after the directory.
    struct request q;
    while (dequeue(d, &q)) {
        m = msg_begin(MSG_REQUEST);
        msg_put(m, &q, sizeof(q));
        msg_send(m, o);
    }
}

static void finish(unsigned p)
{
    struct directory *d = &NODE->dir[p];
    const struct request *r = &d->current;
    if (node_dead(r->origin)) {         // nobody to grant to
        d->busy = d->granted = 0;
        next(p);
        return;
    }
    if (r->access == ACC_WRITE && r->origin != NODE->id && !other_writer(d, r->origin))
        migrate(p);
    else
        grant(p);
}

void manager_grant_ack(const struct msg *m)
{
    struct node *self = NODE;
    const uint16_t *pages = (const uint16_t *)m->payload;
    for (unsigned i = 0; i < m->count; i++) {
        unsigned q = pages[i];
        struct directory *d = &self->dir[q];
        if (q >= self->pages || !self->page[q].manager || !d->granted) {
            printf("dsm: node %u: stray grant ack for page %u from %u\n", self->id, q, m->src);
            continue;
        }
        d->busy = d->granted = 0;
        next(q);
    }
}

// ------------------------------------------------- flushes and drops

// Passes entries for pages we no longer manage on to our hint, one per
// message, keeping who sent them (arg[2] = origin + 1).
static void forward_single(const struct msg *m, const void *entry, size_t bytes, unsigned p)
{
    struct msg *f = msg_begin(m->type);
    f->count = 1;
    f->arg[0] = m->arg[0];
    f->arg[1] = m->arg[1];
    f->arg[2] = m->arg[2] ? m->arg[2] : m->src + 1u;
    msg_put(f, entry, bytes);
    msg_send(f, NODE->page[p].hint);
    NODE->stats.forwards++;
}

static size_t flush_entry_bytes(const struct flush_entry *fe)
{
    return sizeof(*fe) + ((fe->diff_bytes + 7) & ~7u);
}

// A writer's diffs at a release, an acquire or a sync (arg[0] = its port,
// arg[1] = the date of its snapshot). Merged at once, even while a
// transaction on the page waits: a diff only ever adds that writer's words.
// The ack carries each page's new version: the write notices its release
// will hand on.
void manager_flush(const struct msg *m)
{
    struct node *self = NODE;
    unsigned writer = m->arg[2] ? (unsigned)m->arg[2] - 1 : m->src;
    const uint8_t *at = m->payload;
    for (unsigned i = 0; i < m->count; i++, at += flush_entry_bytes((const void *)at)) {
        const struct flush_entry *fe = (const struct flush_entry *)at;
        if (!self->page[fe->page].manager)
            forward_single(m, fe, flush_entry_bytes(fe), fe->page);
    }
    struct msg *ack = NULL;
    at = m->payload;
    for (unsigned i = 0; i < m->count; i++, at += flush_entry_bytes((const void *)at)) {
        const struct flush_entry *fe = (const struct flush_entry *)at;
        unsigned q = fe->page;
        if (!self->page[q].manager)
            continue;
        struct directory *d = &self->dir[q];
        if (fe->diff_bytes && page_ready(q) && self->page[q].frame >= 0) {
            diff_apply(pool_page(self->page[q].frame), (const uint8_t *)(fe + 1), fe->diff_bytes);
            pageout_changed(q);
            page_done(q);
            self->stats.merges++;
            d->version++;
        }
        if (d->access[writer] == ACC_WRITE)
            d->pulled[writer] = max_u64(d->pulled[writer], m->arg[1]);
        if (fe->flags & FLUSH_DROP) {
            if (d->access[writer] == ACC_WRITE)
                d->version++;
            d->access[writer] = ACC_NONE;
        }
        struct notice n = {.page = (uint16_t)q, .version = d->version};
        if (!ack) {
            ack = msg_begin(MSG_FLUSH_ACK);
            ack->arg[0] = m->arg[0];
        }
        msg_put(ack, &n, sizeof(n));
        ack->count++;
    }
    if (ack)
        msg_send(ack, writer);
}

// Copies a node gave up at an acquire or a sync (no reply).
void manager_drop(const struct msg *m)
{
    struct node *self = NODE;
    unsigned holder = m->arg[2] ? (unsigned)m->arg[2] - 1 : m->src;
    const uint16_t *pages = (const uint16_t *)m->payload;
    for (unsigned i = 0; i < m->count; i++) {
        unsigned q = pages[i];
        if (!self->page[q].manager)
            forward_single(m, &pages[i], sizeof(pages[i]), q);
        else
            self->dir[q].access[holder] = ACC_NONE;
    }
}

// ------------------------------------------------------------ a dead node

// Node `dead` holds nothing and asks for nothing any more (failure.c).
void manager_forget(unsigned dead)
{
    struct node *self = NODE;
    for (unsigned p = 0; p < self->pages; p++) {
        if (!self->page[p].manager)
            continue;
        struct directory *d = &self->dir[p];
        d->access[dead] = ACC_NONE;
        // Its queued requests go; the others keep their order.
        struct request kept[48], r;
        unsigned count = 0;
        while (dequeue(d, &r))
            if (r.origin != dead && count < sizeof(kept) / sizeof(kept[0]))
                kept[count++] = r;
        for (unsigned i = 0; i < count; i++)
            enqueue(d, &kept[i]);
        if (!d->busy)
            continue;
        if (d->current.origin == dead && d->granted) {
            d->busy = d->granted = 0;       // its grant ack will never come
            next(p);
        } else if (d->owed >> dead & 1) {
            d->owed &= (uint8_t)~(1u << dead);
            if (d->acks && --d->acks == 0)
                finish(p);
        }
    }
}
