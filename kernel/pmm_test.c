// Self-tests of the physical page allocator.
#include "kernel/ktest.h"
#include "kernel/pmm.h"

KTEST(pmm_alloc_free)
{
    uint64_t before = pmm_free_bytes();
    paddr_t a = pmm_alloc(), b = pmm_alloc();
    KCHECK(a && b && a != b);
    KCHECK(!(a & (PAGE_SIZE - 1)) && !(b & (PAGE_SIZE - 1)));
    KCHECK(pmm_free_bytes() == before - 2 * PAGE_SIZE);
    KCHECK(pmm_is_ram(a) && pmm_is_ram(b));
    // Frames come back zeroed even after being dirtied.
    *(volatile uint64_t *)P2V(a) = 0xdeadbeef;
    pmm_free(a);
    paddr_t c = pmm_alloc_contig(1, PAGE_SIZE);
    bool zero = true;
    for (size_t i = 0; i < PAGE_SIZE / 8; i++)
        zero &= ((uint64_t *)P2V(c))[i] == 0;
    pmm_free(c);
    pmm_free(b);
    KCHECK(zero);
    KCHECK(pmm_free_bytes() == before);
    return NULL;
}

KTEST(pmm_contiguous_aligned)
{
    paddr_t big = pmm_alloc_contig(LARGE_PAGE_SIZE / PAGE_SIZE, LARGE_PAGE_SIZE);
    KCHECK(big != 0);
    KCHECK((big & (LARGE_PAGE_SIZE - 1)) == 0);
    paddr_t small = pmm_alloc();
    KCHECK(small < big || small >= big + LARGE_PAGE_SIZE);
    pmm_free(small);
    pmm_free_contig(big, LARGE_PAGE_SIZE / PAGE_SIZE);
    return NULL;
}

KTEST(pmm_exhaustion_is_an_error)
{
    // Asking for more than exists fails cleanly instead of panicking.
    KCHECK(pmm_alloc_contig(pmm_free_bytes() / PAGE_SIZE + 1, PAGE_SIZE) == 0);
    KCHECK(pmm_alloc_contig(0, PAGE_SIZE) == 0);
    return NULL;
}
