// aarch64 trap dispatch: synchronous exceptions by exception class, IRQs
// through the GIC, and access to trap frames.
#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/trapframe.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "include/manifold/syscall.h"
#include "lib/string.h"
#include "kernel/thread.h"

extern char usercopy_start[], usercopy_end[], usercopy_fault[];

// ESR_EL1: EC (exception class) in bits 31:26, ISS (syndrome) in 24:0.
#define ESR_EC(esr)  ((unsigned)((esr) >> 26) & 0x3f)
#define EC_UNKNOWN      0x00    // undefined instruction
#define EC_FP_ACCESS    0x07    // FP/SIMD trapped by CPACR_EL1.FPEN
#define EC_ILLEGAL      0x0e    // illegal execution state
#define EC_SVC64        0x15
#define EC_SYSREG       0x18    // MSR/MRS/system instruction trapped
#define EC_IABT_LOWER   0x20    // instruction abort from EL0
#define EC_IABT_CURRENT 0x21
#define EC_PC_ALIGN     0x22
#define EC_DABT_LOWER   0x24    // data abort from EL0
#define EC_DABT_CURRENT 0x25
#define EC_SP_ALIGN     0x26
#define EC_BRK          0x3c
// Data/instruction abort ISS: WnR (bit 6) = the access was a write; xFSC
// (bits 5:0) = the fault status: 0x00-0x0f address size, translation, access
// flag or permission fault at some level, 0x21 alignment.
#define ISS_WNR       (1u << 6)
#define ISS_FSC(esr)  ((unsigned)(esr) & 0x3f)
#define FSC_ALIGNMENT 0x21

static const char *ec_name(unsigned ec)
{
    switch (ec) {
    case EC_UNKNOWN: return "undefined instruction";
    case EC_FP_ACCESS: return "FP/SIMD access";
    case EC_ILLEGAL: return "illegal execution state";
    case EC_SVC64: return "svc";
    case EC_SYSREG: return "system register access";
    case EC_IABT_LOWER: case EC_IABT_CURRENT: return "instruction abort";
    case EC_PC_ALIGN: return "pc alignment fault";
    case EC_DABT_LOWER: case EC_DABT_CURRENT: return "data abort";
    case EC_SP_ALIGN: return "sp alignment fault";
    case EC_BRK: return "brk";
    default: return "exception";
    }
}

static bool is_abort(unsigned ec)
{
    return ec == EC_IABT_LOWER || ec == EC_IABT_CURRENT || ec == EC_DABT_LOWER || ec == EC_DABT_CURRENT;
}

// The frame of an exception from EL0 sits at the top of the current
// thread's kernel stack (see entry.S); anything else is a kernel bug.
static void check_user_frame(struct trap_frame *tf)
{
    if (unlikely((uintptr_t)(tf + 1) != a64_this_cpu()->kernel_stack_top))
        panic_frame(tf, "aarch64: exception from EL0 on the wrong kernel stack");
}

// The fault kind of an abort, by its status code.
static int abort_kind(uint64_t esr)
{
    unsigned fsc = ISS_FSC(esr);
    if (fsc < 0x10)
        return FAULT_PAGE;          // address size, translation, access flag, permission
    if (fsc == FSC_ALIGNMENT)
        return FAULT_PROTECTION;
    return FAULT_OTHER;             // external abort, TLB conflict, ...
}

// Everything synchronous from EL0: system calls and faults. A fault ends
// only the thread (user_fault); there is no arithmetic fault on aarch64
// (integer division by zero yields 0, FP traps are off).
void a64_el0_sync(struct trap_frame *tf)
{
    check_user_frame(tf);
    unsigned ec = ESR_EC(tf->esr);
    if (likely(ec == EC_SVC64)) {
        syscall_entry(tf);      // ends with return_to_user
        return;
    }
    int kind = FAULT_OTHER;
    vaddr_t addr = tf->pc;
    unsigned access = VM_EXEC;
    switch (ec) {
    case EC_DABT_LOWER:
        kind = abort_kind(tf->esr);
        addr = tf->far;
        access = tf->esr & ISS_WNR ? VM_WRITE : VM_READ;
        break;
    case EC_IABT_LOWER:
        kind = abort_kind(tf->esr);
        addr = tf->far;
        break;
    case EC_UNKNOWN:
    case EC_FP_ACCESS:              // FP/SIMD is off at EL0: no FP state is kept (cpu.c)
        kind = FAULT_UNDEFINED;
        break;
    case EC_SYSREG:
    case EC_ILLEGAL:
    case EC_PC_ALIGN:
    case EC_SP_ALIGN:
        kind = FAULT_PROTECTION;
        break;
    }
    user_fault(tf, kind, addr, access);
    return_to_user(tf);
}

void a64_el1_sync(struct trap_frame *tf)
{
    unsigned ec = ESR_EC(tf->esr);
    // A user address that faults inside the copy routine: the copy fails.
    if (ec == EC_DABT_CURRENT && tf->far < USER_TOP &&
        tf->pc >= (uintptr_t)usercopy_start && tf->pc < (uintptr_t)usercopy_end) {
        tf->pc = (uintptr_t)usercopy_fault;
        return;
    }
    kernel_fault(tf, ec_name(ec), is_abort(ec) ? tf->far : tf->pc);
}

static void irq_dispatch(struct trap_frame *tf);

// Interrupts from EL1 (the idle loop) and EL0; those from EL0 leave through
// return_to_user.
void a64_irq(struct trap_frame *tf)
{
    irq_dispatch(tf);
    if ((tf->pstate & PSR_MODE_MASK) == PSR_MODE_EL0T)
        return_to_user(tf);
}

static void irq_dispatch(struct trap_frame *tf)
{
    uint32_t iar = gic_acknowledge();
    unsigned intid = gic_intid(iar);
    if (intid >= GIC_SPECIAL_FIRST && intid <= GIC_SPECIAL_LAST)
        return;                         // spurious (1023) and friends: nothing to end
    if (intid - SGI_IPI_FIRST < IPI_KINDS) {          // unsigned: also intid >= first
        gic_end(iar);
        smp_ipi((enum ipi_kind)(intid - SGI_IPI_FIRST));
        return;
    }
    if (intid == TIMER_PPI) {
        a64_timer_rearm();
        gic_end(iar);                   // before timer_tick(), which may switch threads
        timer_tick();
        return;
    }
    if (intid >= 32) {
        // A device's SPI: masked before the EOI so that a level line still
        // asserted is not taken again; the driver's ack unmasks. (An LPI
        // has no mask here: its device's MSI-X vector is masked instead.)
        arch_irq_mask(intid);
        gic_end(iar);
        irq_handler(intid);
        return;
    }
    gic_end(iar);
    kprintf("manifold: unexpected interrupt %u\n", intid);
}

// Exceptions the kernel never enables or expects (FIQ, SError, EL1 on
// SP_EL0, AArch32). From EL0 they end the thread; from EL1 they panic.
void a64_trap_unexpected(struct trap_frame *tf, unsigned vector)
{
    static const char *const kinds[4] = {"sync", "IRQ", "FIQ", "SError"};
    if (vector >= 8) {
        check_user_frame(tf);
        user_fault(tf, FAULT_OTHER, tf->pc, VM_EXEC);
        return_to_user(tf);
    } else {
        panic_frame(tf, "kernel unexpected %s exception (vector %u)", kinds[vector % 4], vector);
    }
}

void arch_trap_dump(const struct trap_frame *tf)
{
    unsigned ec = ESR_EC(tf->esr);
    kprintf("esr %#lx (EC %#x %s, ISS %#lx) far %p\n", tf->esr, ec, ec_name(ec),
            tf->esr & 0x1ffffff, (void *)tf->far);
    kprintf("pc %p sp %p spsr %#lx (%s)\n", (void *)tf->pc, (void *)tf->sp, tf->pstate,
            (tf->pstate & PSR_MODE_MASK) == PSR_MODE_EL0T ? "EL0" : "EL1");
    for (int i = 0; i < 31; i += 4) {
        for (int j = i; j < i + 4 && j < 31; j++)
            kprintf("x%-2d %016lx%s", j, tf->x[j], j == i + 3 || j == 30 ? "\n" : " ");
    }
    kprintf("ttbr0 %016lx ttbr1 %016lx sctlr %#lx\n", read_sysreg(ttbr0_el1),
            read_sysreg(ttbr1_el1), read_sysreg(sctlr_el1));
    uintptr_t off;
    const char *name = ksym_lookup(tf->pc, &off);
    if (name)
        kprintf("pc is %s+%#lx\n", name, off);
}

uint64_t arch_trap_pc(const struct trap_frame *tf) { return tf->pc; }

const size_t arch_trap_frame_size = sizeof(struct trap_frame);

void arch_trap_set_entry(struct trap_frame *tf, uint64_t pc, uint64_t sp, uint64_t a0, uint64_t a1)
{
#pragma GCC unroll 29
    for (unsigned i = 2; i < 31; i++)
        tf->x[i] = 0;               // x29, x30: a fresh frame chain
    tf->pc = pc;
    tf->sp = sp;
    tf->pstate = PSR_MODE_EL0T | PSR_D | PSR_F;     // as a new thread starts: none of the client's flags
    tf->x[0] = a0;
    tf->x[1] = a1;
}
uint64_t arch_trap_sp(const struct trap_frame *tf) { return tf->sp; }

#define PSR_NZCV 0xf0000000ul   // the condition flags: all a restore takes from user space

void arch_regs_save(const struct trap_frame *tf, struct mf_regs *e)
{
    memcpy(e->regs, tf->x, sizeof(tf->x));
    e->pc = tf->pc;
    e->sp = tf->sp;
    e->flags = tf->pstate & PSR_NZCV;
}

void arch_regs_restore(struct trap_frame *tf, const struct mf_regs *e)
{
    memcpy(tf->x, e->regs, sizeof(tf->x));
    tf->pc = e->pc;
    tf->sp = e->sp;
    tf->pstate = PSR_MODE_EL0T | PSR_D | PSR_F | (e->flags & PSR_NZCV);
}

