// Between the root task's set-up code (setup.c) and a node's engine
// (engine.c), and the ports' client side.
#pragma once
#include "link.h"

struct dsm_repo_node;     // repository.h

// Written by the engine while it boots, read by the root task.
struct engine_status {
    volatile uint32_t failed;
    uint32_t fixed_frames;
    volatile int32_t engine_cpu;    // where the engine booted
    volatile int32_t error;         // -E_*: the node cannot go on (its pool is full, the disk failed)
};

// Page-out (pageout.c): a node's engine asks the root task's disk thread
// to move its pages through the instance's page-out store. One request at
// a time per node: the engine fills its mailbox and calls the thread (its
// endpoint, badged for the node), whose reply is the store's result. In
// the root task's memory, which every node's VAS maps: `data` is cleared
// as soon as the engine has its pages back.
struct pageout_mailbox {
    uint8_t data[2 * DSM_PAGE];     // a copy, then its twin
    uint32_t write;                 // 1: data to the store, 0: from it
    uint32_t pad;
    uint64_t offset, bytes;         // in the page-out area
    uint64_t store_cycles;          // the disk thread's time in the store for this node, summed
} __attribute__((aligned(4096)));

// What an engine is started with: in the root task's memory (the home
// region every node shares), written before the engine starts and only
// read afterwards.
struct engine_boot {
    unsigned id, nodes, pages, xfetch, model, pool_frames, transport;
    unsigned cpu;               // the node's CPU: its threads are fixed there
    void *fault_stack, *link_stack, *tick_stack;
    size_t fault_stack_size, link_stack_size, tick_stack_size;
    struct dsm_link_config link;
    struct engine_status *status;
    // Restart (repository.c): the node's record in a checked repository,
    // in the root task's memory, applied before the node is reachable; NULL
    // for a fresh node.
    const struct dsm_repo_node *restore;
    struct pageout_mailbox *pageout;    // NULL: no page-out area
};

void engine_main(uint64_t boot);
// Engine side of a restart: makes this fresh node the recorded one (its
// protocol state, its copies, its mappings). False if a mapping failed.
bool repository_apply(const struct dsm_repo_node *r);

// Local threads' side of a port: post an operation, ring the doorbell and
// wait for the engine's result.
int64_t port_call(unsigned port, unsigned op, uint64_t a0, uint64_t a1, uint64_t a2);

// An application thread's handle: which node it runs in. It lives in the
// root task's memory (setup.c), so the root task reads what the thread
// leaves there at a checkpoint and writes the result back.
struct dsm_thread {
    unsigned node, nodes;
    bool resumed;                   // the instance was restarted from a repository
    uint64_t resume_progress;       // what this node's application saved then
    volatile uint64_t progress;     // dsm_checkpoint's word, for the repository
    volatile long checkpoint_result;
};

// Node memory outside the pool, in pages, for `nodes` nodes (what
// engine.c maps at boot); the pool gets the rest of the node's untyped.
static inline unsigned node_fixed_pages(unsigned nodes, bool link)
{
    const size_t page = DSM_PAGE;
    size_t bytes[] = {sizeof(struct node), nodes * RING_BYTES, OUTBOX_BYTES, MSG_MAX, MSG_MAX, DSM_PAGE,
                      nodes * ESTACK_BYTES, MSG_MAX, link ? 0 : nodes * ASTACK_BYTES,
                      link ? LINK_SENDQ + nodes * (size_t)SENDQ_BYTES : 0};
    unsigned pages = 0;
    for (unsigned i = 0; i < sizeof(bytes) / sizeof(bytes[0]); i++)
        pages += (unsigned)((bytes[i] + page - 1) / page);
    return pages;
}

// Root side (setup.c): enter node n's VAS to look at its state, as a
// debugger would (switch back with mf_vas_switch(0)); the nodes' count.
bool dsm_enter(unsigned n);
// Starts an instance whose nodes take their state from `records` (node n
// from records[n], checked by the caller) while they boot; progress[n] is
// what dsm_resumed gives node n's applications.
bool dsm_start_restored(const struct dsm_config *c, const struct dsm_repo_node *const *records,
                        const uint64_t *progress);
// Root side, from dsm_run: every node's application is parked in
// dsm_checkpoint; progress[n] is what node n's passed. Writes the
// repository to the target store; 0 or -E_*.
long repository_checkpoint(const struct dsm_config *c, const uint64_t *progress);
unsigned dsm_node_count(void);
// Root side of page-out (pageout.c). Whether c's page-out area is in its
// store; starts the disk thread and its endpoint (DSM_SLOT_PAGEOUT_EP),
// true at once without an area; node n's mailbox (NULL without the
// thread); stops the thread once it is out of the store; reads node n's
// saved copy (which 0) or twin (1) of page p from the area (dsm_check).
bool pageout_fits(const struct dsm_config *c);
bool pageout_start(const struct dsm_config *c);
struct pageout_mailbox *pageout_mailbox(unsigned n);
uint64_t pageout_store_cycles(unsigned n);     // the disk thread's time in the store for node n
void pageout_stop(void);
bool pageout_read(unsigned n, unsigned pages, unsigned p, unsigned which, void *out);
uint32_t dsm_local_nodes(void);     // the nodes built in this instance (bit n)
