// The register frame built on the kernel stack by every trap, interrupt and
// syscall entry (arch/x86_64/entry.asm). The order is fixed by the asm.
#pragma once
#include <stdint.h>

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;     // pushed by the CPU (or syscall entry)
};
_Static_assert(sizeof(struct trap_frame) == 22 * 8, "entry.asm frame layout");

#define VECTOR_SYSCALL 0x100     // marks a frame built by the syscall entry
