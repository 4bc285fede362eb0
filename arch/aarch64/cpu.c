// aarch64 CPU set-up: feature detection, the exception vectors, per-CPU
// state, PAN, EL0 access to the counters, interrupt masking.
#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/mmu.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/thread.h"
#include "lib/fmt.h"

const char arch_name[] = "aarch64";
const uint16_t arch_elf_machine = 183;  // EM_AARCH64
struct a64_features a64_feat;
struct a64_cpu a64_cpus[MAX_CPUS];
static paddr_t image_pa;            // where __kernel_start was loaded

paddr_t a64_image_pa(const void *p) { return image_pa + (paddr_t)((const char *)p - __kernel_start); }

#define FIELD(reg, shift) ((unsigned)((reg) >> (shift)) & 0xf)

// CPACR_EL1.FPEN (21:20): 1 = FP/SIMD traps at EL0 only. The kernel does
// not save FP state, so user threads must not have any (they are built with
// -mgeneral-regs-only); an FP instruction there is an undefined instruction.
#define CPACR_FPEN_EL1_ONLY (1ul << 20)
// CNTKCTL_EL1: EL0VCTEN (1) = EL0 may read CNTVCT_EL0 and CNTFRQ_EL0; the
// physical counter and all timer registers stay EL1-only.
#define CNTKCTL_EL0VCTEN (1ul << 1)
// PMU: PMCR_EL0 E (0) enable, C (2) reset the cycle counter, LC (6) 64-bit
// overflow; PMUSERENR_EL0.CR (2) = EL0 may read PMCCNTR_EL0 (nothing else);
// PMCNTENSET_EL0 bit 31 = cycle counter on. PMCCFILTR_EL0 = 0: count at
// EL0 and EL1.
#define PMCR_E  (1ul << 0)
#define PMCR_C  (1ul << 2)
#define PMCR_LC (1ul << 6)
#define PMUSERENR_CR (1ul << 2)
#define PMCNTEN_CYCLES (1ul << 31)
#define SCTLR_SPAN (1ul << 23)  // 0: every exception to EL1 sets PSTATE.PAN

static void detect_features(void)
{
    uint64_t mmfr0 = read_sysreg(id_aa64mmfr0_el1), mmfr1 = read_sysreg(id_aa64mmfr1_el1);
    uint64_t pfr0 = read_sysreg(id_aa64pfr0_el1), dfr0 = read_sysreg(id_aa64dfr0_el1);
    uint64_t isar0 = read_sysreg(id_aa64isar0_el1);
    static const unsigned pa_bits[] = {32, 36, 40, 42, 44, 48, 52};
    a64_feat.pa_bits = FIELD(mmfr0, 0) < 7 ? pa_bits[FIELD(mmfr0, 0)] : 0;
    a64_feat.asid_bits = FIELD(mmfr0, 4) == 2 ? 16 : 8;
    a64_feat.gran16k = FIELD(mmfr0, 20) != 0;
    a64_feat.gran64k = FIELD(mmfr0, 24) != 0xf;
    a64_feat.pan = FIELD(mmfr1, 20) != 0;
    a64_feat.gic_sysreg = FIELD(pfr0, 24) != 0;
    a64_feat.el2 = FIELD(pfr0, 8) != 0;
    a64_feat.lse = FIELD(isar0, 20) >= 2;
    unsigned pmu = FIELD(dfr0, 8);           // 0 none, 0xf IMPLEMENTATION DEFINED
    a64_feat.pmu_version = pmu == 0xf ? 0 : pmu;
}

static uint64_t pmccntr_hz;     // measured in pmu_cycle_counter_init()

// The PMU cycle counter on, counting EL0 and EL1, readable at EL0.
static void pmu_cycle_counter_on(void)
{
    write_sysreg(pmccfiltr_el0, 0);
    write_sysreg(pmcr_el0, PMCR_E | PMCR_C | PMCR_LC);
    write_sysreg(pmcntenset_el0, PMCNTEN_CYCLES);
    isb();
}

// Turns on the PMU cycle counter for EL0 reads if it exists and counts.
static bool pmu_cycle_counter_init(void)
{
    if (!a64_feat.pmu_version)
        return false;
    pmu_cycle_counter_on();
    // It must advance while the generic counter does; its rate against the
    // generic counter over 1 ms is the frequency user programs are told.
    uint64_t freq = read_sysreg(cntfrq_el0) & 0xffffffff, ticks = freq / 1000;
    uint64_t c0 = read_sysreg(pmccntr_el0), t0 = read_sysreg(cntvct_el0);
    while (read_sysreg(cntvct_el0) - t0 < ticks)
        ;
    uint64_t c1 = read_sysreg(pmccntr_el0), t1 = read_sysreg(cntvct_el0);
    if (c1 == c0) {
        write_sysreg(pmcr_el0, 0);
        return false;
    }
    pmccntr_hz = (c1 - c0) * freq / (t1 - t0);
    write_sysreg(pmuserenr_el0, PMUSERENR_CR);
    return true;
}

void arch_cpu_features(char *buf, size_t len)
{
    snprintf(buf, len, "asid=%u pan=%d granules=4k%s%s pa=%u gic=v%u pmu=%s counter=%s lse=%d el2=%d",
             a64_feat.asid_bits, a64_feat.pan, a64_feat.gran16k ? ",16k" : "",
             a64_feat.gran64k ? ",64k" : "", a64_feat.pa_bits, gic_version(),
             a64_feat.pmu_version ? "v3" : "none", a64_feat.user_pmccntr ? "pmccntr" : "cntvct",
             a64_feat.lse, a64_feat.el2);
}

uint64_t arch_feature_bits(void)
{
    // 1 GiB blocks at level 2 always exist with the 4 KiB granule. ASIDs
    // are used once arch_tlb_tag_count() hands them out (mmu.c).
    // EL0 always writes TPIDR_EL0 (its thread pointer).
    return ARCH_FEAT_HUGE_1G | ARCH_FEAT_USER_TLS | (arch_tlb_tag_count() ? ARCH_FEAT_TAGGED_TLB : 0);
}

void a64_cpu_setup(unsigned cpu, uint64_t mpidr)
{
    struct a64_cpu *c = &a64_cpus[cpu];
    c->self = c;
    c->index = cpu;
    c->mpidr = mpidr;
    write_sysreg(tpidr_el1, c);
    write_sysreg(tpidr_el0, 0);         // user thread pointers: those of the thread running
    write_sysreg(tpidrro_el0, 0);
    write_sysreg(vbar_el1, a64_vectors);
    write_sysreg(cpacr_el1, CPACR_FPEN_EL1_ONLY);
    write_sysreg(cntkctl_el1, CNTKCTL_EL0VCTEN);
    if (cpu == 0)
        a64_feat.user_pmccntr = pmu_cycle_counter_init();
    else if (a64_feat.user_pmccntr) {
        pmu_cycle_counter_on();
        write_sysreg(pmuserenr_el0, PMUSERENR_CR);
    }
    if (a64_feat.pan) {
        // Like SMAP: EL1 cannot touch user pages except through the
        // LDTR/STTR of the user-copy routines (entry.S).
        write_sysreg(sctlr_el1, read_sysreg(sctlr_el1) & ~SCTLR_SPAN);
        __asm__ volatile(".inst 0xd500419f" ::: "memory");   // msr pan, #1 (ARMv8.1)
    }
    isb();
}

void arch_cpu_init(struct boot_info *bi)
{
    image_pa = bi->kernel_start;
    detect_features();
    a64_cpu_setup(0, read_sysreg(mpidr_el1) & MPIDR_AFFINITY);
}

void arch_interrupts_enable(void) { __asm__ volatile("msr daifclr, #2" ::: "memory"); }
void arch_interrupts_disable(void) { __asm__ volatile("msr daifset, #2" ::: "memory"); }
bool arch_interrupts_enabled(void) { return !(read_sysreg(daif) & (1u << 7)); }   // PSTATE.I

// WFI wakes on a pending IRQ even while PSTATE.I masks it, so waiting with
// interrupts masked and unmasking afterwards loses no wake-up; the IRQ is
// taken right after the unmask.
void arch_wait_for_interrupt(void)
{
    __asm__ volatile("wfi\n msr daifclr, #2\n isb" ::: "memory");
}

_Noreturn void arch_halt(void)
{
    for (;;)
        __asm__ volatile("msr daifset, #0xf\n wfi");
}

// The generic timer's virtual count: a fixed frequency that keeps counting
// in WFI (user space may read the PMU cycle counter instead, see above).
uint64_t arch_cycles(void) { return read_sysreg(cntvct_el0); }
uint64_t arch_cycles_per_second(void) { return read_sysreg(cntfrq_el0) & 0xffffffff; }

uint64_t arch_user_counter(void)
{
    isb();
    return a64_feat.user_pmccntr ? read_sysreg(pmccntr_el0) : read_sysreg(cntvct_el0);
}

uint64_t arch_user_counter_hz(void)
{
    return a64_feat.user_pmccntr ? pmccntr_hz : arch_cycles_per_second();
}

uintptr_t arch_frame_pointer(void) { return (uintptr_t)__builtin_frame_address(0); }
