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
