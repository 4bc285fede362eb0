// Spinning barriers shared by kernel and user space: the sense-reversing
// centralized counter, the combining tree, the MCS tree (4-ary arrival,
// binary wake-up), the tournament and the dissemination barrier, after
// Mellor-Crummey & Scott, "Algorithms for scalable synchronization on
// shared-memory multiprocessors" (1991). Freestanding, no allocation: every
// barrier is one struct with room for BARRIER_MAX_PARTICIPANTS, declared
// by the caller (static storage; a few KiB, too big for a kernel stack).
//
// Use: barrier_X_init(b, n) once, before any participant waits, then each of
// the n participants calls barrier_X_wait(b, id) with its own id in [0, n),
// the same id every episode (the per-participant state lives in b, in the
// participant's own cache line). An episode ends when all n have called
// wait; then all n return, and the barrier is ready for the next episode.
//
// Memory ordering: everything any participant wrote before calling wait in
// episode e happens-before everything any participant does after its wait
// of episode e returns. Arrival is a chain of release stores / acq_rel
// read-modify-writes to whoever learns that all have arrived; wake-up is a
// chain of release stores read by acquire loads. No other fence is needed.
//
// How they fail: init returns false (and changes nothing) for n == 0 or
// n > BARRIER_MAX_PARTICIPANTS. wait does not check its id: an id >= n, two
// participants with one id, a participant that never arrives, or fewer than
// n participants make the others spin forever or corrupt the barrier. There
// is no timeout. A barrier must not be copied or re-initialized while anyone
// may be waiting on it. Waiters spin and never block: in the kernel, run at
// most one participant per CPU, with preemption off.
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "sync_arch.h"

#define BARRIER_MAX_PARTICIPANTS 64

// One participant's private state, alone in a cache line.
struct barrier_local {
    uint32_t sense;
} __attribute__((aligned(CACHE_LINE_SIZE)));

// ---------------------------------------------------- centralized counter
// Every arrival decrements one counter; the last resets it and flips a global
// sense that everyone else spins on. O(n) traffic on one line per episode;
// the simplest and, for a few CPUs, often the fastest.
struct barrier_counter {
    struct {
        uint32_t count;         // arrivals still missing this episode
        uint32_t n;
    } __attribute__((aligned(CACHE_LINE_SIZE))) arrive;
    struct {
        uint32_t sense;         // flipped by the last arrival
    } __attribute__((aligned(CACHE_LINE_SIZE))) release;
    struct barrier_local local[BARRIER_MAX_PARTICIPANTS];
};

bool barrier_counter_init(struct barrier_counter *b, uint32_t n);
void barrier_counter_wait(struct barrier_counter *b, uint32_t id);

// ---------------------------------------------------------- combining tree
// A tree of counters with fan-in COMBINING_FANIN: participants arrive at leaf
// id / FANIN; the last to arrive at a node goes on to its parent, the others
// spin on that node's sense. The last at the root flips senses back down its
// path; each woken waiter does the same for the nodes it completed.
#define COMBINING_FANIN 4
#define COMBINING_NODES 21      // 16 + 4 + 1 for 64 participants
#define COMBINING_DEPTH 3

struct combining_node {
    uint32_t count;             // arrivals still missing at this node
    uint32_t sense;             // flipped when this node's subtree is released
    uint32_t fanin;
    int32_t parent;             // index in node[], -1 at the root
} __attribute__((aligned(CACHE_LINE_SIZE)));

struct barrier_combining {
    struct combining_node node[COMBINING_NODES];
    struct barrier_local local[BARRIER_MAX_PARTICIPANTS];
    uint32_t n;
};

bool barrier_combining_init(struct barrier_combining *b, uint32_t n);
void barrier_combining_wait(struct barrier_combining *b, uint32_t id);

// ---------------------------------------------------------------- MCS tree
// Participant i has one node. Arrival: i waits until its (up to 4) children
// 4i+1..4i+4 have cleared their child_not_ready flags in its node, then
// clears its own flag in its parent (i-1)/4. Wake-up: the root, then every
// woken i, writes parent_sense in its binary-tree children 2i+1 and 2i+2.
// Every participant spins only on its own node; plain stores, no RMW.
struct mcs_tree_node {
    uint32_t child_not_ready[4];    // written by arrival-tree children
    uint32_t have_child[4];         // constant after init
    uint32_t parent_sense;          // written by the wake-up parent
    uint32_t sense;                 // private to the participant
} __attribute__((aligned(CACHE_LINE_SIZE)));

struct barrier_mcs_tree {
    struct mcs_tree_node node[BARRIER_MAX_PARTICIPANTS];
    uint32_t n;
};

bool barrier_mcs_tree_init(struct barrier_mcs_tree *b, uint32_t n);
void barrier_mcs_tree_wait(struct barrier_mcs_tree *b, uint32_t id);

// -------------------------------------------------------------- tournament
// Pairwise matches with statically chosen winners: in round k, participant i
// with i mod 2^k == 2^(k-1) (the loser) signals i - 2^(k-1) (the winner) and
// waits to be woken; the winner goes on. Participant 0 is the champion; it
// wakes its last opponent, and every woken participant wakes the opponents
// it beat, in reverse order. Each spins on a flag in its own row.
#define TOURNAMENT_ROUNDS 7     // rounds 0..6; ceil(log2(64)) = 6

struct tournament_row {
    uint32_t flag[TOURNAMENT_ROUNDS];   // written by this round's opponent
    uint8_t role[TOURNAMENT_ROUNDS];    // constant after init
    uint32_t sense;                     // private to the participant
} __attribute__((aligned(CACHE_LINE_SIZE)));

struct barrier_tournament {
    struct tournament_row row[BARRIER_MAX_PARTICIPANTS];
    uint32_t n;
};

bool barrier_tournament_init(struct barrier_tournament *b, uint32_t n);
void barrier_tournament_wait(struct barrier_tournament *b, uint32_t id);

// ----------------------------------------------------------- dissemination
// ceil(log2 n) rounds; in round r participant i signals (i + 2^r) mod n and
// waits for (i - 2^r) mod n. After the last round everyone has heard,
// transitively, from everyone. No single winner, so no wake-up phase; two
// flag sets (parity) keep a fast partner's next-episode signal apart.
#define DISSEMINATION_ROUNDS 6  // ceil(log2(64))

struct dissemination_node {
    uint32_t flag[2][DISSEMINATION_ROUNDS]; // [parity][round], by partners
    uint32_t parity;                        // private to the participant
    uint32_t sense;                         // private to the participant
} __attribute__((aligned(CACHE_LINE_SIZE)));

struct barrier_dissemination {
    struct dissemination_node node[BARRIER_MAX_PARTICIPANTS];
    uint32_t n;
    uint32_t rounds;
};

bool barrier_dissemination_init(struct barrier_dissemination *b, uint32_t n);
void barrier_dissemination_wait(struct barrier_dissemination *b, uint32_t id);

// ---------------------------------------------------------- any of the five
// One type and one set of calls over every algorithm, so tests and
// benchmarks can loop over them. A switch per call.
enum barrier_kind {
    BARRIER_COUNTER,
    BARRIER_COMBINING,
    BARRIER_MCS_TREE,
    BARRIER_TOURNAMENT,
    BARRIER_DISSEMINATION,
    BARRIER_KINDS
};

struct any_barrier {
    enum barrier_kind kind;
    union {
        struct barrier_counter counter;
        struct barrier_combining combining;
        struct barrier_mcs_tree mcs_tree;
        struct barrier_tournament tournament;
        struct barrier_dissemination dissemination;
    } u;
};

// false (and *b unchanged) for an unknown kind or a bad n.
bool any_barrier_init(struct any_barrier *b, enum barrier_kind kind, uint32_t n);
void any_barrier_wait(struct any_barrier *b, uint32_t id);
// "counter", "combining", "mcs-tree", "tournament", "dissemination"; "?".
const char *barrier_kind_name(enum barrier_kind kind);
