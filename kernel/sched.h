// Between kernel/thread.c, kernel/sched.c and kernel/ipc.c only: what the
// thread lifecycle and the IPC fast path need of the scheduler's internals.
#pragma once
#include "kernel/thread.h"

#define NEVER_RAN 0xff          // thread->last_cpu before it first runs

// Locks the run queue of t's CPU (t->cpu may change until it is held) and
// returns that CPU.
struct cpu *lock_cpu_of(struct thread *t, struct mcs_qnode *q);
// Sets t's state (INACTIVE or DEAD) and takes it off its run queue; a CPU
// running it is told to switch away.
void stop(struct thread *t, enum thread_state state);
// The MF_SCHED_* policy in force for t (never MF_SCHED_DEFAULT).
unsigned policy_of(const struct thread *t);

// The IPC fast path's direct switch (kernel/ipc.c, docs/ipc.md): the caller
// blocks and `next`, which it just gave a message to, runs in its place on
// this CPU at once, with no run-queue pass and one run-queue lock.
//   c = sched_lock_this(&q);                  (after the IPC locks: lock order)
//   if (sched_handoff_check(c, next) == IPC_FAST) {
//       sched_handoff_commit(c, next, why);   (states, before the IPC state moves)
//       ... move the message, release the IPC locks ...
//       sched_handoff_switch(c, next, &q);    (releases c; returns when we run again)
//   }
enum ipc_path {
    IPC_FAST = 0,
    IPC_SLOW_LONG,          // more than four words, or a capability, or a fault message
    IPC_SLOW_PARTNER,       // nobody waiting to receive it (or no caller to reply to)
    IPC_SLOW_STATE,         // we cannot block now (suspended, LRPC abort, reschedule due, moving)
    IPC_SLOW_CPU,           // the partner belongs to another CPU, is still on one, or is fixed elsewhere
    IPC_SLOW_PRIORITY,      // the partner's priority differs from ours
    IPC_SLOW_QUEUED,        // a thread queued here is at least as important as the partner
    IPC_SLOW_LOOKUP,        // the endpoint not found without cap_lock (kernel/ipc.c, lock_endpoint)
    IPC_PATHS
};
struct mcs_qnode;
struct cpu *sched_lock_this(struct mcs_qnode *q);
enum ipc_path sched_handoff_check(struct cpu *c, const struct thread *next);
void sched_handoff_commit(struct cpu *c, struct thread *next, enum block_reason why);
void sched_handoff_switch(struct cpu *c, struct thread *next, struct mcs_qnode *q);
