// The Linux side of `make bench`: the closest Linux equivalents of
// Manifold's benchmarks, measured the same way (docs/benchmarks.md):
// WARMUP runs discarded, RUNS samples kept, the minimum cost of reading the
// counter subtracted, min/median/max printed as one `BENCH {json}` line with
// "system":"linux".
//
// The counter is the one Manifold's mf_arch_cycles() reads: rdtsc on
// x86_64, PMCCNTR_EL0 on aarch64 (enabled for EL0 by pmu/pmu_el0.ko, loaded
// by init.c, exactly as arch/aarch64/cpu.c enables it for Manifold).
#ifndef BENCH_LINUX_BENCH_H
#define BENCH_LINUX_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#define WARMUP 100
#define RUNS 1000
#define ITERATIONS (WARMUP + RUNS)

// One counter read. The asm is volatile with a memory clobber so the
// compiler keeps it in program order with the operation being timed.
static inline uint64_t counter_read(void)
{
#if defined(__x86_64__)
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
    return (uint64_t)hi << 32 | lo;
#elif defined(__aarch64__)
    // The isb keeps the read from moving ahead of earlier instructions (as
    // Manifold's user/lib/arch/aarch64/entry.S does).
    uint64_t v;
    __asm__ volatile("isb\n\tmrs %0, pmccntr_el0" : "=r"(v) : : "memory");
    return v;
#else
#error "unsupported architecture"
#endif
}

// Sample i of a loop of ITERATIONS: the first WARMUP are dropped.
void sample(unsigned i, uint64_t delta);

// Sorts the kept samples, subtracts the counter overhead and prints the
// BENCH line for `name`.
void report(const char *name);

// A figure measured some other way than sample() (a few rounds of a long
// operation, its time reported by another program): `values` sorted and
// printed as they are (no overhead subtracted), with `extra` (JSON fields,
// such as "\"verified\":true") appended if not NULL.
void report_values(const char *name, const char *unit, uint64_t *values, unsigned n, const char *extra);

// A benchmark that cannot run says why on a line the report tool collects
// (`linux-bench: skip NAME: reason`), instead of printing a figure.
void skip(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Measures the counter's own cost (counter.overhead) and remembers its
// minimum for report().
void measure_counter_overhead(void);

// The benchmarks, one function per figure (or per group of figures).
void bench_syscall(void);     // syscall.c
void bench_ipc(void);         // ipc.c
void bench_sync(void);        // sync.c
void bench_vm(void);          // vm.c
void bench_uffd(void);        // uffd.c
void bench_segv(void);        // signal.c
void bench_ckpt(void);        // ckpt.c (Debian's criu on ckpt/victim.c)
void bench_http(void);        // http.c (the host's load; last)

#endif
