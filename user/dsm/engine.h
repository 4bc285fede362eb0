// Between the root task's set-up code (setup.c) and a node's engine
// (engine.c), and the ports' client side.
#pragma once
#include "link.h"

// Written by the engine while it boots, read by the root task.
struct engine_status {
    volatile uint32_t failed;
    uint32_t fixed_frames;
    volatile int32_t engine_cpu;    // where the engine booted
};

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
};

void engine_main(uint64_t boot);

// Local threads' side of a port: post an operation, ring the doorbell and
// wait for the engine's result.
int64_t port_call(unsigned port, unsigned op, uint64_t a0, uint64_t a1, uint64_t a2);

// An application thread's handle: which node it runs in.
struct dsm_thread {
    unsigned node, nodes;
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
unsigned dsm_node_count(void);
uint32_t dsm_local_nodes(void);     // the nodes built in this instance (bit n)
