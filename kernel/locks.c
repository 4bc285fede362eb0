// cap_lock and space_lock with per-CPU queue nodes (see kernel/locks.h).
#include "kernel/locks.h"
#include "kernel/console.h"
#include "kernel/thread.h"
#include "kernel/lockdep.h"
#include "lib/spinlock.h"

struct held_lock {
    struct mcs_lock lock;
    struct mcs_qnode node[MAX_CPUS];
    bool held[MAX_CPUS];
};

static struct held_lock caps = {.lock = {.lock_class = LOCK_CLASS_CAP}},
                        spaces = {.lock = {.lock_class = LOCK_CLASS_SPACE}};

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

void cap_lock(void) { acquire(&caps); }
void cap_unlock(void) { release(&caps); }
bool cap_lock_held(void) { return caps.held[arch_cpu_id()]; }
void space_lock(void) { acquire(&spaces); }
void space_unlock(void) { release(&spaces); }
bool space_lock_held(void) { return spaces.held[arch_cpu_id()]; }
