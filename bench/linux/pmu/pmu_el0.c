// SPDX-License-Identifier: GPL-2.0
// Lets EL0 read the PMU cycle counter PMCCNTR_EL0 on every CPU, set up as
// Manifold's kernel sets it up (arch/aarch64/cpu.c), so both systems time
// their benchmarks with the same counter. Loaded only inside the benchmark
// initramfs; it never runs on a host.
//
//   PMCCFILTR_EL0 = 0             count at EL0 and EL1
//   PMCR_EL0.E (0), .LC (6)       counters on; 64-bit cycle-counter overflow
//   PMCNTENSET_EL0 bit 31         the cycle counter on
//   PMUSERENR_EL0.CR (2)          EL0 may read PMCCNTR_EL0 (nothing else)
//
// Linux's PMU driver writes these registers only when perf events are
// used, and the benchmarks use none.
#include <linux/module.h>
#include <linux/smp.h>

#define PMCR_E (1UL << 0)
#define PMCR_LC (1UL << 6)
#define PMCNTEN_CYCLES (1UL << 31)
#define PMUSERENR_CR (1UL << 2)

static void enable_cycle_counter(void *unused)
{
	u64 pmcr;

	asm volatile("mrs %0, pmcr_el0" : "=r"(pmcr));
	asm volatile("msr pmccfiltr_el0, %0" : : "r"(0UL));
	asm volatile("msr pmcr_el0, %0" : : "r"(pmcr | PMCR_E | PMCR_LC));
	asm volatile("msr pmcntenset_el0, %0" : : "r"(PMCNTEN_CYCLES));
	asm volatile("msr pmuserenr_el0, %0" : : "r"(PMUSERENR_CR));
	asm volatile("isb");
}

static int __init pmu_el0_init(void)
{
	on_each_cpu(enable_cycle_counter, NULL, 1);
	return 0;
}
module_init(pmu_el0_init);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("EL0 reads of PMCCNTR_EL0 for the Manifold benchmark initramfs");
