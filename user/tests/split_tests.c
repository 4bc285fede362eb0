// Split processes (docs/split.md): two programs in one home, the kernel's
// half ranges and half caps, and thread pointers (thread-local storage).
#include "manifold.h"
#include "utest.h"
#include "user/lib/split.h"

#define SELF MF_CAP_SELF_CNODE
#define UT (MF_CAP_UNTYPED_BASE + 3)
#define SP_LOADER 3600          // MF_PROGRAM_SLOTS of them
#define SP_CSPACE 3610          // the split process's CSpace
#define SP_HOME 3611            // by hand: a home segment, a VAS, half caps, segments, frames
#define SP_VAS 3612
#define SP_HOME_LOWER 3613
#define SP_HOME_UPPER 3614
#define SP_VAS_LOWER 3615
#define SP_VAS_UPPER 3616
#define SP_SEG_A 3617
#define SP_SEG_B 3618
#define SP_FRAME 3619
#define SP_HOME2 3620
#define SP_VAS2 3621
#define SP_SPARE 3622
#define SP_THREAD 3623
#define SP_LAST 3630

static void clean(void)
{
    mf_cnode_revoke(SELF, UT);
    for (long s = SP_LOADER; s <= SP_LAST; s++)
        mf_cnode_delete(SELF, s);
}

static long load_split(struct mf_program *p, const char *upper, const char *lower)
{
    struct mf_load_args a = {.name = upper, .lower = lower, .cspace = SP_CSPACE, .untyped = UT,
                             .slots = SP_LOADER};
    return mf_program_load(p, &a);
}

// The loader puts both halves in one home and tags their ranges; the
// upper half (user/programs/split_upper.c) then checks, from inside, the
// calls through the entry table, each half's thread-local storage, and
// that neither half maps or attaches in the other's range.
UTEST(split_process_halves_call_each_other_with_their_own_tls)
{
    clean();
    UCHECK(mf_child_cspace(UT, SP_CSPACE, 0) == 0);
    struct mf_program p;
    UCHECK(load_split(&p, "split_upper", "split_lower") == 0);
    // The home segment lists the ranges; the process has each half's caps.
    static struct mf_cap_info home, cap;
    UCHECK(mf_cnode_describe(p.objects, 2, &home) == 0 && home.type == MF_OBJ_SEGMENT && home.segment.home);
    UCHECK(home.segment.ranges == 5);
    unsigned lower = 0, upper = 0;
    uint64_t covered = 0;
    for (unsigned i = 0; i < home.segment.ranges; i++) {
        lower += home.segment.range_half[i] == MF_HALF_LOWER;
        upper += home.segment.range_half[i] == MF_HALF_UPPER;
        if (home.segment.range_base[i] < MF_HOME_SIZE)
            covered += home.segment.range_size[i];
    }
    UCHECK(lower == 2 && upper == 3 && covered == MF_HOME_SIZE);   // the whole home is one half's or the other's
    for (unsigned half = MF_HALF_LOWER; half <= MF_HALF_UPPER; half++) {
        UCHECK(mf_cnode_describe(SP_CSPACE, MF_CAP_SPLIT_VAS(half), &cap) == 0);
        UCHECK(cap.type == MF_OBJ_VAS && cap.badge == half);
        UCHECK(mf_cnode_describe(SP_CSPACE, MF_CAP_SPLIT_HOME(half), &cap) == 0);
        UCHECK(cap.type == MF_OBJ_SEGMENT && cap.badge == half && cap.object == home.object);
    }
    UCHECK((mf_cnode_identify(SP_CSPACE, MF_CAP_SPLIT_THREAD) & 0xff) == MF_OBJ_THREAD);
    UCHECK(mf_program_start(&p) == 0);
    struct mf_exit_status st;
    UCHECK(mf_program_wait(&p, &st) == 0);
    UCHECK(st.how == EXIT_NORMAL);
    UCHECK(st.code == 0);       // else: the number of split_upper's check that failed (on the console)
    UCHECK(mf_program_destroy(&p) == 0);
    clean();
    return NULL;
}

// Any program's __thread variables: its first thread's block from the
// loader, its other threads' from mf_thread_start (tls_threads checks its
// three workers' counters, template word and thread pointers from inside;
// without their blocks they would fault on their first __thread access).
UTEST(threads_a_program_starts_have_their_own_tls)
{
    clean();
    UCHECK(mf_child_cspace(UT, SP_CSPACE, 0) == 0);
    struct mf_program p;
    struct mf_load_args a = {.name = "tls_threads", .cspace = SP_CSPACE, .untyped = UT, .slots = SP_LOADER};
    UCHECK(mf_program_load(&p, &a) == 0);
    UCHECK(mf_program_start(&p) == 0);
    struct mf_exit_status st;
    UCHECK(mf_program_wait(&p, &st) == 0);
    UCHECK(mf_program_destroy(&p) == 0);
    clean();
    UCHECK(st.how == EXIT_NORMAL);
    UCHECK(st.code == 0);       // else: which of tls_threads' checks failed
    return NULL;
}

// What the loader refuses, each leaving its slots empty.
UTEST(split_loader_refuses_halves_that_cannot_be_split)
{
    clean();
    UCHECK(mf_child_cspace(UT, SP_CSPACE, 0) == 0);
    struct mf_program p;
    struct mf_load_args a = {.name = "split_upper", .lower = "split_lower", .untyped = UT, .slots = SP_LOADER};
    UCHECK(mf_program_load(&p, &a) == -E_INVAL);                          // no CSpace for its caps
    UCHECK(load_split(&p, "split_upper", "no-such-image") == -E_NOENT);
    UCHECK(load_split(&p, "split_upper", "hello") == -E_NOEXEC);          // no thread-local storage
    UCHECK(load_split(&p, "split_upper", "split_upper") == -E_HALF);      // one image over the other
    UCHECK(mf_cnode_copy(SP_CSPACE, MF_CAP_CONSOLE, MF_CAP_SPLIT_FIRST + 2, MF_RIGHT_READ) == 0);
    UCHECK(load_split(&p, "split_upper", "split_lower") == -E_BUSY);      // its split slots are taken
    for (long s = 0; s < MF_PROGRAM_SLOTS; s++)
        UCHECK(mf_cnode_identify(SELF, SP_LOADER + s) == 0);
    clean();
    return NULL;
}

#define GiB (1ul << 30)
#define MiB (1ul << 20)

// A configured 2 MiB (or `size`) segment at base in slot `slot`.
static long segment(long slot, uint64_t base, uint64_t size)
{
    long r = mf_untyped_retype(UT, MF_OBJ_SEGMENT, 14, 1, SELF, slot);
    return r ? r : mf_segment_configure(slot, base, size);
}

// The kernel's side, by hand: a home with ranges, caps minted with a
// half, and every way across the line refused with -E_HALF.
UTEST(half_caps_map_and_attach_only_inside_their_half)
{
    clean();
    const unsigned RW = MF_RIGHT_READ | MF_RIGHT_WRITE, L = MF_HALF_LOWER, U = MF_HALF_UPPER;
    UCHECK(segment(SP_HOME, 0, MF_HOME_SIZE) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_VAS, 16, 1, SELF, SP_VAS) == 0);
    // Ranges: lower [256 MiB, 258 MiB) and [4 GiB, 5 GiB); upper [512 MiB, 514 MiB) and [8 GiB, 9 GiB).
    UCHECK(mf_segment_set_half(SP_HOME, L, 256 * MiB, 2 * MiB) == 0);
    UCHECK(mf_segment_set_half(SP_HOME, U, 512 * MiB, 2 * MiB) == 0);
    UCHECK(mf_segment_set_half(SP_HOME, L, 4 * GiB, GiB) == 0);
    UCHECK(mf_segment_set_half(SP_HOME, U, 8 * GiB, GiB) == 0);
    UCHECK(mf_segment_set_half(SP_HOME, 3, 16 * GiB, GiB) == -E_INVAL);
    UCHECK(mf_segment_set_half(SP_HOME, U, 4 * GiB + GiB / 2, GiB) == -E_BUSY);     // overlaps lower's
    UCHECK(mf_segment_set_half(SP_HOME, U, 16 * GiB + 1, GiB) == -E_RANGE);
    UCHECK(mf_segment_set_half(SP_HOME, U, 0x7fffffff0000ul, 0x20000ul) == -E_RANGE);
    // Half caps: minted once, with a half, of a VAS or a segment only.
    UCHECK(mf_cnode_mint(SELF, SP_HOME, SP_HOME_LOWER, RW, L) == 0);
    UCHECK(mf_cnode_mint(SELF, SP_HOME, SP_HOME_UPPER, RW, U) == 0);
    UCHECK(mf_cnode_mint(SELF, SP_VAS, SP_VAS_LOWER, RW, L) == 0);
    UCHECK(mf_cnode_mint(SELF, SP_VAS, SP_VAS_UPPER, RW, U) == 0);
    UCHECK(mf_cnode_mint(SELF, SP_VAS, SP_SPARE, RW, 3) == -E_INVAL);
    UCHECK(mf_cnode_mint(SELF, SP_VAS_UPPER, SP_SPARE, RW, L) == -E_INVAL);   // a half is set once
    UCHECK(mf_cnode_copy(SELF, SP_VAS_UPPER, SP_SPARE, MF_RIGHT_READ) == 0);  // a copy keeps it
    static struct mf_cap_info info;
    UCHECK(mf_cnode_describe(SELF, SP_SPARE, &info) == 0 && info.badge == U);
    UCHECK(mf_cnode_delete(SELF, SP_SPARE) == 0);
    UCHECK(mf_segment_set_half(SP_HOME_UPPER, U, 16 * GiB, GiB) == -E_PERM);     // only a cap of no half
    // The home is attached by a cap of no half; then the ranges are fixed.
    UCHECK(mf_vas_attach_segment(SP_VAS_UPPER, SP_HOME, RW) == -E_PERM);
    UCHECK(mf_vas_attach_segment(SP_VAS, SP_HOME, RW) == 0);
    UCHECK(mf_segment_set_half(SP_HOME, U, 16 * GiB, GiB) == -E_BUSY);
    // Frames in the home: a half's cap maps in its own ranges only.
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 1, SELF, SP_FRAME) == 0);
    UCHECK(mf_frame_map(SP_FRAME, SP_HOME_UPPER, 256 * MiB, RW) == -E_HALF);
    UCHECK(mf_frame_map(SP_FRAME, SP_HOME_UPPER, 600 * MiB, RW) == -E_HALF);     // in no range
    struct mf_map_entry e = {.frame = SP_FRAME, .va = 256 * MiB + 4096, .rights = RW};
    UCHECK(mf_segment_map_batch(SP_HOME_UPPER, &e, 1) == -E_HALF);
    UCHECK(mf_segment_map_batch(SP_HOME_LOWER, &e, 1) == 1);
    uint64_t mapped = e.frame;
    UCHECK(mf_segment_unmap_batch(SP_HOME_UPPER, &mapped, 1) == -E_HALF);
    UCHECK(mf_segment_unmap_batch(SP_HOME_LOWER, &mapped, 1) == 1);
    UCHECK(mf_frame_map(SP_FRAME, SP_HOME_UPPER, 512 * MiB, RW) == 0);
    UCHECK(mf_frame_unmap(SP_FRAME) == 0);
    UCHECK(mf_segment_set_pager(SP_HOME_UPPER, 0) == -E_HALF);    // a half does not take the home's faults
    // Segments: a half attaches inside its own ranges only, and the
    // segment belongs to that half from then on.
    UCHECK(segment(SP_SEG_A, 4 * GiB, 2 * MiB) == 0);
    UCHECK(mf_vas_attach_segment(SP_VAS_UPPER, SP_SEG_A, RW) == -E_HALF);
    UCHECK(mf_vas_attach_segment(SP_VAS_LOWER, SP_SEG_A, RW) == 0);
    UCHECK(mf_cnode_describe(SELF, SP_SEG_A, &info) == 0 && info.segment.half == L);
    UCHECK(mf_vas_detach_segment(SP_VAS_UPPER, SP_SEG_A) == -E_HALF);
    UCHECK(mf_vas_detach_segment(SP_VAS_LOWER, SP_SEG_A) == 0);
    // Outside every range only a cap of no half attaches (the segment
    // then belongs to no half); across a range's edge nobody does.
    UCHECK(segment(SP_SEG_B, 12 * GiB, 2 * MiB) == 0);
    UCHECK(mf_vas_attach_segment(SP_VAS_UPPER, SP_SEG_B, RW) == -E_HALF);
    UCHECK(mf_vas_attach_segment(SP_VAS, SP_SEG_B, RW) == 0);
    UCHECK(mf_cnode_describe(SELF, SP_SEG_B, &info) == 0 && info.segment.half == 0);
    UCHECK(mf_vas_detach_segment(SP_VAS, SP_SEG_B) == 0);
    UCHECK(mf_cnode_delete(SELF, SP_SEG_B) == 0);
    UCHECK(segment(SP_SEG_B, 5 * GiB - 2 * MiB, 4 * MiB) == 0);
    UCHECK(mf_vas_attach_segment(SP_VAS, SP_SEG_B, RW) == -E_HALF);
    // A lower segment stays lower: another split home that gives its
    // address to the upper half does not take it, not even from a cap of
    // no half; and that home will not join a VAS where it lies already.
    UCHECK(segment(SP_HOME2, 0, MF_HOME_SIZE) == 0);
    UCHECK(mf_segment_set_half(SP_HOME2, U, 4 * GiB, GiB) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_VAS, 16, 1, SELF, SP_VAS2) == 0);
    UCHECK(mf_vas_attach_segment(SP_VAS2, SP_HOME2, RW) == 0);
    UCHECK(mf_vas_attach_segment(SP_VAS2, SP_SEG_A, RW) == -E_HALF);
    UCHECK(mf_vas_detach_segment(SP_VAS2, SP_HOME2) == 0);
    UCHECK(mf_vas_attach_segment(SP_VAS2, SP_SEG_A, RW) == 0);      // no split home there now
    UCHECK(mf_vas_attach_segment(SP_VAS2, SP_HOME2, RW) == -E_HALF);
    clean();
    return NULL;
}

// ---------------------------------------------------------- thread pointers
// Each thread has its own (x86_64 FS base, aarch64 TPIDR_EL0): two threads
// that set theirs and yield to each other find their own every time. On
// x86_64 a thread pointer's first word holds its own address (the ABI's
// TCB), which is how mf_tp_read reads it without FSGSBASE.
struct tcb {
    uint64_t self;
    uint64_t pad[7];
};
static struct tcb tcbs[3];
static volatile int tp_failures, tp_rounds_done;
static bool user_tls;

static void tp_set(long thread, uint64_t tp)
{
    if (user_tls) {
#if defined(__x86_64__)
        __asm__ volatile("wrfsbase %0" ::"r"(tp) : "memory");
#else
        __asm__ volatile("msr tpidr_el0, %0" ::"r"(tp) : "memory");
#endif
    } else {
        mf_thread_set_tls(thread, MF_TLS_THREAD, tp);
    }
}

static void tp_worker(uint64_t i)
{
    tp_set(i ? SP_SEG_A : SP_THREAD, (uint64_t)&tcbs[i]);
    for (int k = 0; k < 200; k++) {
        mf_yield();
        if (mf_tp_read() != (uint64_t)&tcbs[i])
            tp_failures++;
    }
    __atomic_fetch_add(&tp_rounds_done, 1, __ATOMIC_RELEASE);
    // Park until the test reads and rewrites our context, then check it.
    while (__atomic_load_n(&tp_rounds_done, __ATOMIC_ACQUIRE) < 10)
        mf_yield();
    if (mf_tp_read() != (uint64_t)&tcbs[2])
        tp_failures += 1000;
    __atomic_fetch_add(&tp_rounds_done, 1, __ATOMIC_RELEASE);
}

// A suspended thread's context, once it has left its CPU (-E_BUSY until
// then; its vCPU may be one the host runs later: ticks, not yields).
static long read_when_off(long thread, struct mf_regs *regs)
{
    long r = mf_thread_read_context(thread, regs);
    for (int k = 0; r == -E_BUSY && k < 500; k++) {
        mf_sleep(1);
        r = mf_thread_read_context(thread, regs);
    }
    return r;
}

UTEST(thread_pointers_are_per_thread_and_in_the_context)
{
    clean();
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0);
    user_tls = si.flags & MF_SYSTEM_USER_TLS;
    for (int i = 0; i < 3; i++)
        tcbs[i].self = (uint64_t)&tcbs[i];
    tp_failures = tp_rounds_done = 0;
    // Refusals first.
    UCHECK(mf_untyped_retype(UT, MF_OBJ_THREAD, 0, 1, SELF, SP_THREAD) == 0);
    UCHECK(mf_thread_set_tls(SP_THREAD, 2, 0) == -E_INVAL);
#if defined(__x86_64__)
    UCHECK(mf_thread_set_tls(SP_THREAD, MF_TLS_THREAD, 1ul << 47) == -E_RANGE);     // not canonical
    UCHECK(mf_thread_set_tls(SP_THREAD, MF_TLS_THREAD, 0xffff800000001000ul) == 0); // canonical: wrfsbase takes it
#else
    UCHECK(mf_thread_set_tls(SP_THREAD, MF_TLS_THREAD, 1ul << 47) == 0);            // TPIDR_EL0 takes any value
#endif
    UCHECK(mf_cnode_copy(SELF, SP_THREAD, SP_SPARE, MF_RIGHT_READ) == 0);
    UCHECK(mf_thread_set_tls(SP_SPARE, MF_TLS_THREAD, 0) == -E_PERM);
    UCHECK(mf_thread_set_tls(SP_THREAD, MF_TLS_OTHER, 0x1000) == 0);      // inactive: saved for later
    static uint64_t stack_a[1024] __attribute__((aligned(16))), stack_b[1024] __attribute__((aligned(16)));
    UCHECK(mf_untyped_retype(UT, MF_OBJ_THREAD, 0, 1, SELF, SP_SEG_A) == 0);
    // Both workers run pinned to one CPU so they take turns on it.
    UCHECK(mf_thread_set_sched(SP_THREAD, MF_SCHED_FIXED, 0) == 0);
    UCHECK(mf_thread_set_sched(SP_SEG_A, MF_SCHED_FIXED, 0) == 0);
    UCHECK(mf_thread_start(SP_THREAD, tp_worker, stack_a, sizeof(stack_a), 0) == 0);
    UCHECK(mf_thread_start(SP_SEG_A, tp_worker, stack_b, sizeof(stack_b), 1) == 0);
    UCHECK(mf_thread_set_tls(SP_SEG_A, MF_TLS_THREAD, 0x2000) == -E_BUSY);   // running: not from outside
    for (int k = 0; k < 2000 && __atomic_load_n(&tp_rounds_done, __ATOMIC_ACQUIRE) < 2; k++)
        mf_sleep(1);
    UCHECK(tp_rounds_done == 2 && tp_failures == 0);
    // Stopped, a thread's context shows its thread pointers; written, its
    // next run has the new one.
    UCHECK(mf_thread_suspend(SP_SEG_A) == 0);
    static struct mf_regs regs;
    long r = read_when_off(SP_SEG_A, &regs);
    if (r < 0 || regs.tls[MF_TLS_THREAD] != (uint64_t)&tcbs[1])
        printf("# read_context %ld: thread pointer %#lx, expected %#lx\n", r, (unsigned long)regs.tls[MF_TLS_THREAD],
               (unsigned long)(uint64_t)&tcbs[1]);
    UCHECK(r >= 0 && regs.tls[MF_TLS_THREAD] == (uint64_t)&tcbs[1]);
#if defined(__x86_64__)
    regs.tls[MF_TLS_THREAD] = 1ul << 47;        // not canonical
    UCHECK(mf_thread_write_context(SP_SEG_A, &regs) == -E_RANGE);
#endif
    regs.tls[MF_TLS_THREAD] = (uint64_t)&tcbs[2];
    UCHECK(mf_thread_write_context(SP_SEG_A, &regs) == 0);
    UCHECK(mf_thread_read_context(SP_SEG_A, &regs) >= 0 && regs.tls[MF_TLS_THREAD] == (uint64_t)&tcbs[2]);
    UCHECK(mf_thread_suspend(SP_THREAD) == 0);
    r = read_when_off(SP_THREAD, &regs);
    UCHECK(r >= 0 && regs.tls[MF_TLS_THREAD] == (uint64_t)&tcbs[0] && regs.tls[MF_TLS_OTHER] == 0x1000);
    UCHECK(mf_thread_set_tls(SP_THREAD, MF_TLS_THREAD, (uint64_t)&tcbs[2]) == 0);
    __atomic_store_n(&tp_rounds_done, 10, __ATOMIC_RELEASE);
    UCHECK(mf_thread_resume(SP_SEG_A) == 0 && mf_thread_resume(SP_THREAD) == 0);
    for (int k = 0; k < 2000 && __atomic_load_n(&tp_rounds_done, __ATOMIC_ACQUIRE) < 12; k++)
        mf_sleep(1);
    UCHECK(tp_rounds_done == 12);
    UCHECK(tp_failures == 0);
    clean();
    return NULL;
}
