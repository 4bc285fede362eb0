// The periodic tick from the generic timer's EL1 virtual timer (CNTV, PPI
// 27), which EL1 owns with or without EL2. The counter (CNTVCT_EL0) runs at
// CNTFRQ_EL0 whatever the CPU clock does.
#include "arch/aarch64/aarch64.h"
#include "kernel/arch.h"
#include "kernel/console.h"

// CNTV_CTL_EL0 / CNTP_CTL_EL0 bits.
#define CTL_ENABLE  (1u << 0)
#define CTL_IMASK   (1u << 1)     // interrupt masked
#define CTL_ISTATUS (1u << 2)     // condition met (read-only)

static uint64_t period;     // counts per tick; each CPU keeps its deadline in a64_cpu

// Next deadline one period after the previous one, so the tick does not
// drift by the interrupt latency; after a long stall (ticks missed while
// masked) it restarts from now instead of firing a burst.
void a64_timer_rearm(void)
{
    struct a64_cpu *c = a64_this_cpu();
    uint64_t now = read_sysreg(cntvct_el0);
    c->timer_deadline += period;
    if (c->timer_deadline <= now)
        c->timer_deadline = now + period;
    write_sysreg(cntv_cval_el0, c->timer_deadline);   // clears the condition: the level drops
    isb();
}

void a64_timer_start(void)
{
    struct a64_cpu *c = a64_this_cpu();
    // UEFI ticks on a timer of its own; make sure neither is left running.
    write_sysreg(cntp_ctl_el0, CTL_IMASK);
    write_sysreg(cntv_ctl_el0, CTL_IMASK);
    c->timer_deadline = read_sysreg(cntvct_el0) + period;
    write_sysreg(cntv_cval_el0, c->timer_deadline);
    write_sysreg(cntv_ctl_el0, CTL_ENABLE);
    isb();
    gic_enable_ppi(TIMER_PPI);
}

void arch_timer_init(unsigned hz)
{
    uint64_t freq = arch_cycles_per_second();
    if (freq < hz)
        panic("timer: CNTFRQ_EL0 is %lu Hz: not set up by the firmware", freq);
    period = freq / hz;
    gic_init();
    a64_timer_start();
    kprintf("manifold: generic timer %u Hz (%lu counts per tick at %lu.%02lu MHz), GICv%u\n", hz, period,
            freq / 1000000, freq / 10000 % 100, gic_version());
}
