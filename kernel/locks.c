// cap_lock and space_lock with per-CPU queue nodes (see kernel/locks.h).
#include "kernel/locks.h"
#include "kernel/console.h"
#include "kernel/thread.h"
#include "kernel/lockdep.h"
#include "lib/spinlock.h"

struct held_lock {
    struct mcs_lock lock;
    struct mcs_qnode node[MAX_CPUS];
    bool *held;                         // [MAX_CPUS], in locks.h for the inline tests
};

bool cap_lock_held_by[MAX_CPUS], space_lock_held_by[MAX_CPUS];

uint64_t cap_seq;
struct cap_reader cap_readers[MAX_CPUS];

static struct held_lock caps = {.lock = {.lock_class = LOCK_CLASS_CAP}, .held = cap_lock_held_by},
                        spaces = {.lock = {.lock_class = LOCK_CLASS_SPACE}, .held = space_lock_held_by};

static void acquire(struct held_lock *l)
{
    unsigned me = arch_cpu_id();
    assert(!l->held[me]);
    mcs_lock(&l->lock, &l->node[me]);
    l->held[me] = true;
}

static void release(struct held_lock *l)
{
    unsigned me = arch_cpu_id();
    assert(l->held[me]);
    l->held[me] = false;
    mcs_unlock(&l->lock, &l->node[me]);
}

void cap_lock(void)
{
    acquire(&caps);
    // Odd, then release-fenced before any slot the holder writes (a reader
    // that sees one of those writes sees the count moved).
    __atomic_store_n(&cap_seq, cap_seq + 1, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);
}

void cap_unlock(void)
{
    __atomic_store_n(&cap_seq, cap_seq + 1, __ATOMIC_RELEASE);
    release(&caps);
}

void cap_wait_readers(void)
{
    assert(cap_lock_held());
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    unsigned me = arch_cpu_id();
    for (unsigned i = 0; i < MAX_CPUS; i++)
        while (i != me && __atomic_load_n(&cap_readers[i].reading, __ATOMIC_ACQUIRE))
            cpu_relax();
}
void space_lock(void) { acquire(&spaces); }
void space_unlock(void) { release(&spaces); }

bool space_trylock(void)
{
    unsigned me = arch_cpu_id();
    assert(!spaces.held[me]);
    if (!mcs_trylock(&spaces.lock, &spaces.node[me]))
        return false;
    spaces.held[me] = true;
    return true;
}
