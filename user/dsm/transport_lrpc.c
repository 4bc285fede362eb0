// The LRPC transport: a message to node j is an LRPC call into j's VAS.
//
// Each node exports a Binding whose A-stack segment holds one A-stack per
// sender (A-stack i belongs to node i) and is mapped into every node's VAS.
// Sending copies the message onto our A-stack in j's binding and calls
// PROC_DELIVER: our engine's thread crosses into j's VAS on the E-stack for
// that A-stack (in j's node memory) and, running with j's CSpace, appends
// the message to j's inbox ring for us and rings j's doorbell. Nothing
// waits for j's engine, so two engines sending to each other cannot
// deadlock; a full ring makes the call return -E_AGAIN.
//
// The procedure never reads j's pages: it only appends to j's inbox, the
// way a network interface writes into a receive ring.
#include "transport.h"

enum { PROC_DELIVER = 0, PROCEDURES };

struct astack {
    uint64_t length;            // of the message that follows
    uint8_t bytes[];
};
_Static_assert(sizeof(struct astack) + MSG_MAX <= ASTACK_BYTES, "a message fits an A-stack");

// In the receiver's VAS, on the sender's thread. The sender is the owner of
// the A-stack the kernel gave us (A-stack i sits at i * ASTACK_BYTES).
static int64_t proc_deliver(void *astack)
{
    struct node *self = NODE;
    uint64_t offset = (uintptr_t)astack - ASTACK_SEGMENT(self->id);
    unsigned sender = (unsigned)(offset / ASTACK_BYTES);
    const struct astack *a = astack;
    if (offset % ASTACK_BYTES || sender >= self->nodes || sender == self->id || a->length > MSG_MAX)
        return -E_INVAL;
    if (!ring_put(self->inbox[sender], a->bytes, a->length, NULL, 0))
        return -E_AGAIN;
    mf_notification_signal(CAP_RING_BELL + sender);
    return 0;
}

static const mf_lrpc_procedure procedures[PROCEDURES] = {
    [PROC_DELIVER] = proc_deliver,
};

void dsm_transport_lrpc_export(void)
{
    mf_lrpc_export(procedures, PROCEDURES);
}

// Our inbox rings in node memory; our binding: A-stack i for sender i,
// its E-stack in node memory too.
static bool lrpc_serve(void)
{
    struct node *self = NODE;
    for (unsigned n = 0; n < self->nodes; n++) {
        self->inbox[n] = (struct ring *)(NODE_BASE + OFF_RINGS + n * RING_BYTES);
        ring_init(self->inbox[n], RING_BYTES);
    }
    if (mf_invoke(CAP_BINDING, MF_BINDING_CONFIGURE, CAP_VAS, CAP_ASTACKS, PROCEDURES, (long)mf_lrpc_entry))
        return false;
    for (unsigned i = 0; i < self->nodes; i++) {
        uint64_t astack = ASTACK_SEGMENT(self->id) + i * ASTACK_BYTES;
        uint64_t estack_top = NODE_BASE + OFF_ESTACKS + (i + 1) * ESTACK_BYTES;
        if (i != self->id && mf_invoke(CAP_BINDING, MF_BINDING_SET_ASTACK, i, (long)astack, ASTACK_BYTES,
                                       (long)estack_top))
            return false;
    }
    return true;
}

// Map every other node's A-stacks into our VAS and find ours among them.
static bool lrpc_connect(void)
{
    struct node *self = NODE;
    for (unsigned j = 0; j < self->nodes; j++) {
        if (j == self->id)
            continue;
        if (mf_invoke(CAP_PEER_BINDING + j, MF_BINDING_ATTACH_CLIENT, CAP_VAS, 0, 0, 0))
            return false;
        long va = mf_invoke(CAP_PEER_BINDING + j, MF_BINDING_ASTACK, self->id, 0, 0, 0);
        if (va < 0)
            return false;
        self->astack[j] = (uint64_t)va;
    }
    return true;
}

static long lrpc_deliver(unsigned dst, const struct msg *m)
{
    struct astack *a = (struct astack *)(uintptr_t)NODE->astack[dst];
    a->length = m->length;
    memcpy(a->bytes, m, m->length);
    return mf_lrpc_call(CAP_PEER_BINDING + dst, PROC_DELIVER, NODE->id);
}

const struct dsm_transport dsm_transport_lrpc = {
    .name = "lrpc",
    .serve = lrpc_serve,
    .connect = lrpc_connect,
    .deliver = lrpc_deliver,
};
