// Threads: the list of all threads, formatting, ending and freeing them.
// The scheduler that runs them is kernel/sched.c.
//
// Locking (kernel/thread.h, docs/smp.md): threads_lock for the list of all
// threads and ids; a thread's scheduling state is its CPU's run-queue
// lock's (sched.c).
#include "kernel/slots.h"
#include "kernel/lockdep.h"
#include "kernel/thread.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/ipc.h"
#include "kernel/locks.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/segment.h"
#include "include/manifold/cap.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

static struct mcs_lock threads_lock = {.lock_class = LOCK_CLASS_THREADS};
static struct thread *all_threads;
static uint32_t next_id = 1;

// ------------------------------------------------------- the thread list

static void list_add(struct thread *t)
{
    t->all_prev = NULL;
    t->all_next = all_threads;
    if (all_threads)
        all_threads->all_prev = t;
    all_threads = t;
}

static void list_remove(struct thread *t)
{
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else if (all_threads == t)
        all_threads = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    t->all_next = t->all_prev = NULL;
}

static void thread_format(struct thread *t, const char *name, bool is_object)
{
    struct mcs_qnode q;
    t->kstack = (uintptr_t)t;
    t->state = THREAD_INACTIVE;
    t->priority = 10;
    t->last_cpu = NEVER_RAN;
    t->lrpc_abort_to = LRPC_NO_ABORT;
    t->is_object = is_object;
    t->ipc_lock.lock_class = LOCK_CLASS_THREAD_IPC;
    for (unsigned i = 0; i < ARRAY_SIZE(t->vas_ref); i++) {
        t->vas_ref[i].thread = t;
        t->vas_ref[i].index = (uint8_t)i;
    }
    strlcpy(t->name, name, sizeof(t->name));
    mcs_lock(&threads_lock, &q);
    t->id = next_id++;
    list_add(t);
    mcs_unlock(&threads_lock, &q);
}

struct thread *thread_alloc(const char *name)
{
    paddr_t block = pmm_alloc_contig(KSTACK_PAGES, PAGE_SIZE);
    if (!block)
        return NULL;
    struct thread *t = P2V(block);
    thread_format(t, name, false);
    return t;
}

void thread_object_init(uintptr_t obj)
{
    thread_format((struct thread *)obj, "thread", true);
}

static void fill_info(const struct thread *t, struct mf_thread_info *info)
{
    *info = (struct mf_thread_info){0};
    info->id = t->id;
    info->state = t->state == THREAD_RUNNABLE ? MF_THREAD_RUNNABLE
                : t->state == THREAD_DEAD     ? MF_THREAD_DEAD
                : t->state == THREAD_INACTIVE ? MF_THREAD_INACTIVE
                                              : MF_THREAD_BLOCKED;
    info->cpu = t == current_thread() ? arch_cpu_id() : t->cpu;
    info->priority = t->priority;
    strlcpy(info->name, t->name, sizeof(info->name));
    info->policy = policy_of(t);
    info->migrations = t->migrations;
    info->switches_in = t->switches_in;
    info->blocked_on = t->blocked_on;
    info->ipc_last_path = t->ipc_last_path;
    info->ipc_fast = t->ipc_fast;
    info->ipc_slow = t->ipc_slow;
    const struct refusal *r = &t->refusal;
    info->refused_error = r->error;
    info->refused_cptr = r->cptr;
    info->refused_found = r->found;
    info->refused_expected = r->expected;
    info->refused_rights = r->rights;
    info->refused_op = r->op;
    info->refused_index = r->index;
    if (r->why)
        strlcpy(info->refused_why, r->why, sizeof(info->refused_why));
}

bool thread_info_at(unsigned index, struct mf_thread_info *info)
{
    // Our own: it cannot go away while we ask, so no list lock (mf_cpu_id
    // is called in loops on every CPU).
    if (index == MF_THREAD_SELF) {
        fill_info(current_thread(), info);
        return true;
    }
    struct mcs_qnode q;
    mcs_lock(&threads_lock, &q);
    struct thread *t = all_threads;
    while (t && index--)
        t = t->all_next;
    if (t)
        fill_info(t, info);
    mcs_unlock(&threads_lock, &q);
    return t != NULL;
}

void thread_lock_list(struct mcs_qnode *q) { mcs_lock(&threads_lock, q); }
void thread_unlock_list(struct mcs_qnode *q) { mcs_unlock(&threads_lock, q); }

void thread_for_each(void (*fn)(struct thread *t, uintptr_t arg), uintptr_t arg)
{
    struct mcs_qnode q;
    mcs_lock(&threads_lock, &q);
    for (struct thread *t = all_threads, *next; t; t = next) {
        next = t->all_next;   // fn may unlink t
        fn(t, arg);
    }
    mcs_unlock(&threads_lock, &q);
}

// t leaves its address spaces (space_lock).
static void leave_spaces(struct thread *t)
{
    bool held = space_lock_held();
    if (!held)
        space_lock();
    lrpc_thread_destroy(t);
    if (t->vas) {
        vas_thread_leave(t->vas);
        vas_ref_set(&t->vas_ref[0], NULL);
        vas_release(t->vas);
        t->vas = NULL;
    }
    if (t->home_vas) {
        vas_ref_set(&t->vas_ref[VAS_REF_HOME], NULL);
        vas_release(t->home_vas);
        t->home_vas = NULL;
    }
    if (!held)
        space_unlock();
}

void thread_object_destroy(struct thread *t)
{
    struct mcs_qnode q;
    thread_deactivate(t);
    slots_thread_gone(t);
    ipc_forget(t);
    cap_delete_nested(&t->cspace);      // finalize runs under cap_lock
    cap_delete_nested(&t->exit_notify);
    mcs_lock(&threads_lock, &q);
    list_remove(t);
    mcs_unlock(&threads_lock, &q);
    // A CPU still running t stops at its next kernel exit or IPI; until it
    // is off that CPU its memory is busy (sched_memory_in_use). Its address
    // spaces go now: a thread running in user mode on a torn-down space
    // faults into user_fault, which sees it dead and switches away.
    stop(t, THREAD_DEAD);
    leave_spaces(t);
}

// ------------------------------------------------------------------ ending

_Noreturn void thread_exit(int how, int code, uint64_t address)
{
    struct mcs_qnode rq;
    struct thread *t = current_thread();
    t->exit.how = how;
    t->exit.code = code;
    t->exit.address = address;
    ipc_forget(t);
    if (t->is_object) {
        // A Thread object stops, inactive, until its holder resumes it
        // with new registers or deletes it; the holder learns of the end
        // through the exit notification (MF_THREAD_BIND_EXIT).
        t->has_context = false;
        t->syscall_flags = 0;
        // Inactive first, then the signal: whoever the signal wakes finds
        // the exit status readable (MF_THREAD_EXIT_STATUS wants INACTIVE).
        stop(t, THREAD_INACTIVE);
        bool held = cap_lock_held();
        if (!held)
            cap_lock();
        if (!slot_empty(&t->exit_notify)) {
            const struct cap *n = &t->exit_notify.cap;
            notification_signal((struct notification *)n->obj, n->badge ? n->badge : 1);
        }
        if (!held)
            cap_unlock();
    } else {
        // Started by the kernel (the root task): nobody waits for it.
        struct cpu *c = lock_cpu_of(t, &rq);
        t->state = THREAD_DEAD;
        mcs_unlock(&c->lock, &rq);
    }
    schedule();
    panic("thread_exit: finished thread %u was scheduled", t->id);
}

void thread_reap(struct thread *t)
{
    struct mcs_qnode q;
    assert(t->state == THREAD_DEAD && t != current_thread() && !t->is_object);
    // Its CPU may still be switching away from it: wait for its stack.
    while (__atomic_load_n(&t->on_cpu, __ATOMIC_ACQUIRE))
        cpu_relax();
    bool held = cap_lock_held();
    if (!held)
        cap_lock();
    cap_delete_nested(&t->cspace);      // its memory goes: so does its place in the tree
    if (!held)
        cap_unlock();
    leave_spaces(t);
    mcs_lock(&threads_lock, &q);
    list_remove(t);
    mcs_unlock(&threads_lock, &q);
    pmm_free_contig(V2P(t->kstack), KSTACK_PAGES);
}

void tls_switch(struct thread *prev, struct thread *next)
{
    arch_tls_save(prev);
    arch_tls_write(next->user_tls, prev->user_tls);
}

void tls_load(const struct thread *t)
{
    const uint64_t unknown[2] = {~t->user_tls[0], ~t->user_tls[1]};     // differs from each: both written
    arch_tls_write(t->user_tls, unknown);
}
