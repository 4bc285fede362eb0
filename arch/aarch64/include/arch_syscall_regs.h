// System-call registers in the trap frame, inline: the IPC paths read and
// write them per message word (kernel/arch.h declares the contract).
// aarch64: number in x8, arguments in x0-x5; results in x0 (and x1 for a pair).
#pragma once
#include "arch/aarch64/trapframe.h"

static inline uint64_t arch_syscall_number(const struct trap_frame *tf) { return tf->x[8]; }
static inline uint64_t arch_syscall_arg(const struct trap_frame *tf, int i) { return tf->x[i]; }
static inline void arch_syscall_return(struct trap_frame *tf, int64_t value) { tf->x[0] = (uint64_t)value; }

static inline void arch_syscall_return_pair(struct trap_frame *tf, int64_t value, uint64_t second)
{
    tf->x[0] = (uint64_t)value;
    tf->x[1] = second;
}

// A system call made again: pc back on the svc, the arguments untouched.
static inline void arch_syscall_rewind(struct trap_frame *tf) { tf->pc -= 4; }

static inline void arch_syscall_set_arg(struct trap_frame *tf, int i, uint64_t value)
{
    if (i >= 1 && i <= 5)
        tf->x[i] = value;
}

// An LRPC call keeps what a C function call preserves (x19-x28, x29 = fp)
// with x18, x30 (the stub's own return address), sp, pc and pstate; it
// gives them back on return and zeroes x0-x17, which the server may have
// left values in (the results are written after). 16 words instead of the
// 38 of a whole frame.
#define ARCH_LRPC_SAVED 16

// Unrolled: straight-line pairs of loads and stores, no loop or call.
static inline void arch_lrpc_save(uint64_t *s, const struct trap_frame *tf)
{
#pragma GCC unroll 13
    for (int i = 0; i < 13; i++)
        s[i] = tf->x[18 + i];
    s[13] = tf->sp;
    s[14] = tf->pc;
    s[15] = tf->pstate;
}

static inline void arch_lrpc_restore(struct trap_frame *tf, const uint64_t *s)
{
#pragma GCC unroll 18
    for (int i = 0; i < 18; i++)
        tf->x[i] = 0;
#pragma GCC unroll 13
    for (int i = 0; i < 13; i++)
        tf->x[18 + i] = s[i];
    tf->sp = s[13];
    tf->pc = s[14];
    tf->pstate = s[15];
}
