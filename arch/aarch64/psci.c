// PSCI (ARM DEN 0022) calls: power off and secondary CPU start. The conduit
// (hvc from EL1 under a hypervisor or QEMU without EL2/EL3, smc otherwise)
// comes from the device tree /psci "method" or the ACPI FADT.
#include "arch/aarch64/aarch64.h"
#include "kernel/arch.h"

#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_CPU_ON_64  0xc4000003u

int a64_psci_conduit = PSCI_HVC;    // QEMU virt's default when firmware says nothing

int64_t psci_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3)
{
    register uint64_t x0 __asm__("x0") = fn;
    register uint64_t x1 __asm__("x1") = a1;
    register uint64_t x2 __asm__("x2") = a2;
    register uint64_t x3 __asm__("x3") = a3;
    if (a64_psci_conduit == PSCI_SMC)
        __asm__ volatile("smc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) :: "memory");
    else if (a64_psci_conduit == PSCI_HVC)
        __asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3) :: "memory");
    else
        return -1;                  // PSCI NOT_SUPPORTED
    return (int64_t)x0;
}

int64_t psci_cpu_on(uint64_t mpidr, paddr_t entry, uint64_t ctx)
{
    return psci_call(PSCI_CPU_ON_64, mpidr, entry, ctx);
}

// QEMU exits with status 0 on SYSTEM_OFF whatever `status` is: the test
// runner must judge a run by its console output ("N passed, N failed").
_Noreturn void arch_poweroff(int status)
{
    (void)status;
    psci_call(PSCI_SYSTEM_OFF, 0, 0, 0);
    a64_puts("PANIC: PSCI SYSTEM_OFF returned\n");
    __asm__ volatile("msr daifset, #0xf");
    for (;;)
        __asm__ volatile("wfi");
}
