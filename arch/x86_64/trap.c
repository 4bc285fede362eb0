// x86_64 trap dispatch: exceptions, the timer, and access to trap frames.
#include "arch/x86_64/trapframe.h"
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "include/manifold/syscall.h"
#include "lib/string.h"

extern char usercopy_start[], usercopy_end[], usercopy_fault[];

static const char *const exception_names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
    "invalid opcode", "device not available", "double fault", "coprocessor overrun",
    "invalid TSS", "segment not present", "stack fault", "general protection",
    "page fault", "reserved", "x87 error", "alignment check", "machine check",
    "SIMD error", "virtualization", "control protection",
};

// Page-fault error code bits: P (protection), W (write), U (user), I (fetch).
static unsigned pf_access(uint64_t error)
{
    unsigned a = VM_READ;
    if (error & 2)
        a = VM_WRITE;
    if (error & 16)
        a = VM_EXEC;
    return a;
}

static int fault_kind(uint64_t vector)
{
    switch (vector) {
    case 14: return FAULT_PAGE;
    case 6: return FAULT_UNDEFINED;
    case 13: case 12: case 11: case 17: return FAULT_PROTECTION;
    case 0: case 4: case 5: case 16: case 19: return FAULT_ARITHMETIC;
    default: return FAULT_OTHER;
    }
}

static void dispatch(struct trap_frame *tf);

// Every trap and interrupt; those from ring 3 leave through return_to_user.
void x86_trap(struct trap_frame *tf)
{
    dispatch(tf);
    if (tf->cs & 3)
        return_to_user(tf);
}

static void dispatch(struct trap_frame *tf)
{
    uint64_t v = tf->vector;
    if (v == VECTOR_TIMER) {
        lapic_eoi();
        timer_tick();
        return;
    }
    if (v >= VECTOR_IPI_CALL && v < VECTOR_IPI_CALL + IPI_KINDS) {
        lapic_eoi();
        smp_ipi((enum ipi_kind)(v - VECTOR_IPI_CALL));
        return;
    }
    if (v >= VECTOR_IRQ_BASE && v < VECTOR_IRQ_BASE + IOAPIC_MAX_PINS) {
        x86_ioapic_interrupt((unsigned)(v - VECTOR_IRQ_BASE));
        return;
    }
    if (v >= VECTOR_MSI_BASE && v < VECTOR_MSI_BASE + VECTOR_MSI_COUNT) {
        x86_msi_interrupt((unsigned)v);
        return;
    }
    if (v == VECTOR_SPURIOUS || (v >= 0x20 && v < 0x30))
        return;     // spurious LAPIC or masked-PIC interrupt
    if (v >= 32) {
        kprintf("manifold: unexpected interrupt vector %lu\n", v);
        lapic_eoi();
        return;
    }
    bool from_user = tf->cs & 3;
    if (!from_user) {
        if (v == 14 && tf->rip >= (uint64_t)usercopy_start && tf->rip <= (uint64_t)usercopy_end) {
            tf->rip = (uint64_t)usercopy_fault;   // bad user pointer: copy returns -1
            return;
        }
        kernel_fault(tf, exception_names[v] ? exception_names[v] : "exception",
                     v == 14 ? read_cr2() : tf->rip);
    }
    vaddr_t addr = v == 14 ? read_cr2() : tf->rip;
    unsigned access = v == 14 ? pf_access(tf->error) : VM_EXEC;
    user_fault(tf, fault_kind(v), addr, access);
}

void arch_trap_dump(const struct trap_frame *tf)
{
    kprintf("vector %lu error %#lx rip %p cs %#lx rflags %#lx rsp %p ss %#lx\n",
            tf->vector, tf->error, (void *)tf->rip, tf->cs, tf->rflags, (void *)tf->rsp, tf->ss);
    kprintf("rax %016lx rbx %016lx rcx %016lx rdx %016lx\n", tf->rax, tf->rbx, tf->rcx, tf->rdx);
    kprintf("rsi %016lx rdi %016lx rbp %016lx r8  %016lx\n", tf->rsi, tf->rdi, tf->rbp, tf->r8);
    kprintf("r9  %016lx r10 %016lx r11 %016lx r12 %016lx\n", tf->r9, tf->r10, tf->r11, tf->r12);
    kprintf("r13 %016lx r14 %016lx r15 %016lx cr2 %016lx\n", tf->r13, tf->r14, tf->r15, read_cr2());
    kprintf("cr3 %016lx cr4 %016lx\n", read_cr3(), read_cr4());
    uintptr_t off;
    const char *name = ksym_lookup(tf->rip, &off);
    if (name)
        kprintf("rip is %s+%#lx\n", name, off);
}

uint64_t arch_trap_pc(const struct trap_frame *tf) { return tf->rip; }

const size_t arch_trap_frame_size = sizeof(struct trap_frame);

// The stack is entered as if by a call: rsp + 8 is 16-byte aligned.
void arch_trap_set_entry(struct trap_frame *tf, uint64_t pc, uint64_t sp, uint64_t a0, uint64_t a1)
{
    tf->r15 = tf->r14 = tf->r13 = tf->r12 = tf->r11 = tf->r10 = tf->r9 = tf->r8 = 0;
    tf->rbp = tf->rdx = tf->rcx = tf->rbx = tf->rax = 0;
    tf->rip = pc;
    tf->rsp = sp - 8;
    tf->rflags = 0x202;     // IF only, as a new thread starts: none of the client's (DF, TF, AC)
    tf->rdi = a0;
    tf->rsi = a1;
}
uint64_t arch_trap_sp(const struct trap_frame *tf) { return tf->rsp; }

// RFLAGS' status bits: CF PF AF ZF SF DF OF. Everything else (IF, TF, IOPL,
// AC, ...) stays the kernel's on a restore.
#define RFLAGS_STATUS 0xcd5ul

void arch_regs_save(const struct trap_frame *tf, struct mf_regs *e)
{
    const uint64_t regs[15] = {tf->rax, tf->rbx, tf->rcx, tf->rdx, tf->rsi, tf->rdi, tf->rbp, tf->r8,
                               tf->r9, tf->r10, tf->r11, tf->r12, tf->r13, tf->r14, tf->r15};
    memcpy(e->regs, regs, sizeof(regs));
    e->pc = tf->rip;
    e->sp = tf->rsp;
    e->flags = tf->rflags & RFLAGS_STATUS;
}

void arch_regs_restore(struct trap_frame *tf, const struct mf_regs *e)
{
    const uint64_t *r = e->regs;
    tf->rax = r[0], tf->rbx = r[1], tf->rcx = r[2], tf->rdx = r[3], tf->rsi = r[4], tf->rdi = r[5];
    tf->rbp = r[6], tf->r8 = r[7], tf->r9 = r[8], tf->r10 = r[9], tf->r11 = r[10], tf->r12 = r[11];
    tf->r13 = r[12], tf->r14 = r[13], tf->r15 = r[14];
    tf->rip = e->pc;
    tf->rsp = e->sp;
    tf->rflags = 0x202 | (e->flags & RFLAGS_STATUS);
    tf->cs = SEL_USER_CODE;
    tf->ss = SEL_USER_DATA;
}

