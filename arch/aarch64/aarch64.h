// aarch64-private definitions: system register access, the boot hand-off
// between the UEFI stub and the MMU switch, and helpers shared by arch files.
#pragma once

#include "kernel/types.h"

struct boot_info;

#define read_sysreg(r) ({ uint64_t _v; __asm__ volatile("mrs %0, " #r : "=r"(_v)); _v; })
#define write_sysreg(r, v) __asm__ volatile("msr " #r ", %0" ::"r"((uint64_t)(v)))
#define isb() __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")

// Where a CPU goes once its MMU is on: fn(arg) on `stack` (virtual addresses).
struct a64_cpu_start {
    uint64_t fn, arg, stack;
};

// Register values the MMU switch (head.S) loads. The stub fills it at the
// image's physical address; head.S reads it with the MMU off, so the offsets
// below are part of the contract with the assembly. Secondary CPUs reuse it.
struct a64_boot_regs {
    uint64_t mair, tcr, sctlr;          // 0x00 0x08 0x10
    uint64_t ttbr0_identity, ttbr1;     // 0x18 0x20: physical roots
    uint64_t ttbr0_empty;               // 0x28: all-invalid root used after the switch
    uint64_t high_entry;                // 0x30: virtual address of a64_high_entry
    struct a64_cpu_start boot_cpu;      // 0x38: kmain(boot_info) on the boot stack
    uint64_t clean[2][2];               // 0x50: physical ranges cleaned to PoC before MMU off
};
_Static_assert(__builtin_offsetof(struct a64_boot_regs, boot_cpu) == 0x38, "head.S offsets");
_Static_assert(__builtin_offsetof(struct a64_boot_regs, clean) == 0x50, "head.S offsets");
extern struct a64_boot_regs a64_boot_regs;

// head.S: cleans caches, leaves UEFI's translation regime (dropping from EL2
// to EL1 if needed), enables the MMU with `regs` and, at the high address,
// sets SP_EL1, drops the identity map, installs a64_boot_vectors and calls
// regs->boot_cpu.fn(arg). `regs` is a physical address.
_Noreturn void a64_switch(const struct a64_boot_regs *regs);
void a64_high_entry(void);
// Physical entry point for PSCI CPU_ON; x0 = physical address of a struct
// a64_cpu_start (cleaned to PoC). The CPU runs with the boot page tables
// (TTBR1 = the boot kernel root) until it installs the kernel's own.
void a64_secondary_entry(void);
extern char a64_boot_vectors[];         // minimal VBAR_EL1 table (boot_vectors.S)
// Called from assembly: the boot vectors' report, and what runs when a CPU's
// entry function returns. (efi_main, the EFI entry's C half, is in efi.h.)
_Noreturn void a64_boot_trap(uint64_t vector, uint64_t esr, uint64_t elr, uint64_t far,
                             uint64_t spsr, uint64_t fp, uint64_t lr);
_Noreturn void a64_kmain_returned(void);
extern char boot_stack_top[];

// Linker script symbols (link addresses; before the switch `&sym` evaluates
// to the physical address because all code is PC-relative).
extern char __kernel_start[], __text_end[], __rodata_end[], __kernel_end[];

// boot_mmu.c: builds the boot page tables into .bss and fills `regs`.
struct phys_range { uint64_t base, end; };
// ram: write-back memory (sorted, merged) mapped Normal at PHYS_MAP in 2 MiB
// or 1 GiB blocks; dev: ranges mapped Device-nGnRnE in whole GiBs;
// image_pa: where __kernel_start was loaded. Returns 0, or -1 when the
// static table pool is too small (message already printed).
int boot_mmu_build(const struct phys_range *ram, unsigned ram_count,
                   const struct phys_range *dev, unsigned dev_count,
                   paddr_t image_pa, struct a64_boot_regs *regs);

// Machine description: from the device tree (boot_dt.c) or ACPI (boot_acpi.c).
struct boot_extra {
    paddr_t initrd_start, initrd_end;   // /chosen linux,initrd-* (0 if absent)
    struct phys_range mem[8];           // DT memory nodes, for the cross-check
    unsigned mem_count;
};
// Returns true when the tree describes the machine (UART or GIC found);
// GRUB installs a near-empty tree when the firmware offers only ACPI.
bool boot_dt_scan(const void *fdt, struct boot_info *bi, struct boot_extra *x);
bool boot_acpi_scan(paddr_t rsdp, struct boot_info *bi);

// CPUs found by boot_dt_scan()/boot_acpi_scan(), boot CPU included: the
// affinity fields of each MPIDR, as psci_cpu_on() wants them.
#define A64_MAX_CPUS 64
#define MPIDR_AFFINITY 0xff00fffffful   // Aff3 (39:32), Aff2..Aff0 (23:0)
extern uint64_t a64_cpu_mpidr[A64_MAX_CPUS];
extern unsigned a64_cpu_count;

// uart.c: the console before and after the switch.
#define UART_FALLBACK 0x09000000ul      // QEMU virt's PL011, when firmware names none
void a64_console_set_base(uintptr_t va);   // PL011 registers at this address
void a64_puts(const char *s);
void a64_puthex(uint64_t v);
// psci.c
enum psci_conduit { PSCI_NONE, PSCI_HVC, PSCI_SMC };
extern int a64_psci_conduit;
int64_t psci_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3);
// Starts CPU `mpidr` at physical `entry` with x0 = ctx (PSCI CPU_ON); 0 or a PSCI error.
int64_t psci_cpu_on(uint64_t mpidr, paddr_t entry, uint64_t ctx);

// ------------------------------------------------ phase 2: the running kernel
// CPU features (cpu.c).
struct a64_features {
    unsigned asid_bits;         // 8 or 16
    unsigned pa_bits;
    unsigned pmu_version;       // ID_AA64DFR0_EL1.PMUVer; 0 = none
    bool pan, gran16k, gran64k, gic_sysreg, el2, lse;
    bool user_pmccntr;          // EL0 reads PMCCNTR_EL0 (else CNTVCT_EL0)
};
extern struct a64_features a64_feat;

// Per-CPU state, addressed through TPIDR_EL1.
struct a64_cpu {
    struct a64_cpu *self;
    uintptr_t kernel_stack_top; // the current thread's (arch_thread_activate)
    unsigned index;             // arch_cpu_id()
    uint64_t mpidr;             // affinity fields
    uint64_t timer_deadline;    // timer.c: CNTV_CVAL of the next tick
    uintptr_t gic_redist;       // gic.c, v3: this CPU's redistributor
    uint8_t gic_target;         // gic.c, v2: this CPU interface's target bit
};
#include "arch/aarch64/include/arch_cpu.h"   // A64_CPU_INDEX, arch_cpu_id
_Static_assert(__builtin_offsetof(struct a64_cpu, index) == A64_CPU_INDEX, "arch_cpu_id offset");
static inline struct a64_cpu *a64_this_cpu(void) { return (struct a64_cpu *)read_sysreg(tpidr_el1); }
// Every CPU's block, by arch_cpu_id().
extern struct a64_cpu a64_cpus[];
// cpu.c: per-CPU registers (vectors, TPIDR_EL1, CPACR, counters, PMU, PAN)
// for CPU `cpu`; the boot CPU from arch_cpu_init, secondaries from smp.c.
void a64_cpu_setup(unsigned cpu, uint64_t mpidr);
// mmu.c: a secondary CPU switches from the boot tables to the kernel's.
void a64_mmu_init_secondary(void);
// Physical address of something in the kernel image.
paddr_t a64_image_pa(const void *p);

// What a user thread finds in x1 at _start (user/lib/arch/aarch64/entry.S):
// bit 0 = read the cycle counter from PMCCNTR_EL0 rather than CNTVCT_EL0.
#define A64_USER_PMCCNTR 1u

extern char a64_vectors[];              // VBAR_EL1 (entry.S)
extern char a64_trap_return[], a64_kernel_thread_start[];

// gic.c: the interrupt controller. gic_map() runs from arch_vm_init_devices,
// gic_init() (distributor and this CPU) from arch_timer_init.
#define GIC_SPECIAL_FIRST 1020          // INTIDs 1020-1023: spurious and friends
#define GIC_SPECIAL_LAST  1023
void gic_map(const struct boot_info *bi);
void gic_init(void);
// The GICv2m frame for MSIs, if the firmware named one (gic.c).
void gic_msi_init(const struct boot_info *bi);
// its.c: the GICv3 ITS at its_pa, delivering LPIs to the redistributor
// whose RD_base is at rd (virtual) / rd_pa. Prints a line either way.
void its_init(paddr_t its_pa, uintptr_t rd, paddr_t rd_pa);
bool its_allocate(uint32_t bdf, unsigned *line, uint64_t *address, uint32_t *data);
#define GIC_LPI_FIRST 8192
// A secondary CPU's redistributor / CPU interface (the distributor is the
// boot CPU's to set up).
void gic_init_cpu(void);
// Software-generated interrupt `intid` (0-15) to CPU number `cpu`.
void gic_send_sgi(unsigned cpu, unsigned intid);
#define SGI_IPI_FIRST 0                 // SGI 0 + enum ipi_kind
unsigned gic_version(void);
void gic_enable_ppi(unsigned intid);
// Acknowledges the highest-priority pending interrupt: the IAR value, which
// gic_intid() decodes and gic_end() takes back when it has been handled.
uint32_t gic_acknowledge(void);
unsigned gic_intid(uint32_t iar);
void gic_end(uint32_t iar);

// timer.c
#define TIMER_PPI 27                    // EL1 virtual timer: PPI 11
void a64_timer_rearm(void);
// Starts this CPU's tick (after arch_timer_init on the boot CPU).
void a64_timer_start(void);
