#include "kernel/usercopy.h"
#include "kernel/arch.h"
#include "kernel/thread.h"
#include "kernel/vas.h"
#include "kernel/snapshot.h"
#include "include/manifold/errors.h"

// A thread whose address space was destroyed under it (segment.c) has no
// user memory: whatever this CPU has loaded is someone else's.
static bool user_range_ok(uint64_t addr, size_t n)
{
    return addr >= USER_BASE && addr < USER_TOP && n <= USER_TOP - addr && current_thread()->vas;
}

// A copy that faults because another CPU made this one leave the current
// thread's address space (vas.c) is retried once that space is loaded again.
int copy_from_user(void *dst, uint64_t usrc, size_t n)
{
    if (!user_range_ok(usrc, n))
        return -E_FAULT;
    if (!arch_copy_from_user(dst, (const void *)usrc, n))
        return 0;
    return vas_reload(current_thread()) && !arch_copy_from_user(dst, (const void *)usrc, n) ? 0 : -E_FAULT;
}

// A copy to a page that is copy-on-write for a snapshot (kernel/snapshot.c)
// is retried once the snapshot has its copy and the write right is back:
// the thread's call sees no difference.
int copy_to_user(uint64_t udst, const void *src, size_t n)
{
    if (!user_range_ok(udst, n))
        return -E_FAULT;
    if (!arch_copy_to_user((void *)udst, src, n))
        return 0;
    if (snapshot_write_range(current_thread(), udst, n) && !arch_copy_to_user((void *)udst, src, n))
        return 0;
    return vas_reload(current_thread()) && !arch_copy_to_user((void *)udst, src, n) ? 0 : -E_FAULT;
}
