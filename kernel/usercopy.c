#include "kernel/usercopy.h"
#include "kernel/arch.h"
#include "include/manifold/errors.h"

static bool user_range_ok(uint64_t addr, size_t n)
{
    return addr >= USER_BASE && addr < USER_TOP && n <= USER_TOP - addr;
}

int copy_from_user(void *dst, uint64_t usrc, size_t n)
{
    if (!user_range_ok(usrc, n))
        return -E_FAULT;
    return arch_copy_from_user(dst, (const void *)usrc, n) ? -E_FAULT : 0;
}

int copy_to_user(uint64_t udst, const void *src, size_t n)
{
    if (!user_range_ok(udst, n))
        return -E_FAULT;
    return arch_copy_to_user((void *)udst, src, n) ? -E_FAULT : 0;
}
