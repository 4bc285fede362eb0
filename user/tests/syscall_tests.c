// System call argument checking: unknown numbers and bad pointers return
// errors and change nothing.
#include "manifold.h"
#include "utest.h"

UTEST(syscall_unknown_number)
{
    UCHECK(mf_syscall(SYS_COUNT, 0, 0, 0) == -E_NOSYS);
    UCHECK(mf_syscall(9999, 1, 2, 3) == -E_NOSYS);
    UCHECK(mf_syscall(-1, 0, 0, 0) == -E_NOSYS);
    return NULL;
}

UTEST(syscall_bad_pointers)
{
    UCHECK(mf_write(NULL, 4) == -E_FAULT);
    UCHECK(mf_write((const char *)0xffffffff80100000ul, 4) == -E_FAULT);  // kernel
    UCHECK(mf_write((const char *)0x7000000000ul, 4) == -E_FAULT);        // unmapped
    UCHECK(mf_write((const char *)0x7ffffffffff0ul, 64) == -E_FAULT);     // crosses the top
    UCHECK(mf_write((const char *)-16l, 64) == -E_FAULT);                 // wraps
    // The kernel must not write through a pointer to read-only text.
    UCHECK(mf_system_info((struct mf_system_info *)(uintptr_t)main) == -E_FAULT);
    UCHECK(mf_thread_info(0, NULL) == -E_FAULT);
    return NULL;
}

UTEST(syscall_bad_arguments)
{
    struct mf_thread_info ti;
    UCHECK(mf_syscall(SYS_THREAD_INFO, 0, (long)&ti, 0) == -E_NOENT);    // others: through the System cap
    UCHECK(mf_syscall(SYS_COUNT, 0, 0, 0) == -E_NOSYS);
    UCHECK(mf_invoke(MF_CAP_SYSTEM, 77, 0, 0, 0, 0) == -E_NOSYS);
    UCHECK(mf_ktest_run(MF_CAP_SYSTEM, 1000000, 0) == -E_RANGE);
    struct mf_exit_status st;
    UCHECK(mf_wait(123456, &st) == -E_NOENT);
    UCHECK(mf_sleep(1l << 40) == -E_RANGE);
    return NULL;
}

UTEST(console_write_counts_bytes)
{
    UCHECK(mf_write("", 0) == 0);
    UCHECK(mf_write("# console check\n", 16) == 16);
    return NULL;
}

// The kernel's counters (MF_SYSTEM_KSTATS): per-CPU representatives of a
// clustered object, summed by the call. Each counts what was done.
UTEST(kernel_counters_count_what_happens)
{
    struct mf_system_info si;
    struct mf_kstats a, b;
    UCHECK(mf_system_info(&si) == 0);
    UCHECK(mf_kstats(&a) == 0);
    for (int i = 0; i < 100; i++)
        mf_yield();
    UCHECK(mf_sleep(3) == 0);
    UCHECK(mf_kstats(&b) == 0);
    printf("# syscalls +%lu, switches +%lu, ticks +%lu; %u CPUs counting; %lu KiB in page caches\n",
           (unsigned long)(b.count[MF_KSTAT_SYSCALLS] - a.count[MF_KSTAT_SYSCALLS]),
           (unsigned long)(b.count[MF_KSTAT_SWITCHES] - a.count[MF_KSTAT_SWITCHES]),
           (unsigned long)(b.count[MF_KSTAT_TIMER_TICKS] - a.count[MF_KSTAT_TIMER_TICKS]), b.cpus_counting,
           (unsigned long)(b.page_cache_bytes >> 10));
    UCHECK(b.count[MF_KSTAT_SYSCALLS] - a.count[MF_KSTAT_SYSCALLS] >= 102);   // 100 yields, a sleep, a read
    UCHECK(b.count[MF_KSTAT_TIMER_TICKS] - a.count[MF_KSTAT_TIMER_TICKS] >= 3);
    UCHECK(b.count[MF_KSTAT_SWITCHES] > a.count[MF_KSTAT_SWITCHES]);         // away while asleep, back
    UCHECK(b.cpus_counting == si.cpus);
    UCHECK(b.page_cache_bytes <= si.memory_free);
    for (unsigned i = MF_KSTAT_COUNT; i < MF_KSTAT_MAX; i++)
        UCHECK(b.count[i] == 0);
    // READ is needed; the buffer must be ours and writable.
    long slot = mf_slot_alloc();
    UCHECK(slot > 0 && mf_cnode_copy(MF_CAP_SELF_CNODE, MF_CAP_SYSTEM, slot, MF_RIGHT_WRITE) == 0);
    UCHECK(mf_invoke(slot, MF_SYSTEM_KSTATS, (long)&b, 0, 0, 0) == -E_PERM);
    UCHECK(mf_cnode_delete(MF_CAP_SELF_CNODE, slot) == 0);
    mf_slot_free(slot);
    UCHECK(mf_kstats((struct mf_kstats *)(uintptr_t)main) == -E_FAULT);
    UCHECK(mf_kstats(NULL) == -E_FAULT);
    return NULL;
}
