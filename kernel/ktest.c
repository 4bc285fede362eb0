#include "kernel/ktest.h"
#include "kernel/console.h"
#include "kernel/pmm.h"

extern const struct ktest __ktests_start[], __ktests_end[];

unsigned ktest_count(void)
{
    return (unsigned)(__ktests_end - __ktests_start);
}

bool ktest_run(unsigned idx, unsigned number)
{
    const struct ktest *t = &__ktests_start[idx];
    uint64_t free_before = pmm_free_bytes();
    const char *why = t->fn();
    // A test must give back every frame it took.
    if (!why && pmm_free_bytes() != free_before)
        why = "leaked physical memory";
    if (why)
        kprintf("not ok %u - kernel.%s # %s\n", number, t->name, why);
    else
        kprintf("ok %u - kernel.%s\n", number, t->name);
    return !why;
}
