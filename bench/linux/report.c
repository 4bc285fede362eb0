// Sampling and the BENCH line: the same method as user/root/bench.c.
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"

#if defined(__x86_64__)
#define ARCH "x86_64"
#else
#define ARCH "aarch64"
#endif

static uint64_t samples[RUNS];
static uint64_t overhead;   // minimum of counter.overhead; 0 while measuring it

void sample(unsigned i, uint64_t delta)
{
    if (i >= WARMUP)
        samples[i - WARMUP] = delta;
}

static int compare(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

void report(const char *name)
{
    for (unsigned i = 0; i < RUNS; i++)
        samples[i] = samples[i] > overhead ? samples[i] - overhead : 0;
    qsort(samples, RUNS, sizeof(samples[0]), compare);
    // The unit is what the counter counts; tools/bench rewrites it to
    // "instructions" for runs under -icount.
    printf("BENCH {\"name\":\"%s\",\"arch\":\"" ARCH "\",\"system\":\"linux\",\"unit\":\"cycles\","
           "\"n\":%u,\"min\":%llu,\"median\":%llu,\"max\":%llu}\n",
           name, RUNS, (unsigned long long)samples[0], (unsigned long long)samples[RUNS / 2],
           (unsigned long long)samples[RUNS - 1]);
    fflush(stdout);
}

void report_values(const char *name, const char *unit, uint64_t *values, unsigned n, const char *extra)
{
    if (n == 0)
        return;
    qsort(values, n, sizeof(values[0]), compare);
    bool more = extra && *extra;
    printf("BENCH {\"name\":\"%s\",\"arch\":\"" ARCH "\",\"system\":\"linux\",\"unit\":\"%s\","
           "\"n\":%u,\"min\":%llu,\"median\":%llu,\"max\":%llu%s%s}\n",
           name, unit, n, (unsigned long long)values[0], (unsigned long long)values[n / 2],
           (unsigned long long)values[n - 1], more ? "," : "", more ? extra : "");
    fflush(stdout);
}

void skip(const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("linux-bench: skip %s: ", name);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    va_end(ap);
}

// Two back-to-back reads; their minimum is subtracted from every other
// figure (sel4bench's method, and Manifold's).
void measure_counter_overhead(void)
{
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint64_t a = counter_read();
        uint64_t b = counter_read();
        sample(i, b - a);
    }
    overhead = 0;
    report("counter.overhead");
    overhead = samples[0];
}
