// Lock-order validation (in the spirit of Linux's lockdep), for the
// kernel's spin locks: every lock belongs to a class; while a CPU holds
// locks of some classes and takes one of another, lockdep records "held
// class, then taken class". A new pair that closes a cycle (A then B
// somewhere, B then A elsewhere, or longer) is a possible deadlock even if
// it never happened; taking a lock with interrupts on breaks the kernel's
// rule that no lock is ever held with them on (docs/smp.md). Either prints
// `LOCKDEP: ...` and a backtrace, which fails the test run
// (tools/testlog.py).
//
// On in mode=test (every test run), off otherwise (the shell's `bench` and
// make bench measure the locks without it); lockdep=on / lockdep=off on the
// command line (make run KERNEL_OPTIONS=lockdep=on) say otherwise. Locks of class LOCK_CLASS_NONE (the
// benchmarks' and self-tests' private locks) are not tracked. Two locks of
// one class held at once are not ordered against each other (the kernel
// never nests them; a lock taken twice by one CPU is reported).
#pragma once
#include "kernel/types.h"

enum lockdep_class {
    LOCK_CLASS_NONE = 0,
    LOCK_CLASS_CAP,             // cap_lock (kernel/locks.c)
    LOCK_CLASS_SPACE,           // space_lock
    LOCK_CLASS_IPC_QUEUE,       // an endpoint's or notification's queue
    LOCK_CLASS_THREADS,         // the list of all threads
    LOCK_CLASS_THREAD_IPC,      // a thread's reply link
    LOCK_CLASS_RUNQUEUE,        // a CPU's run queue
    LOCK_CLASS_IRQ,             // IRQ bindings
    LOCK_CLASS_NIC,             // a NIC the kernel drives: its queues and packet-filter bindings (kernel/net.h)
    LOCK_CLASS_SLOTS,           // the CPU slot vector's bindings (kernel/slots.c)
    LOCK_CLASS_TAG_POOL,        // a CPU's TLB tag pool
    LOCK_CLASS_CLUSTERED,       // a clustered object's miss path (kernel/clustered.c)
    LOCK_CLASS_PMM_CACHE,       // a CPU's cache of free pages
    LOCK_CLASS_PMM,             // the page allocator's bitmap
    LOCK_CLASS_PCI_CONFIG,      // x86 PCI configuration ports
    LOCK_CLASS_CONSOLE,         // the serial console
    LOCK_CLASS_TEST_A,          // lockdep's own self-test
    LOCK_CLASS_TEST_B,
    LOCK_CLASS_TEST_C,
    LOCK_CLASSES
};

void lockdep_init(void);                    // reads the command line
bool lockdep_enabled(void);
extern bool lockdep_active;                 // what lib/spinlock.c tests before calling in
// From lib/spinlock.c: before spinning for `lock` (check_order: not for
// a trylock, which cannot deadlock), and when releasing it.
void lockdep_acquire(unsigned lock_class, const void *lock, bool check_order);
void lockdep_release(unsigned lock_class, const void *lock);

// Violations found since boot; those among the self-test's classes
// (LOCK_CLASS_TEST_*), which print as `lockdep (self-test): ...`, apart.
unsigned lockdep_violations(void);
unsigned lockdep_self_test_violations(void);
// The self-test's stand-in for taking a lock with interrupts on (really
// turning them on in the kernel could let an interrupt's locks interleave
// with the test's bookkeeping): this CPU's TEST_* locks count as taken so.
void lockdep_self_test_irqs(bool on);
// Forgets every recorded order involving `lock_class` (self-test only).
void lockdep_forget(unsigned lock_class);
