// Distributed shared memory as user-level pagers (docs/dsm.md).
//
// A DSM instance is a set of **nodes** in one Manifold machine. Each node is
// a protection domain of its own: a VAS, a CNode, untyped memory, and a
// segment at DSM_BASE holding the node's *own copies* of the shared pages.
// Each node runs a protocol engine and a fault thread (its pager); pages move
// between nodes only as messages through a transport (user/dsm/transport.h).
// Application threads run inside a node's VAS and use the shared region as
// ordinary memory; page faults keep the copies coherent, per page and per
// node, under one of three consistency models (Mome):
//
//   DSM_STRONG   single writer / multiple readers, invalidation before write
//   DSM_RELEASE  multiple writers (twins, XOR diffs); writes become visible
//                at the next acquire after their release (dsm_lock/unlock,
//                dsm_barrier); invalidations are delayed and batched (MWPF)
//   DSM_WEAK     multiple writers; a copy stays valid until its Lamport
//                valid-before date; dsm_sync(range, date) makes the range
//                hold every write made before `date`
//
// The root task builds an instance with dsm_start and runs a function on
// one application thread per node with dsm_run; the application side calls
// the dsm_* functions below with the handle it was given.
#pragma once
#include "manifold.h"

#define DSM_BASE 0x200000000ul          // the shared region, in every node
#define DSM_PAGE 4096ul
#define DSM_MAX_NODES 8
#define DSM_MAX_PAGES 256
#define DSM_MAX_LOCKS 8
#define DSM_XFETCH_MAX 8                // pages fetched ahead in one bulk message

enum dsm_model { DSM_STRONG = 0, DSM_RELEASE, DSM_WEAK, DSM_MODEL_COUNT };

// How messages move between nodes (user/dsm/transport.h).
enum dsm_transport_kind {
    DSM_TRANSPORT_LRPC = 0,     // an LRPC call into the receiver's VAS appends to its ring
    DSM_TRANSPORT_RINGS,        // the sender appends to a ring it shares with the receiver
    DSM_TRANSPORT_COUNT
};

struct dsm_config {
    unsigned nodes;             // 1..DSM_MAX_NODES
    unsigned pages;             // shared pages at DSM_BASE, 1..DSM_MAX_PAGES
    enum dsm_model model;       // every page's model on every node at start
    unsigned xfetch;            // Xfetch: pages fetched ahead of a sequential
                                //   read-fault stream (0 = off, <= DSM_XFETCH_MAX)
    enum dsm_transport_kind transport;
};

// Message and protocol counters of one node (or summed over nodes).
struct dsm_stats {
    uint64_t sent;              // messages to other nodes
    uint64_t bytes;             // their bytes, headers included
    uint64_t faults;            // page faults served by the node's pager
    uint64_t local_faults;      // of those, resolved without any message
    uint64_t invalidations;     // copies dropped on the manager's demand
    uint64_t twins;             // twins made (second and later writers)
    uint64_t merges;            // diffs merged into a reference copy
    uint64_t migrations;        // directories received from another node
    uint64_t forwards;          // requests passed on to a newer manager
    uint64_t prefetched;        // pages that arrived by Xfetch
    uint64_t notices_applied;   // copies dropped at an acquire or a sync
    uint64_t sync_kept;         // weak copies a sync kept: no write in the barrier's batch
    uint64_t outbox_full;       // sends that had to wait for room in the outbox
    uint64_t by_type[16];       // messages sent, by type (dsm_message_name)
};

// ------------------------------------------------------------- root side

// Builds the nodes (objects from the root task's DSM untypeds, documented in
// user/root/root.h) and starts their engines. False if it could not.
bool dsm_start(const struct dsm_config *c);
struct dsm_thread;
typedef void (*dsm_app)(struct dsm_thread *self, uint64_t arg);
// Runs app(self, arg) on one application thread in each node and waits
// until all have returned. 0, or -E_* if the threads could not be started.
long dsm_run(dsm_app app, uint64_t arg);
// Runs app on the nodes whose bit is set in `mask` only.
long dsm_run_on(uint32_t mask, dsm_app app, uint64_t arg);
// Where node `node`'s engine booted (engine true), or where its last
// application thread ran (-1: it did not stay on one CPU; -2: none ran).
// Node n is fixed to CPU n modulo the CPUs (docs/dsm.md).
long dsm_node_cpu(unsigned node, bool engine);
// Revokes everything the instance was made of.
void dsm_stop(void);
// Checks the page-state invariants across all nodes (docs/dsm.md,
// "Invariants"); call when no application thread runs. NULL, or the first
// violation found, as text.
const char *dsm_check(void);
void dsm_dump(void);        // prints what each node waits for (failed tests)
// For the checker's own tests: makes node n's state for page p wrong the
// way a protocol bug would (check.c).
enum dsm_break { DSM_BREAK_UNRECORDED_COPY, DSM_BREAK_SECOND_WRITER, DSM_BREAK_HINT_CYCLE };
bool dsm_test_break(unsigned n, unsigned p, enum dsm_break how);
// A node's counters (node < nodes), or their sum (node = DSM_MAX_NODES).
void dsm_get_stats(unsigned node, struct dsm_stats *out);
void dsm_reset_stats(void);
const char *dsm_message_name(unsigned type);
// Reads `len` bytes of the shared region as node `node` holds them (its own
// copies, without faulting): for tests that look at stale copies.
bool dsm_peek(unsigned node, uint64_t offset, void *out, size_t len);

// ------------------------------------------------------ application side

unsigned dsm_self(const struct dsm_thread *t);      // this node's number
unsigned dsm_nodes(const struct dsm_thread *t);
// This node's consistency model for the pages of [addr, addr+len). Copies
// held under another model are given back first (their writes kept).
void dsm_set_model(struct dsm_thread *t, const volatile void *addr, size_t len, enum dsm_model m);
// Locks and barriers built on messages. Unlock and barrier release this
// node's writes to release pages; lock and barrier acquire: copies written
// elsewhere and released before are dropped (write notices, MWPF).
void dsm_lock(struct dsm_thread *t, unsigned lock);
void dsm_unlock(struct dsm_thread *t, unsigned lock);
// Waits for every node; returns the barrier's Lamport date.
uint64_t dsm_barrier(struct dsm_thread *t);
// Mome's MomeSyncMem: weak pages of the range whose copy is not known to
// hold every write made before `date` are dropped; the next access fetches
// a version that does.
void dsm_sync(struct dsm_thread *t, const volatile void *addr, size_t len, uint64_t date);
uint64_t dsm_clock(struct dsm_thread *t);           // this node's Lamport clock

// Benchmarks (bench.c, apps.c): BENCH lines for fault latencies, Xfetch,
// message counts per model, Jacobi and matrix multiply on 1, 2 and 4 nodes.
void run_dsm_benchmarks(void);
