// What crosses between machines: the layout of the shared message region
// (an ivshmem BAR, or a stand-in buffer inside one instance) and the frames
// the link layer (link.c) puts in it. Every field is fixed-width and
// little-endian, every offset is fixed by this header alone, so an x86_64
// and an aarch64 instance read each other's bytes the same way.
//
// The region is a message channel only: it never holds the application's
// pages at rest, only frames in flight.
//
//   offset 0                 struct wire_header (4 KiB)
//   offset WIRE_HEADER_BYTES ring (0 -> 0), ring (0 -> 1), ... ring (i -> j)
//                            at WIRE_HEADER_BYTES + (i * nodes + j) * ring_bytes
//
// Ring i -> j is a single-producer (node i's link thread), single-consumer
// (node j's link thread) ring of records: `tail` written only by i, `head`
// only by j, each on its own 64-byte line; a record is a 32-bit length, a
// 32-bit pad and the frame, padded to 8 bytes. ring_bytes comes from the
// node count and the region's size (wire_ring_bytes), never from the region
// itself, so a damaged header cannot make a reader run off its ring.
//
// The region starts zeroed (tools/cluster makes a fresh file; the stand-in
// is cleared by dsm_start): every ring empty. A node that boots writes its
// epoch and its doorbell id into its slot of the header.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "lib/crc32.h"
#include "lib/string.h"

#define WIRE_MAGIC 0x4d46444cu          // "LDFM": a Manifold DSM link region
#define WIRE_VERSION 1u
#define WIRE_MAX_NODES 8
#define WIRE_HEADER_BYTES 4096u
#define WIRE_RING_MAX (256u << 10)

struct wire_node {
    uint32_t epoch;         // this boot of the node (non-zero once it is up)
    uint32_t doorbell;      // its ivshmem peer id (doorbell target), or ~0
    uint32_t arch;          // 1 x86_64, 2 aarch64 (for the logs)
    uint32_t pad;
};

struct wire_header {
    uint32_t magic;         // WIRE_MAGIC once initialised
    uint32_t version;       // WIRE_VERSION
    uint32_t nodes;         // how many nodes share the region
    uint32_t ring_bytes;    // informational: readers compute it (wire_ring_bytes)
    struct wire_node node[WIRE_MAX_NODES];
};
_Static_assert(sizeof(struct wire_header) <= WIRE_HEADER_BYTES, "the header fits its page");
_Static_assert(sizeof(struct wire_node) == 16 && sizeof(struct wire_header) == 16 + 16 * WIRE_MAX_NODES,
               "fixed layout");

struct wire_ring {
    volatile uint64_t head;     // consumer: bytes taken
    uint64_t pad0[7];
    volatile uint64_t tail;     // producer: bytes published
    uint64_t pad1[7];
    uint8_t data[];             // ring_bytes - 128
};
_Static_assert(__builtin_offsetof(struct wire_ring, tail) == 64 && sizeof(struct wire_ring) == 128,
               "ring indices on their own lines");

// Each ring's bytes for `nodes` nodes in a region of `region` bytes: a
// multiple of 4 KiB, at most WIRE_RING_MAX; 0 if the region is too small.
static inline uint32_t wire_ring_bytes(uint64_t region, unsigned nodes)
{
    if (nodes == 0 || nodes > WIRE_MAX_NODES || region < WIRE_HEADER_BYTES)
        return 0;
    uint64_t each = (region - WIRE_HEADER_BYTES) / (nodes * nodes) & ~4095ull;
    return (uint32_t)(each > WIRE_RING_MAX ? WIRE_RING_MAX : each);
}

static inline struct wire_ring *wire_ring_at(volatile void *region, unsigned nodes, uint32_t ring_bytes,
                                             unsigned from, unsigned to)
{
    return (struct wire_ring *)((uintptr_t)region + WIRE_HEADER_BYTES +
                                (uint64_t)(from * nodes + to) * ring_bytes);
}

// ------------------------------------------------------------------ frames

#define FRAME_MAGIC 0x464bu             // "KF"
enum frame_kind { FRAME_DATA = 1, FRAME_ACK = 2 };  // an ACK with nothing new is a heartbeat

// The link header of every frame; a DATA frame's payload is one DSM
// message (struct msg). `crc` is the CRC-32 (IEEE 802.3) of the header with
// crc = 0, then the payload.
struct frame {
    uint16_t magic;         // FRAME_MAGIC
    uint8_t kind;           // enum frame_kind
    uint8_t src;            // sending node
    uint8_t dst;            // receiving node
    uint8_t pad[3];
    uint32_t epoch;         // the sender's boot epoch
    uint32_t seq;           // DATA: its sequence number (1, 2, ...); ACK: 0
    uint32_t ack;           // every DATA from dst up to this one arrived, in order
    uint32_t length;        // payload bytes
    uint32_t crc;
    uint32_t pad2;
};
_Static_assert(sizeof(struct frame) == 32, "fixed frame header");

// Sequence numbers compare modulo 2^32 (RFC 1982).
static inline int32_t seq_diff(uint32_t a, uint32_t b) { return (int32_t)(a - b); }

// CRC-32 (lib/crc32.h) over the header, its crc zero, then the payload.
static inline uint32_t frame_crc(const struct frame *f, const void *payload, size_t bytes)
{
    struct frame h = *f;
    h.crc = 0;
    return crc32_update(crc32_update(0, &h, sizeof(h)), payload, bytes);
}

// ------------------------------------------------------- ring operations
// Appends a frame to ring from -> to (channel_shm.c): 1, 0 when it does
// not fit now, -1 when the consumer's index is impossible.
int wire_put(volatile void *region, uint32_t ring_bytes, unsigned nodes, unsigned from, unsigned to,
             const struct frame *f, const void *payload);

// Records: a 64-bit word (low 32 bits: frame bytes), then the frame.

static inline size_t wire_record(size_t bytes) { return 8 + ((bytes + 7) & ~(size_t)7); }

static inline void wire_copy_in(struct wire_ring *r, uint32_t size, uint64_t at, const void *src, size_t n)
{
    size_t off = at % size, first = size - off < n ? size - off : n;
    memcpy(r->data + off, src, first);
    memcpy(r->data, (const uint8_t *)src + first, n - first);
}

static inline void wire_copy_out(const struct wire_ring *r, uint32_t size, uint64_t at, void *dst, size_t n)
{
    size_t off = at % size, first = size - off < n ? size - off : n;
    memcpy(dst, r->data + off, first);
    memcpy((uint8_t *)dst + first, r->data, n - first);
}
