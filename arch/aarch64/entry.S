// Kernel entry and exit: the VBAR_EL1 vector table, the trap frame, context
// switch, and user-memory copies with fault recovery.
//
// Stacks: the kernel always runs on SP_EL1 (SPSel = 1). Whenever the CPU is
// at EL0, SP_EL1 holds the current thread's kernel stack top: the kernel
// erets to EL0 only from a64_trap_return after popping the frame that sits at
// the top of the stack, and arch_context_switch saves and restores sp per
// thread. So an exception from EL0 finds its stack without any per-CPU load
// (x86 needs TSS.rsp0 for the same thing); trap.c checks the invariant.
#include "arch/aarch64/trapframe.h"

// Builds a struct trap_frame at sp and leaves x0 = frame, x29 = the frame
// record {interrupted x29, interrupted pc}, so that a backtrace walks from
// the handler into the interrupted code. From EL0 the record's fp is 0.
.macro trap_entry el
    sub     sp, sp, #TF_SIZE
    stp     x0, x1, [sp, #16 * 0]
    stp     x2, x3, [sp, #16 * 1]
    stp     x4, x5, [sp, #16 * 2]
    stp     x6, x7, [sp, #16 * 3]
    stp     x8, x9, [sp, #16 * 4]
    stp     x10, x11, [sp, #16 * 5]
    stp     x12, x13, [sp, #16 * 6]
    stp     x14, x15, [sp, #16 * 7]
    stp     x16, x17, [sp, #16 * 8]
    stp     x18, x19, [sp, #16 * 9]
    stp     x20, x21, [sp, #16 * 10]
    stp     x22, x23, [sp, #16 * 11]
    stp     x24, x25, [sp, #16 * 12]
    stp     x26, x27, [sp, #16 * 13]
    stp     x28, x29, [sp, #16 * 14]
    .if \el == 0
    mrs     x21, sp_el0
    mov     x29, xzr
    .else
    add     x21, sp, #TF_SIZE
    .endif
    stp     x30, x21, [sp, #TF_X30]
    mrs     x22, elr_el1
    mrs     x23, spsr_el1
    stp     x22, x23, [sp, #TF_PC]
    mrs     x24, esr_el1
    mrs     x25, far_el1
    stp     x24, x25, [sp, #TF_ESR]
    stp     x29, x22, [sp, #TF_FRAME]
    add     x29, sp, #TF_FRAME
    mov     x0, sp
.endm

// One 128-byte slot per vector: a branch to the handler.
.macro ventry target
    .balign 128
    b       \target
.endm

    .text
    .balign 2048
    .globl a64_vectors
a64_vectors:
    ventry  el1t_sync               // current EL with SP_EL0: never used
    ventry  el1t_irq
    ventry  el1t_fiq
    ventry  el1t_serror
    ventry  el1h_sync               // current EL with SP_EL1: the kernel
    ventry  el1h_irq
    ventry  el1h_fiq
    ventry  el1h_serror
    ventry  el0_sync                // lower EL, AArch64: user mode
    ventry  el0_irq
    ventry  el0_fiq
    ventry  el0_serror
    ventry  el0_32_sync             // lower EL, AArch32: never entered
    ventry  el0_32_irq
    ventry  el0_32_fiq
    ventry  el0_32_serror

// Vectors the kernel never expects: a64_trap_unexpected(frame, vector index).
.macro unexpected name, index, el
\name:
    trap_entry \el
    mov     x1, #\index
    bl      a64_trap_unexpected
    b       a64_trap_return
.endm
    unexpected el1t_sync, 0, 1
    unexpected el1t_irq, 1, 1
    unexpected el1t_fiq, 2, 1
    unexpected el1t_serror, 3, 1
    unexpected el1h_fiq, 6, 1
    unexpected el1h_serror, 7, 1
    unexpected el0_fiq, 10, 0
    unexpected el0_serror, 11, 0
    unexpected el0_32_sync, 12, 0
    unexpected el0_32_irq, 13, 0
    unexpected el0_32_fiq, 14, 0
    unexpected el0_32_serror, 15, 0

el1h_sync:
    trap_entry 1
    bl      a64_el1_sync
    b       a64_trap_return

el1h_irq:
    trap_entry 1
    str     xzr, [sp, #TF_ESR]      // an interrupt has no syndrome: ESR_EL1 is an older exception's
    bl      a64_irq
    b       a64_trap_return

el0_sync:
    trap_entry 0
    bl      a64_el0_sync
    b       a64_trap_return

el0_irq:
    trap_entry 0
    str     xzr, [sp, #TF_ESR]      // (so arch_trap_is_syscall cannot take it for a system call)
    bl      a64_irq
    // fall through

// Restores the frame at sp and returns to where it came from. Also the
// first instruction a new user thread runs (thread.c).
    .globl a64_trap_return
    .type a64_trap_return, %function
a64_trap_return:
    ldp     x22, x23, [sp, #TF_PC]
    msr     elr_el1, x22
    msr     spsr_el1, x23
    tst     x23, #PSR_MODE_MASK
    b.ne    1f                      // back to EL1: sp is restored by the add below
    ldr     x21, [sp, #TF_SP]
    msr     sp_el0, x21
1:  ldp     x0, x1, [sp, #16 * 0]
    ldp     x2, x3, [sp, #16 * 1]
    ldp     x4, x5, [sp, #16 * 2]
    ldp     x6, x7, [sp, #16 * 3]
    ldp     x8, x9, [sp, #16 * 4]
    ldp     x10, x11, [sp, #16 * 5]
    ldp     x12, x13, [sp, #16 * 6]
    ldp     x14, x15, [sp, #16 * 7]
    ldp     x16, x17, [sp, #16 * 8]
    ldp     x18, x19, [sp, #16 * 9]
    ldp     x20, x21, [sp, #16 * 10]
    ldp     x22, x23, [sp, #16 * 11]
    ldp     x24, x25, [sp, #16 * 12]
    ldp     x26, x27, [sp, #16 * 13]
    ldp     x28, x29, [sp, #16 * 14]
    ldr     x30, [sp, #TF_X30]
    add     sp, sp, #TF_SIZE
    eret
    .size a64_trap_return, . - a64_trap_return

// _Noreturn void arch_trap_frame_return(struct trap_frame *tf): tf is the
// user frame at the top of this thread's kernel stack.
    .globl arch_trap_frame_return
    .type arch_trap_frame_return, %function
arch_trap_frame_return:
    mov     sp, x0
    b       a64_trap_return
    .size arch_trap_frame_return, . - arch_trap_frame_return

// void arch_context_switch(struct thread *from, struct thread *to)
// Saves x19-x30 (x30: where `from` resumes) on from's stack and sp in
// from->kernel_sp (offset 0), then clears from->on_cpu (offset 8); loads
// `to` the same way. thread.c builds the
// same frame (struct switch_frame) for threads that never ran.
    .globl arch_context_switch
    .type arch_context_switch, %function
arch_context_switch:
    sub     sp, sp, #96
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    mov     x9, sp
    str     x9, [x0]
    add     x10, x0, #8             // from->on_cpu = 0, ordered after the saves:
    stlr    wzr, [x10]              // another CPU may resume `from` from now on
    ldr     x9, [x1]
    mov     sp, x9
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    add     sp, sp, #96
    ret
    .size arch_context_switch, . - arch_context_switch

// First run of a kernel thread: x19 = function, x20 = argument.
    .globl a64_kernel_thread_start
    .type a64_kernel_thread_start, %function
a64_kernel_thread_start:
    mov     x0, x20
    mov     x29, xzr
    blr     x19
1:  msr     daifset, #0xf
    wfi
    b       1b
    .size a64_kernel_thread_start, . - a64_kernel_thread_start

// int arch_copy_from_user(void *dst, const void *usrc, size_t n)
// int arch_copy_to_user(void *udst, const void *src, size_t n)
// The user side is accessed with LDTR/STTR, which check EL0 permissions:
// the copy can reach only what the thread itself could, and works with
// PSTATE.PAN set (PAN stops ordinary EL1 accesses to user pages). A data
// abort on a user address between usercopy_start and usercopy_end resumes
// at usercopy_fault (trap.c), which returns -1.
    .globl arch_copy_from_user, arch_copy_to_user
    .globl usercopy_start, usercopy_end, usercopy_fault
    .type arch_copy_from_user, %function
usercopy_start:
arch_copy_from_user:
1:  cmp     x2, #8
    b.lo    2f
    ldtr    x3, [x1]
    str     x3, [x0], #8
    add     x1, x1, #8
    sub     x2, x2, #8
    b       1b
2:  cbz     x2, 3f
    ldtrb   w3, [x1]
    strb    w3, [x0], #1
    add     x1, x1, #1
    sub     x2, x2, #1
    b       2b
3:  mov     w0, #0
    ret
    .size arch_copy_from_user, . - arch_copy_from_user

    .type arch_copy_to_user, %function
arch_copy_to_user:
1:  cmp     x2, #8
    b.lo    2f
    ldr     x3, [x1], #8
    sttr    x3, [x0]
    add     x0, x0, #8
    sub     x2, x2, #8
    b       1b
2:  cbz     x2, 3f
    ldrb    w3, [x1], #1
    sttrb   w3, [x0]
    add     x0, x0, #1
    sub     x2, x2, #1
    b       2b
3:  mov     w0, #0
    ret
    .size arch_copy_to_user, . - arch_copy_to_user
usercopy_end:
usercopy_fault:
    mov     w0, #-1
    ret

    .section .note.GNU-stack, "", %progbits
