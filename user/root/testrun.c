// The test runner: kernel self-tests (through SYS_KTEST), then the user
// tests linked into the root task, numbered as one suite.
#include "manifold.h"
#include "root.h"
#include "utest.h"
#include "lib/string.h"

// `only=PREFIX` on the kernel command line (QEMU_KERNEL_OPTIONS) runs just
// the user tests whose names start with PREFIX: for working on one area.
static const char *only_prefix(void)
{
    static struct mf_system_info si;
    if (mf_system_info(&si))
        return NULL;
    for (char *p = si.cmdline; *p; p++)
        if ((p == si.cmdline || p[-1] == ' ') && strncmp(p, "only=", 5) == 0) {
            char *end = p + 5;
            while (*end && *end != ' ')
                end++;
            *end = 0;
            return p + 5;
        }
    return NULL;
}

static bool selected(const struct utest *t, const char *only)
{
    return !only || strncmp(t->name, only, strlen(only)) == 0;
}

int run_tests(void)
{
    const char *only = only_prefix();
    long kernel_count = only ? 0 : mf_ktest(KTEST_COUNT, 0, 0);
    if (kernel_count < 0)
        kernel_count = 0;
    unsigned user_count = 0;
    for (const struct utest *t = __utests_start; t < __utests_end; t++)
        user_count += selected(t, only);
    unsigned number = 0, passed = 0, failed = 0, skipped = 0;
    printf("1..%lu\n", kernel_count + user_count);
    for (long i = 0; i < kernel_count; i++) {
        if (mf_ktest(KTEST_RUN, i, ++number) == 1)
            passed++;
        else
            failed++;
    }
    for (const struct utest *t = __utests_start; t < __utests_end; t++) {
        if (!selected(t, only))
            continue;
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
