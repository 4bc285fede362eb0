// Host-test definitions for the synchronization library: the same names as
// lib/arch/<arch>/sync_arch.h, for tools/host-tests/test_sync.c only (the
// host-test-sync rule puts -Ilib/arch/host first). Never in the kernel or
// user builds.
//
// The host tests run up to 8 threads on as few as 2 cores. A FIFO lock (MCS,
// ticket) hands the lock to a waiter that the host scheduler may have
// descheduled, and a spinning barrier waits for threads that are not running;
// with PAUSE alone each such hand-off costs a scheduler time slice. Yielding
// in the spin loop keeps the run short. The algorithms are unchanged: the
// same lib/*.c is compiled, only the hint differs. (The Makefile also runs
// the tests once with the real lib/arch/<host arch>/sync_arch.h.)
#pragma once
#include <sched.h>

#define CACHE_LINE_SIZE 64

static inline void cpu_relax(void)
{
    sched_yield();
}
