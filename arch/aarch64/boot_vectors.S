// A minimal exception vector table for boot: every exception reports the
// syndrome and stops (boot_trap.c). Phase 2 (traps) replaces VBAR_EL1.
// 16 entries of 0x80 bytes: {current EL with SP_EL0, current EL with SP_ELx,
// lower EL AArch64, lower EL AArch32} x {sync, IRQ, FIQ, SError}.

    .text
    .balign 2048
    .globl a64_boot_vectors
a64_boot_vectors:
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    .balign 128
    mov     x0, #\i
    b       boot_trap_entry
    .endr

boot_trap_entry:
    mrs     x1, esr_el1
    mrs     x2, elr_el1
    mrs     x3, far_el1
    mrs     x4, spsr_el1
    mov     x5, x29
    mov     x6, x30
    bl      a64_boot_trap
1:  wfi
    b       1b
