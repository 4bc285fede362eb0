// Spin locks shared by kernel and user space: the MCS queue lock (the one to
// use), and the ticket and test-and-test-and-set locks it is measured
// against. Freestanding; no allocation; every lock is valid when all-zero.
//
// Memory ordering, for all three: acquiring is an acquire operation and
// releasing a release operation on the lock word, so everything written
// inside one critical section is visible to the next holder of the same lock.
// Release followed by acquire (of this or another lock) is NOT a full fence:
// a later load may still pass an earlier store. Use
// __atomic_thread_fence(__ATOMIC_SEQ_CST) where that matters.
//
// What these locks do not do: they never touch interrupts or preemption.
// Kernel code takes them with interrupts off on this CPU, or with the rule
// that no interrupt handler takes the same lock; otherwise a handler that
// spins on a lock its own CPU holds deadlocks. They are not recursive: taking
// a lock twice spins forever. Releasing a lock you do not hold corrupts it.
// There is no timeout; a holder that never releases makes the others spin.
//
// Choosing: MCS for shared kernel structures (FIFO, each waiter spins on its
// own cache line, O(1) remote traffic per hand-off). Ticket is FIFO and
// smaller but every waiter spins on one word, so each hand-off invalidates
// all waiters. TATAS is unfair and its traffic grows with contention; backoff
// tames it. See docs/sync.md.
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "sync_arch.h"

// ------------------------------------------------------------------- MCS
// Mellor-Crummey & Scott's list-based queue lock. Each acquirer brings a
// queue node; the lock word points at the last node in the queue. A waiter
// spins on `locked` in its own node, which its predecessor clears on release.
//
// The qnode belongs to one acquisition: it must stay valid and untouched from
// mcs_lock/mcs_trylock until the matching mcs_unlock returns, and the same
// qnode must be passed to both. A qnode on the caller's stack is fine when
// lock and unlock are in one function; holding several MCS locks at once
// needs one qnode each (e.g. a per-CPU array indexed by nesting depth).
struct mcs_qnode {
    struct mcs_qnode *next;     // successor in the queue, set by the successor
    uint32_t locked;            // 1 while waiting; the predecessor writes 0
} __attribute__((aligned(CACHE_LINE_SIZE)));   // waiters never share a line

struct mcs_lock {
    struct mcs_qnode *tail;     // last node in the queue; NULL = free
    uint32_t lock_class;        // the kernel's lock-order validation (kernel/lockdep.h); 0: none
};

#define MCS_LOCK_INIT { 0, 0 }

void mcs_lock_init(struct mcs_lock *l);
// Acquire, queueing behind earlier acquirers (FIFO). Spins; never fails.
void mcs_lock(struct mcs_lock *l, struct mcs_qnode *q);
// Acquire only if nobody holds or waits for the lock; true on success (then
// release with mcs_unlock(l, q)), false with nothing changed otherwise.
bool mcs_trylock(struct mcs_lock *l, struct mcs_qnode *q);
// Release; q is the node passed to the acquire. Hands the lock to the next
// queued node, if any. May spin briefly while a new waiter links itself in.
void mcs_unlock(struct mcs_lock *l, struct mcs_qnode *q);
// Racy snapshot: true if held or waited for. For assertions only.
bool mcs_is_locked(struct mcs_lock *l);

// ---------------------------------------------------------------- ticket
// Take a number, wait until it is served. FIFO; waiters all spin on `owner`.
// 32-bit counters wrap harmlessly (equality only) below 2^32 waiters.
struct ticket_lock {
    uint32_t next;              // next ticket to hand out
    uint32_t owner;             // ticket being served; == next when free
    uint32_t lock_class;        // as in struct mcs_lock
};

#define TICKET_LOCK_INIT { 0, 0, 0 }

void ticket_lock_init(struct ticket_lock *l);
// Acquire in ticket order. Spins; never fails.
void ticket_lock(struct ticket_lock *l);
// Acquire only if free with no waiters; true on success, false with nothing
// changed otherwise.
bool ticket_trylock(struct ticket_lock *l);
void ticket_unlock(struct ticket_lock *l);
bool ticket_is_locked(struct ticket_lock *l);

// ----------------------------------------------------------------- TATAS
// Test-and-test-and-set: spin reading the word (in the local cache) until it
// looks free, then try an atomic exchange; after losing that race, wait
// TAS_BACKOFF_MIN..TAS_BACKOFF_MAX cpu_relax() calls, doubling each time.
// Unfair: a waiter can lose every race.
#define TAS_BACKOFF_MIN 4
#define TAS_BACKOFF_MAX 256

struct tas_lock {
    uint32_t locked;            // 0 = free, 1 = held
};

#define TAS_LOCK_INIT { 0 }

void tas_lock_init(struct tas_lock *l);
// Acquire. Spins with bounded exponential backoff; never fails.
void tas_lock(struct tas_lock *l);
// One attempt; true on success, false with nothing changed otherwise.
bool tas_trylock(struct tas_lock *l);
void tas_unlock(struct tas_lock *l);
bool tas_is_locked(struct tas_lock *l);

// --------------------------------------------------------- any of the three
// One type and one set of calls over all three locks, so tests and
// benchmarks can loop over the algorithms. A switch per call; use the typed
// calls above in real code. `q` is used only by LOCK_MCS (NULL for others).
enum lock_kind { LOCK_MCS, LOCK_TICKET, LOCK_TAS, LOCK_KINDS };

struct any_lock {
    enum lock_kind kind;
    union {
        struct mcs_lock mcs;
        struct ticket_lock ticket;
        struct tas_lock tas;
    } u;
};

// false (and *l unchanged) if kind is not a lock_kind.
bool any_lock_init(struct any_lock *l, enum lock_kind kind);
void any_lock_acquire(struct any_lock *l, struct mcs_qnode *q);
bool any_lock_try(struct any_lock *l, struct mcs_qnode *q);
void any_lock_release(struct any_lock *l, struct mcs_qnode *q);
// "mcs", "ticket", "tatas"; "?" for anything else.
const char *lock_kind_name(enum lock_kind kind);
