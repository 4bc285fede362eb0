// x86_64 definitions for the synchronization library (lib/spinlock.h,
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

#define CACHE_LINE_SIZE 64

// PAUSE: tells the core this is a spin loop, so it does not flood the memory
// order buffer with speculative loads (no machine clear when the line
// changes), yields pipeline resources to the sibling hyperthread, and costs
// ~10..140 cycles depending on the core. Under QEMU's round-robin
// (single-threaded) TCG it ends this vCPU's turn, so the lock holder gets to
// run sooner. "memory" keeps the compiler from caching the spun-on word in a
// register across the loop.
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
    __asm__ volatile("pause" ::: "memory");
#ifdef MANIFOLD_KERNEL
    smp_spin_poll();
#endif
}
