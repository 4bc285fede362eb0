// aarch64 user entry and the raw system call.
    .section .text.start, "ax"
    .globl _start
_start:
    // x0 = argument from the spawner; x1 = what the kernel tells every
    // program (bit 0: PMCCNTR_EL0 is readable here). Align the stack for
    // the ABI and end the frame chain.
    adrp    x2, mf_arch_counter_flags
    str     x1, [x2, :lo12:mf_arch_counter_flags]
    mov     x2, sp
    and     x2, x2, #~15
    mov     sp, x2
    mov     x29, xzr
    mov     x30, xzr
    bl      mf_start
    udf     #0

    .text
    // Where the kernel enters an LRPC server: x0 = A-stack, x1 =
    // procedure, sp = the E-stack. The result goes back by SYS_LRPC_RETURN.
    .globl mf_lrpc_entry
    .type mf_lrpc_entry, %function
mf_lrpc_entry:
    mov     x29, xzr
    mov     x30, xzr
    bl      mf_lrpc_dispatch
    bl      mf_lrpc_finish
    udf     #0
    .size mf_lrpc_entry, . - mf_lrpc_entry

    // long mf_syscall6(long number, long a0, long a1, long a2, long a3, long a4, long a5)
    // The kernel takes the number in x8, arguments in x0-x5, and returns in x0.
    .globl mf_syscall6
    .type mf_syscall6, %function
mf_syscall6:
    mov     x8, x0
    mov     x0, x1
    mov     x1, x2
    mov     x2, x3
    mov     x3, x4
    mov     x4, x5
    mov     x5, x6
    svc     #0
    ret
    .size mf_syscall6, . - mf_syscall6

    // struct mf_syscall_pair mf_syscall_pair(long number, long a0, long a1, long a2)
    // A system call with two results: x0 and x1, as a C pair returns.
    .globl mf_syscall_pair
    .type mf_syscall_pair, %function
mf_syscall_pair:
    mov     x8, x0
    mov     x0, x1
    mov     x1, x2
    mov     x2, x3
    svc     #0
    ret
    .size mf_syscall_pair, . - mf_syscall_pair

    // long mf_ipc(long number, long cptr, struct mf_msg *msg)
    // In: msg->info, msg->mr[0..3] in x1-x5 (x0 = cptr). Out: the same
    // registers back into *msg; the result (badge) in x0.
    .globl mf_ipc
    .type mf_ipc, %function
mf_ipc:
    mov     x8, x0
    mov     x0, x1
    mov     x9, x2                  // msg (x9 is not touched by the kernel)
    ldp     x1, x2, [x9]
    ldp     x3, x4, [x9, #16]
    ldr     x5, [x9, #32]
    svc     #0
    stp     x1, x2, [x9]
    stp     x3, x4, [x9, #16]
    str     x5, [x9, #32]
    ret
    .size mf_ipc, . - mf_ipc

    // First instruction of a thread started by mf_thread_start(): the
    // function to run is on top of the stack, its argument in x0.
    .globl mf_thread_trampoline
    .type mf_thread_trampoline, %function
mf_thread_trampoline:
    ldr     x9, [sp]
    mov     x29, xzr
    mov     x30, xzr
    blr     x9
    mov     x0, xzr
    bl      mf_exit
    udf     #0
    .size mf_thread_trampoline, . - mf_thread_trampoline

    // uint64_t mf_arch_cycles(void): the PMU cycle counter when the kernel
    // enabled EL0 reads of it, else the generic timer's virtual count. The
    // isb keeps the read from moving ahead of the code being timed.
    .globl mf_arch_cycles
    .type mf_arch_cycles, %function
mf_arch_cycles:
    adrp    x1, mf_arch_counter_flags
    ldr     x1, [x1, :lo12:mf_arch_counter_flags]
    isb
    tbz     x1, #0, 1f
    mrs     x0, pmccntr_el0
    ret
1:  mrs     x0, cntvct_el0
    ret
    .size mf_arch_cycles, . - mf_arch_cycles

    // Deliberate faults for the fault tests.
    .globl mf_arch_undefined_instruction
mf_arch_undefined_instruction:
    udf     #0
    ret
    .globl mf_arch_privileged_instruction
mf_arch_privileged_instruction:
    msr     daifset, #2         // EL0 may not mask interrupts (SCTLR_EL1.UMA = 0): EC 0x18
    ret

    .bss
    .balign 8
mf_arch_counter_flags:
    .quad   0

    .section .note.GNU-stack, "", %progbits
