// Split processes, the upper half's side (user/lib/split.h, docs/split.md):
// calls into the lower half through its entry table, each on the lower
// half's thread pointer. Each half links its own copy of this library, so
// these globals are the upper half's own.
#include "user/lib/split.h"

static const struct mf_split_info *split_info;
static const struct mf_split_table *split_table;
static uint64_t lower_tp;       // the lower half's thread pointer, for the first thread (the only one)
static bool by_call;            // switch with MF_THREAD_SET_TLS even where user mode could
static uint64_t generation;     // of the lower half whose entry we called

void mf_split_switch_by_call(bool on) { by_call = on; }

long mf_split_tp_write(uint64_t tp)
{
    if (by_call || (split_info && !split_info->user_tls))
        return mf_thread_set_tls(MF_CAP_SPLIT_THREAD, MF_TLS_THREAD, tp);
#if defined(__x86_64__)
    __asm__ volatile("wrfsbase %0" ::"r"(tp) : "memory");
#else
    __asm__ volatile("msr tpidr_el0, %0" ::"r"(tp) : "memory");
#endif
    return 0;
}

// Runs fn(a0..a3) on the lower half's thread pointer. The compiler must
// not keep a __thread address computed before the switch: the barriers
// ("memory") make it recompute.
static uint64_t on_lower(mf_split_fn fn, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    uint64_t mine = mf_tp_read();
    long e = mf_split_tp_write(lower_tp);
    if (e < 0)
        return (uint64_t)e;     // the lower half is not entered on our thread pointer
    uint64_t r = fn(a0, a1, a2, a3);
    mf_split_tp_write(mine);    // (if this one failed, so would have the first)
    return r;
}

// Calls the lower half's entry (again, after a fresh lower half was loaded).
static long enter_lower(const struct mf_split_info *info)
{
    split_info = info;
    generation = info->generation;
    lower_tp = info->tp[MF_HALF_LOWER];
    uint64_t v = on_lower((mf_split_fn)(uintptr_t)info->lower_entry, (uint64_t)(uintptr_t)info, 0, 0, 0);
    if ((int64_t)v < 0 && (int64_t)v > -E_ERROR_COUNT) {
        split_table = NULL;
        return (long)v;         // the thread pointer could not be switched
    }
    const struct mf_split_table *t = (const struct mf_split_table *)(uintptr_t)v;
    if (!t || t->magic != MF_SPLIT_TABLE_MAGIC || t->count > MF_SPLIT_TABLE_MAX) {
        split_table = NULL;
        return -E_NOEXEC;
    }
    split_table = t;
    return 0;
}

long mf_split_init(const struct mf_split_info *info)
{
    if (!info || info->magic != MF_SPLIT_MAGIC || !info->lower_entry || !info->tp[MF_HALF_LOWER])
        return -E_INVAL;
    if (split_table)
        return 0;
    return enter_lower(info);
}

const struct mf_split_table *mf_split_table(void) { return split_table; }

uint64_t mf_split_call(unsigned index, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    // A lower half loaded afresh since (a restart): its entry first.
    if (split_info && split_info->generation != generation) {
        long e = enter_lower(split_info);
        if (e < 0)
            return (uint64_t)e;
    }
    if (!split_table || index >= split_table->count || !split_table->fn[index])
        return (uint64_t)-E_NOENT;
    return on_lower(split_table->fn[index], a0, a1, a2, a3);
}
