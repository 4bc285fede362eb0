// The CPU slot vector (include/manifold/slots.h, kernel/slots.c).
#pragma once
#include "kernel/cap.h"
#include "kernel/thread.h"
#include "include/manifold/slots.h"

struct thread;
struct cpu;
struct notification;

// A Slots object: one CPU's slots held for one thread.
struct cpu_slots {
    struct slot notify_slot;            // first: the notification hook finds the object from it
    struct thread *thread;              // bound (thread->slots points back); NULL once it went
    struct notification *notification;  // NULL once it went (slots_lock)
    uint32_t cpu, mask;
    bool configured;
    bool lent;              // held by a Reclaim grant (kernel/reclaim.c; cap_lock)
    // The CPU's run-queue lock guards these three.
    bool done;              // gave up the rest of the current slot (MF_SLOTS_DONE)
    bool denied;            // loses the current slot's first tick (an overrun charged)
    bool charge;            // owes its next slot's first tick
    uint64_t started, ticks_run, overruns, dones;
};

// Whether t may run on c now (c's run-queue lock held): a thread bound to
// Slots only in a slot of theirs it has not given up or lost.
static inline bool slots_eligible(const struct thread *t, const struct cpu *c)
{
    const struct cpu_slots *s = t->slots;
    return !s || (s == c->slot_active && !s->done && !s->denied);
}
// The timer tick on c (user mode or idle: no lock held): slot boundaries,
// upcalls, the accounting.
void slots_tick(struct cpu *c);
// The slots go back to nobody, the thread is an ordinary one again and the
// object unconfigured (the finalizer; a Reclaim grant ended). cap_lock held.
void slots_release(struct cpu_slots *s);
// t is being destroyed: it leaves its Slots (which keep their slots).
void slots_thread_gone(struct thread *t);
// The notification type's cap_deleted hook: a Slots object's own copy is going.
void slots_notification_deleted(const struct slot *s);
