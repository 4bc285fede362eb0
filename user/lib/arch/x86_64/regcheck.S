// long mf_test_fault_keeps_registers(volatile uint64_t *addr): every
// general register gets its own pattern, a store to *addr faults (the
// test's exception handler maps the page and resumes), and every register
// must still hold its pattern: 0 if so, else 1 + the first that did not
// (rax = 1, rbx, rcx, rdx, rsi, rdi, rbp, r8 .. r15 = 15; r11 holds the
// address). The flags too: CF PF AF ZF SF DF OF set before must be set
// after (16). For user/tests/exokernel_tests.c.
    .text
    .globl mf_test_fault_keeps_registers
mf_test_fault_keeps_registers:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rdi, %r11                 // the address, while r11 is free
    movabsq $0x1111111111111101, %rax
    movabsq $0x2222222222222202, %rbx
    movabsq $0x3333333333333303, %rcx
    movabsq $0x4444444444444404, %rdx
    movabsq $0x5555555555555505, %rsi
    movabsq $0x6666666666666606, %rdi
    movabsq $0x7777777777777707, %rbp
    movabsq $0x8888888888888808, %r8
    movabsq $0x9999999999999909, %r9
    movabsq $0xaaaaaaaaaaaaaa0a, %r10
    movabsq $0xcccccccccccccc0c, %r12
    movabsq $0xdddddddddddddd0d, %r13
    movabsq $0xeeeeeeeeeeeeee0e, %r14
    movabsq $0xffffffffffffff0f, %r15
    pushq %r11
    pushq $0xcd7                    // CF PF AF ZF SF DF OF set (and bit 1)
    popfq
    movq %r11, (%r11)               // the fault (the value: the address itself)
    pushfq                          // the flags as resumed
    cld
    popq %r11
    andq $0xcd5, %r11
    cmpq $0xcd5, %r11               // every status flag survived?
    popq %r11
    jne 16f
    pushq %r11
    movabsq $0x1111111111111101, %r11
    cmpq %r11, %rax; jne 1f
    movabsq $0x2222222222222202, %r11
    cmpq %r11, %rbx; jne 2f
    movabsq $0x3333333333333303, %r11
    cmpq %r11, %rcx; jne 3f
    movabsq $0x4444444444444404, %r11
    cmpq %r11, %rdx; jne 4f
    movabsq $0x5555555555555505, %r11
    cmpq %r11, %rsi; jne 5f
    movabsq $0x6666666666666606, %r11
    cmpq %r11, %rdi; jne 6f
    movabsq $0x7777777777777707, %r11
    cmpq %r11, %rbp; jne 7f
    movabsq $0x8888888888888808, %r11
    cmpq %r11, %r8; jne 8f
    movabsq $0x9999999999999909, %r11
    cmpq %r11, %r9; jne 9f
    movabsq $0xaaaaaaaaaaaaaa0a, %r11
    cmpq %r11, %r10; jne 10f
    movabsq $0xcccccccccccccc0c, %r11
    cmpq %r11, %r12; jne 12f
    movabsq $0xdddddddddddddd0d, %r11
    cmpq %r11, %r13; jne 13f
    movabsq $0xeeeeeeeeeeeeee0e, %r11
    cmpq %r11, %r14; jne 14f
    movabsq $0xffffffffffffff0f, %r11
    cmpq %r11, %r15; jne 15f
    xorl %eax, %eax
    jmp 20f
1:  movl $1, %eax; jmp 20f
2:  movl $2, %eax; jmp 20f
3:  movl $3, %eax; jmp 20f
4:  movl $4, %eax; jmp 20f
5:  movl $5, %eax; jmp 20f
6:  movl $6, %eax; jmp 20f
7:  movl $7, %eax; jmp 20f
8:  movl $8, %eax; jmp 20f
9:  movl $9, %eax; jmp 20f
10: movl $10, %eax; jmp 20f
12: movl $12, %eax; jmp 20f
13: movl $13, %eax; jmp 20f
14: movl $14, %eax; jmp 20f
15: movl $15, %eax; jmp 20f
20: popq %r11
    jmp 21f
16: movl $16, %eax
21: popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

// long mf_test_spoiled_flags(void): an undefined instruction whose handler
// resumes after it with a record of every flag bit set; returns RFLAGS as
// resumed (the kernel must give 0x202 | the status bits: IF, no IOPL, TF,
// AC, NT, ...), with DF cleared again before C code runs.
    .globl mf_test_spoiled_flags
mf_test_spoiled_flags:
    ud2
    pushfq
    cld
    popq %rax
    ret

// mf_test_dump_registers: a thread's first instruction after
// MF_THREAD_WRITE_CONTEXT (user/tests/objects_tests.c): every general
// register and RFLAGS, as the context left them, go below the stack
// pointer (rax .. r15 in struct mf_regs order, then RFLAGS), and
// mf_test_registers_dumped(that array) ends the thread.
    .globl mf_test_dump_registers
mf_test_dump_registers:
    leaq -256(%rsp), %rsp           // (lea: the flags stay as they are)
    movq %rax, 0(%rsp)
    movq %rbx, 8(%rsp)
    movq %rcx, 16(%rsp)
    movq %rdx, 24(%rsp)
    movq %rsi, 32(%rsp)
    movq %rdi, 40(%rsp)
    movq %rbp, 48(%rsp)
    movq %r8, 56(%rsp)
    movq %r9, 64(%rsp)
    movq %r10, 72(%rsp)
    movq %r11, 80(%rsp)
    movq %r12, 88(%rsp)
    movq %r13, 96(%rsp)
    movq %r14, 104(%rsp)
    movq %r15, 112(%rsp)
    pushfq
    popq %rax
    cld
    movq %rax, 248(%rsp)
    movq %rsp, %rdi
    andq $-16, %rsp
    call mf_test_registers_dumped
    ud2
