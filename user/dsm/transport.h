// How messages leave a node.
//
// A transport moves one message from a sending engine into the receiving
// node's inbox ring for that sender and rings the receiver's doorbell
// (BELL_RING(sender)). Draining the rings is the same whatever carried the
// bytes, so a transport is `serve` (make the inbox rings), `connect` and
// `deliver`. Nodes in one machine use LRPC calls (transport_lrpc.c) or
// rings shared with the sender (transport_rings.c); nodes in separate
// machines use the link transport (link.c): a link thread per node frames
// messages into a shared message region (wire.h: ivshmem between QEMU
// instances, a stand-in buffer inside one) and fills the inbox rings from
// it, behind the same functions.
#pragma once
#include "node.h"

struct dsm_transport {
    const char *name;
    // Run by each node's engine at boot, before any message moves: set up
    // the inbox rings (NODE->inbox[sender], the node's own included) and
    // become reachable. False if it cannot.
    bool (*serve)(void);
    // Run by each engine once every node serves: learn how to reach the
    // others. False if it cannot.
    bool (*connect)(void);
    // Delivers m (m->length bytes) to node dst, not ourselves. 0; -E_AGAIN
    // when dst's ring for us is full now (the engine keeps the message in
    // its outbox and tries again); another -E_* if dst cannot be reached.
    long (*deliver)(unsigned dst, const struct msg *m);
};

extern const struct dsm_transport dsm_transport_lrpc;
extern const struct dsm_transport dsm_transport_rings;
extern const struct dsm_transport dsm_transport_link;
// The LRPC transport's procedures, exported once by the root task (every
// node runs the same code, so one table serves all bindings).
void dsm_transport_lrpc_export(void);
