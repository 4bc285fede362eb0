// The link transport: DSM messages between machines, as frames in a shared
// message region (wire.h), made reliable by a link thread per node.
//
// The engine's `deliver` appends the message to the send queue toward the
// destination (node memory) and wakes the node's link thread. The link
// thread is the only user of the channel (channel.h): it frames queued
// messages (sequence number, cumulative ack, the sender's boot epoch,
// CRC-32 over header and payload) into the ring toward the peer, reads the
// rings from its peers, and puts each message that arrives in order into
// the engine's inbox ring for that sender, ringing the engine's doorbell
// as the other transports do. The engine cannot tell it from them.
//
// Reliability is go-back-N over each ordered pair of nodes:
//
//   - a frame whose magic, length or CRC is wrong is dropped (corruption);
//   - a DATA frame is delivered only if its seq is the next one expected;
//     an older seq is a duplicate or a replay and is dropped, a later one
//     came ahead of a missing frame (reordered, or one was lost) and is
//     dropped; either way an ACK with the last in-order seq goes back;
//   - frames from another epoch of the peer (a replay from an earlier
//     boot), for another node, or from a node other than the ring's owner
//     are dropped;
//   - an ACK only ever moves the acknowledged seq forward (old ACKs,
//     replayed or reordered, change nothing); acknowledged messages leave
//     the send queue;
//   - with frames unacknowledged and no progress for LINK_RTO ticks the
//     sender goes back to the first unacknowledged message and sends
//     everything from there again, at most LINK_WINDOW frames ahead.
//
// So a page's bytes reach the engine exactly once, in order, unchanged, or
// not at all; nothing the channel does can corrupt a page.
//
// Failure detection: every frame is a sign of life; a link quiet toward a
// peer for LINK_HEARTBEAT ticks sends an ACK anyway (a heartbeat). A peer
// heard from before and silent for more than `dead_ticks` is declared dead
// (bit in link->dead, BELL_LINK on the engine's doorbell; failure.c does
// the rest). Silence is counted in the link thread's own running time: a
// round of ours that starts more than LINK_STALL ticks late means this node
// did not run (the host descheduled QEMU), and that gap is not counted
// against anyone (stats.stalled_ticks adds the gaps up).
#include "link.h"
#include "transport.h"

uint8_t dsm_standin_region[STANDIN_REGION_BYTES] __attribute__((aligned(4096)));

static struct link_peer *peer_of(unsigned n) { return &LINK->peer[n]; }

static uint32_t now_ticks(void) { return (uint32_t)mf_time(); }

// ------------------------------------------------------------ the engine's side

static bool link_serve(void)
{
    struct node *self = NODE;
    struct link *l = LINK;
    for (unsigned n = 0; n < self->nodes; n++) {
        self->inbox[n] = (struct ring *)(NODE_BASE + OFF_RINGS + n * RING_BYTES);
        ring_init(self->inbox[n], RING_BYTES);
    }
    l->self = self->id;
    l->nodes = self->nodes;
    l->dead_ticks = self->link.dead_ticks ? self->link.dead_ticks : DSM_DEAD_TICKS;
    uint32_t epoch = (uint32_t)(mf_arch_cycles() * 0x9e3779b1u) ^ (self->id << 24);
    l->epoch = epoch ? epoch : 1;
    volatile void *region = self->link.region;
    uint64_t bytes = self->link.region_bytes;
    if (!region) {
        region = dsm_standin_region;
        bytes = sizeof(dsm_standin_region);
    }
    if (!shm_channel_init(&l->shm, region, bytes, self->id, self->nodes, l->epoch, self->link.doorbell,
                          self->link.doorbell_id))
        return false;
    l->channel = &l->shm.base;
    bool faulty = false;
    for (unsigned k = 0; k < DSM_FAULT_KINDS; k++)
        faulty |= self->link.faults.permille[k] != 0;
    if (faulty) {
        struct dsm_faults f = self->link.faults;
        f.seed ^= 0x100000001b3ull * (self->id + 1);
        faulty_channel_init(&l->faulty, &l->shm.base, &f, (uint8_t *)(NODE_BASE + OFF_LINK + LINK_FAULTY));
        l->channel = &l->faulty.base;
    }
    for (unsigned n = 0; n < self->nodes; n++) {
        struct link_peer *p = peer_of(n);
        p->sendq = (struct ring *)(NODE_BASE + OFF_LINK + LINK_SENDQ + n * SENDQ_BYTES);
        ring_init(p->sendq, SENDQ_BYTES);
        p->next_seq = 1;
    }
    return mf_untyped_retype(CAP_UNTYPED, MF_OBJ_NOTIFICATION, 0, 1, CAP_SELF, CAP_LINK_BELL) == 0;
}

static void link_thread(uint64_t unused);
static void tick_thread(uint64_t unused);

// Starts the link thread (and its ticker) once the peers' bells are wired.
static bool link_connect(void)
{
    struct node *self = NODE;
    struct link *l = LINK;
    l->started_at = l->round_at = now_ticks();
    // On the node's CPU, like the engine that runs this (fixed there).
    unsigned cpu = (unsigned)mf_cpu_id();
    long r[6] = {
        mf_untyped_retype(CAP_UNTYPED, MF_OBJ_THREAD, 0, 1, CAP_SELF, CAP_LINK_THREAD),
        mf_untyped_retype(CAP_UNTYPED, MF_OBJ_THREAD, 0, 1, CAP_SELF, CAP_TICK_THREAD),
        mf_thread_set_sched(CAP_LINK_THREAD, MF_SCHED_FIXED, cpu),
        mf_thread_set_sched(CAP_TICK_THREAD, MF_SCHED_FIXED, cpu),
        mf_thread_start(CAP_LINK_THREAD, link_thread, self->link_stack, self->link_stack_size, 0),
        mf_thread_start(CAP_TICK_THREAD, tick_thread, self->tick_stack, self->tick_stack_size, 0),
    };
    for (unsigned i = 0; i < 6; i++)
        if (r[i]) {
            printf("dsm: node %u: link start step %u: %s\n", self->id, i, mf_strerror(r[i]));
            return false;
        }
    return true;
}

static long link_deliver(unsigned dst, const struct msg *m)
{
    struct link *l = LINK;
    if (l->dead & (1u << dst))
        return -E_DEAD;
    if (!ring_put(peer_of(dst)->sendq, m, m->length, NULL, 0))
        return -E_AGAIN;
    mf_notification_signal(CAP_LINK_BELL);
    return 0;
}

const struct dsm_transport dsm_transport_link = {
    .name = "link",
    .serve = link_serve,
    .connect = link_connect,
    .deliver = link_deliver,
};

// ------------------------------------------------------------- the link thread

static void tick_thread(uint64_t unused)
{
    (void)unused;
    for (;;) {
        mf_sleep(1);
        mf_notification_signal(CAP_LINK_BELL);
    }
}

static bool put_ack(struct link *l, unsigned n)
{
    struct link_peer *p = peer_of(n);
    struct frame f = {.magic = FRAME_MAGIC, .kind = FRAME_ACK, .src = (uint8_t)l->self, .dst = (uint8_t)n,
                      .epoch = l->epoch, .ack = p->expected};
    f.crc = frame_crc(&f, NULL, 0);
    if (!l->channel->ops->put(l->channel, n, &f, NULL))
        return false;
    l->stats.acks_sent++;
    p->ack_owed = 0;
    p->sent_at = now_ticks();
    p->kick = 1;
    return true;
}

// Frees what the peer acknowledged up to `ack`.
static void take_ack(struct link *l, struct link_peer *p, uint32_t ack)
{
    if (seq_diff(ack, p->acked) <= 0) {
        if (seq_diff(ack, p->acked) < 0)
            l->stats.stale_acks++;
        return;
    }
    if (seq_diff(ack, p->max_sent) > 0) {     // acknowledges what we never sent: not ours
        l->stats.misaddressed++;
        return;
    }
    struct ring *q = p->sendq;
    while (seq_diff(ack, p->acked) > 0) {
        size_t bytes = ring_peek(q);
        if (!bytes)
            break;
        __atomic_store_n(&q->head, q->head + ring_record(bytes), __ATOMIC_RELEASE);
        p->acked++;
    }
    if (seq_diff(p->acked + 1, p->next_seq) > 0) {   // acked past what we (re)sent since going back
        p->sent = q->head;
        p->next_seq = p->acked + 1;
    }
    p->progress_at = now_ticks();
}

static void deliver_data(struct link *l, unsigned n, struct link_peer *p, const struct frame *f)
{
    p->ack_owed = 1;
    if (f->seq != p->expected + 1) {
        if (seq_diff(f->seq, p->expected) <= 0)
            l->stats.duplicates++;
        else
            l->stats.out_of_order++;
        return;
    }
    struct node *self = NODE;
    if (!ring_put(self->inbox[n], f + 1, f->length, NULL, 0)) {
        l->stats.inbox_full++;      // not acknowledged: it comes again
        return;
    }
    p->expected++;
    l->stats.delivered++;
    mf_notification_signal(CAP_RING_BELL + n);
}

static void receive(struct link *l, unsigned n, const struct frame *f, long bytes)
{
    struct link_peer *p = peer_of(n);
    if (bytes < (long)sizeof(*f) || f->magic != FRAME_MAGIC || f->length != bytes - sizeof(*f) ||
        f->crc != frame_crc(f, f + 1, f->length) || (f->kind != FRAME_DATA && f->kind != FRAME_ACK)) {
        l->stats.bad_frames++;
        return;
    }
    if (f->src != n || f->dst != l->self || f->epoch == 0 || (p->epoch && f->epoch != p->epoch)) {
        l->stats.misaddressed++;
        return;
    }
    if (!p->epoch) {
        p->epoch = f->epoch;
        p->up = 1;
        __atomic_or_fetch(&l->up, 1u << n, __ATOMIC_RELEASE);
    }
    p->heard_at = now_ticks();
    take_ack(l, p, f->ack);
    if (f->kind == FRAME_DATA)
        deliver_data(l, n, p, f);
}

// Puts queued messages toward n, within the window.
static void transmit(struct link *l, unsigned n)
{
    struct link_peer *p = peer_of(n);
    struct ring *q = p->sendq;
    uint8_t *tx = (uint8_t *)(NODE_BASE + OFF_LINK + LINK_TX);
    struct frame *f = (struct frame *)tx;
    uint32_t now = now_ticks();
    if (p->next_seq != p->acked + 1 && now - p->progress_at >= LINK_RTO) {
        p->sent = q->head;          // go back N
        p->next_seq = p->acked + 1;
        p->progress_at = now;
        l->stats.timeouts++;
    }
    while (seq_diff(p->next_seq, p->acked + 1) < LINK_WINDOW &&
           p->sent != __atomic_load_n(&q->tail, __ATOMIC_ACQUIRE)) {
        uint64_t length;
        ring_copy_out(q, p->sent, &length, 8);
        ring_copy_out(q, p->sent + 8, tx + sizeof(*f), (size_t)length);
        *f = (struct frame){.magic = FRAME_MAGIC, .kind = FRAME_DATA, .src = (uint8_t)l->self,
                            .dst = (uint8_t)n, .epoch = l->epoch, .seq = p->next_seq, .ack = p->expected,
                            .length = (uint32_t)length};
        f->crc = frame_crc(f, tx + sizeof(*f), f->length);
        if (!l->channel->ops->put(l->channel, n, f, tx + sizeof(*f)))
            break;
        if (p->next_seq == p->acked + 1)
            p->progress_at = now;       // the timer runs from the first frame in flight
        if (seq_diff(p->next_seq, p->max_sent) > 0) {
            p->max_sent = p->next_seq;
            l->stats.data_sent++;
        } else {
            l->stats.retransmits++;
        }
        p->sent += ring_record((size_t)length);
        p->next_seq++;
        p->ack_owed = 0;
        p->sent_at = now;
        p->kick = 1;
    }
}

static void declare_dead(struct link *l, unsigned n, uint32_t now)
{
    struct link_peer *p = peer_of(n);
    p->dead = 1;
    l->stats.dead |= 1u << n;
    l->stats.dead_after = now - p->heard_at;
    __atomic_or_fetch(&l->dead, 1u << n, __ATOMIC_RELEASE);
    mf_notification_signal(CAP_LINK_EVENT);
}

static void link_thread(uint64_t unused)
{
    (void)unused;
    struct link *l = LINK;
    uint8_t *rx = (uint8_t *)(NODE_BASE + OFF_LINK + LINK_RX);
    for (;;) {
        uint32_t now = now_ticks();
        // Silence is counted in our own running time: a round this late
        // means we did not run (the host descheduled QEMU), and the gap
        // counts for nobody. The silence before it still counts, so a
        // dead peer is declared even if we are stalled every few ticks.
        uint32_t late = now - l->round_at;
        if (late > LINK_STALL) {
            for (unsigned n = 0; n < l->nodes; n++)
                peer_of(n)->heard_at += late;
            l->started_at += late;
            l->stats.stalled_ticks += late;
        }
        l->round_at = now;
        bool busy = false;
        for (unsigned n = 0; n < l->nodes; n++) {
            struct link_peer *p = peer_of(n);
            if (n == l->self || p->dead)
                continue;
            for (unsigned budget = 0; budget < 16; budget++) {
                long bytes = l->channel->ops->get(l->channel, n, rx, LINK_BUF_BYTES);
                if (bytes == 0)
                    break;
                busy = true;
                if (bytes > 0)
                    receive(l, n, (const struct frame *)rx, bytes);
            }
            transmit(l, n);
            if (p->ack_owed || now - p->sent_at >= LINK_HEARTBEAT)
                put_ack(l, n);
            if (p->kick) {
                p->kick = 0;
                l->channel->ops->kick(l->channel, n);
            }
            // (heard_at may be later than `now`: a frame came during this round.)
            int32_t silent = (int32_t)(now - (p->up ? p->heard_at : l->started_at));
            if (silent > (int32_t)(p->up ? l->dead_ticks : LINK_BOOT_TICKS))
                declare_dead(l, n, now);
        }
        l->channel->ops->poll(l->channel);
        l->stats.ring_errors = l->shm.ring_errors;
        for (unsigned k = 0; k < DSM_FAULT_KINDS; k++)
            l->stats.injected[k] = l->faulty.injected[k];
        if (!busy)
            mf_notification_wait(CAP_LINK_BELL);
    }
}
