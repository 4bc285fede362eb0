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

// A system call made again: rip back on the 2-byte syscall; rax still
// holds the number and the arguments are untouched (no result was written).
static inline void arch_syscall_rewind(struct trap_frame *tf) { tf->rip -= 2; }

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

// An LRPC call keeps what a C function call preserves (rbx, rbp, r12-r15),
// with rip, rsp and rflags; it gives them back on return and zeroes the
// other registers the server may have left values in (the results are
// written after). Nine words instead of the 22 of a whole frame.
#define ARCH_LRPC_SAVED 9

static inline void arch_lrpc_save(uint64_t *s, const struct trap_frame *tf)
{
    s[0] = tf->rbx;
    s[1] = tf->rbp;
    s[2] = tf->r12;
    s[3] = tf->r13;
    s[4] = tf->r14;
    s[5] = tf->r15;
    s[6] = tf->rip;
    s[7] = tf->rsp;
    s[8] = tf->rflags;
}

static inline void arch_lrpc_restore(struct trap_frame *tf, const uint64_t *s)
{
    tf->rbx = s[0];
    tf->rbp = s[1];
    tf->r12 = s[2];
    tf->r13 = s[3];
    tf->r14 = s[4];
    tf->r15 = s[5];
    tf->rip = s[6];
    tf->rsp = s[7];
    tf->rflags = s[8];
    tf->rax = tf->rcx = tf->rdx = tf->rsi = tf->rdi = 0;
    tf->r8 = tf->r9 = tf->r10 = tf->r11 = 0;
}
