// Multiprocessor start-up and cross-CPU calls.
//
// smp_init() starts every CPU the firmware reports, one at a time; each
// comes up through arch_cpu_start() into smp_secondary_entry() and runs its
// own idle thread and tick. cpu_count is the number that came up.
//
// A cross-CPU call runs fn(arg) on a set of CPUs with interrupts off and
// waits for all of them. The target runs it from its IPI handler, or, when
// it is busy in the kernel (interrupts are always off there), from the next
// spin loop it enters: every kernel spin loop calls smp_spin_poll() through
// cpu_relax() (lib/arch/<arch>/sync_arch.h). So a CPU that spins on a lock
// held by a CPU waiting for it still answers, and two CPUs calling each
// other at once serve each other while they wait.
//
// What a call function may do: run briefly with interrupts off, touch only
// per-CPU state and atomics (TLB flushes, flags). It must not take a lock,
// block, or make a call itself; it may run inside any spin loop of the
// target CPU. One call at a time runs on a CPU (calls do not nest).
#pragma once
#include "kernel/types.h"

typedef void (*smp_fn)(void *arg);

#define SMP_CALL_TIMEOUT_MS 2000

// Set once a second CPU may be running: from then on the console, the spin
// loop hook and every lock are in use.
extern volatile bool smp_active;

// Boot CPU, after sched_init() and arch_timer_init(): starts the others.
void smp_init(void);
// Bit i set for every online CPU i.
uint64_t smp_online_cpus(void);
// How many CPUs the firmware reported (what smp_init tried to start).
unsigned smp_cpus_reported(void);

// Runs fn(arg) on each CPU in `cpus` (bit i = CPU i; offline CPUs are
// ignored) with interrupts off, and returns when all have finished, or
// after timeout_ms. The calling CPU, when in the set, runs fn too, after
// asking the others, so that all run at once. Returns 0, or the set of CPUs
// that did not finish: a CPU that had not started is withdrawn (it never
// runs fn); one that started and has not returned keeps using fn and arg,
// so give static storage to arg where a timeout can happen. Interrupts must
// be off (they always are in the kernel).
uint64_t smp_call(uint64_t cpus, smp_fn fn, void *arg, unsigned timeout_ms);

// The spin-loop hook: serves cross-CPU calls waiting for this CPU (unless
// it is inside one), and stops the CPU once another has panicked.
void smp_spin_poll(void);
// panic(): stop the other CPUs (best effort, does not wait).
void smp_stop_others(void);

// Self-tests: until smp_watchdog_disarm(), a CPU found spinning after
// `deadline` (arch_cycles) calls report() and panics naming `what`, so that
// a lost wake-up in a lock or barrier is a failure, not a hang.
void smp_watchdog_arm(uint64_t deadline, const char *what, void (*report)(void));
void smp_watchdog_disarm(void);
