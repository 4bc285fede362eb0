// aarch64 multiprocessor start-up and IPIs.
//
// CPUs: the MPIDRs the device tree's cpu nodes or the MADT's GICC entries
// list (a64_cpu_mpidr[], boot_dt.c / boot_acpi.c). CPU 0 is the boot CPU;
// the others are numbered in firmware order. Each is started with PSCI
// CPU_ON at a64_secondary_entry (head.S), which enables the MMU on the boot
// page tables and calls secondary_main(cpu) on its stack; that installs the
// kernel's tables and does what arch_cpu_init and arch_timer_init did on
// the boot CPU. IPIs are SGIs 0.. (one per enum ipi_kind).
#include "arch/aarch64/aarch64.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/thread.h"

static struct a64_cpu_start starts[MAX_CPUS];
static uint64_t mpidr_of[MAX_CPUS];         // by CPU number

unsigned arch_cpu_count_reported(void) { return a64_cpu_count ? a64_cpu_count : 1; }

// CPU numbers 1.. in firmware order, skipping the boot CPU.
static uint64_t cpu_mpidr(unsigned cpu)
{
    uint64_t me = a64_this_cpu()->mpidr;
    unsigned n = 1;
    for (unsigned i = 0; i < a64_cpu_count; i++) {
        if (a64_cpu_mpidr[i] == me)
            continue;
        if (n++ == cpu)
            return a64_cpu_mpidr[i];
    }
    return ~0ull;
}

static void clean_to_poc(const void *p, size_t size)
{
    uintptr_t line = 64, a = (uintptr_t)p & ~(line - 1);
    for (; a < (uintptr_t)p + size; a += line)
        __asm__ volatile("dc cvac, %0" ::"r"(a) : "memory");
    dsb(sy);
}

static _Noreturn void secondary_main(uint64_t cpu)
{
    a64_mmu_init_secondary();
    a64_cpu_setup((unsigned)cpu, mpidr_of[cpu]);
    gic_init_cpu();
    a64_timer_start();
    smp_secondary_entry();
}

int arch_cpu_start(unsigned cpu, uintptr_t stack_top)
{
    if (cpu == 0 || cpu >= MAX_CPUS)
        return -1;
    uint64_t mpidr = cpu_mpidr(cpu);
    if (mpidr == ~0ull)
        return -1;
    mpidr_of[cpu] = mpidr;
    starts[cpu] = (struct a64_cpu_start){(uint64_t)(uintptr_t)secondary_main, cpu, stack_top};
    // The CPU reads its start block and the boot registers with the MMU off.
    clean_to_poc(&starts[cpu], sizeof(starts[cpu]));
    clean_to_poc(&mpidr_of[cpu], sizeof(mpidr_of[cpu]));
    clean_to_poc(&a64_boot_regs, sizeof(a64_boot_regs));
    int64_t r = psci_cpu_on(mpidr, a64_image_pa(a64_secondary_entry), a64_image_pa(&starts[cpu]));
    if (r) {
        kprintf("manifold: PSCI CPU_ON(%#lx) failed: %ld\n", mpidr, r);
        return -1;
    }
    return 0;
}

void arch_send_ipi(unsigned cpu, enum ipi_kind kind)
{
    gic_send_sgi(cpu, SGI_IPI_FIRST + kind);
}
