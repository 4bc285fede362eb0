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

// A coordinated checkpoint (repository.c): after the barrier every node's
// writes are released and acquired; the thread leaves its progress word
// in its handle (root task memory) and parks until the root task, seeing
// every node parked, has waited for the engines to be idle and written the
// repository.
long dsm_checkpoint(struct dsm_thread *t, uint64_t progress)
{
    dsm_barrier(t);
    t->progress = progress;
    t->checkpoint_result = -E_AGAIN;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    mf_notification_signal(CAP_PARKED);
    mf_notification_wait(CAP_PARK_WAKE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return t->checkpoint_result;
}

bool dsm_resumed(struct dsm_thread *t, uint64_t *progress)
{
    if (t->resumed && progress)
        *progress = t->resume_progress;
    return t->resumed;
}

void dsm_sync(struct dsm_thread *t, const volatile void *addr, size_t len, uint64_t date)
{
    (void)t;
    uint64_t first, count;
    page_range(addr, len, &first, &count);
    port_call(PORT_APP, OP_SYNC, first, count, date);
}

// Makes each page of the range accessible through the engine first (an
// OP_ACCESS is a fault that reports its error instead of killing), then
// copies. A copy taken away between the two is fetched again by an
// ordinary fault.
static long access_range(const volatile void *addr, size_t len, unsigned access)
{
    uint64_t a = (uintptr_t)addr;
    if (a < DSM_BASE || a + len > DSM_BASE + NODE->pages * DSM_PAGE || a + len < a)
        return -E_RANGE;
    for (uint64_t page = a & ~(DSM_PAGE - 1); page < a + len; page += DSM_PAGE) {
        int64_t r = port_call(PORT_APP, OP_ACCESS, page, access, 0);
        if (r < 0)
            return r;
    }
    return 0;
}

long dsm_read(struct dsm_thread *t, const volatile void *addr, void *out, size_t len)
{
    (void)t;
    long r = access_range(addr, len, MF_ACCESS_READ);
    if (r == 0)
        memcpy(out, (const void *)addr, len);
    return r;
}

long dsm_write(struct dsm_thread *t, volatile void *addr, const void *in, size_t len)
{
    (void)t;
    long r = access_range(addr, len, MF_ACCESS_WRITE);
    if (r == 0)
        memcpy((void *)addr, in, len);
    return r;
}

bool dsm_peer_alive(struct dsm_thread *t, unsigned n)
{
    (void)t;
    return n < NODE->nodes && !(NODE->dead >> n & 1);
}
