// Locks and barriers for applications, built on messages.
//
// Lock l is kept by node l % nodes: LOCK queues the asker, LOCK_GRANT goes
// to the next in line, UNLOCK frees it. The barrier master is node 0: each
// node's BARRIER carries its Lamport date, and BARRIER_DONE, sent when all
// have arrived, carries a date later than every arrival — the date
// dsm_barrier returns, after which dsm_sync can ask for every write made
// before the barrier.
//
// Both carry write notices (release.c): UNLOCK and BARRIER every notice
// the releaser knows of, LOCK_GRANT every notice released under the lock so
// far, BARRIER_DONE the union of the arrivals' (one version per page, so
// the sets stay bounded). Barrier messages also carry, as a bitmap, the
// weak pages each node wrote since its last arrival, and BARRIER_DONE
// their union: the batch of invalidations a dsm_sync at that barrier's date
// applies (MWPF), instead of dropping every copy older than the date.
#include "engine.h"

static void put_notices(struct msg *m, const uint64_t *versions)
{
    for (unsigned q = 0; q < NODE->pages; q++) {
        if (!versions[q])
            continue;
        struct notice n = {.page = (uint16_t)q, .version = versions[q]};
        msg_put(m, &n, sizeof(n));
        m->count++;
    }
}

static void take_notices(uint64_t *versions, const struct msg *m)
{
    const struct notice *n = (const struct notice *)m->payload;
    for (unsigned i = 0; i < m->count; i++)
        if (n[i].page < DSM_MAX_PAGES)
            versions[n[i].page] = max_u64(versions[n[i].page], n[i].version);
}

// ------------------------------------------------------------------- locks

void op_lock(unsigned port, unsigned lock)
{
    if (lock >= DSM_MAX_LOCKS) {
        port_complete(port, -E_RANGE);
        return;
    }
    struct msg *m = msg_begin(MSG_LOCK);
    m->arg[0] = lock;
    m->arg[1] = port;
    msg_send(m, lock % NODE->nodes);
}

// After the release half of an unlock: hand the lock and our notices back.
void op_unlock_released(unsigned port)
{
    struct node *self = NODE;
    unsigned lock = (unsigned)self->port[port].arg[0];
    struct msg *m = msg_begin(MSG_UNLOCK);
    m->arg[0] = lock;
    put_notices(m, self->known);
    msg_send(m, lock % self->nodes);
    port_complete(port, 0);
}

// At the lock's keeper. `who` is node * PORTS + port.
static void grant_lock(unsigned lock, unsigned who)
{
    struct lock_state *ls = &NODE->lock[lock];
    ls->held = 1;
    ls->holder = (uint8_t)who;
    struct msg *m = msg_begin(MSG_LOCK_GRANT);
    m->arg[0] = lock;
    m->arg[1] = who % PORTS;
    put_notices(m, ls->notices);
    msg_send(m, who / PORTS);
}

// ----------------------------------------------------------------- barrier

// After the release half of a barrier: arrive, with our notices and the
// weak pages we wrote since our last arrival (or still may write).
void op_barrier_released(unsigned port)
{
    struct node *self = NODE;
    for (unsigned q = 0; q < self->pages; q++)
        if (self->page[q].model == DSM_WEAK && self->page[q].allowed == ACC_WRITE)
            bit_set(self->weak_written, q);
    struct msg *m = msg_begin(MSG_BARRIER);
    m->arg[1] = port;
    put_notices(m, self->known);
    msg_put(m, self->weak_written, PAGE_BITMAP);
    memset(self->weak_written, 0, PAGE_BITMAP);
    msg_send(m, 0);
}

static const uint8_t *weak_bitmap(const struct msg *m)
{
    return m->payload + m->count * sizeof(struct notice);
}

static void barrier_arrival(const struct msg *m)
{
    struct node *self = NODE;
    struct barrier_state *b = &self->barrier;
    take_notices(b->notices, m);
    for (unsigned i = 0; i < PAGE_BITMAP; i++)
        b->weak_written[i] |= weak_bitmap(m)[i];
    b->date = max_u64(b->date, m->date);
    b->port[m->src] = (uint8_t)m->arg[1];
    b->arrived |= 1u << m->src;
    barrier_check();
}

// Completes the barrier once every live node has arrived (arrivals are a
// bit per node, so a node that dies after arriving is not counted twice).
void barrier_check(void)
{
    struct node *self = NODE;
    struct barrier_state *b = &self->barrier;
    uint32_t all = (1u << self->nodes) - 1;
    if (!b->arrived || ((b->arrived | self->dead) & all) != all)
        return;
    uint64_t date = b->date + 1;
    for (unsigned n = 0; n < self->nodes; n++) {
        if (node_dead(n))
            continue;
        struct msg *done = msg_begin(MSG_BARRIER_DONE);
        done->arg[0] = date;
        done->arg[1] = b->port[n];
        put_notices(done, b->notices);
        msg_put(done, b->weak_written, PAGE_BITMAP);
        msg_send(done, n);
    }
    memset(b, 0, sizeof(*b));
}

// -------------------------------------------------------------- dispatcher

void lock_message(const struct msg *m)
{
    struct node *self = NODE;
    unsigned lock = (unsigned)m->arg[0] % DSM_MAX_LOCKS;
    struct lock_state *ls = &self->lock[lock];
    switch (m->type) {
    case MSG_LOCK: {
        unsigned who = m->src * PORTS + (unsigned)m->arg[1] % PORTS;
        if (!ls->held)
            grant_lock(lock, who);
        else if (ls->queue_length < sizeof(ls->queue))
            ls->queue[ls->queue_length++] = (uint8_t)who;
        break;
    }
    case MSG_UNLOCK:
        take_notices(ls->notices, m);
        if (ls->queue_length) {
            unsigned who = ls->queue[0];
            memmove(ls->queue, ls->queue + 1, --ls->queue_length);
            grant_lock(lock, who);
        } else {
            ls->held = 0;
        }
        break;
    case MSG_LOCK_GRANT:
        acquire_notices((unsigned)m->arg[1], (const struct notice *)m->payload, m->count);
        break;
    case MSG_BARRIER:
        barrier_arrival(m);
        break;
    case MSG_BARRIER_DONE:
        self->barrier_previous = self->barrier_date;
        self->barrier_date = m->arg[0];
        memcpy(self->weak_changed, weak_bitmap(m), PAGE_BITMAP);
        self->clock = max_u64(self->clock, m->arg[0]);
        acquire_notices((unsigned)m->arg[1], (const struct notice *)m->payload, m->count);
        break;
    }
}
