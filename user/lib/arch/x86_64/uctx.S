// User-level context switch (user/lib/uthread.c): the registers a C call
// preserves, on the stack being left; the stack pointer in *from.
    .text
    // void mf_uctx_switch(struct mf_uctx *from, const struct mf_uctx *to)
    .globl mf_uctx_switch
mf_uctx_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq (%rsi), %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

    // A context's first instruction (mf_uctx_init): fn in r12, its argument in r13.
    .globl mf_uctx_start
mf_uctx_start:
    movq %r13, %rdi
    andq $-16, %rsp
    xorl %ebp, %ebp
    call *%r12
    ud2                             // a context's function never returns

    .section .note.GNU-stack, "", @progbits
