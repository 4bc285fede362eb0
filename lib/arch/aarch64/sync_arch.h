// aarch64 definitions for the synchronization library (lib/spinlock.h,
// lib/barrier.h). Every lib/arch/<arch>/sync_arch.h defines the same names:
//
//   CACHE_LINE_SIZE   bytes per coherence unit; padding in lib/ uses it
//   cpu_relax()       spin-wait hint, one call per spin-loop iteration
//
// The build picks the file with -Ilib/arch/$(ARCH) (COMMON_CFLAGS in the top
// Makefile), so portable code writes #include "sync_arch.h" with no #ifdef;
// a missing file or name for a new architecture is a build error, not a
// silent fallback.
#pragma once

// 64 on the Cortex-A and Neoverse cores and in QEMU's models; some cores
// (Apple M1) use 128, where 64-byte padding still halves false sharing.
#define CACHE_LINE_SIZE 64

// YIELD: hints that this hardware thread is spinning, so an SMT sibling or
// the hypervisor may run something else. Many cores treat it as a NOP, which
// is harmless here; under QEMU's round-robin (single-threaded) TCG it ends
// this vCPU's turn, so the lock holder gets to run sooner. WFE with an
// exclusive monitor on the spun-on word would save power; not used yet.
// "memory" keeps the compiler from caching the spun-on word in a register
// across the loop.
//
// In the kernel (MANIFOLD_KERNEL) every spin loop also serves cross-CPU
// calls (kernel/smp.h): the kernel runs with interrupts off, so a CPU
// spinning on a lock or a barrier would otherwise never answer a CPU that
// waits for it (a TLB shootdown sent by the lock's holder, say).
#ifdef MANIFOLD_KERNEL
void smp_spin_poll(void);
#endif
static inline void cpu_relax(void)
{
    __asm__ volatile("yield" ::: "memory");
#ifdef MANIFOLD_KERNEL
    smp_spin_poll();
#endif
}
