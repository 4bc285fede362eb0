// The link transport's state in node memory (link.c), at OFF_LINK:
//
//   +0                  struct link (control, channels, per-peer state)
//   +LINK_RX            the frame being received       (FRAME_MAX)
//   +LINK_TX            the frame being sent           (FRAME_MAX)
//   +LINK_FAULTY        the fault injector's buffers   (3 x FRAME_MAX)
//   +LINK_SENDQ + n * SENDQ_BYTES
//                       the send queue toward node n: the engine appends
//                       messages, the link thread frames them and frees
//                       each once the peer acknowledged it (it is also the
//                       retransmission buffer)
#pragma once
#include "channel.h"
#include "node.h"

#define LINK_BUF_BYTES ((FRAME_MAX + 4095) & ~4095ul)
#define LINK_RX 0x1000ul
#define LINK_TX (LINK_RX + LINK_BUF_BYTES)
#define LINK_FAULTY (LINK_TX + LINK_BUF_BYTES)
#define LINK_SENDQ (LINK_FAULTY + 3 * LINK_BUF_BYTES)
#define SENDQ_BYTES (96u << 10)          // two maximal messages and more
#define LINK_BYTES(nodes) (LINK_SENDQ + (nodes) * (uint64_t)SENDQ_BYTES)
_Static_assert(OFF_LINK + LINK_BYTES(DSM_MAX_NODES) <= NODE_SIZE, "the link area fits node memory");

#define LINK_WINDOW 8           // DATA frames in flight per peer
#define LINK_RTO 3              // ticks without ack progress before going back
#define LINK_HEARTBEAT 5        // ticks of silence toward a peer before an ACK goes anyway
#define LINK_STALL 5            // a round this late means *we* did not run: nobody is blamed
#define LINK_BOOT_TICKS 6000    // a peer never heard from is dead after this (60 s)

struct link_peer {
    // Toward the peer.
    struct ring *sendq;
    uint64_t sent;              // sendq position of the next record to (re)transmit
    uint32_t acked;             // the last seq the peer acknowledged: the record at sendq->head is acked + 1
    uint32_t next_seq;          // seq of the record at `sent`
    uint32_t max_sent;          // highest seq ever put
    uint32_t progress_at;       // tick of the last ack progress (or go-back)
    uint32_t sent_at;           // tick of the last frame put toward it
    // From the peer.
    uint32_t expected;          // the last seq delivered in order
    uint32_t epoch;             // the peer's, from its first frame; 0 until then
    uint32_t heard_at;          // tick of its last valid frame
    uint8_t ack_owed, up, dead, kick;
};

struct link {
    uint32_t self, nodes, epoch, dead_ticks;
    uint32_t started_at, round_at;
    volatile uint32_t dead;     // written by the link thread, read by the engine
    volatile uint32_t up;       // peers heard from (bit n)
    struct dsm_channel *channel;            // what the link uses: shm, or faulty over shm
    struct shm_channel shm;
    struct faulty_channel faulty;
    struct link_peer peer[DSM_MAX_NODES];
    struct dsm_link_stats stats;
};
_Static_assert(sizeof(struct link) <= LINK_RX, "struct link fits its page");

#define LINK ((struct link *)(NODE_BASE + OFF_LINK))

// Pages of node memory the link transport needs for `nodes` nodes (mapped
// by the engine at boot, engine.c).
static inline unsigned link_pages(unsigned nodes) { return (unsigned)(LINK_BYTES(nodes) / DSM_PAGE); }

// The stand-in region inside one instance (setup.c): every node's VAS sees
// the root task's memory, so a buffer there plays the ivshmem BAR.
#define STANDIN_REGION_BYTES (1ul << 20)
extern uint8_t dsm_standin_region[STANDIN_REGION_BYTES];
