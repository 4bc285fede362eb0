// long mf_test_fault_keeps_registers(volatile uint64_t *addr): every
// general register but x30 (the return address) and sp gets its own
// pattern, a store to *addr faults (the test's exception handler maps the
// page and resumes), and each must still hold its pattern: 0 if so, else
// 1 + the number of the first that did not (x0 = 1 .. x29 = 30). The
// flags too: N Z C V set before must be set after (32). For
// user/tests/exokernel_tests.c.
    .text
    .globl mf_test_fault_keeps_registers
    .type mf_test_fault_keeps_registers, %function
mf_test_fault_keeps_registers:
    stp     x29, x30, [sp, #-96]!
    stp     x19, x20, [sp, #16]
    stp     x21, x22, [sp, #32]
    stp     x23, x24, [sp, #48]
    stp     x25, x26, [sp, #64]
    stp     x27, x28, [sp, #80]
    mov     x30, x0                 // the address (x30 is saved above)
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29
    movz    x\n, #(0x1000 + \n)
    movk    x\n, #0xa5a5, lsl #16
    movk    x\n, #(0x5a00 + \n), lsl #32
    movk    x\n, #0xc3c3, lsl #48
    .endr
    movz    x1, #0xf000, lsl #16    // N Z C V all set
    msr     nzcv, x1
    movz    x1, #(0x1000 + 1)
    movk    x1, #0xa5a5, lsl #16
    movk    x1, #(0x5a00 + 1), lsl #32
    movk    x1, #0xc3c3, lsl #48
    str     x30, [x30]              // the fault
    mrs     x30, nzcv               // (x30 is not checked: the store above used it)
    lsr     x30, x30, #28
    cmp     x30, #0xf
    b.ne    32f                     // every flag survived?
    // Compare x0..x29 with their patterns; x30 is the scratch register.
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29
    movz    x30, #(0x1000 + \n)
    movk    x30, #0xa5a5, lsl #16
    movk    x30, #(0x5a00 + \n), lsl #32
    movk    x30, #0xc3c3, lsl #48
    cmp     x\n, x30
    b.ne    .Lbad\n
    .endr
    mov     x0, #0
    b       40f
    .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29
.Lbad\n:
    mov     x0, #(\n + 1)
    b       40f
    .endr
32: mov     x0, #32
40: ldp     x19, x20, [sp, #16]
    ldp     x21, x22, [sp, #32]
    ldp     x23, x24, [sp, #48]
    ldp     x25, x26, [sp, #64]
    ldp     x27, x28, [sp, #80]
    ldp     x29, x30, [sp], #96
    ret
    .size mf_test_fault_keeps_registers, . - mf_test_fault_keeps_registers

// long mf_test_spoiled_flags(void): an undefined instruction whose handler
// resumes after it with a record of every flag bit set; returns NZCV as
// resumed (the kernel keeps only these: 0xf0000000, still at EL0).
    .globl mf_test_spoiled_flags
    .type mf_test_spoiled_flags, %function
mf_test_spoiled_flags:
    udf     #0
    mrs     x0, nzcv
    ret
    .size mf_test_spoiled_flags, . - mf_test_spoiled_flags

// mf_test_dump_registers: a thread's first instruction after
// MF_THREAD_WRITE_CONTEXT (user/tests/objects_tests.c): x0 .. x30 as the
// context left them, then NZCV, go below the stack pointer, and
// mf_test_registers_dumped(that array) ends the thread.
    .globl mf_test_dump_registers
    .type mf_test_dump_registers, %function
mf_test_dump_registers:
    sub     sp, sp, #256
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mrs     x0, nzcv
    str     x0, [sp, #248]
    mov     x0, sp
    bl      mf_test_registers_dumped
    udf     #0
    .size mf_test_dump_registers, . - mf_test_dump_registers
