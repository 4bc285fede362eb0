// User-level context switch (user/lib/uthread.c): the registers a C call
// preserves (x19-x30; user code is built without FP/SIMD registers), on
// the stack being left; the stack pointer in *from.
    .text
    // void mf_uctx_switch(struct mf_uctx *from, const struct mf_uctx *to)
    .globl mf_uctx_switch
mf_uctx_switch:
    sub     sp, sp, #96
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    mov     x2, sp
    str     x2, [x0]
    ldr     x2, [x1]
    mov     sp, x2
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    add     sp, sp, #96
    ret

    // A context's first instruction (mf_uctx_init): fn in x19, its argument in x20.
    .globl mf_uctx_start
mf_uctx_start:
    mov     x0, x20
    mov     x29, #0
    blr     x19
    brk     #0                      // a context's function never returns

    .section .note.GNU-stack, "", %progbits
