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
    DSM_TRANSPORT_LINK,         // frames over a shared message region, as between machines (link.c)
    DSM_TRANSPORT_COUNT
};

// Faults the link's channel injects (channel_faulty.c): per frame, in
// permille, from a seeded generator. All 0: a perfect channel.
enum dsm_fault_kind { DSM_FAULT_CORRUPT, DSM_FAULT_DUPLICATE, DSM_FAULT_REORDER, DSM_FAULT_REPLAY,
                      DSM_FAULT_DROP, DSM_FAULT_KINDS };
struct dsm_faults {
    uint64_t seed;
    uint16_t permille[DSM_FAULT_KINDS];
};

// The link transport (DSM_TRANSPORT_LINK, docs/dsm.md "Across machines").
struct dsm_link_config {
    // The shared message region: NULL for a stand-in buffer in the root
    // task (every node in this instance); between instances, the ivshmem
    // BAR, zeroed before the first instance boots.
    volatile void *region;
    uint64_t region_bytes;
    uint32_t local;             // the nodes this instance hosts (bit n); 0: all
    uint32_t dead_ticks;        // a peer silent this long is dead; 0: DSM_DEAD_TICKS
    struct dsm_faults faults;
    // Between instances: rings peer `id`'s doorbell (ivshmem); our own id.
    // NULL: the stand-in's notifications.
    void (*doorbell)(uint32_t id);
    uint32_t doorbell_id;
};
#define DSM_DEAD_TICKS 100      // 1 s at 100 Hz

// Distant page-out (docs/dsm.md "Page-out"): where a node whose pool is
// full evicts pages. Node n's copy of page p goes to byte
// offset + ((n * pages + p) * 2) * 4096 of the store, its twin to the next
// 4 KiB; the area needs nodes * pages * 8 KiB. The store (user/lib/ckpt.h:
// in memory, or through blkd on a disk) is used by one thread of the root
// task, and must stay valid while the instance runs.
struct mf_ckpt_store;                   // user/lib/ckpt.h
struct dsm_pageout {
    const struct mf_ckpt_store *store;  // NULL: no page-out; a node whose pool is full fails (-E_NOMEM)
    uint64_t offset;                    // of the area in the store, a multiple of 4 KiB
};
#define DSM_PAGEOUT_MIN_POOL 6          // frames per node, at least, with a page-out area (+ xfetch)

struct dsm_config {
    unsigned nodes;             // 1..DSM_MAX_NODES
    unsigned pages;             // shared pages at DSM_BASE, 1..DSM_MAX_PAGES
    enum dsm_model model;       // every page's model on every node at start
    unsigned xfetch;            // Xfetch: pages fetched ahead of a sequential
                                //   read-fault stream (0 = off, <= DSM_XFETCH_MAX)
    enum dsm_transport_kind transport;
    struct dsm_link_config link;    // DSM_TRANSPORT_LINK only
    unsigned pool_frames;       // frames per node for copies, twins and reference
                                //   copies; 0: as many as every page and a twin of
                                //   each need (2 x pages + 16, within 2 MiB)
    struct dsm_pageout pageout;
};

// The link layer's counters of one node (dsm_get_link_stats).
struct dsm_link_stats {
    uint64_t data_sent;         // DATA frames put, first transmissions
    uint64_t retransmits;       // DATA frames put again
    uint64_t timeouts;          // go-back-N rounds after an ack timeout
    uint64_t acks_sent;         // ACK frames (acks and heartbeats)
    uint64_t delivered;         // messages handed to the engine, in order
    uint64_t bad_frames;        // dropped: checksum, magic or length wrong
    uint64_t duplicates;        // dropped: a DATA frame already delivered
    uint64_t out_of_order;      // dropped: a DATA frame ahead of a missing one
    uint64_t stale_acks;        // ACKs older than what was acknowledged
    uint64_t misaddressed;      // dropped: wrong source, destination or epoch
    uint64_t inbox_full;        // in-order DATA dropped: the engine's ring was full
    uint64_t ring_errors;       // impossible ring indices seen
    uint64_t injected[DSM_FAULT_KINDS];     // what the fault injector did
    uint32_t dead;              // peers declared dead (bit n)
    uint32_t dead_after;        // ticks of silence (our running time) before the declaration (last one)
    uint32_t stalled_ticks;     // ticks this node's link did not run (not counted as anyone's silence)
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
    uint64_t by_type[20];       // messages sent, by type (dsm_message_name)
    // Distant page-out (docs/dsm.md "Page-out").
    uint64_t evictions;         // pages taken out of a full pool: drops + page-outs + clean ones
    uint64_t drops;             //   read copies dropped (their manager has the page)
    uint64_t page_outs;         //   pages written to the page-out area (with their twins)
    uint64_t clean_outs;        //   pages whose copy there was still good: nothing written
    uint64_t disk_writes;       // 4 KiB blocks written there (a copy, a twin)
    uint64_t page_ins;          // pages read back from it
    uint64_t zero_fills;        // pages this node manages, first used: made without the disk
    uint64_t refetches;         // dropped copies asked for again
    uint64_t pageout_cycles;    // waiting for the disk: page-outs (counter ticks, summed)
    uint64_t pagein_cycles;     //   page-ins
    uint64_t store_cycles;      //   of both, the root task's disk thread inside the store (blkd)
    uint64_t paged_out;         // pages out of the pools now, dropped or on disk (not a counter: read at the call)
};

// ------------------------------------------------------------- root side

// Builds the nodes (objects from the root task's DSM untypeds, documented in
// user/root/root.h) and starts their engines. False if it could not.
bool dsm_start(const struct dsm_config *c);
struct dsm_thread;
typedef void (*dsm_app)(struct dsm_thread *self, uint64_t arg);
// Runs app(self, arg) on one application thread in each node and waits
// until all have returned. 0; -E_* if the threads could not be started;
// -E_AGAIN if they had not returned after 60 s without news; or the error
// of a node that cannot go on (-E_NOMEM: its pool is full and it has no
// page-out area, or nothing in it can go; a page-out store's error): its
// faulting thread is killed (an unresolvable fault) and dsm_run returns
// at once, leaving the instance good only for dsm_stop.
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
// Node `node`'s link counters (zero unless it uses DSM_TRANSPORT_LINK).
void dsm_get_link_stats(unsigned node, struct dsm_link_stats *out);
// Stops node n the way a crashed machine stops: its engine, fault thread
// and link thread never run again (tests of failure detection).
bool dsm_kill(unsigned n);
// Link transport, root side: the peers node n's link has heard from (bit
// k); whether everything it sent was acknowledged; a copy of its link
// thread's bell in our slot (to pass interrupts on).
uint32_t dsm_link_up(unsigned n);
bool dsm_link_idle(unsigned n);
bool dsm_copy_link_bell(unsigned n, long slot);
void dsm_reset_stats(void);
// The most frames node `node`'s pool has had in use at once.
unsigned dsm_pool_peak(unsigned node);
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
// Reads or writes [addr, addr+len) of the shared region like ordinary
// accesses would, but a page that cannot be reached (its manager died,
// nobody else holds it) gives -E_DEAD instead of a fault that never ends.
// 0, -E_DEAD, or -E_RANGE outside the region. (A plain load or store to
// such a page kills the thread, as an unresolvable fault does.)
long dsm_read(struct dsm_thread *t, const volatile void *addr, void *out, size_t len);
long dsm_write(struct dsm_thread *t, volatile void *addr, const void *in, size_t len);
// Whether node n is alive as far as this node knows.
bool dsm_peer_alive(struct dsm_thread *t, unsigned n);

// ------------------------------------------------------------- repository
// A coordinated checkpoint of the whole instance at a barrier, and a
// restart from it, in this boot or a later one (repository.c; docs/dsm.md
// "Repository"). Not with the link transport.
struct dsm_repository_stats {
    uint64_t bytes;                     // the repository's size
    uint32_t nodes, frames;             // pool frames saved (copies, twins), all nodes
    uint64_t date;                      // the highest Lamport clock recorded
    uint64_t quiesce_cycles;            // save: waiting for every engine to be idle
    uint64_t record_cycles;             //   copying every node's state and frames
    uint64_t write_cycles;              //   writing the store
    uint64_t frozen_cycles;             //   every application parked, until let go
    uint64_t read_cycles;               // restart: reading and checking the store
    uint64_t start_cycles;              //   booting the nodes, which take their records
    uint64_t check_cycles;              //   dsm_check on the restored instance
};
// Root side: where the next checkpoint goes (a copy of *s is kept; NULL:
// nowhere, and dsm_checkpoint gives -E_NOENT).
void dsm_repository_target(const struct mf_ckpt_store *s);
// The figures of the last checkpoint written.
void dsm_repository_stats(struct dsm_repository_stats *out);
// Root side: starts an instance from the repository in `s`, with the
// configuration it records (out, if not NULL), every node's protocol state,
// copies and mappings as they were; its applications see dsm_resumed. The
// restored instance must pass dsm_check. 0; -E_NOEXEC: not a repository
// (magic, version, architecture, layout); -E_INVAL: a checksum, a record
// or the restored instance is wrong (a console line says which); -E_NOMEM:
// larger than the staging buffer; or the store's error. Nothing is left
// running on failure.
long dsm_restart(const struct mf_ckpt_store *s, struct dsm_config *out, struct dsm_repository_stats *stats);
// Application side, on every node at the same point of the program: a
// barrier, then the whole instance is recorded to the target with `progress`
// (this node's word, e.g. the next iteration); returns once it is written:
// 0, or the save's -E_* (-E_NOENT: no target; -E_INVAL: not every node's
// application took part; -E_BUSY: the engines did not become idle).
long dsm_checkpoint(struct dsm_thread *t, uint64_t progress);
// Whether this instance was restarted from a repository; then *progress
// is what this node's application passed to dsm_checkpoint.
bool dsm_resumed(struct dsm_thread *t, uint64_t *progress);

// Benchmarks (bench.c, apps.c): BENCH lines for fault latencies, Xfetch,
// message counts per model, Jacobi and matrix multiply on 1, 2 and 4 nodes.
void run_dsm_benchmarks(void);
