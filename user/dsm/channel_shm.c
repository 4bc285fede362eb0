// The shared-memory channel: frames in the region's rings (wire.h), the
// peer's doorbell rung after a batch. The producer of ring i -> j is node
// i's link thread and its consumer node j's, each in its own machine
// perhaps: only `tail` is written by one and `head` by the other, with
// release stores after the bytes and acquire loads before them.
#include "channel.h"
#include "node.h"

static struct wire_ring *ring(struct shm_channel *c, unsigned from, unsigned to)
{
    return wire_ring_at(c->region, c->nodes, c->ring_bytes, from, to);
}

// Appends a frame to ring from -> to of the region: 1, 0 when it does not
// fit now, -1 when the consumer's index is impossible.
int wire_put(volatile void *region, uint32_t ring_bytes, unsigned nodes, unsigned from, unsigned to,
             const struct frame *f, const void *payload)
{
    struct wire_ring *r = wire_ring_at(region, nodes, ring_bytes, from, to);
    uint32_t size = ring_bytes - (uint32_t)sizeof(struct wire_ring);
    uint64_t tail = r->tail, head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    size_t bytes = sizeof(*f) + f->length, need = wire_record(bytes);
    if (tail - head > size)
        return -1;
    if (size - (tail - head) < need)
        return 0;
    uint64_t word = bytes;
    wire_copy_in(r, size, tail, &word, 8);
    wire_copy_in(r, size, tail + 8, f, sizeof(*f));
    wire_copy_in(r, size, tail + 8 + sizeof(*f), payload, f->length);
    __atomic_store_n(&r->tail, tail + need, __ATOMIC_RELEASE);
    return 1;
}

static bool shm_put(struct dsm_channel *base, unsigned peer, const struct frame *f, const void *payload)
{
    struct shm_channel *c = (struct shm_channel *)base;
    int r = wire_put(c->region, c->ring_bytes, c->nodes, c->self, peer, f, payload);
    if (r < 0)
        c->ring_errors++;
    return r > 0;
}

static long shm_get(struct dsm_channel *base, unsigned peer, void *buf, size_t max)
{
    struct shm_channel *c = (struct shm_channel *)base;
    struct wire_ring *r = ring(c, peer, c->self);
    uint32_t size = c->ring_bytes - (uint32_t)sizeof(struct wire_ring);
    uint64_t head = r->head, tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
    if (tail == head)
        return 0;
    uint64_t word;
    if (tail - head > size || tail - head < 8) {
        c->ring_errors++;
        __atomic_store_n(&r->head, tail, __ATOMIC_RELEASE);
        return -1;
    }
    wire_copy_out(r, size, head, &word, 8);
    size_t bytes = (uint32_t)word;
    if (bytes > max || wire_record(bytes) > tail - head) {
        c->ring_errors++;
        __atomic_store_n(&r->head, tail, __ATOMIC_RELEASE);
        return -1;
    }
    wire_copy_out(r, size, head + 8, buf, bytes);
    __atomic_store_n(&r->head, head + wire_record(bytes), __ATOMIC_RELEASE);
    return (long)bytes;
}

static void shm_kick(struct dsm_channel *base, unsigned peer)
{
    struct shm_channel *c = (struct shm_channel *)base;
    if (!c->doorbell) {
        mf_notification_signal(CAP_PEER_BELL + peer);   // the stand-in: the peer's link bell
        return;
    }
    const volatile struct wire_header *h = c->region;
    uint32_t id = h->node[peer].doorbell;
    if (id != ~0u && h->node[peer].epoch)
        c->doorbell(id);
}

static void shm_poll(struct dsm_channel *base) { (void)base; }

static const struct dsm_channel_ops shm_ops = {
    .put = shm_put, .get = shm_get, .kick = shm_kick, .poll = shm_poll,
};

static uint32_t arch_code(void)
{
    struct mf_system_info si;
    if (mf_system_info(&si))
        return 0;
    return si.arch[0] == 'x' ? 1 : si.arch[0] == 'a' ? 2 : 0;
}

bool shm_channel_init(struct shm_channel *c, volatile void *region, uint64_t bytes, unsigned self,
                      unsigned nodes, uint32_t epoch, void (*doorbell)(uint32_t), uint32_t doorbell_id)
{
    uint32_t ring_bytes = wire_ring_bytes(bytes, nodes);
    if (ring_bytes < sizeof(struct wire_ring) + wire_record(sizeof(struct frame) + MSG_MAX) || self >= nodes)
        return false;
    *c = (struct shm_channel){.base = {&shm_ops}, .region = region, .region_bytes = bytes,
                              .ring_bytes = ring_bytes, .self = self, .nodes = nodes, .doorbell = doorbell};
    volatile struct wire_header *h = region;
    if (h->magic == WIRE_MAGIC && (h->version != WIRE_VERSION || h->nodes != nodes)) {
        printf("dsm: link region is for %u nodes (version %u), not %u\n", h->nodes, h->version, nodes);
        return false;
    }
    h->version = WIRE_VERSION;
    h->nodes = nodes;
    h->ring_bytes = ring_bytes;
    h->magic = WIRE_MAGIC;
    h->node[self].doorbell = doorbell ? doorbell_id : ~0u;
    h->node[self].arch = arch_code();
    __atomic_store_n(&h->node[self].epoch, epoch, __ATOMIC_RELEASE);
    return true;
}
