// A single-producer, single-consumer ring of variable-length records: the
// inbox a transport fills and an engine drains. One producer (the sending
// node's engine, running in the receiver's VAS during an LRPC call) and one
// consumer (the receiving node's engine), so two indices suffice: the
// producer publishes `tail` with release order after the bytes, the consumer
// reads them after an acquire load of `tail` and frees the space by
// publishing `head`. Indices count bytes forever (positions are taken
// modulo `size`).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/string.h"

struct ring {
    volatile uint64_t head;     // consumer: bytes taken
    uint64_t pad0[7];           // keep the indices on separate cache lines
    volatile uint64_t tail;     // producer: bytes published
    uint64_t pad1[7];
    uint32_t size;
    uint32_t pad2;
    uint8_t data[];
};

// A record is an 8-byte length word, then the bytes, padded to 8.
static inline size_t ring_record(size_t bytes) { return 8 + ((bytes + 7) & ~(size_t)7); }

static inline void ring_init(struct ring *r, size_t total_bytes)
{
    r->head = r->tail = 0;
    r->size = (uint32_t)((total_bytes - sizeof(struct ring)) & ~(size_t)7);
}

static inline void ring_copy_in(struct ring *r, uint64_t at, const void *src, size_t n)
{
    size_t off = at % r->size, first = r->size - off < n ? r->size - off : n;
    memcpy(r->data + off, src, first);
    memcpy(r->data, (const uint8_t *)src + first, n - first);
}

static inline void ring_copy_out(const struct ring *r, uint64_t at, void *dst, size_t n)
{
    size_t off = at % r->size, first = r->size - off < n ? r->size - off : n;
    memcpy(dst, r->data + off, first);
    memcpy((uint8_t *)dst + first, r->data, n - first);
}

// Producer: appends a record; false when it does not fit now.
static inline bool ring_put(struct ring *r, const void *a, size_t a_bytes, const void *b, size_t b_bytes)
{
    uint64_t tail = r->tail, head = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
    size_t need = ring_record(a_bytes + b_bytes);
    if (r->size - (tail - head) < need)
        return false;
    uint64_t length = a_bytes + b_bytes;
    ring_copy_in(r, tail, &length, 8);
    ring_copy_in(r, tail + 8, a, a_bytes);
    ring_copy_in(r, tail + 8 + a_bytes, b, b_bytes);
    __atomic_store_n(&r->tail, tail + need, __ATOMIC_RELEASE);
    return true;
}

// Consumer: the length of the next record, or 0 when empty.
static inline size_t ring_peek(const struct ring *r)
{
    uint64_t head = r->head;
    if (__atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) == head)
        return 0;
    uint64_t length;
    ring_copy_out(r, head, &length, 8);
    return (size_t)length;
}

// Consumer: copies the next record (ring_peek bytes) out and frees it.
static inline void ring_take(struct ring *r, void *dst, size_t bytes)
{
    uint64_t head = r->head;
    ring_copy_out(r, head + 8, dst, bytes);
    __atomic_store_n(&r->head, head + ring_record(bytes), __ATOMIC_RELEASE);
}

static inline bool ring_empty(const struct ring *r)
{
    // (head with acquire too: another thread than the consumer may ask,
    // the repository's quiescence check, and must see what preceded it)
    return __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE) == __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
}
