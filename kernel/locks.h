// The kernel's two subsystem locks (docs/smp.md has the whole lock design).
//
//   cap_lock    every CNode slot and the capability derivation tree, the
//               zombie list, untyped watermarks; held by SYS_INVOKE across
//               decode and invoke, and by every other capability lookup
//               until the object found is locked or used. The fast paths
//               read slots without it (below). One lock for the whole tree.
//   space_lock  SpaceJMP state: VAS objects (segments, home, active count),
//               segments (attachments, reader/writer lock, pager, page
//               tables), the live-segment list, and which VAS a thread runs
//               in (thread->vas).
//
// Lock order, outer first: cap_lock, space_lock, irq_lock, a NIC's lock
// (kernel/net.h), slots_lock (kernel/slots.c), one endpoint/notification
// lock, threads_lock, one thread's ipc_lock, one run-queue lock, then the
// leaves (tag pool, page allocator, console). The device interrupt handler
// takes irq_lock, a NIC's lock and notifications' locks; the tick
// slots_lock, then a run-queue lock or a notification's (not nested). Interrupts stay off while any
// is held (the kernel runs with them off), and no interrupt handler takes a
// lock its CPU can hold: the tick and IPIs arrive only in user mode or the
// idle loop, where no lock is held.
//
// These two are held across function boundaries, so each CPU keeps its MCS
// queue node here; a holder never blocks or switches threads (it releases
// first), so the node stays the CPU's.
#pragma once
#include "kernel/types.h"
#include "kernel/arch.h"
#include "kernel/thread.h"     // MAX_CPUS
#include "lib/spinlock.h"   // CACHE_LINE_SIZE

void cap_lock(void);
void cap_unlock(void);
extern bool cap_lock_held_by[MAX_CPUS], space_lock_held_by[MAX_CPUS];
static inline bool cap_lock_held(void) { return cap_lock_held_by[arch_cpu_id()]; }     // by this CPU

// Reading capabilities without cap_lock (the fast paths: IPC call and
// reply_recv and notification signal/wait/poll in kernel/ipc.c, the LRPC
// call in kernel/lrpc.c; docs/smp.md, "Capability lookups without cap_lock").
// cap_lock and cap_unlock step a sequence count (odd while held); a reader
// copies what it needs between cap_read_begin and cap_read_valid and uses
// the copy only if no holder came and went meanwhile. A reader announces
// itself per CPU first, so that a holder destroying an object a reader may
// have found can wait for it (cap_wait_readers) before the memory can be
// retyped. Between begin and end a reader takes at most the found object's
// own lock (never cap_lock: it would wait for a holder that waits for it).
//
//   uint64_t seq;
//   if (!cap_read_begin(&seq)) -> slow path
//   copy the slots; if (!cap_read_valid(seq)) { cap_read_end(); slow path }
//   lock the object; if (!cap_read_valid(seq)) { unlock; cap_read_end(); slow }
//   cap_read_end();     the object is locked: it cannot go away
extern uint64_t cap_seq;                // cap_lock: odd while held
extern struct cap_reader {
    uint32_t reading;                   // between cap_read_begin and cap_read_end
} __attribute__((aligned(CACHE_LINE_SIZE))) cap_readers[MAX_CPUS];

static inline void cap_read_end(void)
{
    __atomic_store_n(&cap_readers[arch_cpu_id()].reading, 0, __ATOMIC_RELEASE);
}

static inline bool cap_read_begin(uint64_t *seq)
{
    __atomic_store_n(&cap_readers[arch_cpu_id()].reading, 1, __ATOMIC_RELAXED);
    // Against cap_wait_readers: either it sees us reading, or we see its
    // holder's odd count (a store, a full fence, a load on both sides).
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    *seq = __atomic_load_n(&cap_seq, __ATOMIC_ACQUIRE);
    if (likely(!(*seq & 1)))
        return true;
    cap_read_end();
    return false;
}

static inline bool cap_read_valid(uint64_t seq)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);    // what we copied, before the count
    return __atomic_load_n(&cap_seq, __ATOMIC_RELAXED) == seq;
}
// cap_lock held: waits until no other CPU is between cap_read_begin and
// cap_read_end. An object whose final cap was deleted, unlocked, cannot be
// reached by a reader after this returns.
void cap_wait_readers(void);
void space_lock(void);
void space_unlock(void);
bool space_trylock(void);       // true: taken (a lock-free reader may not wait for it)
static inline bool space_lock_held(void) { return space_lock_held_by[arch_cpu_id()]; }  // by this CPU
