// This CPU's number, inline: the kernel asks on every lock, run-queue and
// per-CPU access (kernel/arch.h declares the contract). x86_64: a field of
// the per-CPU block GS points at (arch/x86_64/x86.h checks the offset).
#pragma once
#include <stdint.h>

#define X86_PERCPU_CPU 24

static inline unsigned arch_cpu_id(void)
{
    uint32_t cpu;
    __asm__ volatile("movl %%gs:%c1, %0" : "=r"(cpu) : "i"(X86_PERCPU_CPU));
    return cpu;
}

// Stores to memory a device reads by DMA (a virtqueue) are seen by the
// device before a following store to its registers (the doorbell).
static inline void arch_dma_wmb(void) { __asm__ volatile("sfence" ::: "memory"); }
