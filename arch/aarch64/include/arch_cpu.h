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

// Stores to memory a device reads by DMA (a virtqueue) are seen by the
// device before a following store to its registers (the doorbell).
static inline void arch_dma_wmb(void) { __asm__ volatile("dsb st" ::: "memory"); }
