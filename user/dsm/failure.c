// Peers that die (link transport): what a node does once its link thread
// declares a peer dead (link.c), so that accesses which need the dead node
// fail with -E_DEAD instead of waiting forever, and everything else goes on.
//
//   - As a manager: the dead node holds nothing and asks for nothing. Its
//     entries leave every directory we keep, its queued requests are
//     dropped, a reply it owed a transaction is no longer awaited, and a
//     transaction serving it ends (manager_forget).
//   - As a holder: a page whose probable manager is the dead node is an
//     orphan: its directory and reference copy died with it. A copy we hold
//     stays readable (it is the last version granted to us); anything more
//     (a write, a read without a copy) gives -E_DEAD. A request of ours in
//     flight to it fails the waiting access.
//   - As a forwarder: a request we would forward to a dead node goes back
//     to its origin as a NACK (-E_DEAD), which makes the page an orphan
//     there too.
//   - Barriers complete once every live node has arrived.
//
// Not recovered (docs/dsm.md): locks kept by the dead node, releases whose
// flush was for it, and a request forwarded to it just before it died
// (the forwarder could not know).
#include "link.h"
#include "transport.h"

bool node_dead(unsigned n) { return n < DSM_MAX_NODES && (NODE->dead >> n & 1); }

// Ends the access waiting for page p with `error`, if one does.
static void fail_waiting(unsigned p, long error)
{
    struct page *pg = &NODE->page[p];
    if (!pg->waiting)
        return;
    unsigned port = pg->waiting - 1u;
    unsigned op = NODE->port[port].op;
    if (op == OP_FAULT || op == OP_ACCESS) {
        pg->waiting = 0;
        port_complete(port, error);
    }
}

void nack_request(const struct request *r, long error)
{
    struct node *self = NODE;
    if (r->origin == self->id) {
        self->page[r->page].orphan = 1;
        fail_waiting(r->page, error);
        return;
    }
    if (node_dead(r->origin))
        return;
    struct msg *m = msg_begin(MSG_NACK);
    m->arg[0] = r->page;
    m->arg[1] = (uint64_t)-error;
    msg_send(m, r->origin);
}

void holder_nack(const struct msg *m)
{
    unsigned p = (unsigned)m->arg[0];
    NODE->page[p].orphan = 1;
    fail_waiting(p, -(long)m->arg[1]);
}

void failure_scan(void)
{
    struct node *self = NODE;
    uint32_t fresh = __atomic_load_n(&LINK->dead, __ATOMIC_ACQUIRE) & ~self->dead;
    if (!fresh)
        return;
    self->dead |= fresh;
    for (unsigned n = 0; n < self->nodes; n++) {
        if (!(fresh >> n & 1))
            continue;
        printf("dsm: node %u: node %u is dead (silent for %u ticks)\n", self->id, n, LINK->stats.dead_after);
        manager_forget(n);
    }
    for (unsigned p = 0; p < self->pages; p++) {
        struct page *pg = &self->page[p];
        if (!pg->manager && node_dead(pg->hint)) {
            pg->orphan = 1;
            fail_waiting(p, -E_DEAD);
        }
    }
    barrier_check();
}
