// The lower half of the split process the tests and docs/split.md use: a
// library with thread-local state, which allocates memory in its own range
// (MANA's lower half: MPI and its libc). It is never run on its own: the
// upper half calls mf_lower_entry (this image's ELF entry, Makefile
// LOWER_HALVES) and then the functions of the table it returns.
#include "user/lib/manifold.h"
#include "user/lib/split.h"
#include "user/programs/split_abi.h"

static __thread uint64_t calls;                        // .tbss: zero in every thread's block
static __thread uint64_t tag = SPLIT_LOWER_TAG;        // .tdata: from the template
static const struct mf_split_info *info;
static uint64_t next_segment;                          // where lower_alloc attaches the next one

static uint64_t lower_count(uint64_t add, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a1, (void)a2, (void)a3;
    calls += add;
    return calls;
}

static uint64_t lower_tag(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a0, (void)a1, (void)a2, (void)a3;
    return tag;
}

static uint64_t lower_tp(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a0, (void)a1, (void)a2, (void)a3;
    return mf_tp_read();
}

// A 2 MiB segment of `pages` zeroed pages in the lower half's range,
// attached through the lower half's VAS cap: its address, or -E_*.
static uint64_t lower_alloc(uint64_t pages, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a1, (void)a2, (void)a3;
    if (pages == 0 || pages > 512)
        return (uint64_t)-E_INVAL;
    uint64_t base = info->segments_base[MF_HALF_LOWER] + next_segment;
    long seg = mf_new(MF_OBJ_SEGMENT, 13);
    if (seg < 0)
        return (uint64_t)seg;
    long r = mf_segment_configure(seg, base, 2ul << 20);
    for (uint64_t i = 0; r == 0 && i < pages; i++) {
        long f = mf_new(MF_OBJ_FRAME, 12);
        r = f < 0 ? f : mf_frame_map(f, seg, base + i * 4096, MF_RIGHT_READ | MF_RIGHT_WRITE);
    }
    if (r == 0)
        r = mf_vas_attach_segment(MF_CAP_SPLIT_VAS(MF_HALF_LOWER), seg, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (r < 0)
        return (uint64_t)r;
    next_segment += 2ul << 20;
    return base;
}

// What MANA's lower half must never do: place memory in the upper half's
// range. Returns what the kernel said.
static uint64_t lower_trespass(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a0, (void)a1, (void)a2, (void)a3;
    long seg = mf_new(MF_OBJ_SEGMENT, 13);
    if (seg < 0)
        return (uint64_t)seg;
    long r = mf_segment_configure(seg, info->segments_base[MF_HALF_UPPER] + (64ul << 20), 2ul << 20);
    if (r == 0)
        r = mf_vas_attach_segment(MF_CAP_SPLIT_VAS(MF_HALF_LOWER), seg, MF_RIGHT_READ | MF_RIGHT_WRITE);
    mf_slot_free(seg);
    return (uint64_t)r;
}

static uint64_t lower_hello(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)a1, (void)a2, (void)a3;
    printf("split_lower: called from the upper half (%lu), thread pointer %#lx\n", a0, mf_tp_read());
    return calls;
}

static const struct mf_split_table table = {
    .magic = MF_SPLIT_TABLE_MAGIC, .version = 1, .count = SPLIT_LOWER_COUNT, .name = "split_lower",
    .fn = {
        [SPLIT_LOWER_COUNT_CALLS] = lower_count, [SPLIT_LOWER_TAG_FN] = lower_tag,
        [SPLIT_LOWER_TP] = lower_tp, [SPLIT_LOWER_ALLOC] = lower_alloc,
        [SPLIT_LOWER_TRESPASS] = lower_trespass, [SPLIT_LOWER_HELLO] = lower_hello,
    },
};

const struct mf_split_table *mf_lower_entry(const struct mf_split_info *i);
const struct mf_split_table *mf_lower_entry(const struct mf_split_info *i)
{
    if (!i || i->magic != MF_SPLIT_MAGIC || mf_tp_read() != i->tp[MF_HALF_LOWER])
        return NULL;
    info = i;
    return &table;
}

int main(uint64_t arg)
{
    (void)arg;
    printf("split_lower: a lower half is loaded under an upper half (docs/split.md), not run\n");
    return 1;
}
