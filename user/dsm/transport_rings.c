// The ring transport: messages go straight into the receiver's inbox ring,
// with no LRPC call and no change of address space.
//
// The rings are in the receiving node's binding segment, the LRPC A-stacks
// (transport_lrpc.c): the one kind of memory Manifold maps into several
// address spaces at once for exactly this purpose, argument passing, and
// shares without the SpaceJMP segment lock. Sender i appends to the ring in
// j's A-stack i and signals j's doorbell with a capability badged for i (j
// made it; the root task handed it over when wiring the nodes). The
// receiving side is the same as with LRPC: the engine drains its rings.
//
// Like the A-stacks themselves, a binding's segment is mapped into every
// node, so messages in flight are readable by a third node; pages at rest
// never are (they stay in each node's own memory).
#include "transport.h"

static struct ring *ring_at(unsigned receiver, unsigned sender)
{
    return (struct ring *)(uintptr_t)(ASTACK_SEGMENT(receiver) + sender * ASTACK_BYTES);
}

// Our binding configured (so its segment is shared without the lock), and
// our inbox rings in it.
static bool rings_serve(void)
{
    struct node *self = NODE;
    if (mf_invoke(CAP_BINDING, MF_BINDING_CONFIGURE, CAP_VAS, CAP_ASTACKS, 1, (long)mf_lrpc_entry))
        return false;
    for (unsigned n = 0; n < self->nodes; n++) {
        self->inbox[n] = ring_at(self->id, n);
        ring_init(self->inbox[n], ASTACK_BYTES);
    }
    return true;
}

// Map the other nodes' binding segments into our VAS.
static bool rings_connect(void)
{
    struct node *self = NODE;
    for (unsigned j = 0; j < self->nodes; j++)
        if (j != self->id && mf_invoke(CAP_PEER_BINDING + j, MF_BINDING_ATTACH_CLIENT, CAP_VAS, 0, 0, 0))
            return false;
    return true;
}

static long rings_deliver(unsigned dst, const struct msg *m)
{
    if (!ring_put(ring_at(dst, NODE->id), m, m->length, NULL, 0))
        return -E_AGAIN;
    mf_notification_signal(CAP_PEER_BELL + dst);
    return 0;
}

const struct dsm_transport dsm_transport_rings = {
    .name = "rings",
    .serve = rings_serve,
    .connect = rings_connect,
    .deliver = rings_deliver,
};
