// x86_64 user entry and the raw system call.
    .section .text.start, "ax"
    .globl _start
_start:
    // rdi = argument from the spawner; align the stack for the ABI.
    andq $-16, %rsp
    xorl %ebp, %ebp
    call mf_start
    ud2

    .text
    // First instruction of a thread started by mf_thread_start(): the
    // function to run is on top of the stack, its argument in rdi.
    .globl mf_thread_trampoline
mf_thread_trampoline:
    movq (%rsp), %rax
    andq $-16, %rsp
    xorl %ebp, %ebp
    call *%rax
    xorl %edi, %edi
    call mf_exit
    ud2

    // Where the kernel enters an LRPC server: rdi = A-stack, rsi =
    // procedure, rsp = the E-stack. The result goes back by SYS_LRPC_RETURN.
    .globl mf_lrpc_entry
mf_lrpc_entry:
    andq $-16, %rsp
    xorl %ebp, %ebp
    call mf_lrpc_dispatch
    movq %rax, %rdi
    call mf_lrpc_finish
    ud2

    // long mf_syscall6(long number, long a0, long a1, long a2, long a3, long a4, long a5)
    // The kernel takes arguments in rdi, rsi, rdx, r10, r8, r9.
    .globl mf_syscall6
mf_syscall6:
    movq %rdi, %rax
    movq %rsi, %rdi
    movq %rdx, %rsi
    movq %rcx, %rdx
    movq %r8, %r10
    movq %r9, %r8
    movq 8(%rsp), %r9
    syscall
    ret

    // struct mf_syscall_pair mf_syscall_pair(long number, long a0, long a1, long a2)
    // A system call with two results: rax and rdx, as a C pair returns.
    .globl mf_syscall_pair
mf_syscall_pair:
    movq %rdi, %rax
    movq %rsi, %rdi
    movq %rdx, %rsi
    movq %rcx, %rdx
    syscall
    ret

    // long mf_ipc(long number, long cptr, struct mf_msg *msg)
    // In: msg->info, msg->mr[0..3] in rsi, rdx, r10, r8, r9 (rdi = cptr).
    // Out: the same registers back into *msg; the result (badge) in rax.
    .globl mf_ipc
mf_ipc:
    pushq %rbx
    movq %rdx, %rbx             // msg survives the syscall in rbx
    movq %rdi, %rax
    movq %rsi, %rdi
    movq 0(%rbx), %rsi
    movq 8(%rbx), %rdx
    movq 16(%rbx), %r10
    movq 24(%rbx), %r8
    movq 32(%rbx), %r9
    syscall
    movq %rsi, 0(%rbx)
    movq %rdx, 8(%rbx)
    movq %r10, 16(%rbx)
    movq %r8, 24(%rbx)
    movq %r9, 32(%rbx)
    popq %rbx
    ret

    // uint64_t mf_arch_cycles(void): the time-stamp counter
    .globl mf_arch_cycles
mf_arch_cycles:
    rdtsc
    shlq $32, %rdx
    orq %rdx, %rax
    ret

    // Deliberate faults for the fault tests.
    .globl mf_arch_undefined_instruction
mf_arch_undefined_instruction:
    ud2
    ret
    .globl mf_arch_privileged_instruction
mf_arch_privileged_instruction:
    hlt                     // #GP at CPL 3
    ret
    .section .note.GNU-stack, "", @progbits
