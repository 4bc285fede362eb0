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

static inline void arch_syscall_set_arg(struct trap_frame *tf, int i, uint64_t value)
{
    if (i >= 1 && i <= 5)
        tf->x[i] = value;
}
