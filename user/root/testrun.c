// The test runner: kernel self-tests (through the System cap), then the user
// tests linked into the root task, numbered as one suite.
#include "manifold.h"
#include "root.h"
#include "utest.h"
#include "lib/string.h"

// filter: NULL (all) or prefixes separated by '+'.
static bool selected(const struct utest *t, const char *filter)
{
    if (!filter)
        return true;
    for (const char *p = filter; *p;) {
        size_t n = 0;
        while (p[n] && p[n] != '+')
            n++;
        if (n && strncmp(t->name, p, n) == 0)
            return true;
        p += n + (p[n] == '+');
    }
    return false;
}

int run_tests(const char *filter)
{
    long kernel_count = filter ? 0 : mf_ktest_count(MF_CAP_SYSTEM);
    if (kernel_count < 0)
        kernel_count = 0;
    unsigned user_count = 0;
    for (const struct utest *t = __utests_start; t < __utests_end; t++)
        user_count += selected(t, filter);
    unsigned number = 0, passed = 0, failed = 0, skipped = 0;
    printf("1..%lu\n", kernel_count + user_count);
    for (long i = 0; i < kernel_count; i++) {
        if (mf_ktest_run(MF_CAP_SYSTEM, i, ++number) == 1)
            passed++;
        else
            failed++;
    }
    for (const struct utest *t = __utests_start; t < __utests_end; t++) {
        if (!selected(t, filter))
            continue;
        if (t->flags & UTEST_PROVOKES_FAULTS)
            printf("# expected: user.%s makes threads fault on purpose; the kernel's fault lines "
                   "until its result are part of it\n", t->name);
        const char *why = t->fn();
        number++;
        if (why && strncmp(why, "SKIP", 4) == 0) {
            printf("ok %u - user.%s # %s\n", number, t->name, why);
            skipped++;
        } else if (why) {
            printf("not ok %u - user.%s # %s\n", number, t->name, why);
            failed++;
        } else {
            printf("ok %u - user.%s\n", number, t->name);
            passed++;
        }
    }
    if (skipped)
        printf("%u passed, %u failed, %u skipped\n", passed, failed, skipped);
    else
        printf("%u passed, %u failed\n", passed, failed);
    return (int)failed;
}
