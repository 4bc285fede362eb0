// Self-test of the periodic timer: ticks arrive while interrupts are on.
#include "kernel/arch.h"
#include "kernel/ktest.h"
#include "kernel/thread.h"

KTEST(timer_fires)
{
    uint64_t start = sched_ticks();
    uint64_t deadline = arch_cycles() + arch_cycles_per_second();   // 1 s at most
    // Wait for three ticks with interrupts enabled only around the wait (the
    // one place outside the idle loop where the kernel takes interrupts; it
    // holds nothing meanwhile, so the quiescent states the ticks count here
    // are true ones: grace_period_wait, kernel/thread.h).
    while (sched_ticks() < start + 3 && arch_cycles() < deadline) {
        arch_wait_for_interrupt();
        arch_interrupts_disable();
    }
    KCHECK(sched_ticks() >= start + 3);
    return NULL;
}
