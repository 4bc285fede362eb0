// x86_64 private definitions: port I/O, MSRs, control registers, selectors.
#pragma once
#include "kernel/types.h"

#define SEL_KERNEL_CODE 0x08
#define SEL_KERNEL_DATA 0x10
#define SEL_USER_DATA   (0x18 | 3)
#define SEL_USER_CODE   (0x20 | 3)
#define SEL_TSS         0x28

#define MSR_EFER        0xc0000080
#define MSR_STAR        0xc0000081
#define MSR_LSTAR       0xc0000082
#define MSR_FMASK       0xc0000084
#define MSR_FS_BASE     0xc0000100
#define MSR_GS_BASE     0xc0000101
#define MSR_KERNEL_GS   0xc0000102
#define MSR_APIC_BASE   0x1b

#define VECTOR_TIMER    0x40
#define VECTOR_IRQ_BASE 0x50        // + I/O APIC pin (device interrupts)
#define IOAPIC_MAX_PINS 24
#define VECTOR_MSI_BASE 0x70        // + n: message-signalled device interrupts
#define VECTOR_MSI_COUNT 16
#define X86_MSI_LINE_BASE 0x100     // irq lines of MSI vectors: base + vector
#define VECTOR_IPI_CALL 0xf0        // + enum ipi_kind
#define VECTOR_SPURIOUS 0xff

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" ::"a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" ::"a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" ::"c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline uint64_t read_cr2(void) { uint64_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline uint64_t read_cr3(void) { uint64_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" ::"r"(v) : "memory"); }
static inline uint64_t read_cr4(void) { uint64_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr4(uint64_t v) { __asm__ volatile("mov %0, %%cr4" ::"r"(v) : "memory"); }

// CPU features detected at boot (cpu.c).
struct x86_features {
    bool pcid, invpcid, smep, smap, nx, huge_1g, x2apic, tsc_invariant, fsgsbase;
};
extern struct x86_features x86_cpu;
// CR4.PCIDE is set and address spaces run tagged (mmu.c; off with tlbtags=off).
extern bool x86_pcid_enabled;

struct tss;

// The per-CPU block addressed through GS in kernel mode (entry.asm uses
// the offsets of the first three fields, arch_cpu_id the fourth).
struct x86_percpu {
    struct x86_percpu *self;     // gs:0
    uint64_t kernel_rsp;         // gs:8  stack top for syscall entry
    uint64_t user_rsp;           // gs:16 scratch during syscall entry
    uint32_t cpu;                // gs:24 arch_cpu_id()
    uint32_t apic_id;
    struct tss *tss;
};
#include "arch/x86_64/include/arch_cpu.h"     // X86_PERCPU_CPU, arch_cpu_id
_Static_assert(__builtin_offsetof(struct x86_percpu, cpu) == X86_PERCPU_CPU, "arch_cpu_id offset");

// cpu.c: per-CPU tables and registers. The boot CPU does all of it in
// arch_cpu_init; a secondary calls this with its number once it runs on the
// kernel's page tables.
void x86_cpu_setup(unsigned cpu, uint32_t apic_id);
// apic.c: the local APIC of the calling CPU.
void lapic_init(void);
void lapic_eoi(void);
uint32_t lapic_id(void);
void lapic_timer_start(void);           // secondaries: the boot CPU's calibration
// Sends an interrupt command (ICR low word: vector and delivery mode) to
// the APIC `apic_id`; waits until the previous one was delivered.
void lapic_send(uint32_t apic_id, uint32_t command);
void x86_tss_set_rsp0(uint64_t rsp0);
extern uint64_t x86_tsc_hz;
// acpi.c: the local APIC IDs of the enabled CPUs in the ACPI MADT (boot CPU
// included); 0 when there is no MADT.
unsigned acpi_madt_apic_ids(paddr_t rsdp, uint32_t *ids, unsigned max);
// What the MADT says about device interrupts: the (first) I/O APIC and the
// ISA interrupt source overrides, which QEMU's pc machine also gives for
// the IRQs its PCI interrupt links use. Flags: polarity (1:0; 1 = high,
// 3 = low, 0 = bus default) and trigger mode (3:2; 1 = edge, 3 = level).
struct x86_irq_routing {
    paddr_t ioapic;             // 0 when the MADT names none
    uint32_t gsi_base;
    unsigned override_count;
    struct { uint8_t source; uint16_t flags; uint32_t gsi; } override[16];
};
void acpi_madt_interrupts(paddr_t rsdp, struct x86_irq_routing *out);
// ioapic.c: reads the MADT while the boot tables still map it.
void x86_ioapic_discover(paddr_t rsdp);
// A device interrupt arrived on vector VECTOR_IRQ_BASE + pin.
void x86_ioapic_interrupt(unsigned pin);
// A message-signalled interrupt arrived on `vector`.
void x86_msi_interrupt(unsigned vector);
// mmu.c: a secondary CPU loads the kernel root and the boot CPU's CR4 bits.
void x86_mmu_init_secondary(void);
// smp.c: numbers the CPUs of the MADT (`boot_apic_id` is CPU 0).
void x86_smp_discover(paddr_t rsdp, uint32_t boot_apic_id);
