// Visible revocation, the user side (include/manifold/reclaim.h).
#include "manifold.h"
#include "lib/string.h"

long mf_reclaim_collect(long reclaim)
{
    long r;
    while ((r = mf_invoke(reclaim, MF_RECLAIM_COLLECT, 0, 0, 0, 0)) == -E_AGAIN)
        ;
    return r;
}

void mf_reclaim_read(const volatile struct mf_reclaim_page *page, struct mf_reclaim_page *out)
{
    for (;;) {
        uint64_t before = __atomic_load_n(&page->sequence, __ATOMIC_ACQUIRE);
        if (before & 1)
            continue;
        memcpy(out, (const void *)page, sizeof(*out));
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&page->sequence, __ATOMIC_RELAXED) == before)
            return;
    }
}
