// A channel that misbehaves on purpose: it wraps another and, per frame
// and at seeded rates (permille), drops it, flips one bit of it, puts it
// twice, holds it back behind the next frame to the same peer (or a couple
// of rounds), or puts an old frame again before it. Every frame ACKs
// included; what it did is counted. The link layer must deliver every
// message once and in order all the same (link.c).
#include "channel.h"

static uint64_t next_random(struct faulty_channel *c)
{
    uint64_t x = c->rng;     // xorshift64*
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    c->rng = x;
    return x * 0x2545f4914f6cdd1dull;
}

static bool roll(struct faulty_channel *c, enum dsm_fault_kind k)
{
    return c->rates.permille[k] && next_random(c) % 1000 < c->rates.permille[k];
}

// The frame as one block: header, then payload.
static size_t assemble(uint8_t *to, const struct frame *f, const void *payload)
{
    memcpy(to, f, sizeof(*f));
    memcpy(to + sizeof(*f), payload, f->length);
    return sizeof(*f) + f->length;
}

static bool put_block(struct faulty_channel *c, unsigned peer, const uint8_t *block)
{
    const struct frame *f = (const struct frame *)block;
    return c->inner->ops->put(c->inner, peer, f, block + sizeof(*f));
}

static void release_held(struct faulty_channel *c)
{
    if (c->held && put_block(c, c->held_peer, c->held_frame))
        c->held = false;
}

static bool faulty_put(struct dsm_channel *base, unsigned peer, const struct frame *f, const void *payload)
{
    struct faulty_channel *c = (struct faulty_channel *)base;
    if (roll(c, DSM_FAULT_DROP)) {
        c->injected[DSM_FAULT_DROP]++;
        return true;
    }
    if (!c->held && roll(c, DSM_FAULT_REORDER)) {
        assemble(c->held_frame, f, payload);
        c->held = true;
        c->held_peer = peer;
        c->held_round = c->rounds;
        c->injected[DSM_FAULT_REORDER]++;
        return true;
    }
    if (c->replay_saved && c->replay_peer == peer && roll(c, DSM_FAULT_REPLAY) &&
        put_block(c, peer, c->replay_frame)) {
        c->injected[DSM_FAULT_REPLAY]++;
        c->replay_saved = false;
    }
    bool ok;
    if (roll(c, DSM_FAULT_CORRUPT)) {
        size_t bytes = assemble(c->scratch, f, payload);
        size_t at = next_random(c) % bytes;
        // The inner channel sizes its ring record from the header's length
        // field: a flip there would damage the channel's own framing, not
        // the frame on the wire (that case, an impossible ring record, is
        // dsm_link_frames_from_another_epoch_or_source_are_refused's). Such
        // a flip lands on the CRC next to it instead.
        size_t length_at = __builtin_offsetof(struct frame, length);
        if (at >= length_at && at < length_at + sizeof(f->length))
            at += sizeof(f->length);
        c->scratch[at] ^= (uint8_t)(1u << (next_random(c) % 8));
        ok = put_block(c, peer, c->scratch);
        if (ok)
            c->injected[DSM_FAULT_CORRUPT]++;
    } else {
        ok = c->inner->ops->put(c->inner, peer, f, payload);
    }
    if (!ok)
        return false;
    if (roll(c, DSM_FAULT_DUPLICATE) && c->inner->ops->put(c->inner, peer, f, payload))
        c->injected[DSM_FAULT_DUPLICATE]++;
    // Keep an old frame to replay later: now and then, a frame that went.
    if (c->rates.permille[DSM_FAULT_REPLAY] && (!c->replay_saved || next_random(c) % 16 == 0)) {
        assemble(c->replay_frame, f, payload);
        c->replay_peer = peer;
        c->replay_saved = true;
    }
    if (c->held && c->held_peer == peer)
        release_held(c);        // it goes after a later frame: reordered
    return true;
}

static long faulty_get(struct dsm_channel *base, unsigned peer, void *buf, size_t max)
{
    struct faulty_channel *c = (struct faulty_channel *)base;
    return c->inner->ops->get(c->inner, peer, buf, max);
}

static void faulty_kick(struct dsm_channel *base, unsigned peer)
{
    struct faulty_channel *c = (struct faulty_channel *)base;
    c->inner->ops->kick(c->inner, peer);
}

static void faulty_poll(struct dsm_channel *base)
{
    struct faulty_channel *c = (struct faulty_channel *)base;
    c->rounds++;
    if (c->held && c->rounds - c->held_round >= 2) {
        unsigned peer = c->held_peer;
        release_held(c);
        c->inner->ops->kick(c->inner, peer);
    }
    c->inner->ops->poll(c->inner);
}

static const struct dsm_channel_ops faulty_ops = {
    .put = faulty_put, .get = faulty_get, .kick = faulty_kick, .poll = faulty_poll,
};

void faulty_channel_init(struct faulty_channel *c, struct dsm_channel *inner, const struct dsm_faults *rates,
                         uint8_t *buffers)
{
    *c = (struct faulty_channel){.base = {&faulty_ops}, .inner = inner, .rates = *rates,
                                 .rng = rates->seed ? rates->seed : 0x9e3779b97f4a7c15ull};
    c->held_frame = buffers;
    c->replay_frame = buffers + ((FRAME_MAX + 4095) & ~4095ul);
    c->scratch = buffers + 2 * ((FRAME_MAX + 4095) & ~4095ul);
}
