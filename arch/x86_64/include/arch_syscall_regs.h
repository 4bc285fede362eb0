// System-call registers in the trap frame, inline: the IPC paths read and
// write them per message word (kernel/arch.h declares the contract).
// x86_64: number in rax, arguments in rdi, rsi, rdx, r10, r8, r9; results
// in rax (and rdx for a pair).
#pragma once
#include "arch/x86_64/trapframe.h"

static inline uint64_t arch_syscall_number(const struct trap_frame *tf) { return tf->rax; }

static inline uint64_t arch_syscall_arg(const struct trap_frame *tf, int i)
{
    switch (i) {
    case 0: return tf->rdi;
    case 1: return tf->rsi;
    case 2: return tf->rdx;
    case 3: return tf->r10;
    case 4: return tf->r8;
    default: return tf->r9;
    }
}

static inline void arch_syscall_return(struct trap_frame *tf, int64_t value) { tf->rax = (uint64_t)value; }

static inline void arch_syscall_return_pair(struct trap_frame *tf, int64_t value, uint64_t second)
{
    tf->rax = (uint64_t)value;
    tf->rdx = second;
}

static inline void arch_syscall_set_arg(struct trap_frame *tf, int i, uint64_t value)
{
    switch (i) {
    case 1: tf->rsi = value; break;
    case 2: tf->rdx = value; break;
    case 3: tf->r10 = value; break;
    case 4: tf->r8 = value; break;
    case 5: tf->r9 = value; break;
    default: break;
    }
}
