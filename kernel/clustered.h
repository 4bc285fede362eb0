// Clustered objects (Tornado, K42): one object as every CPU sees it, made
// of a shared root and a representative per CPU, created when that CPU
// first uses the object. An operation works on its own CPU's
// representative, so the common case touches no cache line another CPU
// writes; only the rare case (a representative empty or full, a sum over
// all of them, destruction) visits the root or the others.
//
//   struct clustered c;
//   co_init(&c, &my_type, &my_root);
//   struct my_rep *r = co_enter(&c);      // NULL: being destroyed, or no memory
//   if (r) { r->count++; co_exit(&c); }
//   co_destroy(&c);                        // waits for operations in flight
//
// Representatives live in pages of their own (no false sharing; a type's
// representative is at most a page). The kernel runs with interrupts off
// and is not preempted, so an operation between co_enter and co_exit is
// never interleaved with another on the same CPU, and a representative
// needs no lock against its own CPU. What another CPU may do to it (sum
// it, drain it) is the type's business: a field read with atomic loads, or
// a lock in the representative (the page cache, kernel/pmm.c).
//
// Quiescence (docs/smp.md, "Clustered objects"): co_destroy sets `dying`
// and waits for a grace period (grace_period_wait, kernel/thread.h): every
// other CPU passes through user mode or its idle loop. An operation runs
// inside one kernel entry (co_enter to co_exit, no blocking between), so
// one that saw `dying` clear has ended by then, and none that starts
// after sees it clear. Then the representatives are folded back into the
// root (the type's `fold`) and their pages freed. Operations pay a load
// and a branch for this, no store and no fence. Objects of a `permanent`
// type are never destroyed and skip even the load (co_local): the page
// allocator and the kernel's counters, on hot paths.
#pragma once
#include "kernel/types.h"
#include "kernel/arch.h"
#include "kernel/thread.h"      // MAX_CPUS
#include "lib/spinlock.h"
#include "include/manifold/syscall.h"

struct clustered;

struct co_type {
    const char *name;
    size_t rep_size;                    // bytes, at most PAGE_SIZE
    bool permanent;                     // never destroyed: co_local, no quiescence
    // A fresh (zeroed) representative for `cpu`; may look at the root.
    void (*init)(struct clustered *co, void *rep, unsigned cpu);
    // At destruction: what `rep` holds goes back to the root.
    void (*fold)(struct clustered *co, void *rep, unsigned cpu);
};

struct co_slot {
    void *rep;                          // NULL until `cpu` first uses the object
} __attribute__((aligned(CACHE_LINE_SIZE)));

struct clustered {
    const struct co_type *type;
    void *root;                         // the shared part; its own locking
    struct mcs_lock lock;               // a representative being made (the miss path)
    bool dying;
    uint32_t reps;                      // representatives made
    struct co_slot slot[MAX_CPUS];
};

void co_init(struct clustered *co, const struct co_type *type, void *root);

// Makes `cpu`'s representative now rather than on first use (at CPU
// bring-up: its memory is then not counted against whatever first uses
// the object). False when out of memory.
bool co_prepare(struct clustered *co, unsigned cpu);

// Every permanent object's representative for `cpu` (CPU bring-up).
bool co_prepare_cpu(unsigned cpu);

// The slow path of co_enter and co_local: makes cpu's representative.
void *co_miss(struct clustered *co, unsigned cpu);

// This CPU's representative, made on first use; NULL if the object is
// being destroyed or no memory was left for a representative. The
// operation ends (co_exit) before this kernel entry returns to user mode
// and never blocks in between: that is what the grace period counts on.
static inline void *co_enter(struct clustered *co)
{
    if (unlikely(__atomic_load_n(&co->dying, __ATOMIC_RELAXED)))
        return NULL;
    unsigned cpu = arch_cpu_id();
    void *rep = __atomic_load_n(&co->slot[cpu].rep, __ATOMIC_ACQUIRE);
    return likely(rep) ? rep : co_miss(co, cpu);
}

// Marks the end of an operation in the code (it costs nothing: the grace
// period ends it by the CPU's next quiescent state).
static inline void co_exit(struct clustered *co) { (void)co; }

// A permanent object's representative for this CPU (made on first use),
// with no quiescence marking; NULL only when out of memory.
static inline void *co_local(struct clustered *co)
{
    unsigned cpu = arch_cpu_id();
    void *rep = co->slot[cpu].rep;
    return likely(rep) ? rep : co_miss(co, cpu);
}

// Calls fn on every representative made so far (another CPU's may change
// under it: fn reads what it needs atomically or takes the rep's lock).
void co_for_each(struct clustered *co, void (*fn)(void *rep, unsigned cpu, void *arg), void *arg);

// Ends the object: no new operation starts, those in flight on any CPU
// are waited for (a grace period), then every representative is folded
// into the root and freed. Not for permanent objects, not from inside an
// operation on it, not with a lock held.
void co_destroy(struct clustered *co);

// ------------------------------------------------ kernel statistics
// Event counters of the whole kernel, one permanent clustered object: each
// CPU counts in its own representative (an array of MF_KSTAT_COUNT words,
// include/manifold/syscall.h), a reader sums them (MF_SYSTEM_KSTATS).
extern struct clustered kstats;
void kstat_init(void);
static inline void kstat_add(unsigned counter, uint64_t n)
{
    uint64_t *rep = co_local(&kstats);
    if (likely(rep))
        __atomic_store_n(&rep[counter], rep[counter] + n, __ATOMIC_RELAXED);   // read by other CPUs
}
static inline void kstat_inc(unsigned counter) { kstat_add(counter, 1); }
uint64_t kstat_read(unsigned counter);
