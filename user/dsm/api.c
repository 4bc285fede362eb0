// The application side: what a thread running in a node's VAS calls. Each
// call is an operation on the node's application port (engine.c).
#include "engine.h"

unsigned dsm_self(const struct dsm_thread *t) { return t->node; }
unsigned dsm_nodes(const struct dsm_thread *t) { return t->nodes; }
uint64_t dsm_clock(struct dsm_thread *t) { (void)t; return NODE->clock; }

// The pages [first, first + count) covering [addr, addr + len).
static void page_range(const volatile void *addr, size_t len, uint64_t *first, uint64_t *count)
{
    uint64_t a = (uintptr_t)addr < DSM_BASE ? DSM_BASE : (uintptr_t)addr;
    uint64_t end = (uintptr_t)addr + len;
    *first = (a - DSM_BASE) / DSM_PAGE;
    *count = end > a ? (end - DSM_BASE + DSM_PAGE - 1) / DSM_PAGE - *first : 0;
}

void dsm_set_model(struct dsm_thread *t, const volatile void *addr, size_t len, enum dsm_model m)
{
    (void)t;
    uint64_t first, count;
    page_range(addr, len, &first, &count);
    port_call(PORT_APP, OP_SET_MODEL, first, count, m);
}

void dsm_lock(struct dsm_thread *t, unsigned lock) { (void)t; port_call(PORT_APP, OP_LOCK, lock, 0, 0); }
void dsm_unlock(struct dsm_thread *t, unsigned lock) { (void)t; port_call(PORT_APP, OP_UNLOCK, lock, 0, 0); }
uint64_t dsm_barrier(struct dsm_thread *t) { (void)t; return (uint64_t)port_call(PORT_APP, OP_BARRIER, 0, 0, 0); }

void dsm_sync(struct dsm_thread *t, const volatile void *addr, size_t len, uint64_t date)
{
    (void)t;
    uint64_t first, count;
    page_range(addr, len, &first, &count);
    port_call(PORT_APP, OP_SYNC, first, count, date);
}
