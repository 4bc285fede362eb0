// The kernel's two subsystem locks (docs/smp.md has the whole lock design).
//
//   cap_lock    every CNode slot and the capability derivation tree, the
//               zombie list, untyped watermarks; held by SYS_INVOKE across
//               decode and invoke, and by every capability lookup until the
//               object found is locked or used. One lock for the whole tree:
//               the next to split (per CNode).
//   space_lock  SpaceJMP state: VAS objects (segments, home, active count),
//               segments (attachments, reader/writer lock, pager, page
//               tables), the live-segment list, and which VAS a thread runs
//               in (thread->vas).
//
// Lock order, outer first: cap_lock, space_lock, one endpoint/notification
// lock, threads_lock, one thread's ipc_lock, one run-queue lock, then the
// leaves (tag pool, page allocator, console). Interrupts stay off while any
// is held (the kernel runs with them off), and no interrupt handler takes a
// lock its CPU can hold: the tick and IPIs arrive only in user mode or the
// idle loop, where no lock is held.
//
// These two are held across function boundaries, so each CPU keeps its MCS
// queue node here; a holder never blocks or switches threads (it releases
// first), so the node stays the CPU's.
#pragma once
#include "kernel/types.h"

void cap_lock(void);
void cap_unlock(void);
bool cap_lock_held(void);       // by this CPU
void space_lock(void);
void space_unlock(void);
bool space_lock_held(void);     // by this CPU
