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
    // long mf_syscall(long number, long a0, long a1, long a2)
    .globl mf_syscall
mf_syscall:
    movq %rdi, %rax
    movq %rsi, %rdi
    movq %rdx, %rsi
    movq %rcx, %rdx
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
