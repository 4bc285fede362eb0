// Shared by the DSM benchmarks (bench.c) and applications (apps.c).
#pragma once
#include "dsm.h"
#include "lib/fmt.h"
#include "lib/string.h"

#define DSM_BENCH_SAMPLES 1024
extern uint64_t dsm_samples[DSM_BENCH_SAMPLES];   // written by application threads

// A BENCH line over n samples (sorted in place, counter overhead taken
// off); `extra` is more JSON members, or NULL.
void dsm_report(const char *name, const char *unit, uint64_t *samples, unsigned n, const char *extra);
// A BENCH line for one measured value (n = 1: not a distribution).
void dsm_report_value(const char *name, const char *unit, uint64_t value, const char *extra);
// Instances the benchmarks start use this transport (LRPC unless changed).
extern enum dsm_transport_kind dsm_bench_transport;
bool dsm_bench_start(unsigned nodes, unsigned pages, enum dsm_model model, unsigned xfetch);
// Jacobi and matrix multiply on 1, 2 and 4 nodes; `suffix` goes after the
// application's name in the BENCH names.
void run_dsm_applications(const char *suffix);
