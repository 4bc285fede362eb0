// This CPU's number, inline: the kernel asks on every lock, run-queue and
// per-CPU access (kernel/arch.h declares the contract). aarch64: a field of
// the per-CPU block TPIDR_EL1 points at (arch/aarch64/aarch64.h checks the offset).
#pragma once
#include <stdint.h>

#define A64_CPU_INDEX 16

static inline unsigned arch_cpu_id(void)
{
    uintptr_t block;
    __asm__ volatile("mrs %0, tpidr_el1" : "=r"(block));
    return *(const volatile unsigned *)(block + A64_CPU_INDEX);
}
