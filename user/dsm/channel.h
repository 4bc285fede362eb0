// The raw byte channel under the link layer (link.c): per ordered pair of
// nodes, a ring of frames in a shared region (wire.h), and a doorbell.
//
// A channel is pluggable: the shared-memory channel (channel_shm.c) puts
// frames in the region's rings and rings the peer's doorbell (a
// notification inside one instance, ivshmem's doorbell between instances);
// the fault injector (channel_faulty.c) wraps another channel and corrupts,
// duplicates, reorders, replays and drops frames at seeded rates. The link
// layer above cannot tell them apart, which is the point of the tests.
//
// Channels live in node memory and are used by the node's link thread
// only: no locks.
#pragma once
#include "wire.h"
#include "node.h"

struct dsm_channel;
struct dsm_channel_ops {
    // Hands one frame (header f, then f->length payload bytes) to the ring
    // toward `peer`. True once the channel has taken it (a lossy channel
    // may then lose it); false when the ring has no room now.
    bool (*put)(struct dsm_channel *c, unsigned peer, const struct frame *f, const void *payload);
    // Copies the next frame from `peer` into buf (at most max bytes): its
    // length, 0 when there is none, -1 when the ring's indices are
    // impossible (the ring is then skipped to its end).
    long (*get)(struct dsm_channel *c, unsigned peer, void *buf, size_t max);
    // Rings the peer's doorbell: its link thread looks at its rings.
    void (*kick)(struct dsm_channel *c, unsigned peer);
    // Called once per round of the link thread (a wrapper sends what it held back).
    void (*poll)(struct dsm_channel *c);
};

struct dsm_channel {
    const struct dsm_channel_ops *ops;
};

// ---------------------------------------------------- shared-memory channel
struct shm_channel {
    struct dsm_channel base;
    volatile void *region;
    uint64_t region_bytes;
    uint32_t ring_bytes;            // each ring, struct wire_ring included
    unsigned self, nodes;
    void (*doorbell)(uint32_t id);  // between instances; NULL: the stand-in's notifications
    uint64_t ring_errors;
};
// Fills c for node `self` of `nodes` over the region; false if the region
// is too small or says it belongs to another node count. Writes our slot
// of the header (epoch, doorbell id, arch).
bool shm_channel_init(struct shm_channel *c, volatile void *region, uint64_t bytes, unsigned self,
                      unsigned nodes, uint32_t epoch, void (*doorbell)(uint32_t), uint32_t doorbell_id);

// ---------------------------------------------------------- fault injector
#define FRAME_MAX (sizeof(struct frame) + MSG_MAX)

struct faulty_channel {
    struct dsm_channel base;
    struct dsm_channel *inner;
    struct dsm_faults rates;
    uint64_t rng;
    uint64_t injected[DSM_FAULT_KINDS];
    // Reorder: one frame held back until the next frame to the same peer
    // has gone (or a round later). Replay: a copy of an old frame, put
    // again later.
    uint32_t held_peer, held_round;
    bool held;
    uint32_t replay_peer;
    bool replay_saved;
    uint32_t rounds;
    uint8_t *held_frame, *replay_frame, *scratch;   // FRAME_MAX bytes each
};
void faulty_channel_init(struct faulty_channel *c, struct dsm_channel *inner, const struct dsm_faults *rates,
                         uint8_t *buffers);
