// Between kernel/thread.c and kernel/sched.c only: what the thread
// lifecycle needs of the scheduler's internals.
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
