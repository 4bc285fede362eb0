// x86_64 multiprocessor start-up and IPIs.
//
// CPUs: the enabled local APICs of the ACPI MADT (acpi.c), read at boot;
// CPU 0 is the boot CPU, the others are numbered in MADT order. Without a
// MADT the kernel runs on the boot CPU alone (no probing).
//
// Start-up (Intel SDM vol. 3, 8.4.4): the real-mode trampoline
// (trampoline.asm) is copied to TRAMPOLINE, below 1 MiB (pmm keeps the first
// MiB for this), then INIT, 10 ms, SIPI, 200 us, SIPI with vector
// TRAMPOLINE >> 12. The CPU enters long mode on the boot page tables and
// calls x86_ap_entry(cpu), which loads the kernel's tables and does what
// arch_cpu_init and arch_timer_init did on the boot CPU.
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/thread.h"
#include "lib/string.h"

#define TRAMPOLINE 0x8000           // trampoline.asm assumes this address
#define ICR_INIT    0x00004500      // INIT, level assert
#define ICR_STARTUP 0x00004600      // start-up IPI; vector = page number
#define ICR_FIXED   0x00004000      // fixed delivery, assert

extern const char x86_trampoline_start[], x86_trampoline_end[];
extern const char x86_trampoline_cr3[], x86_trampoline_efer[], x86_trampoline_stack[];
extern const char x86_trampoline_entry[], x86_trampoline_cpu[];
extern char boot_pml4[];            // boot.asm: physical address (linked low)

static uint32_t apic_ids[MAX_CPUS];
static unsigned reported = 1;

void x86_smp_discover(paddr_t rsdp, uint32_t me)
{
    uint32_t ids[64];
    unsigned n = acpi_madt_apic_ids(rsdp, ids, 64);
    apic_ids[0] = me;
    reported = 1;
    if (n == 0) {
        kprintf("manifold: no ACPI MADT: using the boot CPU only\n");
        return;
    }
    // The boot CPU is 0; the others follow in MADT order.
    for (unsigned i = 0; i < n; i++) {
        if (ids[i] == me)
            continue;
        if (reported < MAX_CPUS)
            apic_ids[reported] = ids[i];
        reported++;
    }
    kprintf("manifold: ACPI MADT: %u enabled local APIC(s)\n", n);
}

unsigned arch_cpu_count_reported(void) { return reported; }

static void udelay(unsigned us)
{
    uint64_t end = arch_cycles() + x86_tsc_hz / 1000000 * us;
    while (arch_cycles() < end)
        __asm__ volatile("pause");
}

static void put64(const char *field, uint64_t value)
{
    uint64_t offset = (uint64_t)(field - x86_trampoline_start);
    *(volatile uint64_t *)P2V(TRAMPOLINE + offset) = value;
}

// A secondary CPU, in long mode on the boot tables, on its own stack.
static _Noreturn void x86_ap_entry(uint64_t cpu)
{
    x86_mmu_init_secondary();
    x86_cpu_setup((unsigned)cpu, apic_ids[cpu]);
    lapic_init();
    lapic_timer_start();
    smp_secondary_entry();
}

int arch_cpu_start(unsigned cpu, uintptr_t stack_top)
{
    if (cpu == 0 || cpu >= reported || cpu >= MAX_CPUS)
        return -1;
    size_t size = (size_t)(x86_trampoline_end - x86_trampoline_start);
    memcpy(P2V(TRAMPOLINE), x86_trampoline_start, size);
    put64(x86_trampoline_cr3, (uint64_t)(uintptr_t)boot_pml4);
    put64(x86_trampoline_efer, rdmsr(MSR_EFER) & ~(1ull << 10));   // LMA is read-only
    put64(x86_trampoline_stack, stack_top);
    put64(x86_trampoline_entry, (uint64_t)(uintptr_t)x86_ap_entry);
    put64(x86_trampoline_cpu, cpu);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint32_t id = apic_ids[cpu];
    lapic_send(id, ICR_INIT);
    udelay(10000);
    for (int i = 0; i < 2; i++) {
        lapic_send(id, ICR_STARTUP | TRAMPOLINE >> 12);
        udelay(200);
    }
    return 0;
}

void arch_send_ipi(unsigned cpu, enum ipi_kind kind)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    // what the target reads is visible
    lapic_send(apic_ids[cpu], ICR_FIXED | (VECTOR_IPI_CALL + kind));
}
