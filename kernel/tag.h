// TLB tags (PCID on x86_64, ASID on aarch64) for address spaces.
//
// A tag is a property of the VAS object, managed apart from its page tables.
// Each CPU owns a small pool: tags 1..limit, where limit is
// arch_tlb_tag_count() (the number of non-zero tags the arch offers, capped
// at TAG_POOL_MAX - 1); tag 0 is reserved for the kernel's own root and for
// untagged switching. A VAS records, per CPU,
// the tag it was given there and the pool's generation at that moment.
//
// Handing out: a VAS whose (tag, generation) matches the pool's generation
// keeps its tag and switches without a flush. Otherwise it gets a tag given
// back in this generation, or the next never-used one; when none is left the
// generation advances (a rollover), every recorded tag becomes stale, and
// hand-out starts again at tag 1. Every hand-out, new or recycled, asks for a
// flushing switch, which drops whatever a previous owner left under that tag;
// so a rollover itself needs no flush.
//
// Untagged mode (no tags on this CPU, or `tlbtags=off` on the kernel command
// line): every switch uses tag 0 and flushes.
//
// Locking: a CPU's pool is changed by that CPU (hand-out, rollover) and by
// tag_release() on any CPU (give-back), each under the pool's lock (a leaf
// ticket lock). The fast path of a hand-out, a VAS keeping its tag, reads
// the generation, which only the owner changes, without it.
#pragma once
#include "kernel/thread.h"      // MAX_CPUS
#include "kernel/types.h"
#include "lib/spinlock.h"

#define TAG_POOL_MAX 256        // tag values a pool can track (0..255)

// What one VAS holds on one CPU.
struct tag_slot {
    uint64_t generation;        // pool generation at hand-out; 0 = none
    uint16_t tag;
};

// A VAS's tags, one slot per CPU. All zero = no tag anywhere.
struct vas_tags {
    struct tag_slot cpu[MAX_CPUS];
};

// One CPU's pool. Usable on its own (the self-tests drive private pools).
struct tag_pool {
    struct ticket_lock lock;    // the per-CPU pools (not the self-tests' own)
    uint64_t generation;        // current generation, from 1
    uint16_t limit;             // tags 1..limit are handed out; 0 = untagged
    uint16_t next;              // next never-used tag in this generation
    uint64_t given_back[TAG_POOL_MAX / 64];   // tags freed in this generation
    // Counters: switches asked for, of which flushing, and rollovers.
    uint64_t switches, flushes, rollovers;
};
_Static_assert(TAG_POOL_MAX % 64 == 0 && TAG_POOL_MAX <= 65536, "tag pool bitmap");

// Resets p to generation 1 with tags 1..limit (limit < TAG_POOL_MAX; 0 =
// untagged).
void tag_pool_init(struct tag_pool *p, unsigned limit);
// The tag s may use in p: its own when still valid (*flush = false), else a
// new or recycled one (*flush = true), which s now records. Untagged pools
// return 0 with *flush = true. Cannot fail.
unsigned tag_pool_get(struct tag_pool *p, struct tag_slot *s, bool *flush);
// Gives s's tag back to p when it is still valid there; s then holds none.
void tag_pool_put(struct tag_pool *p, struct tag_slot *s);
// s's tag in p when valid in the current generation, else 0.
static inline unsigned tag_pool_valid(const struct tag_pool *p, const struct tag_slot *s)
{
    return s->generation && s->generation == p->generation ? s->tag : 0;
}

// ---- The per-CPU pools, used by kernel/vas.c. All act on the calling CPU.

extern struct tag_pool tag_pools[MAX_CPUS];

// Whether a VAS loaded on this CPU (`cpu`) with `tag` may stay loaded as it
// is: untagged, or its tag still valid here. Inline: every thread switch
// asks (vas_enter).
static inline bool tag_still_loaded(const struct vas_tags *t, unsigned cpu, unsigned tag)
{
    const struct tag_pool *p = &tag_pools[cpu];
    return p->limit == 0 || (tag && tag_pool_valid(p, &t->cpu[cpu]) == tag);
}

// True when address spaces get tags on this CPU (arch tags present and not
// disabled by `tlbtags=off`).
bool tag_enabled(void);
// The tag to switch to t with, and whether the switch must flush (always in
// untagged mode).
unsigned tag_acquire(struct vas_tags *t, bool *flush);
// t's tag on this CPU if it is valid in the current generation, else 0.
unsigned tag_valid(const struct vas_tags *t);
// The same for another CPU (a racy read, for shootdowns: a tag that goes
// stale meanwhile is flushed when it is next handed out anyway).
unsigned tag_valid_on(const struct vas_tags *t, unsigned cpu);
// Gives back t's tags on every CPU (the VAS is being destroyed and is no
// longer active on any CPU).
void tag_release(struct vas_tags *t);

struct tag_stats {
    unsigned limit;             // tags per CPU handed out (0 = untagged)
    uint64_t generation, switches, flushes, rollovers;
};
void tag_get_stats(struct tag_stats *out);
// Self-test hook: hands out at most `limit` tags on this CPU from now on
// (clamped to what the CPU has; 0 = untagged) and starts a new generation.
// Returns the previous limit.
unsigned tag_set_limit(unsigned limit);
