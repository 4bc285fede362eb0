// In-kernel SMP benchmarks (kernel/smp_bench.c).
#pragma once

// Prints the lock and barrier BENCH lines for 1..cpu_count CPUs; 0, or -1
// when a CPU did not finish (reported on the console).
int kbench_run(void);
