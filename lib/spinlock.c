// MCS, ticket and test-and-test-and-set spin locks; contracts in spinlock.h.
// Orders: every successful acquire ends in an acquire operation that reads
// the value written by the previous holder's release operation, so the
// critical sections are ordered by happens-before.
#include "lib/spinlock.h"
#include <stddef.h>

// In the kernel, every acquire and release is reported to lockdep
// (kernel/lockdep.h) by the lock's class, through the _checked versions at
// the end of this file; the plain bodies below stay leaf functions, so
// with lockdep off a lock costs one load and a branch more (no frame).
#ifdef MANIFOLD_KERNEL
#include "kernel/lockdep.h"
#define CHECKED(name, ...) do { if (__builtin_expect(lockdep_active, 0)) return name##_checked(__VA_ARGS__); } while (0)
static void mcs_lock_checked(struct mcs_lock *l, struct mcs_qnode *q);
static bool mcs_trylock_checked(struct mcs_lock *l, struct mcs_qnode *q);
static void mcs_unlock_checked(struct mcs_lock *l, struct mcs_qnode *q);
static void ticket_lock_checked(struct ticket_lock *l);
static bool ticket_trylock_checked(struct ticket_lock *l);
static void ticket_unlock_checked(struct ticket_lock *l);
#else
#define CHECKED(name, ...) ((void)0)
#endif

_Static_assert(sizeof(struct mcs_qnode) == CACHE_LINE_SIZE, "one qnode per cache line");

// ------------------------------------------------------------------- MCS

void mcs_lock_init(struct mcs_lock *l)
{
    __atomic_store_n(&l->tail, NULL, __ATOMIC_RELAXED);
}

static inline __attribute__((always_inline)) void mcs_lock_body(struct mcs_lock *l, struct mcs_qnode *q)
{
    __atomic_store_n(&q->next, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&q->locked, 1, __ATOMIC_RELAXED);
    // Release: our successor, who reads q from the tail, writes q->next, so
    // our initialisation above must be ordered before that write.
    // Acquire: with no predecessor, we take the lock straight from the last
    // holder's release CAS in mcs_unlock.
    struct mcs_qnode *pred = __atomic_exchange_n(&l->tail, q, __ATOMIC_ACQ_REL);
    if (pred == NULL)
        return;
    // Release: the predecessor acquires q->next, then writes q->locked = 0,
    // which must come after our q->locked = 1.
    __atomic_store_n(&pred->next, q, __ATOMIC_RELEASE);
    while (__atomic_load_n(&q->locked, __ATOMIC_ACQUIRE))
        cpu_relax();
}

static inline __attribute__((always_inline)) bool mcs_trylock_body(struct mcs_lock *l, struct mcs_qnode *q)
{
    __atomic_store_n(&q->next, NULL, __ATOMIC_RELAXED);
    __atomic_store_n(&q->locked, 1, __ATOMIC_RELAXED);
    struct mcs_qnode *expected = NULL;
    // Same orders as the exchange in mcs_lock; a failed attempt changed
    // nothing anyone can see, so relaxed.
    return __atomic_compare_exchange_n(&l->tail, &expected, q, false,
                                       __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

static inline __attribute__((always_inline)) void mcs_unlock_body(struct mcs_lock *l, struct mcs_qnode *q)
{
    struct mcs_qnode *succ = __atomic_load_n(&q->next, __ATOMIC_ACQUIRE);
    if (succ == NULL) {
        // Nobody linked behind us: try to swing the tail back to empty.
        struct mcs_qnode *expected = q;
        if (__atomic_compare_exchange_n(&l->tail, &expected, NULL, false,
                                        __ATOMIC_RELEASE, __ATOMIC_RELAXED))
            return;
        // A successor swapped itself into the tail but has not yet written
        // q->next; it will within a few instructions.
        while ((succ = __atomic_load_n(&q->next, __ATOMIC_ACQUIRE)) == NULL)
            cpu_relax();
    }
    // Release: hands our critical section's writes to the successor, which
    // acquires its `locked`. After this store q is ours to reuse.
    __atomic_store_n(&succ->locked, 0, __ATOMIC_RELEASE);
}

void mcs_lock(struct mcs_lock *l, struct mcs_qnode *q)
{
    CHECKED(mcs_lock, l, q);
    mcs_lock_body(l, q);
}

bool mcs_trylock(struct mcs_lock *l, struct mcs_qnode *q)
{
    CHECKED(mcs_trylock, l, q);
    return mcs_trylock_body(l, q);
}

void mcs_unlock(struct mcs_lock *l, struct mcs_qnode *q)
{
    CHECKED(mcs_unlock, l, q);
    mcs_unlock_body(l, q);
}

bool mcs_is_locked(struct mcs_lock *l)
{
    return __atomic_load_n(&l->tail, __ATOMIC_RELAXED) != NULL;
}

// ---------------------------------------------------------------- ticket

void ticket_lock_init(struct ticket_lock *l)
{
    __atomic_store_n(&l->next, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&l->owner, 0, __ATOMIC_RELAXED);
}

static inline __attribute__((always_inline)) void ticket_lock_body(struct ticket_lock *l)
{
    // Relaxed: the ticket only fixes our place; ordering comes from owner.
    uint32_t ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != ticket)
        cpu_relax();
}

static inline __attribute__((always_inline)) bool ticket_trylock_body(struct ticket_lock *l)
{
    // Acquire pairs with the last ticket_unlock's release of owner. If next
    // still equals that owner at the CAS, nobody holds or waits: owner can
    // only catch up with next, never pass it.
    uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_ACQUIRE);
    uint32_t expected = owner;
    return __atomic_compare_exchange_n(&l->next, &expected, owner + 1, false,
                                       __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static inline __attribute__((always_inline)) void ticket_unlock_body(struct ticket_lock *l)
{
    // Only the holder writes owner, so a relaxed read of it is exact.
    uint32_t owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
    __atomic_store_n(&l->owner, owner + 1, __ATOMIC_RELEASE);
}

void ticket_lock(struct ticket_lock *l)
{
    CHECKED(ticket_lock, l);
    ticket_lock_body(l);
}

bool ticket_trylock(struct ticket_lock *l)
{
    CHECKED(ticket_trylock, l);
    return ticket_trylock_body(l);
}

void ticket_unlock(struct ticket_lock *l)
{
    CHECKED(ticket_unlock, l);
    ticket_unlock_body(l);
}

bool ticket_is_locked(struct ticket_lock *l)
{
    return __atomic_load_n(&l->owner, __ATOMIC_RELAXED) !=
           __atomic_load_n(&l->next, __ATOMIC_RELAXED);
}

// ----------------------------------------------------------------- TATAS

void tas_lock_init(struct tas_lock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELAXED);
}

void tas_lock(struct tas_lock *l)
{
    uint32_t delay = TAS_BACKOFF_MIN;
    for (;;) {
        // Test: read-only spinning hits the local cache until the holder's
        // release store invalidates the line.
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            cpu_relax();
        // Test-and-set; acquire pairs with tas_unlock's release.
        if (!__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
            return;
        // Lost to another waiter: stay off the line for a while so the
        // winner's critical section is not slowed by our traffic.
        for (uint32_t i = 0; i < delay; i++)
            cpu_relax();
        if (delay < TAS_BACKOFF_MAX)
            delay *= 2;
    }
}

bool tas_trylock(struct tas_lock *l)
{
    // Test first so a failing attempt does not take the line exclusive.
    if (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
        return false;
    return !__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE);
}

void tas_unlock(struct tas_lock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}

bool tas_is_locked(struct tas_lock *l)
{
    return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) != 0;
}

// --------------------------------------------------------- any of the three

bool any_lock_init(struct any_lock *l, enum lock_kind kind)
{
    switch (kind) {
    case LOCK_MCS:      mcs_lock_init(&l->u.mcs); break;
    case LOCK_TICKET:   ticket_lock_init(&l->u.ticket); break;
    case LOCK_TAS:      tas_lock_init(&l->u.tas); break;
    default:            return false;
    }
    l->kind = kind;
    return true;
}

void any_lock_acquire(struct any_lock *l, struct mcs_qnode *q)
{
    switch (l->kind) {
    case LOCK_MCS:      mcs_lock(&l->u.mcs, q); break;
    case LOCK_TICKET:   ticket_lock(&l->u.ticket); break;
    default:            tas_lock(&l->u.tas); break;
    }
}

bool any_lock_try(struct any_lock *l, struct mcs_qnode *q)
{
    switch (l->kind) {
    case LOCK_MCS:      return mcs_trylock(&l->u.mcs, q);
    case LOCK_TICKET:   return ticket_trylock(&l->u.ticket);
    default:            return tas_trylock(&l->u.tas);
    }
}

void any_lock_release(struct any_lock *l, struct mcs_qnode *q)
{
    switch (l->kind) {
    case LOCK_MCS:      mcs_unlock(&l->u.mcs, q); break;
    case LOCK_TICKET:   ticket_unlock(&l->u.ticket); break;
    default:            tas_unlock(&l->u.tas); break;
    }
}

const char *lock_kind_name(enum lock_kind kind)
{
    switch (kind) {
    case LOCK_MCS:      return "mcs";
    case LOCK_TICKET:   return "ticket";
    case LOCK_TAS:      return "tatas";
    default:            return "?";
    }
}

#ifdef MANIFOLD_KERNEL
// With lockdep on: it hears of each acquire before the spin (a deadlock is
// reported, not just suffered), of a trylock only when it succeeded (it
// cannot deadlock), and of each release.
static void mcs_lock_checked(struct mcs_lock *l, struct mcs_qnode *q)
{
    lockdep_acquire(l->lock_class, l, true);
    mcs_lock_body(l, q);
}

static bool mcs_trylock_checked(struct mcs_lock *l, struct mcs_qnode *q)
{
    bool got = mcs_trylock_body(l, q);
    if (got)
        lockdep_acquire(l->lock_class, l, false);
    return got;
}

static void mcs_unlock_checked(struct mcs_lock *l, struct mcs_qnode *q)
{
    lockdep_release(l->lock_class, l);
    mcs_unlock_body(l, q);
}

static void ticket_lock_checked(struct ticket_lock *l)
{
    lockdep_acquire(l->lock_class, l, true);
    ticket_lock_body(l);
}

static bool ticket_trylock_checked(struct ticket_lock *l)
{
    bool got = ticket_trylock_body(l);
    if (got)
        lockdep_acquire(l->lock_class, l, false);
    return got;
}

static void ticket_unlock_checked(struct ticket_lock *l)
{
    lockdep_release(l->lock_class, l);
    ticket_unlock_body(l);
}
#endif
