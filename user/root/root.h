// The root task's parts.
#pragma once

// Runs kernel and user tests; prints TAP-style lines and the summary.
// Returns the number of failures.
int run_tests(void);
void run_benchmarks(void);
void shell(void);
