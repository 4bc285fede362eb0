// The root task: the first user program. It prints the banner and then, by
// the kernel command line's mode, runs the test suite (mode=test), the
// benchmarks (mode=bench), one node of a DSM cluster (mode=cluster) or the
// interactive shell (default).
#include "manifold.h"
#include "root.h"
#include "lib/string.h"

static bool cmdline_has(const struct mf_system_info *si, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = si->cmdline; *p; p++)
        if ((p == si->cmdline || p[-1] == ' ') && strncmp(p, word, n) == 0 && (p[n] == ' ' || !p[n]))
            return true;
    return false;
}

// The text after `key` (e.g. "tests=") in the command line, up to the next
// space, in a static buffer; NULL if the key is absent.
static const char *cmdline_value(const struct mf_system_info *si, const char *key)
{
    static char value[sizeof(si->cmdline)];
    size_t n = strlen(key);
    for (const char *p = si->cmdline; *p; p++)
        if ((p == si->cmdline || p[-1] == ' ') && strncmp(p, key, n) == 0) {
            size_t i = 0;
            for (p += n; *p && *p != ' ' && i + 1 < sizeof(value); p++)
                value[i++] = *p;
            value[i] = 0;
            if (strlen(si->cmdline) + 1 >= sizeof(si->cmdline) && !*p)
                printf("# warning: the kernel command line fills its %zu bytes: %s%s may be cut\n",
                       sizeof(si->cmdline), key, value);
            return value;
        }
    return NULL;
}

static void banner(const struct mf_system_info *si)
{
    printf("\n");
    printf("Manifold %s on %s: %u CPU(s), %lu MiB memory (%lu MiB free), timer %u Hz\n",
           si->version, si->arch, si->cpus, (unsigned long)(si->memory_total >> 20),
           (unsigned long)(si->memory_free >> 20), si->timer_hz);
    printf("features: %s\n", si->features);
}

int main(uint64_t arg)
{
    (void)arg;
    struct mf_system_info si;
    if (mf_system_info(&si) < 0)
        return 1;
    banner(&si);
    if (!names_start())
        printf("root: the name service did not start\n");
    // Drivers in libmanifold (ivshmem) take their notifications from the
    // name service's untyped, which is never revoked (root.h).
    mf_alloc_init(NS_UNTYPED, ROOT_ALLOC_SLOTS, ROOT_ALLOC_SLOT_COUNT);
    // Programs we start (mf_spawn, spawn_with_resources) are loaded by
    // libmanifold into objects of ours (user/lib/loader.c).
    mf_spawn_pool(SPAWN_UT, SPAWN_SLOTS, SPAWN_SLOT_COUNT);
    if (cmdline_has(&si, "mode=test")) {
        int failed = run_tests(cmdline_value(&si, "tests="));
        mf_poweroff(failed ? 1 : 0);
    }
    if (cmdline_has(&si, "mode=cluster")) {
        run_cluster();
        mf_poweroff(0);
    }
    if (cmdline_has(&si, "mode=bench")) {
        run_benchmarks();
        mf_poweroff(0);
    }
    shell();
    mf_poweroff(0);
}
