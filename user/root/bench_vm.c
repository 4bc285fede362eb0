// Virtual-memory figures with a Linux counterpart (tools/bench/pairs.py,
// docs/benchmarks.md): a user-level pager's fault round trip, the same
// fault handled by the faulting thread's own exception handler, the first
// touch of a page served by the zero-fill pager, and mapping + unmapping a
// 4 KiB and a 2 MiB frame. Each sets up a VAS with our home and one segment
// at SEG_BASE, takes its objects from BENCH_UT and its frames from
// BENCH_FRAMES_UT, and revokes both when it is done.
#include "manifold.h"
#include "root.h"
#include "lib/fmt.h"

#define ROOT MF_CAP_SELF_CNODE
#define S_VAS (BENCH_SLOTS + 10)
#define S_SEG (BENCH_SLOTS + 11)
#define S_EP (BENCH_SLOTS + 12)
#define S_PAGER (BENCH_SLOTS + 13)
#define S_FRAME (BENCH_SLOTS + 14)
#define S_BADGED (BENCH_SLOTS + 15)
#define S_PAGER_FRAME (BENCH_SLOTS + 16)    // the zero-fill pager's one frame slot
#define S_DIRTY (BENCH_SLOTS + 20)          // 20..23
#define S_BATCH (BENCH_SLOTS + 50)          // 50..81: frame.map_unmap_32_*
#define BATCH_FRAMES 32

#define SEG_BASE 0x80000000ul               // 2 GiB: 1 GiB aligned
#define PAGE 4096ul
#define MiB (1ul << 20)
#define GiB (1ul << 30)
#define PATTERN 0x5a5a5a5a5a5a5a5aull
#define RW (MF_RIGHT_READ | MF_RIGHT_WRITE)

static uint64_t samples[BENCH_ITERATIONS];
static uint8_t pager_stack[8192] __attribute__((aligned(16)));
static volatile uint64_t *const window = (volatile uint64_t *)SEG_BASE;

static void sample(unsigned i, uint64_t t0, uint64_t t1)
{
    if (i >= BENCH_WARMUP)
        samples[i - BENCH_WARMUP] = t1 - t0;
}

// A VAS (size_bits 14: room for our home and one segment) with a segment
// of `size` at SEG_BASE attached read-write; the segment's size_bits give
// its table pool (2^seg_bits / 4 KiB - 1 pages: one per 2 MiB of a small
// segment, one per GiB of a 1 GiB aligned one).
static bool vas_with_segment(uint64_t size, unsigned seg_bits)
{
    return mf_untyped_retype(BENCH_UT, MF_OBJ_VAS, 14, 1, ROOT, S_VAS) == 0 && mf_vas_attach(S_VAS, 0) == 0 &&
           mf_untyped_retype(BENCH_UT, MF_OBJ_SEGMENT, seg_bits, 1, ROOT, S_SEG) == 0 &&
           mf_segment_configure(S_SEG, SEG_BASE, size) == 0 &&
           mf_vas_attach_segment(S_VAS, S_SEG, RW) == 0;
}

static void cleanup(void)
{
    mf_vas_switch(0);
    mf_cnode_revoke(ROOT, BENCH_UT);
    mf_cnode_revoke(ROOT, BENCH_FRAMES_UT);
}

static void setup_failed(const char *name)
{
    printf("bench: cannot set up %s\n", name);
    cleanup();
}

// ------------------------------------------------------ pager.fault_resume
// Our own pager (a thread with its own receive/reply loop): it maps the one
// frame S_FRAME, made and filled before, at the faulting page and replies;
// the faulting thread retries its access. The toucher unmaps the frame
// after each sample, so every sample faults.

static volatile uint64_t pager_served;

static void frame_pager(uint64_t unused)
{
    (void)unused;
    struct mf_msg m = {0};
    mf_recv(S_EP, &m);
    for (;;) {
        bool ok = MF_INFO_LABEL(m.info) == MF_FAULT_LABEL &&
                  mf_frame_map(S_FRAME, S_SEG, m.mr[0] & ~(PAGE - 1), RW) == 0;
        pager_served += ok;
        m.info = MF_INFO(ok ? 0 : MF_FAULT_KILL, 0);
        mf_reply_recv(S_EP, &m);
    }
}

static volatile bool touch_ok;

// The timed loop of both fault benchmarks, run by the touching thread in
// S_VAS: the sample is from its store to the store's completion, after
// whoever resolves the fault (a pager thread, or its own exception
// handler) has mapped S_FRAME. Checked: every sample faulted once (*served
// counts the faults resolved), the page it then sees is S_FRAME (its
// pattern), and its store reached that frame; S_FRAME is unmapped after
// each sample, so every sample faults.
static bool time_faults(volatile uint64_t *served)
{
    bool ok = true;
    for (unsigned i = 0; ok && i < BENCH_ITERATIONS; i++) {
        uint64_t t0 = mf_arch_cycles();
        window[0] = i;                  // a write fault: S_FRAME gets mapped
        uint64_t t1 = mf_arch_cycles();
        uint64_t stored = 0;
        ok = window[1] == PATTERN && mf_frame_unmap(S_FRAME) == 0 && *served == i + 1 &&
             mf_frame_read(S_FRAME, 0, &stored, sizeof(stored)) == 0 && stored == i;
        sample(i, t0, t1);
    }
    return ok;
}

// S_FRAME, made and filled with PATTERN before the loop.
static bool patterned_frame(void)
{
    static uint64_t pattern[PAGE / 8];
    for (unsigned i = 0; i < PAGE / 8; i++)
        pattern[i] = PATTERN;
    return mf_untyped_retype(BENCH_FRAMES_UT, MF_OBJ_FRAME, 12, 1, ROOT, S_FRAME) == 0 &&
           mf_frame_write(S_FRAME, 0, pattern, PAGE) == 0;
}

// The touching thread (the driver, fixed to one CPU with the pager).
static void pager_toucher(uint64_t unused)
{
    (void)unused;
    bool ok = bench_start_pinned(S_PAGER, 0, (unsigned)mf_cpu_id(), frame_pager, pager_stack,
                                 sizeof(pager_stack), 0) &&
              mf_vas_switch(S_VAS) == 0 && time_faults(&pager_served);
    touch_ok = ok && mf_vas_switch(0) == 0;
}

static void bench_pager_fault(uint64_t overhead)
{
    pager_served = 0;
    if (!vas_with_segment(2 * MiB, 13) ||
        mf_untyped_retype(BENCH_UT, MF_OBJ_ENDPOINT, 0, 1, ROOT, S_EP) ||
        mf_untyped_retype(BENCH_UT, MF_OBJ_THREAD, 0, 1, ROOT, S_PAGER) ||
        !patterned_frame() || mf_segment_set_pager(S_SEG, S_EP)) {
        setup_failed("the pager benchmark");
        return;
    }
    touch_ok = false;
    bool ok = bench_run_pinned(pager_toucher, 0) && touch_ok;
    bench_report("pager.fault_resume", samples, overhead, bench_verified(ok));
    cleanup();
}

// ------------------------------------------------- exception.fault_resume
// The same fault handled by the faulting thread itself (Aegis's exception
// dispatch, MF_THREAD_SET_EXCEPTION): the handler, on its own stack, maps
// S_FRAME at the page and resumes with mf_exception_return. Linux's
// counterpart is a SIGSEGV handler that mprotect()s the page. Checked as
// pager.fault_resume: one exception per sample, the frame's pattern seen,
// the store in the frame; and the record named the page and a write.

static uint8_t handler_stack[4096] __attribute__((aligned(16)));
static volatile uint64_t exceptions;

static void frame_handler(struct mf_exception *e, uint64_t unused)
{
    (void)unused;
    if (e->kind != MF_FAULT_PAGE || e->access != MF_ACCESS_WRITE || (e->address & ~(PAGE - 1)) != SEG_BASE ||
        mf_frame_map(S_FRAME, S_SEG, e->address & ~(PAGE - 1), RW) != 0)
        mf_exit(1);                 // resumed, it would fault again: the benchmark fails instead
    exceptions++;
    mf_exception_return(e);
    mf_exit(2);                     // not reached
}

static void exception_toucher(uint64_t unused)
{
    (void)unused;
    bool ok = mf_thread_set_exception(BENCH_DRIVER, frame_handler, handler_stack, sizeof(handler_stack), 0) == 0 &&
              mf_vas_switch(S_VAS) == 0 && time_faults(&exceptions);
    bool cleared = mf_thread_set_exception(BENCH_DRIVER, NULL, NULL, 0, 0) == 0;
    touch_ok = ok && cleared && mf_vas_switch(0) == 0;
}

static void bench_exception_fault(uint64_t overhead)
{
    exceptions = 0;
    if (!vas_with_segment(2 * MiB, 13) || !patterned_frame()) {
        setup_failed("the exception benchmark");
        return;
    }
    touch_ok = false;
    bool ok = bench_run_pinned(exception_toucher, 0) && touch_ok;
    bench_report("exception.fault_resume", samples, overhead, bench_verified(ok));
    cleanup();
}

// ------------------------------------------------------ vm.fault_zero_fill
// libmanifold's zero-fill pager (user/lib/pager.c): each fault retypes a
// new 4 KiB frame from untyped (the kernel zeroes it) and maps it. Each
// sample is a store to a page never touched before, as Linux's first touch
// of an anonymous page. The pager has one frame slot: after each sample the
// toucher deletes the frame cap (which unmaps it; the memory stays retyped)
// and hands the slot back, so the 1100 faults take 4.4 MiB of fresh memory.

static struct mf_pager zero_pager;

// Checked after each sample (untimed): the page reads zero but for the
// word stored, and the pager served exactly one fault.
static void zero_toucher(uint64_t unused)
{
    (void)unused;
    bool ok = bench_start_pinned(S_PAGER, 0, (unsigned)mf_cpu_id(), mf_pager_thread, pager_stack,
                                 sizeof(pager_stack), (uint64_t)(uintptr_t)&zero_pager) &&
              mf_vas_switch(S_VAS) == 0;
    for (unsigned i = 0; ok && i < BENCH_ITERATIONS; i++) {
        volatile uint64_t *page = window + i * (PAGE / 8);
        uint64_t t0 = mf_arch_cycles();
        page[0] = i + 1;                // first touch: a fault, a new zeroed frame
        uint64_t t1 = mf_arch_cycles();
        for (unsigned k = 1; k < PAGE / 8; k++)
            ok &= page[k] == 0;
        ok &= page[0] == i + 1 && zero_pager.faults == i + 1 && zero_pager.refused == 0;
        ok &= mf_cnode_delete(ROOT, S_PAGER_FRAME) == 0;
        zero_pager.used = 0;
        sample(i, t0, t1);
    }
    touch_ok = ok && mf_vas_switch(0) == 0;
}

// Fills all of BENCH_FRAMES_UT with a pattern and revokes it, so that a
// frame retyped from it later holds zeros only because retype cleared it.
static bool dirty_frames_untyped(void)
{
    static uint64_t chunk[8192];
    for (unsigned i = 0; i < 8192; i++)
        chunk[i] = PATTERN;
    unsigned f = 0;
    for (; f < 4 && mf_untyped_retype(BENCH_FRAMES_UT, MF_OBJ_FRAME, 21, 1, ROOT, S_DIRTY + f) == 0; f++)
        for (uint64_t off = 0; off < 2 * MiB; off += sizeof(chunk))
            if (mf_frame_write(S_DIRTY + f, off, chunk, sizeof(chunk)))
                return false;
    return mf_cnode_revoke(ROOT, BENCH_FRAMES_UT) == 0 && f >= 3;     // the 4.3 MiB the samples take
}

static void bench_zero_fill(uint64_t overhead)
{
    zero_pager = (struct mf_pager){.endpoint = S_EP, .untyped = BENCH_FRAMES_UT, .cnode = ROOT,
                                   .first_slot = S_PAGER_FRAME, .slot_count = 1};
    // 1100 pages span 4.3 MiB: three of the segment's four level-0 tables.
    if (!dirty_frames_untyped() || !vas_with_segment(8 * MiB, 15) ||
        mf_untyped_retype(BENCH_UT, MF_OBJ_ENDPOINT, 0, 1, ROOT, S_EP) ||
        mf_untyped_retype(BENCH_UT, MF_OBJ_THREAD, 0, 1, ROOT, S_PAGER) ||
        mf_pager_attach(&zero_pager, S_SEG, S_BADGED)) {
        setup_failed("the zero-fill benchmark");
        return;
    }
    touch_ok = false;
    bool ok = bench_run_pinned(zero_toucher, 0) && touch_ok;
    bench_report("vm.fault_zero_fill", samples, overhead, bench_verified(ok));
    cleanup();
}

// ---------------------------------------------- frame.map_unmap_{4k,2m}
// mf_frame_map + mf_frame_unmap of one frame made before the loop (no
// allocation or zeroing inside it, as Linux maps an existing memfd page),
// timed together, from inside the VAS the segment is attached to (so the
// unmap flushes a live address space's TLB, as munmap does). A 2 MiB frame
// needs a segment that is 1 GiB aligned and sized: then the segment's
// tables start at level 1 and the frame is one level-1 (PMD) entry; map
// refuses it (-E_INVAL) in a smaller segment. Checked: every call
// succeeded, and a last mapping shows the frame's contents (a marker
// written into its last word beforehand).

static void bench_map_unmap(const char *name, unsigned frame_bits, uint64_t seg_size, uint64_t overhead)
{
    uint64_t size = 1ul << frame_bits, marker = PATTERN ^ size;
    if (!vas_with_segment(seg_size, 13) ||
        mf_untyped_retype(BENCH_FRAMES_UT, MF_OBJ_FRAME, frame_bits, 1, ROOT, S_FRAME) ||
        mf_frame_write(S_FRAME, size - 8, &marker, sizeof(marker)) || mf_vas_switch(S_VAS)) {
        setup_failed(name);
        return;
    }
    bool ok = true;
    for (unsigned i = 0; i < BENCH_ITERATIONS; i++) {
        uint64_t t0 = mf_arch_cycles();
        long map = mf_frame_map(S_FRAME, S_SEG, SEG_BASE, RW);
        long unmap = mf_frame_unmap(S_FRAME);
        uint64_t t1 = mf_arch_cycles();
        ok &= map == 0 && unmap == 0;
        sample(i, t0, t1);
    }
    ok &= mf_frame_map(S_FRAME, S_SEG, SEG_BASE, RW) == 0 && window[size / 8 - 1] == marker &&
          mf_frame_unmap(S_FRAME) == 0;
    mf_vas_switch(0);
    bench_report(name, samples, overhead, bench_verified(ok));
    cleanup();
}

// ------------------------------------- frame.map_unmap_32_{single,batch}
// A library OS binding 32 of its frames and unbinding them (docs/
// exokernel.md): 32 MF_FRAME_MAP calls then 32 MF_FRAME_UNMAP calls,
// against one MF_SEGMENT_MAP_BATCH and one MF_SEGMENT_UNMAP_BATCH with the
// same 32 entries; timed from inside the VAS, as frame.map_unmap_4k.
// Checked: every call succeeded, and a last batch mapping shows each
// frame's own marker at its page.

static struct mf_map_entry entries[BATCH_FRAMES];
static uint64_t frames[BATCH_FRAMES];

// One timed round of the batched case (a function of its own for
// tools/steptrace: `tools/steptrace x86_64 batch_round --shell "bench vm"`).
static __attribute__((noinline)) bool batch_round(void)
{
    return mf_segment_map_batch(S_SEG, entries, BATCH_FRAMES) == BATCH_FRAMES &&
           mf_segment_unmap_batch(S_SEG, frames, BATCH_FRAMES) == BATCH_FRAMES;
}

static void bench_map_unmap_many(const char *name, bool batched, uint64_t overhead)
{
    bool ok = vas_with_segment(2 * MiB, 13) &&
              mf_untyped_retype(BENCH_FRAMES_UT, MF_OBJ_FRAME, 12, BATCH_FRAMES, ROOT, S_BATCH) == 0;
    for (unsigned k = 0; ok && k < BATCH_FRAMES; k++) {
        uint64_t marker = PATTERN ^ k;
        entries[k] = (struct mf_map_entry){S_BATCH + k, SEG_BASE + k * 4096ul, RW};
        frames[k] = S_BATCH + k;
        ok = mf_frame_write(S_BATCH + k, 0, &marker, sizeof(marker)) == 0;
    }
    if (!ok || mf_vas_switch(S_VAS)) {
        setup_failed(name);
        return;
    }
    for (unsigned i = 0; i < BENCH_ITERATIONS; i++) {
        uint64_t t0 = mf_arch_cycles();
        if (batched) {
            ok &= batch_round();
        } else {
            for (unsigned k = 0; k < BATCH_FRAMES; k++)
                ok &= mf_frame_map(S_BATCH + k, S_SEG, SEG_BASE + k * 4096ul, RW) == 0;
            for (unsigned k = 0; k < BATCH_FRAMES; k++)
                ok &= mf_frame_unmap(S_BATCH + k) == 0;
        }
        uint64_t t1 = mf_arch_cycles();
        sample(i, t0, t1);
    }
    ok &= mf_segment_map_batch(S_SEG, entries, BATCH_FRAMES) == BATCH_FRAMES;
    for (unsigned k = 0; ok && k < BATCH_FRAMES; k++)
        ok = window[k * 512] == (PATTERN ^ k);
    ok &= mf_segment_unmap_batch(S_SEG, frames, BATCH_FRAMES) == BATCH_FRAMES;
    mf_vas_switch(0);
    bench_report(name, samples, overhead, bench_verified(ok));
    cleanup();
}

void run_vm_benchmarks(uint64_t overhead)
{
    bench_pager_fault(overhead);
    bench_exception_fault(overhead);
    bench_zero_fill(overhead);
    bench_map_unmap("frame.map_unmap_4k", 12, 2 * MiB, overhead);
    bench_map_unmap("frame.map_unmap_2m", 21, GiB, overhead);
    bench_map_unmap_many("frame.map_unmap_32_single", false, overhead);
    bench_map_unmap_many("frame.map_unmap_32_batch", true, overhead);
}
