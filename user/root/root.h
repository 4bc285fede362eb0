// The root task's parts.
#pragma once
#include <stdbool.h>

// Runs kernel and user tests; prints TAP-style lines and the summary.
// Returns the number of failures.
int run_tests(void);
void run_benchmarks(void);
void shell(void);

// GUPS in three modes (gups.c): BENCH lines for 1..8 regions; the check
// runs every mode over `regions` regions and reports whether all verified.
void run_gups(void);
bool gups_verify_all(unsigned regions);
// Pointer-rich sharing through a segment vs IPC marshalling (share.c).
bool run_pointer_sharing(bool print);
