// DSM internals: one node's private state and the protocol's messages
// (docs/dsm.md explains the protocol; this header is its data).
//
// Every node sees its own private memory at NODE_BASE: the same address in
// every node's VAS, different frames. `struct node` lives there, so code
// running in node n's VAS (its engine, its fault thread, its application
// threads, and LRPC calls from other nodes into it) finds node n's state
// and nobody else's. Nothing here is shared between nodes: pages and
// protocol state move only as messages (struct msg) through the transport
// (whose inbox rings are in node memory, or, for the ring transport, in the
// node's binding segment, shared with the senders).
#pragma once
#include "dsm.h"
#include "ring.h"

// ------------------------------------------------------------ address layout
#define NODE_BASE 0x400000000ul          // node memory segment (4 MiB)
#define NODE_SIZE (4ul << 20)
#define ASTACK_SEGMENT(n) (0x600000000ul + (uint64_t)(n) * (2ul << 20))   // node n's binding

#define MSG_MAX (40u << 10)              // header, 1 + DSM_XFETCH_MAX pages and their entries
#define RING_BYTES (44u << 10)           // an inbox ring (LRPC transport): a maximal message fits
#define OUTBOX_BYTES (80u << 10)
#define ASTACK_BYTES (44u << 10)         // the sender's A-stack (or ring) in each receiver's binding
#define ESTACK_BYTES (8u << 10)

// Offsets in node memory.
#define OFF_CONTROL 0x0ul                // struct node
#define OFF_RINGS 0x40000ul              // + sender * RING_BYTES
#define OFF_OUTBOX 0x98000ul
#define OFF_RXBUF 0xac000ul              // the message being handled
#define OFF_TXBUF 0xb6000ul              // the message being built
#define OFF_SCRATCH 0xc0000ul            // a page snapshot for diffs
#define OFF_ESTACKS 0xc2000ul            // + sender * ESTACK_BYTES: the binding's E-stacks
#define OFF_STAGING 0xd2000ul            // a message leaving the outbox
#define OFF_POOL 0x100000ul              // + f * 4096: the node's frames (copies, twins)
#define OFF_LINK 0x300000ul              // the link transport's area (link.h), after the pool
#define POOL_MAX ((OFF_LINK - OFF_POOL) / DSM_PAGE)
_Static_assert(OFF_RINGS + DSM_MAX_NODES * RING_BYTES <= OFF_OUTBOX, "rings fit");
_Static_assert(OFF_OUTBOX + OUTBOX_BYTES <= OFF_RXBUF, "outbox fits");
_Static_assert(OFF_RXBUF + MSG_MAX <= OFF_TXBUF && OFF_TXBUF + MSG_MAX <= OFF_SCRATCH, "buffers fit");
_Static_assert(OFF_SCRATCH + DSM_PAGE <= OFF_ESTACKS, "scratch fits");
_Static_assert(OFF_ESTACKS + DSM_MAX_NODES * ESTACK_BYTES <= OFF_STAGING, "E-stacks fit");
_Static_assert(OFF_STAGING + MSG_MAX <= OFF_POOL, "staging fits");
_Static_assert(DSM_MAX_NODES * ASTACK_BYTES <= (2ul << 20), "A-stacks fit their segment");

// ------------------------------------------------- the node's CSpace (CNode)
#define NODE_CNODE_BITS 11
enum node_slot {           // CAP_*: slots of a node's CNode
    CAP_SELF = MF_CAP_SELF_CNODE,
    CAP_UNTYPED = MF_CAP_UNTYPED_BASE,    // the node's memory
    CAP_VAS = 20,
    CAP_SEGMENT,                          // the shared region's copies, at DSM_BASE
    CAP_MEMORY,                           // node memory, at NODE_BASE
    CAP_ASTACKS,                          // our binding's A-stacks
    CAP_BINDING,                          // our binding: others deliver through it
    CAP_DOORBELL,                         // the engine waits on it
    CAP_FAULT_EP,                         // faults in CAP_SEGMENT arrive here
    CAP_DONE,                             // the root task's: an app thread returned
    CAP_FAULT_THREAD,
    CAP_LINK_THREAD,                      // link transport: the node's link thread
    CAP_LINK_BELL,                        //   it waits on this
    CAP_TICK_THREAD,                      //   a thread ringing it every tick
    CAP_PEER_BINDING = 32,                // + n: node n's binding
    CAP_PEER_BELL = 40,                   // + n: node n's doorbell, badged for us
    CAP_RING_BELL = 48,                   // + n: our doorbell, badged for sender n
    CAP_PORT_BELL = 56,                   // + port: our doorbell, badged for a port
    CAP_PARKED = 58,                      // the root task's: our application parked at a checkpoint
    CAP_PARK_WAKE = 59,                   //   and waits on this until the repository is written
    CAP_PORT_WAKE = 60,                   // + port: the port's thread waits on it
    CAP_LINK_EVENT = 62,                  // our doorbell, badged BELL_LINK
    CAP_PAGEOUT_EP = 63,                  // page-out: the root task's disk thread, badged for us
    CAP_FIXED_FRAMES = 64,                // node memory outside the pool
    CAP_POOL_ALIAS = 400,                 // + f: pool frame f at NODE_BASE + OFF_POOL
    CAP_POOL_APP = 1200,                  // + f: the same frame in CAP_SEGMENT, when mapped
};
_Static_assert(CAP_POOL_ALIAS + POOL_MAX <= CAP_POOL_APP && CAP_POOL_APP + POOL_MAX <= (1 << NODE_CNODE_BITS),
               "pool slots fit");

// Doorbell bits: one per inbox ring, one per port, one for the root task.
#define BELL_RING(n) (1ull << (n))
#define BELL_PORT(p) (1ull << (16 + (p)))
#define BELL_ROOT (1ull << 40)
#define BELL_LINK (1ull << 41)          // the link declared a peer dead

// ----------------------------------------------------------------- pages
enum access { ACC_NONE = 0, ACC_READ = 1, ACC_WRITE = 2 };

// A node's view of one shared page.
struct page {
    uint8_t access;         // what our segment maps now
    uint8_t allowed;        // what the directory gave us (>= access: a
                            //   release writer is mapped read-only after a
                            //   release until it writes again)
    uint8_t model;          // our contract for this page (enum dsm_model)
    uint8_t manager;        // we hold its directory and its reference copy
    uint8_t hint;           // probable manager: where our requests go
    uint8_t waiting;        // 1 + the port whose request is in flight, or 0
    uint8_t dirty;          // written since our last release
    uint8_t prefetched;     // came by Xfetch
    uint8_t orphan;         // its manager died: our copy (if any) stays readable, nothing more
    uint8_t evicted;        // out of the pool (EVICT_*; pageout.c): frame and twin are -1
    uint8_t pad[2];
    int16_t frame;          // pool frame with our copy, -1: none (or evicted)
    int16_t twin;           // pool frame with our twin, -1: none (or evicted)
    uint32_t hold_until;    // timer tick before which demands for it wait (Mirage's delta)
    uint64_t version;       // the version our copy is of
    uint64_t valid_before;  // our copy holds every write dated before this
    uint64_t constraint;    // weak: our last dsm_sync date for this page
};

// Distant page-out (pageout.c): a page out of a full pool. A dropped read
// copy is no copy at all (the directory still lists us: the next access
// asks the manager again; a demand for it is answered as for a copy); a
// page on disk is a copy still held, with its twin if it had one, read back
// before anything uses it; a zero page is a reference copy never used yet.
#define EVICT_DROPPED 1     // a read copy given up without telling the manager
#define EVICT_DISK 2        // the copy (a reference copy, or a writer's) is in the page-out area
#define EVICT_TWIN 4        //   and its twin too
#define EVICT_ZERO 8        // a reference copy still all zero, never in the pool

// Whether we hold page p's data, in the pool or on disk; whether we hold a
// twin of it (the protocol's view, wherever the frames are).
static inline bool has_data(const struct page *pg)
{
    return pg->frame >= 0 || (pg->evicted & (EVICT_DISK | EVICT_ZERO));
}
static inline bool has_twin(const struct page *pg) { return pg->twin >= 0 || (pg->evicted & EVICT_TWIN); }

// A request for access, as it travels to the manager and waits in its queue.
struct request {
    uint16_t page;
    uint8_t origin;         // the node that wants access
    uint8_t access;         // ACC_READ or ACC_WRITE
    uint8_t model;          // its contract for the page
    uint8_t xmask;          // Xfetch: bit i asks for page + 1 + i as well
    int16_t next;           // queue link (request pool index)
    uint8_t xmodel[DSM_XFETCH_MAX];
    uint64_t have_version;  // version of the origin's copy, 0: none
    uint64_t constraint;    // weak: writes dated before this must be in
};

// The directory of a page, valid at its manager only. It migrates with
// the manager role (in the grant that makes the new writer the manager).
struct directory {
    uint8_t access[DSM_MAX_NODES];      // what each node holds
    uint8_t model[DSM_MAX_NODES];       // under which contract
    uint64_t version;                   // of the reference copy
    uint64_t pulled[DSM_MAX_NODES];     // twinned writer k's writes are merged up to this date
    // The transaction in progress: at most one per page.
    uint8_t busy;                       // serving `current`
    uint8_t acks;                       // replies still awaited
    uint8_t granted;                    // the grant is out; waiting for its ack
    uint8_t owed;                       // bit k: node k's reply is one of `acks`
    int16_t queue_head, queue_tail;     // requests waiting their turn
    struct request current;
};

// What migrates with the directory (in a GRANT that makes the origin the manager).
struct directory_image {
    uint8_t access[DSM_MAX_NODES];
    uint8_t model[DSM_MAX_NODES];
    uint64_t version;
    uint64_t pulled[DSM_MAX_NODES];
};

// ------------------------------------------------------------- messages
enum msg_type {
    MSG_REQUEST = 1,    // struct request: node -> manager (forwarded along hints)
    MSG_GRANT,          // manager -> origin: grant entries, data, maybe the directory
    MSG_GRANT_ACK,      // origin -> manager: installed (page list)
    MSG_INVALIDATE,     // manager -> holder: drop the copy
    MSG_DOWNGRADE,      // manager -> writer: stop writing, keep reading
    MSG_PULL,           // manager -> twinned writer: send your diff, keep writing
    MSG_ACK,            // holder -> manager: done (arg[1] = what), + the diff if a writer
    MSG_FLUSH,          // writer -> manager: diffs (flush entries)
    MSG_FLUSH_ACK,      // manager -> writer: the versions they made (notice entries)
    MSG_DROP,           // holder -> manager: copies given up (page list)
    MSG_LOCK,           // -> lock manager
    MSG_LOCK_GRANT,     // lock manager -> next holder, + write notices
    MSG_UNLOCK,         // -> lock manager, + write notices
    MSG_BARRIER,        // -> barrier master, + write notices
    MSG_BARRIER_DONE,   // barrier master -> all, + the union of notices
    MSG_NACK,           // -> origin: the request for page arg[0] cannot be served (arg[1] = -E_*)
    MSG_TYPE_COUNT
};
_Static_assert(MSG_TYPE_COUNT <= 20, "dsm_stats.by_type counts every type");

struct msg {
    uint8_t type;
    uint8_t src;            // sending node
    uint16_t count;         // entries in the payload
    uint32_t length;        // bytes, this header included
    uint64_t date;          // the sender's Lamport clock
    uint64_t arg[4];        // per type (see the handlers)
    uint8_t payload[];
};

// GRANT entries; the pages' data follow in entry order.
#define GRANT_DATA 1        // the page's contents follow
#define GRANT_TWIN 2        // make a twin: other writers exist
#define GRANT_MANAGER 4     // you are the manager now: the directory image follows the entries
#define GRANT_PREFETCH 8    // sent ahead by Xfetch
struct grant_entry {
    uint16_t page;
    uint8_t access, model, flags, pad[3];
    uint64_t version, valid_before;
};

// FLUSH entries, each followed by its diff (diff_bytes, 8-byte aligned).
#define FLUSH_DROP 1        // and the sender no longer holds the page
struct flush_entry {
    uint16_t page;
    uint8_t flags, pad;
    uint32_t diff_bytes;
};

// Write notices: page q changed; copies older than `version` are stale.
struct notice {
    uint16_t page, pad[3];
    uint64_t version;
};

// ACK and its cause (arg[1]).
enum ack_kind { ACK_INVALIDATE = 1, ACK_DOWNGRADE, ACK_PULL };

// A diff is runs of 64-bit words: {first word, count} then the XOR of the
// new and the twin's words. At most one page plus one run header.
#define DIFF_MAX (DSM_PAGE + 8)

// Messages cross machines (link.c), an x86_64 and an aarch64 one alike: every
// structure that travels has fixed-width fields at offsets both LP64 ABIs
// agree on, little-endian on both. These sizes are part of the wire format.
_Static_assert(sizeof(struct msg) == 48 && sizeof(struct request) == 32 && sizeof(struct grant_entry) == 24 &&
               sizeof(struct directory_image) == 88 && sizeof(struct flush_entry) == 8 &&
               sizeof(struct notice) == 16, "the messages' wire layout");

// ---------------------------------------------------------------- ports
// A local thread (the fault thread, an application thread) asks its engine
// for something through a port: it fills the request, rings the doorbell
// and waits on its wake notification until the engine has set `result`.
enum port_op { OP_NONE, OP_FAULT, OP_LOCK, OP_UNLOCK, OP_BARRIER, OP_SYNC, OP_SET_MODEL, OP_ACCESS };
#define PORT_FAULT 0
#define PORT_APP 1
#define PORTS 2
_Static_assert(CAP_PORT_BELL + PORTS <= CAP_PARKED && CAP_PARK_WAKE < CAP_PORT_WAKE, "park slots fit");

// A step of a port's operation that a reply answers: a page's diff to
// flush (and with WORK_FLUSH_DROP the copy given up), or a request for
// the page. A port keeps at most PORT_WINDOW of them unanswered, so no
// operation, whatever its range, sends more than that many pages or
// requests at once: the rings and the outbox are sized for it.
enum work_kind { WORK_FLUSH, WORK_FLUSH_DROP, WORK_REQUEST };
struct work {
    uint16_t page;
    uint8_t kind, access, model, pad;
};
#define PORT_WINDOW 8

struct port {
    volatile uint32_t posted;   // set by the client, cleared by the engine on taking it
    uint32_t op;
    uint64_t arg[3];
    volatile int64_t result;
    // The engine's progress on it.
    uint32_t active;
    uint32_t step;              // where a multi-step operation is
    uint32_t outstanding;       // replies still awaited
    uint16_t work_count, work_next;
    struct work work[2 * DSM_MAX_PAGES];
};

// ---------------------------------------------------------- locks, barrier
struct lock_state {             // at the lock's manager (lock % nodes)
    uint8_t held, holder, queue_length, pad;    // holder, queue: node * PORTS + port
    uint8_t queue[DSM_MAX_NODES * PORTS];
    uint64_t notices[DSM_MAX_PAGES];    // page -> latest released version, 0: none
};

#define PAGE_BITMAP (DSM_MAX_PAGES / 8)

struct barrier_state {          // at node 0
    uint32_t arrived;               // bit n: node n arrived
    uint8_t port[DSM_MAX_NODES];    // each node's waiting port
    uint64_t date;
    uint64_t notices[DSM_MAX_PAGES];
    uint8_t weak_written[PAGE_BITMAP];  // union of the arrivals'
};

// A demand (INVALIDATE, DOWNGRADE) for a page still held for the fault it
// was fetched for: answered once the hold ends.
struct deferred {
    uint8_t type, from;
    uint16_t page;
};

// ------------------------------------------------------------------ node
#define REQUEST_POOL 128       // outstanding requests: nodes x (1 fault + PORT_WINDOW)
#define DEFERRED_MAX 64
#define HOLD_TICKS 1            // a faulted-in page stays at least until the next tick
#define PAGEOUT_RECENT 4        // the pages of the last uses (faults, grants, read-backs) are evicted last

struct pageout_mailbox;         // engine.h

// Page-out's bookkeeping (pageout.c).
struct pageout_state {
    struct pageout_mailbox *mailbox;    // in the root task's memory; NULL: no page-out area
    uint32_t event;                     // the engine's current message or operation
    uint32_t clock;                     // uses so far (pageout_used): last_use's time
    uint32_t pin[DSM_MAX_PAGES];        // == event: its frames are in use, not to be evicted
    uint32_t last_use[DSM_MAX_PAGES];   // the clock when it was last faulted on, fetched or read back
    uint32_t crc[DSM_MAX_PAGES][2];     // of the copy and the twin on disk
    uint8_t clean[DSM_MAX_PAGES];       // read back and unchanged since: the area still holds it
};

struct engine_status;           // engine.h

struct node {
    uint32_t id, nodes, pages, xfetch;
    uint32_t transport;             // enum dsm_transport_kind
    uint32_t pool_frames;           // frames in the pool
    uint32_t fixed_frames;
    uint64_t clock;                 // Lamport clock
    uint64_t astack[DSM_MAX_NODES]; // our A-stack in node n's binding
    struct ring *inbox[DSM_MAX_NODES];   // one per sender, placed by the transport
    struct ring *outbox;
    struct port port[PORTS];
    struct page page[DSM_MAX_PAGES];
    struct directory dir[DSM_MAX_PAGES];
    struct request requests[REQUEST_POOL];
    int16_t request_free;
    int16_t frame_free;             // free list through frame_next
    int16_t frame_next[POOL_MAX];
    uint32_t frames_used;
    uint32_t frames_peak;           // the most frames_used has been
    // Xfetch: the page a sequential read stream would fault on next, and
    // how many faults in a row have continued it.
    int32_t stream_next;
    uint32_t run;
    struct lock_state lock[DSM_MAX_LOCKS];
    struct barrier_state barrier;
    uint64_t barrier_date;          // date of the last barrier we passed
    uint64_t barrier_previous;      // and of the one before
    // MWPF for weak pages: the weak pages we held write access to since our
    // last barrier arrival, and the union of everyone's at the last barrier.
    uint8_t weak_written[PAGE_BITMAP];
    uint8_t weak_changed[PAGE_BITMAP];
    // Write notices we know of: page -> the latest released version (0:
    // none). Every release hands all of them on, so they reach whoever
    // synchronises with us later, through any chain of locks and barriers.
    uint64_t known[DSM_MAX_PAGES];
    struct deferred deferred[DEFERRED_MAX];
    uint32_t deferred_count;
    struct dsm_stats stats;
    bool tx_open;                   // a message is being built in the TX buffer
    uint32_t dead;                  // peers known dead (bit n): the engine's copy of the link's
    struct dsm_link_config link;    // DSM_TRANSPORT_LINK
    void *link_stack, *tick_stack;  // the link thread's and its ticker's (root task memory)
    size_t link_stack_size, tick_stack_size;
    // For the root task's repository (repository.c): the engine is blocked
    // on its doorbell with nothing left to do (set just before the wait),
    // and how many times it has woken from it.
    volatile uint32_t asleep;
    volatile uint64_t wakeups;
    struct pageout_state pageout;
    struct engine_status *status;   // the root task's view of us (its memory): a failure goes there
};
_Static_assert(sizeof(struct node) <= OFF_RINGS - OFF_CONTROL, "struct node fits its area");

#define NODE ((struct node *)(NODE_BASE + OFF_CONTROL))
static inline uint8_t *pool_page(int f) { return (uint8_t *)(NODE_BASE + OFF_POOL + (uint64_t)f * DSM_PAGE); }
static inline volatile uint8_t *shared_page(unsigned p) { return (volatile uint8_t *)(DSM_BASE + p * DSM_PAGE); }

// ------------------------------------------------------- shared functions
// engine.c: messages out, local threads' requests in.
struct msg *msg_begin(unsigned type);                   // in the TX buffer
void *msg_put(struct msg *m, const void *data, size_t bytes);   // append payload
void msg_send(struct msg *m, unsigned dst);              // stamps date and src, delivers or queues
void msg_cancel(struct msg *m);                          // drop the message being built
void port_complete(unsigned port, int64_t result);
void port_continue(unsigned port);                       // the op's next step: its replies are in
void port_progress(unsigned port);                       // one reply for a multi-step op arrived

// failure.c: peers that died.
void failure_scan(void);                                 // takes in what the link declared
bool node_dead(unsigned n);
void nack_request(const struct request *r, long error);  // the origin learns its request failed
void holder_nack(const struct msg *m);

// manager.c: the directory side.
void manager_request(const struct request *r);
void manager_ack(const struct msg *m);
void manager_grant_ack(const struct msg *m);
void manager_flush(const struct msg *m);
void manager_drop(const struct msg *m);
bool manager_init_page(unsigned p);      // false: no frame for its reference copy
void manager_forget(unsigned dead);     // a dead node holds nothing and asks for nothing

// holder.c: the copy side.
void holder_fault(unsigned port, uint64_t addr, unsigned access);
void holder_grant(const struct msg *m);
void holder_invalidate(const struct msg *m);
bool holder_deferred(void);     // answers the demands whose hold ended; true if some still wait
bool holder_may_downgrade(unsigned p);
void holder_downgrade_local(unsigned p);
void holder_request(unsigned p, unsigned access, unsigned model, unsigned port, uint8_t xmask);
void holder_drop_copy(unsigned p);
size_t holder_take_diff(unsigned p, uint8_t *out, bool stop);
int frame_alloc(void);
void frame_free(int f);
bool map_app(unsigned p, unsigned access);

// pageout.c: distant page-out.
int frame_take(void);                   // a free frame, evicting a page for it if the pool is full; -1
bool page_ready(unsigned p);            // p's frames resident (read back if on disk) for this event
void page_done(unsigned p);             // or until now: loops over many pages in one event
void pageout_event(void);               // the engine starts on another message or operation
void pageout_used(unsigned p);          // p was faulted on or fetched: evicted last
void pageout_init_page(unsigned p);     // a page we manage from the start: a zero page, not yet in the pool
void pageout_changed(unsigned p);       // p's copy or twin changes (or may): the area's is old
void node_fail(long error);             // tells the root task that this node cannot go on

// release.c: release, acquire, sync, model changes.
void port_pump(unsigned port);          // sends work up to the window; continues when all is answered
void release_start(unsigned port);
void release_flush_ack(const struct msg *m);
void acquire_notices(unsigned port, const struct notice *n, unsigned count);
void sync_start(unsigned port, unsigned first, unsigned count, uint64_t date);
void set_model_start(unsigned port, unsigned first, unsigned count, unsigned model);

// sync.c: locks and barriers.
void lock_message(const struct msg *m);
void op_lock(unsigned port, unsigned lock);
void op_unlock_released(unsigned port);
void op_barrier_released(unsigned port);
void barrier_check(void);               // completes the barrier if every live node arrived

// diff.c: twins and XOR diffs.
size_t diff_make(const uint8_t *page, const uint8_t *twin, uint8_t *out);
void diff_apply(uint8_t *page, const uint8_t *diff, size_t bytes);

static inline uint8_t max_u8(uint8_t a, uint8_t b) { return a > b ? a : b; }
static inline bool bit_test(const uint8_t *map, unsigned i) { return map[i / 8] >> (i % 8) & 1; }
static inline void bit_set(uint8_t *map, unsigned i) { map[i / 8] |= (uint8_t)(1u << (i % 8)); }
static inline uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
