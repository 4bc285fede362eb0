// The upper half of the split process the tests and docs/split.md use:
// the application. It starts with the loader's struct mf_split_info, calls
// the lower half (split_lower) through its entry table, and checks what a
// split process promises: each half's thread-local storage is its own and
// switched in user mode; each half maps and attaches only in its own
// ranges. Exit status 0: every check held; else the number of the first
// that failed (its line is printed).
#include "user/lib/manifold.h"
#include "user/lib/split.h"
#include "user/programs/split_abi.h"
#include "lib/fmt.h"

#define PAGE 4096ul
static __thread uint64_t word = SPLIT_UPPER_TAG;   // .tdata
static __thread uint64_t count;                    // .tbss

static int checks;
#define CHECK(c)                                                                          \
    do {                                                                                  \
        checks++;                                                                         \
        if (!(c)) {                                                                       \
            printf("split_upper: check %d failed (line %d): %s\n", checks, __LINE__, #c); \
            return checks;                                                                \
        }                                                                                 \
    } while (0)

static long call(unsigned fn, uint64_t a0) { return (long)mf_split_call(fn, a0, 0, 0, 0); }

// A fresh 2 MiB segment at base: its cptr, or -E_*.
static long segment_at(uint64_t base)
{
    long seg = mf_new(MF_OBJ_SEGMENT, 13);
    long r = seg < 0 ? seg : mf_segment_configure(seg, base, 2ul << 20);
    return r < 0 ? r : seg;
}

// `bench split` (user/root/bench.c): a call into the lower half and back,
// with the thread pointer switched in user mode and by system call, beside
// the null system call, in cycles (mf_arch_cycles) per call.
#define WARMUP 100
#define RUNS 2000
static uint64_t samples[RUNS];

static void measure(const char *name, unsigned how, uint64_t *expect)
{
    for (unsigned i = 0; i < WARMUP + RUNS; i++) {
        uint64_t t0 = mf_arch_cycles();
        uint64_t r = how == 2 ? (uint64_t)mf_syscall(SYS_COUNT, 0, 0, 0) : mf_split_call(SPLIT_LOWER_COUNT_CALLS, 1, 0, 0, 0);
        uint64_t t1 = mf_arch_cycles();
        if (how != 2 && r != ++*expect)
            *expect = ~0ul;             // a call that did not reach the lower half's counter
        if (i >= WARMUP)
            samples[i - WARMUP] = t1 - t0;
    }
    char extra[64];
    snprintf(extra, sizeof(extra), "\"verified\":%s", *expect != ~0ul ? "true" : "false");
    mf_bench_report(name, "cycles", samples, RUNS, how == 2 ? NULL : extra);
}

static int bench(const struct mf_split_info *info)
{
    if (mf_split_init(info) != 0)
        return 1;
    uint64_t expect = mf_split_call(SPLIT_LOWER_COUNT_CALLS, 0, 0, 0, 0);
    measure("split.call", 0, &expect);
    mf_split_switch_by_call(true);
    measure("split.call_tls_by_syscall", 1, &expect);
    mf_split_switch_by_call(false);
    measure("split.null_syscall", 2, &expect);
    return expect == ~0ul;
}

// Checkpoint mode (user/tests/ckpt_tests.c): a call into the lower half,
// then "ready" (the notification in slot 6) and a wait for "go" (slot 7),
// during which the test may checkpoint the process, end it, and restore it
// on a fresh lower half; then one more call. The exit code is the lower
// half's counter after that call plus 16 times our own __thread counter:
// 6 + 16 = 22 when nothing happened in between, 1 + 16 = 17 after a
// restart on a fresh lower half (its counter starts again; ours is kept).
static int ckpt_mode(const struct mf_split_info *info)
{
    if (mf_split_init(info) != 0 || call(SPLIT_LOWER_COUNT_CALLS, 5) != 5)
        return 100;
    count = 1;
    if (mf_notification_signal(6) < 0 || mf_notification_wait(7) < 0)
        return 101;
    long n = call(SPLIT_LOWER_COUNT_CALLS, 1);
    return n < 0 || n > 15 ? 102 : (int)(n + 16 * count);
}

int main(uint64_t arg)
{
    const struct mf_split_info *info = (const struct mf_split_info *)arg;
    if (info && info->magic == MF_SPLIT_MAGIC && info->arg == 1)
        return bench(info);
    if (info && info->magic == MF_SPLIT_MAGIC && info->arg == 2)
        return ckpt_mode(info);
    const unsigned L = MF_HALF_LOWER, U = MF_HALF_UPPER;
    CHECK(info && info->magic == MF_SPLIT_MAGIC);
    // Our thread-local storage, from our template, on the loader's block.
    CHECK(mf_tp_read() == info->tp[U]);
    CHECK(word == SPLIT_UPPER_TAG && count == 0);
    CHECK((uint64_t)&word >= info->image_base[U] && (uint64_t)&word < info->image_end[U]);
    CHECK(mf_split_init(info) == 0);
    CHECK(mf_split_table()->count == SPLIT_LOWER_COUNT);
    // Calls into the lower half run on its thread pointer, with its own
    // __thread variables, and come back to ours.
    CHECK(call(SPLIT_LOWER_COUNT_CALLS, 5) == 5);
    count += 1;
    CHECK(call(SPLIT_LOWER_COUNT_CALLS, 2) == 7);
    CHECK(count == 1 && word == SPLIT_UPPER_TAG);
    CHECK((uint64_t)call(SPLIT_LOWER_TAG_FN, 0) == SPLIT_LOWER_TAG);
    CHECK((uint64_t)call(SPLIT_LOWER_TP, 0) == info->tp[L]);
    CHECK(mf_tp_read() == info->tp[U]);
    CHECK(call(SPLIT_LOWER_HELLO, 1) == 7);
    // The same through the system call that writes a thread pointer (what
    // a CPU without FSGSBASE needs).
    mf_split_switch_by_call(true);
    CHECK(call(SPLIT_LOWER_COUNT_CALLS, 3) == 10);
    CHECK((uint64_t)call(SPLIT_LOWER_TP, 0) == info->tp[L] && mf_tp_read() == info->tp[U]);
    CHECK(word == SPLIT_UPPER_TAG && count == 1);
    mf_split_switch_by_call(false);
    // The lower half allocates in its own range; the memory is plain
    // memory of the process (one address space).
    long va = call(SPLIT_LOWER_ALLOC, 2);
    CHECK(va > 0 && (uint64_t)va >= info->segments_base[L] && (uint64_t)va < info->segments_end[L]);
    volatile uint64_t *p = (volatile uint64_t *)va;
    p[0] = 42;
    p[PAGE / 8] = 43;
    CHECK(p[0] == 42 && p[PAGE / 8] == 43);
    // Neither half places memory in the other's range.
    CHECK(call(SPLIT_LOWER_TRESPASS, 0) == -E_HALF);
    long seg = segment_at(info->segments_base[L] + (32ul << 20));
    CHECK(seg > 0);
    CHECK(mf_vas_attach_segment(MF_CAP_SPLIT_VAS(U), seg, MF_RIGHT_READ | MF_RIGHT_WRITE) == -E_HALF);
    long mine = segment_at(info->segments_base[U]);
    CHECK(mine > 0);
    long f = mf_new(MF_OBJ_FRAME, 12);
    CHECK(f > 0 && mf_frame_map(f, mine, info->segments_base[U], MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    CHECK(mf_vas_attach_segment(MF_CAP_SPLIT_VAS(U), mine, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    *(volatile uint64_t *)info->segments_base[U] = 44;
    CHECK(*(volatile uint64_t *)info->segments_base[U] == 44);
    // ... nor maps a page of the home in the other half's range.
    long g = mf_new(MF_OBJ_FRAME, 12);
    CHECK(g > 0);
    CHECK(mf_frame_map(g, MF_CAP_SPLIT_HOME(U), info->image_base[L], MF_RIGHT_READ | MF_RIGHT_WRITE) == -E_HALF);
    uint64_t spare = MF_STACK_TOP - MF_STACK_SIZE - 4 * PAGE;       // ours, and unmapped
    CHECK(mf_frame_map(g, MF_CAP_SPLIT_HOME(U), spare, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    *(volatile uint64_t *)spare = 45;
    CHECK(*(volatile uint64_t *)spare == 45);
    // A half's caps do not redraw the lines, nor move the home.
    CHECK(mf_segment_set_half(MF_CAP_SPLIT_HOME(U), U, 0x300000000ul, PAGE) == -E_PERM);
    CHECK(mf_vas_detach(MF_CAP_SPLIT_VAS(U), 0) == -E_PERM);
    CHECK(mf_vas_detach_segment(MF_CAP_SPLIT_VAS(U), seg) == -E_NOENT);
    printf("split_upper: %d checks passed (thread pointers switched %s)\n", checks,
           info->user_tls ? "in user mode" : "by MF_THREAD_SET_TLS");
    return 0;
}
