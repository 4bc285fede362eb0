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
