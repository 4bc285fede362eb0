// The one BENCH formatter (manifold.h, "Benchmarks"; docs/benchmarks.md):
// every user-level benchmark reports its samples here. It sorts them,
// prints one `BENCH {json}` line (name, arch, system, unit, n, min, median,
// max, and the caller's extra fields) for tools/bench to collect, and keeps
// a short record of each for mf_bench_summary's table.
#include "manifold.h"
#include "lib/string.h"

#define RECORDS 256

struct record {
    char name[48];
    char unit[12];
    uint64_t median;
    unsigned n;
    signed char verified;      // 1 true, 0 false, -1 not said
};

static struct record records[RECORDS];
static unsigned record_count, records_dropped;

static const char *arch_name(void)
{
    static struct mf_system_info si;
    if (!si.arch[0] && mf_system_info(&si) < 0)
        return "?";
    return si.arch;
}

void mf_bench_sort(uint64_t *a, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        uint64_t v = a[i];
        unsigned j = i;
        for (; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

static bool contains(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (; *s; s++)
        if (strncmp(s, word, n) == 0)
            return true;
    return false;
}

void mf_bench_report(const char *name, const char *unit, uint64_t *samples, unsigned n, const char *extra)
{
    if (n == 0)
        return;
    mf_bench_sort(samples, n);
    bool more = extra && *extra;
    printf("BENCH {\"name\":\"%s\",\"arch\":\"%s\",\"system\":\"manifold\",\"unit\":\"%s\",\"n\":%u,"
           "\"min\":%lu,\"median\":%lu,\"max\":%lu%s%s}\n",
           name, arch_name(), unit, n, (unsigned long)samples[0], (unsigned long)samples[n / 2],
           (unsigned long)samples[n - 1], more ? "," : "", more ? extra : "");
    unsigned i = __atomic_fetch_add(&record_count, 1, __ATOMIC_RELAXED);
    if (i >= RECORDS) {
        __atomic_fetch_add(&records_dropped, 1, __ATOMIC_RELAXED);
        return;
    }
    struct record *r = &records[i];
    strlcpy(r->name, name, sizeof(r->name));
    strlcpy(r->unit, unit, sizeof(r->unit));
    r->median = samples[n / 2];
    r->n = n;
    r->verified = !more ? -1 : contains(extra, "\"verified\":false") ? 0 : contains(extra, "\"verified\":true") ? 1 : -1;
}

void mf_bench_summary(void)
{
    unsigned count = record_count < RECORDS ? record_count : RECORDS, unverified = 0;
    if (!count)
        return;
    printf("\n%-44s %14s  %-10s %5s  %s\n", "benchmark", "median", "unit", "n", "verified");
    for (unsigned i = 0; i < count; i++) {
        const struct record *r = &records[i];
        printf("%-44s %14lu  %-10s %5u  %s\n", r->name, (unsigned long)r->median, r->unit, r->n,
               r->verified == 1 ? "yes" : r->verified == 0 ? "NO" : "");
        unverified += r->verified == 0;
    }
    printf("%u figures", count);
    if (records_dropped)
        printf(" (%u more not in this table)", records_dropped);
    if (unverified)
        printf(", %u NOT verified", unverified);
    printf("; the BENCH lines above have min and max too (docs/benchmarks.md)\n");
    record_count = records_dropped = 0;
}
