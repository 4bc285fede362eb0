// A node's protocol engine and its fault thread.
//
// The engine is the only thread that touches the node's protocol state, so
// the protocol needs no locks: it is one event loop over
//
//   - the inbox rings (one per sending node, plus one for messages the
//     engine sends itself, so a node's own requests take the same path as
//     everyone else's),
//   - the ports through which local threads ask for things (the fault
//     thread forwards page faults; application threads lock, unlock, wait
//     at barriers, sync),
//   - the outbox, where messages wait while a receiver's ring is full.
//
// The engine never blocks except on its doorbell, with nothing left to do;
// every protocol step that waits for a reply is a state (a busy directory,
// a port with replies outstanding) and the loop moves on.
#include "transport.h"
#include "engine.h"
#include "link.h"

static const struct dsm_transport *const transports[DSM_TRANSPORT_COUNT] = {
    [DSM_TRANSPORT_LRPC] = &dsm_transport_lrpc,
    [DSM_TRANSPORT_RINGS] = &dsm_transport_rings,
    [DSM_TRANSPORT_LINK] = &dsm_transport_link,
};
static const struct dsm_transport *transport(void) { return transports[NODE->transport]; }

// ------------------------------------------------------------------ sending

struct msg *msg_begin(unsigned type)
{
    if (NODE->tx_open)
        printf("dsm: node %u: two messages built at once\n", NODE->id);
    NODE->tx_open = true;
    struct msg *m = (struct msg *)(NODE_BASE + OFF_TXBUF);
    memset(m, 0, sizeof(*m));
    m->type = (uint8_t)type;
    m->length = sizeof(*m);
    return m;
}

void *msg_put(struct msg *m, const void *data, size_t bytes)
{
    uint8_t *at = (uint8_t *)m + m->length;
    if (m->length + bytes > MSG_MAX) {
        printf("dsm: node %u: message type %u over %u bytes\n", NODE->id, m->type, MSG_MAX);
        return NULL;
    }
    if (data)
        memcpy(at, data, bytes);
    m->length += (uint32_t)bytes;
    return at;
}

void msg_cancel(struct msg *m)
{
    (void)m;
    NODE->tx_open = false;
}

static bool outbox_flush(void);

static bool outbox_append(unsigned dst, const struct msg *m)
{
    uint64_t to = dst;
    return ring_put(NODE->outbox, &to, sizeof(to), m, m->length);
}

// To ourselves, our own ring; to another node, the transport.
static long deliver(unsigned dst, const struct msg *m)
{
    struct node *self = NODE;
    if (dst == self->id)
        return ring_put(self->inbox[dst], m, m->length, NULL, 0) ? 0 : -E_AGAIN;
    return transport()->deliver(dst, m);
}

void msg_send(struct msg *m, unsigned dst)
{
    struct node *self = NODE;
    self->tx_open = false;
    m->src = (uint8_t)self->id;
    m->date = ++self->clock;
    if (dst != self->id) {
        self->stats.sent++;
        self->stats.bytes += m->length;
        self->stats.by_type[m->type]++;
    }
    // Keep the order per destination: behind anything already waiting.
    if (ring_empty(self->outbox) && deliver(dst, m) == 0)
        return;
    // Port windows bound what one node has in flight, so the outbox only
    // fills when receivers are slow: wait for room rather than lose it.
    if (outbox_append(dst, m))
        return;
    self->stats.outbox_full++;
    while (!outbox_append(dst, m))
        if (outbox_flush())
            mf_yield();
}

// Delivers what waits in the outbox, in order; true if some still waits.
static bool outbox_flush(void)
{
    struct node *self = NODE;
    struct ring *out = self->outbox;
    uint8_t *buf = (uint8_t *)(NODE_BASE + OFF_STAGING);
    size_t bytes;
    while ((bytes = ring_peek(out)) != 0) {
        uint64_t head = out->head, dst;
        ring_copy_out(out, head + 8, &dst, sizeof(dst));
        ring_copy_out(out, head + 16, buf, bytes - sizeof(dst));
        const struct msg *m = (const struct msg *)buf;
        long r = deliver((unsigned)dst, m);
        if (r == -E_AGAIN)
            return true;
        if (r < 0 && r != -E_DEAD)     // to a dead node: nothing to do (failure.c)
            printf("dsm: node %u: cannot deliver to node %lu: %s\n", self->id, (unsigned long)dst,
                   mf_strerror(r));
        ring_take(out, buf, bytes);
    }
    return false;
}

// ---------------------------------------------------------------- receiving

static void on_request(const struct msg *m)
{
    manager_request((const struct request *)m->payload);
}

static void (*const handlers[MSG_TYPE_COUNT])(const struct msg *) = {
    [MSG_REQUEST] = on_request,
    [MSG_GRANT] = holder_grant,
    [MSG_GRANT_ACK] = manager_grant_ack,
    [MSG_INVALIDATE] = holder_invalidate,
    [MSG_DOWNGRADE] = holder_invalidate,
    [MSG_PULL] = holder_invalidate,
    [MSG_ACK] = manager_ack,
    [MSG_FLUSH] = manager_flush,
    [MSG_FLUSH_ACK] = release_flush_ack,
    [MSG_DROP] = manager_drop,
    [MSG_LOCK] = lock_message,
    [MSG_LOCK_GRANT] = lock_message,
    [MSG_UNLOCK] = lock_message,
    [MSG_BARRIER] = lock_message,
    [MSG_BARRIER_DONE] = lock_message,
    [MSG_NACK] = holder_nack,
};

// Whether a message is well formed: its length is what arrived, its
// entries fit, and every page it names is ours to know of. The handlers
// trust what passes (nodes are one program; this keeps a bug in one node
// from corrupting another's state silently).
static bool msg_valid(const struct msg *m, size_t bytes, unsigned from)
{
    struct node *self = NODE;
    size_t payload = bytes - sizeof(*m);
    if (bytes < sizeof(*m) || m->length != bytes || m->src != from || m->type >= MSG_TYPE_COUNT)
        return false;
    switch (m->type) {
    case MSG_REQUEST:
        return payload == sizeof(struct request) && ((const struct request *)m->payload)->page < self->pages &&
               ((const struct request *)m->payload)->origin < self->nodes;
    case MSG_GRANT: {
        const struct grant_entry *e = (const struct grant_entry *)m->payload;
        if (m->count == 0 || m->count > 1 + DSM_XFETCH_MAX || payload < m->count * sizeof(*e))
            return false;
        for (unsigned i = 0; i < m->count; i++)
            if (e[i].page >= self->pages)
                return false;
        return true;
    }
    case MSG_GRANT_ACK:
    case MSG_DROP: {
        const uint16_t *pages = (const uint16_t *)m->payload;
        if (payload < m->count * sizeof(uint16_t))
            return false;
        for (unsigned i = 0; i < m->count; i++)
            if (pages[i] >= self->pages)
                return false;
        return true;
    }
    case MSG_INVALIDATE:
    case MSG_DOWNGRADE:
    case MSG_PULL:
        return m->arg[0] < self->pages;
    case MSG_ACK:
        return m->arg[0] < self->pages && payload <= DIFF_MAX;
    case MSG_NACK:
        return m->arg[0] < self->pages && m->arg[1] < E_ERROR_COUNT;
    case MSG_FLUSH: {
        const uint8_t *at = m->payload, *end = m->payload + payload;
        for (unsigned i = 0; i < m->count; i++) {
            const struct flush_entry *fe = (const struct flush_entry *)at;
            if (end - at < (long)sizeof(*fe) || fe->page >= self->pages || fe->diff_bytes > DIFF_MAX ||
                end - at < (long)(sizeof(*fe) + ((fe->diff_bytes + 7) & ~7u)))
                return false;
            at += sizeof(*fe) + ((fe->diff_bytes + 7) & ~7u);
        }
        return true;
    }
    default:    // notices, locks, barriers: entries are bounds-checked as they are read
        return payload >= m->count * sizeof(struct notice);
    }
}

// Handles up to `budget` messages from each ring; true if it handled any.
static bool inbox_drain(unsigned budget)
{
    struct node *self = NODE;
    struct msg *m = (struct msg *)(NODE_BASE + OFF_RXBUF);
    bool any = false;
    for (unsigned n = 0; n < self->nodes; n++) {
        for (unsigned i = 0; i < budget; i++) {
            size_t bytes = ring_peek(self->inbox[n]);
            if (!bytes)
                break;
            ring_take(self->inbox[n], m, bytes);
            any = true;
            pageout_event();
            if (!msg_valid(m, bytes, n) || !handlers[m->type]) {
                printf("dsm: node %u: malformed message (type %u) from node %u dropped\n", self->id, m->type, n);
                continue;
            }
            // Lamport: our clock passes every date we hear of.
            self->clock = max_u64(self->clock, m->date) + 1;
            handlers[m->type](m);
        }
    }
    return any;
}

// ------------------------------------------------------------------- ports

void port_complete(unsigned port, int64_t result)
{
    struct port *pt = &NODE->port[port];
    pt->result = result;
    pt->active = 0;
    mf_notification_signal(CAP_PORT_WAKE + port);
}

// The next step of a multi-step operation, once its replies are in.
void port_continue(unsigned port)
{
    struct port *pt = &NODE->port[port];
    switch (pt->op) {
    case OP_UNLOCK:
        op_unlock_released(port);
        break;
    case OP_BARRIER:
        if (pt->step == 0)
            op_barrier_released(port);
        else
            port_complete(port, (int64_t)NODE->barrier_date);
        break;
    default:    // OP_LOCK after its acquire; OP_SYNC, OP_SET_MODEL
        port_complete(port, 0);
        break;
    }
}

void port_progress(unsigned port)
{
    struct port *pt = &NODE->port[port];
    if (pt->outstanding)
        pt->outstanding--;
    port_pump(port);
}

static void port_start(unsigned port)
{
    struct port *pt = &NODE->port[port];
    pt->active = 1;
    pt->step = 0;
    pt->outstanding = 0;
    pt->work_count = pt->work_next = 0;
    switch (pt->op) {
    case OP_FAULT:
    case OP_ACCESS:
        holder_fault(port, pt->arg[0], (unsigned)pt->arg[1]);
        break;
    case OP_LOCK:
        op_lock(port, (unsigned)pt->arg[0]);
        break;
    case OP_UNLOCK:
    case OP_BARRIER:
        release_start(port);
        break;
    case OP_SYNC:
        sync_start(port, (unsigned)pt->arg[0], (unsigned)pt->arg[1], pt->arg[2]);
        break;
    case OP_SET_MODEL:
        set_model_start(port, (unsigned)pt->arg[0], (unsigned)pt->arg[1], (unsigned)pt->arg[2]);
        break;
    default:
        port_complete(port, -E_NOSYS);
    }
}

static bool ports_scan(void)
{
    bool any = false;
    for (unsigned p = 0; p < PORTS; p++) {
        struct port *pt = &NODE->port[p];
        if (__atomic_load_n(&pt->posted, __ATOMIC_ACQUIRE)) {
            pt->posted = 0;
            pageout_event();
            port_start(p);
            any = true;
        }
    }
    return any;
}

// Client side (the fault thread, application threads): post and wait.
int64_t port_call(unsigned port, unsigned op, uint64_t a0, uint64_t a1, uint64_t a2)
{
    struct port *pt = &NODE->port[port];
    pt->op = op;
    pt->arg[0] = a0;
    pt->arg[1] = a1;
    pt->arg[2] = a2;
    __atomic_store_n(&pt->posted, 1, __ATOMIC_RELEASE);
    mf_notification_signal(CAP_PORT_BELL + port);
    mf_notification_wait(CAP_PORT_WAKE + port);
    return pt->result;
}

// ----------------------------------------------------------- fault thread
// The node's pager: faults in the shared region arrive here as calls from
// the kernel; the engine resolves them and the reply resumes the thread.

static void fault_thread(uint64_t unused)
{
    (void)unused;
    struct mf_msg m = {0};
    mf_recv(CAP_FAULT_EP, &m);
    for (;;) {
        int64_t r = -E_INVAL;
        if (MF_INFO_LABEL(m.info) == MF_FAULT_LABEL)
            r = port_call(PORT_FAULT, OP_FAULT, m.mr[0], m.mr[1], 0);
        m = (struct mf_msg){.info = MF_INFO(r < 0 ? MF_FAULT_KILL : 0, 0)};
        mf_reply_recv(CAP_FAULT_EP, &m);
    }
}

// ------------------------------------------------------------------- boot

// Retypes `count` frames into slots [slot, ...) and maps them at va in seg.
static bool map_frames(long seg, uint64_t va, unsigned count, long slot)
{
    for (unsigned done = 0; done < count;) {
        unsigned batch = count - done < 64 ? count - done : 64;
        if (mf_untyped_retype(CAP_UNTYPED, MF_OBJ_FRAME, 12, batch, CAP_SELF, slot + done))
            return false;
        for (unsigned i = 0; i < batch; i++, done++)
            if (mf_frame_map(slot + done, seg, va + done * DSM_PAGE, MF_RIGHT_READ | MF_RIGHT_WRITE))
                return false;
    }
    return true;
}

static unsigned pages_for(size_t bytes) { return (unsigned)((bytes + DSM_PAGE - 1) / DSM_PAGE); }

// Node memory outside the pool, and our binding's A-stacks.
static bool map_fixed(const struct engine_boot *b)
{
    struct { uint64_t offset; unsigned pages; } areas[] = {
        {OFF_CONTROL, pages_for(sizeof(struct node))},
        {OFF_RINGS, pages_for(b->nodes * RING_BYTES)},
        {OFF_OUTBOX, pages_for(OUTBOX_BYTES)},
        {OFF_RXBUF, pages_for(MSG_MAX)},
        {OFF_TXBUF, pages_for(MSG_MAX)},
        {OFF_SCRATCH, 1},
        {OFF_ESTACKS, pages_for(b->nodes * ESTACK_BYTES)},
        {OFF_STAGING, pages_for(MSG_MAX)},
    };
    long slot = CAP_FIXED_FRAMES;
    for (unsigned i = 0; i < sizeof(areas) / sizeof(areas[0]); i++) {
        if (!map_frames(CAP_MEMORY, NODE_BASE + areas[i].offset, areas[i].pages, slot))
            return false;
        slot += areas[i].pages;
    }
    bool link = b->transport == DSM_TRANSPORT_LINK;
    if (link) {
        if (slot + link_pages(b->nodes) > CAP_POOL_ALIAS ||
            !map_frames(CAP_MEMORY, NODE_BASE + OFF_LINK, link_pages(b->nodes), slot))
            return false;
        slot += link_pages(b->nodes);
    }
    unsigned astack_pages = link ? 0 : pages_for(b->nodes * ASTACK_BYTES);   // the link needs no binding
    if (!map_frames(CAP_ASTACKS, ASTACK_SEGMENT(b->id), astack_pages, slot))
        return false;
    b->status->fixed_frames = (uint32_t)(slot + astack_pages - CAP_FIXED_FRAMES);
    return slot + astack_pages <= CAP_POOL_ALIAS;
}

// The pool: frame f at NODE_BASE + OFF_POOL + f pages, and a second cap to
// it for mapping into the shared region.
static bool map_pool(unsigned frames)
{
    if (!map_frames(CAP_MEMORY, NODE_BASE + OFF_POOL, frames, CAP_POOL_ALIAS))
        return false;
    for (unsigned f = 0; f < frames; f++)
        if (mf_cnode_copy(CAP_SELF, CAP_POOL_ALIAS + f, CAP_POOL_APP + f, MF_RIGHT_READ | MF_RIGHT_WRITE))
            return false;
    return true;
}

// False if the pool cannot hold the reference copies of the pages we
// manage from the start (without a page-out area).
static bool node_init(const struct engine_boot *b)
{
    struct node *self = NODE;   // zeroed: fresh frames
    self->status = b->status;
    self->pageout.mailbox = b->pageout;
    self->id = b->id;
    self->nodes = b->nodes;
    self->pages = b->pages;
    self->xfetch = b->xfetch;
    self->pool_frames = b->pool_frames;
    self->fixed_frames = b->status->fixed_frames;
    self->transport = b->transport;
    self->link = b->link;
    self->link_stack = b->link_stack;
    self->link_stack_size = b->link_stack_size;
    self->tick_stack = b->tick_stack;
    self->tick_stack_size = b->tick_stack_size;
    self->outbox = (struct ring *)(NODE_BASE + OFF_OUTBOX);
    ring_init(self->outbox, OUTBOX_BYTES);
    for (unsigned f = 0; f < b->pool_frames; f++)
        self->frame_next[f] = (int16_t)(f + 1 < b->pool_frames ? (int)f + 1 : -1);
    self->frame_free = 0;
    for (unsigned i = 0; i < REQUEST_POOL; i++)
        self->requests[i].next = (int16_t)(i + 1 < REQUEST_POOL ? (int)i + 1 : -1);
    self->request_free = 0;
    self->stream_next = -1;
    bool ok = true;
    for (unsigned p = 0; p < DSM_MAX_PAGES; p++) {
        struct page *pg = &self->page[p];
        pg->frame = pg->twin = -1;
        pg->model = (uint8_t)b->model;
        pg->hint = (uint8_t)(p % b->nodes);
        if (p < b->pages && p % b->nodes == b->id)
            ok = manager_init_page(p) && ok;
    }
    return ok;
}

// Doorbell badges for each sender and port, and the ports' wake-ups.
static bool make_bells(unsigned nodes)
{
    if (mf_cnode_mint(CAP_SELF, CAP_DOORBELL, CAP_LINK_EVENT, MF_RIGHT_WRITE, BELL_LINK))
        return false;
    for (unsigned n = 0; n < nodes; n++)
        if (mf_cnode_mint(CAP_SELF, CAP_DOORBELL, CAP_RING_BELL + n, MF_RIGHT_WRITE, BELL_RING(n)))
            return false;
    for (unsigned p = 0; p < PORTS; p++)
        if (mf_cnode_mint(CAP_SELF, CAP_DOORBELL, CAP_PORT_BELL + p, MF_RIGHT_WRITE, BELL_PORT(p)) ||
            mf_untyped_retype(CAP_UNTYPED, MF_OBJ_NOTIFICATION, 0, 1, CAP_SELF, CAP_PORT_WAKE + p))
            return false;
    return true;
}

// Boot in two phases, each acknowledged to the root task through CAP_DONE:
// 1. node memory, state, bells, the transport's receiving side, the fault
//    thread; 2. (after the root task has handed us the others' bindings)
//    the transport's sending side. Then serve.
void engine_main(uint64_t boot)
{
    const struct engine_boot *b = (const struct engine_boot *)(uintptr_t)boot;
    b->status->engine_cpu = (int32_t)mf_cpu_id();
    bool ok = map_fixed(b) && map_pool(b->pool_frames);
    if (ok) {
        ok = node_init(b) &&
             (!b->restore || repository_apply(b->restore)) && make_bells(b->nodes) && transport()->serve() &&
             mf_untyped_retype(CAP_UNTYPED, MF_OBJ_THREAD, 0, 1, CAP_SELF, CAP_FAULT_THREAD) == 0 &&
             mf_thread_set_sched(CAP_FAULT_THREAD, MF_SCHED_FIXED, b->cpu) == 0 &&
             mf_thread_start(CAP_FAULT_THREAD, fault_thread, b->fault_stack, b->fault_stack_size, 0) == 0;
    }
    b->status->failed = !ok;
    mf_notification_signal(CAP_DONE);
    if (!ok)
        return;
    while (!(mf_notification_wait(CAP_DOORBELL) & BELL_ROOT))
        ;
    ok = transport()->connect();
    b->status->failed = !ok;
    mf_notification_signal(CAP_DONE);
    if (!ok)
        return;
    bool link = NODE->transport == DSM_TRANSPORT_LINK;
    for (;;) {
        if (link && LINK->dead != NODE->dead)
            failure_scan();
        bool work = ports_scan();
        work |= inbox_drain(8);
        bool holding = holder_deferred();
        bool full = outbox_flush();
        // Messages to ourselves ring no doorbell: look before sleeping.
        if (work || !ring_empty(NODE->inbox[NODE->id]))
            continue;
        if (full)
            mf_yield();         // a receiver's ring is full: let its engine drain it
        else if (holding)
            mf_sleep(1);        // a hold ends at the next tick; the faulting thread runs meanwhile
        else {
            // Idle: what the root task's repository waits for (repository.c).
            __atomic_store_n(&NODE->asleep, 1, __ATOMIC_RELEASE);
            mf_notification_wait(CAP_DOORBELL);
            __atomic_fetch_add(&NODE->wakeups, 1, __ATOMIC_ACQ_REL);
            __atomic_store_n(&NODE->asleep, 0, __ATOMIC_RELEASE);
        }
    }
}
