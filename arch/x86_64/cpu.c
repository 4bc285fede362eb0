// x86_64 CPU set-up: features, GDT/TSS/IDT, control registers, the syscall
// MSRs and power-off.
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/thread.h"
#include "lib/fmt.h"
#include "lib/string.h"

const char arch_name[] = "x86_64";
const uint16_t arch_elf_machine = 62;   // EM_X86_64
struct x86_features x86_cpu;
uint8_t x86_smap_enabled;               // read by the usercopy routine

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "TSS layout");

struct idt_entry {
    uint16_t offset_low, selector;
    uint8_t ist, type_attr;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
} __attribute__((packed));

// Per CPU: the GDT (its TSS descriptor differs), the TSS, the GS block and
// a stack for double faults. The IDT is shared.
struct x86_cpu_tables {
    uint64_t gdt[7];
    struct tss tss;
    struct x86_percpu percpu;
    uint8_t double_fault_stack[4096] __attribute__((aligned(16)));
};
static struct x86_cpu_tables cpu_tables[MAX_CPUS];
static struct idt_entry idt[256];

extern const uint64_t x86_vectors[256];
extern char syscall_entry_asm[];

static void detect_features(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    x86_cpu.pcid = r[2] >> 17 & 1;
    x86_cpu.x2apic = r[2] >> 21 & 1;
    cpuid(0, 0, r);
    if (r[0] >= 7) {
        cpuid(7, 0, r);
        x86_cpu.fsgsbase = r[1] & 1;
        x86_cpu.smep = r[1] >> 7 & 1;
        x86_cpu.invpcid = r[1] >> 10 & 1;
        x86_cpu.smap = r[1] >> 20 & 1;
    }
    cpuid(0x80000000, 0, r);
    uint32_t max_ext = r[0];
    if (max_ext >= 0x80000001) {
        cpuid(0x80000001, 0, r);
        x86_cpu.nx = r[3] >> 20 & 1;
        x86_cpu.huge_1g = r[3] >> 26 & 1;
    }
    if (max_ext >= 0x80000007) {
        cpuid(0x80000007, 0, r);
        x86_cpu.tsc_invariant = r[3] >> 8 & 1;
    }
}

void arch_cpu_features(char *buf, size_t len)
{
    snprintf(buf, len, "pcid=%d invpcid=%d smep=%d smap=%d nx=%d 1g=%d x2apic=%d fsgsbase=%d",
             x86_cpu.pcid, x86_cpu.invpcid, x86_cpu.smep, x86_cpu.smap, x86_cpu.nx,
             x86_cpu.huge_1g, x86_cpu.x2apic, x86_cpu.fsgsbase);
}

uint64_t arch_feature_bits(void)
{
    return (x86_cpu.huge_1g ? ARCH_FEAT_HUGE_1G : 0) | (x86_cpu.fsgsbase ? ARCH_FEAT_USER_TLS : 0) |
           (x86_pcid_enabled ? ARCH_FEAT_TAGGED_TLB : 0);   // set by mmu.c
}

static void gdt_init(struct x86_cpu_tables *ct)
{
    uint64_t *gdt = ct->gdt;
    struct tss *tss = &ct->tss;
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffff;    // kernel code, 64-bit
    gdt[2] = 0x00cf92000000ffff;    // kernel data
    gdt[3] = 0x00cff2000000ffff;    // user data (DPL 3)
    gdt[4] = 0x00affa000000ffff;    // user code, 64-bit (DPL 3)
    uint64_t base = (uint64_t)tss, limit = sizeof(*tss) - 1;
    gdt[5] = (limit & 0xffff) | (base & 0xffffff) << 16 | 0x89ull << 40 |
             ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    gdt[6] = base >> 32;
    tss->ist[0] = (uint64_t)ct->double_fault_stack + sizeof(ct->double_fault_stack);
    tss->iomap_base = sizeof(*tss);

    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr = {sizeof(ct->gdt) - 1, (uint64_t)gdt};
    __asm__ volatile(
        "lgdt %0\n"
        "mov %1, %%ds\n mov %1, %%es\n mov %1, %%ss\n"
        "pushq %2\n leaq 1f(%%rip), %%rax\n pushq %%rax\n lretq\n1:\n"
        "ltr %w3\n"
        :: "m"(ptr), "r"((uint64_t)SEL_KERNEL_DATA), "i"(SEL_KERNEL_CODE), "r"(SEL_TSS)
        : "rax", "memory");
}

static void idt_load(void)
{
    struct { uint16_t limit; uint64_t base; } __attribute__((packed)) ptr = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" ::"m"(ptr));
}

static void idt_init(void)
{
    for (int v = 0; v < 256; v++) {
        uint64_t a = x86_vectors[v];
        idt[v] = (struct idt_entry){
            .offset_low = a & 0xffff, .selector = SEL_KERNEL_CODE,
            .ist = v == 8 ? 1 : 0,          // double fault on its own stack
            .type_attr = 0x8e,              // present, DPL 0, interrupt gate
            .offset_mid = a >> 16 & 0xffff, .offset_high = a >> 32,
        };
    }
}

static inline struct x86_percpu *this_percpu(void)
{
    struct x86_percpu *p;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(p));
    return p;
}

void x86_tss_set_rsp0(uint64_t rsp0)
{
    struct x86_percpu *p = this_percpu();
    p->tss->rsp[0] = rsp0;
    p->kernel_rsp = rsp0;
}

// Everything per CPU: tables, GS block, syscall MSRs, CR4 protections.
void x86_cpu_setup(unsigned cpu, uint32_t apic_id)
{
    struct x86_cpu_tables *ct = &cpu_tables[cpu];
    gdt_init(ct);
    idt_load();
    ct->percpu.self = &ct->percpu;
    ct->percpu.cpu = cpu;
    ct->percpu.apic_id = apic_id;
    ct->percpu.tss = &ct->tss;
    wrmsr(MSR_GS_BASE, (uint64_t)&ct->percpu);
    wrmsr(MSR_KERNEL_GS, 0);
    wrmsr(MSR_FS_BASE, 0);          // thread pointers start 0 (tls_switch writes only changes)

    uint64_t efer = rdmsr(MSR_EFER) | 1;            // SCE: syscall/sysret
    if (x86_cpu.nx)
        efer |= 1 << 11;                             // NXE
    wrmsr(MSR_EFER, efer);
    // STAR: kernel CS at 47:32; sysret takes CS = [63:48] + 16, SS = [63:48] + 8.
    wrmsr(MSR_STAR, (uint64_t)SEL_KERNEL_CODE << 32 | (uint64_t)(0x10 | 3) << 48);
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry_asm);
    wrmsr(MSR_FMASK, 0x47700);                       // clear IF, TF, DF, AC, NT

    uint64_t cr4 = read_cr4();
    if (x86_cpu.fsgsbase)
        cr4 |= 1 << 16;                              // FSGSBASE: user code sets its thread pointer
    if (x86_cpu.smep)
        cr4 |= 1 << 20;
    if (x86_cpu.smap) {
        cr4 |= 1 << 21;
        x86_smap_enabled = 1;
    }
    write_cr4(cr4);
}

void arch_cpu_init(struct boot_info *bi)
{
    detect_features();
    idt_init();
    // The boot CPU's APIC ID, from CPUID (the LAPIC is not mapped yet).
    uint32_t r[4];
    cpuid(1, 0, r);
    x86_cpu_setup(0, r[1] >> 24);
    x86_smp_discover(bi->acpi_rsdp, r[1] >> 24);
    x86_ioapic_discover(bi->acpi_rsdp);
    // Mask the legacy PICs after moving their vectors away from exceptions.
    outb(0x20, 0x11); outb(0xa0, 0x11);
    outb(0x21, 0x20); outb(0xa1, 0x28);
    outb(0x21, 4);    outb(0xa1, 2);
    outb(0x21, 1);    outb(0xa1, 1);
    outb(0x21, 0xff); outb(0xa1, 0xff);
}

void arch_interrupts_enable(void) { __asm__ volatile("sti" ::: "memory"); }
void arch_interrupts_disable(void) { __asm__ volatile("cli" ::: "memory"); }
bool arch_interrupts_enabled(void)
{
    uint64_t f;
    __asm__ volatile("pushfq; popq %0" : "=r"(f));
    return f & (1 << 9);
}
// sti takes effect after the next instruction, so no wake-up is lost.
void arch_wait_for_interrupt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }

_Noreturn void arch_halt(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

_Noreturn void arch_poweroff(int status)
{
    // isa-debug-exit (present under the test harness): QEMU exits with
    // (status << 1) | 1. Otherwise ACPI S5 on QEMU's PIIX4/ICH9 PM block.
    outl(0xf4, (uint32_t)status);
    outw(0x604, 0x2000);
    outw(0xb004, 0x2000);
    arch_halt();
}

uint64_t arch_cycles(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

uint64_t arch_cycles_per_second(void) { return x86_tsc_hz; }
uint64_t arch_user_counter(void) { return arch_cycles(); }
uint64_t arch_user_counter_hz(void) { return x86_tsc_hz; }   // user code reads the TSC too

uintptr_t arch_frame_pointer(void) { return (uintptr_t)__builtin_frame_address(0); }
