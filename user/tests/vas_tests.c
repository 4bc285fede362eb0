// Address-space objects: switching, shared segments, revocation, read-only
// attachments, and user-level pagers.
#include "manifold.h"
#include "utest.h"
#include "lib/string.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT (MF_CAP_UNTYPED_BASE + 5)
#define VA_A 600
#define VA_B 601
#define SEG 602
#define SEG_B 603
#define FRAMES 610          // 610.. frames
#define WORKER 630
#define WORKER2 631
#define NTFN_GO 632
#define NTFN_DONE 633
#define EP 634
#define PAGER 635
#define COPY 636
#define PAGER_FRAMES 1000   // 1000..2023: frames the pager maps

#define SEG_BASE 0x80000000ul
#define MiB (1ul << 20)

static uint8_t stack1[8192] __attribute__((aligned(16)));
static uint8_t stack2[8192] __attribute__((aligned(16)));
static volatile uint64_t global_word;

static bool obj(unsigned type, unsigned bits, long slot)
{
    long r = mf_untyped_retype(UT, type, bits, 1, ROOT, slot);
    if (r)
        printf("# retype of type %u into slot %ld: %s\n", type, slot, mf_strerror(r));
    return r == 0;
}
static bool cleanup(void) { return mf_vas_switch(0) == 0 && mf_cnode_revoke(ROOT, UT) == 0; }

// A VAS with us attached, plus a segment of `size` at `base` with `frames`
// 4 KiB frames mapped from its start.
static bool vas_with_segment(long vas, long seg, uint64_t base, uint64_t size, unsigned frames, long first_frame)
{
    if (!obj(MF_OBJ_VAS, 16, vas) || mf_vas_attach(vas, 0) != 0)
        return false;
    if (seg == 0)
        return true;
    if (!obj(MF_OBJ_SEGMENT, 14, seg) || mf_segment_configure(seg, base, size) != 0)
        return false;
    if (frames && mf_untyped_retype(UT, MF_OBJ_FRAME, 12, frames, ROOT, first_frame) != 0)
        return false;
    for (unsigned i = 0; i < frames; i++)
        if (mf_frame_map(first_frame + i, seg, base + i * 4096, MF_RIGHT_READ | MF_RIGHT_WRITE) != 0)
            return false;
    return mf_vas_attach_segment(vas, seg, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0;
}

UTEST(vas_switch_needs_cap_and_attach)
{
    UCHECK(cleanup());   // start clean even if an earlier test failed
    UCHECK(obj(MF_OBJ_VAS, 16, VA_A));
    UCHECK(mf_vas_switch(VA_B) == -E_BADCAP);                   // empty slot
    UCHECK(mf_vas_switch(ROOT) == -E_TYPE);
    UCHECK(mf_vas_switch(VA_A) == -E_PERM);                     // not attached yet
    UCHECK(mf_cnode_copy(ROOT, VA_A, COPY, MF_RIGHT_WRITE) == 0);
    UCHECK(mf_vas_attach(VA_A, 0) == 0);
    UCHECK(mf_vas_switch(COPY) == -E_PERM);                     // no read right
    global_word = 1;
    UCHECK(mf_vas_switch(VA_A) == 0);
    // Our code, stack and globals came along.
    global_word++;
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(global_word == 2);
    UCHECK(cleanup());
    return NULL;
}

UTEST(vas_shared_segment_seen_from_two_spaces)
{
    UCHECK(cleanup());   // start clean even if an earlier test failed
    UCHECK(vas_with_segment(VA_A, SEG, SEG_BASE, 2 * MiB, 4, FRAMES));
    UCHECK(vas_with_segment(VA_B, 0, 0, 0, 0, 0));
    UCHECK(mf_vas_attach_segment(VA_B, SEG, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_vas_attach_segment(VA_B, SEG, MF_RIGHT_READ) == -E_BUSY);   // already there
    UCHECK(mf_vas_switch(VA_A) == 0);
    volatile uint64_t *p = (volatile uint64_t *)SEG_BASE;
    for (int i = 0; i < 2048; i++)
        p[i] = 0x1234000 + i;
    UCHECK(mf_vas_switch(VA_B) == 0);
    bool same = true;
    for (int i = 0; i < 2048; i++)
        same &= p[i] == 0x1234000u + i;
    p[5] = 77;                         // and back the other way
    UCHECK(mf_vas_switch(VA_A) == 0);
    same &= p[5] == 77;
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(same);
    UCHECK(cleanup());
    return NULL;
}

UTEST(vas_many_switches_keep_each_space)
{
    UCHECK(cleanup());   // start clean even if an earlier test failed
    // Two segments at the same address, one per VAS: 1000 round trips.
    UCHECK(vas_with_segment(VA_A, SEG, SEG_BASE, 2 * MiB, 1, FRAMES));
    UCHECK(vas_with_segment(VA_B, SEG_B, SEG_BASE, 2 * MiB, 1, FRAMES + 1));
    volatile uint64_t *p = (volatile uint64_t *)SEG_BASE;
    UCHECK(mf_vas_switch(VA_A) == 0);
    *p = 0xaaaa;
    UCHECK(mf_vas_switch(VA_B) == 0);
    *p = 0xbbbb;
    bool ok = true;
    for (int i = 0; i < 1000 && ok; i++) {
        ok &= mf_vas_switch(VA_A) == 0 && *p == 0xaaaa + (uint64_t)i;
        *p += 1;
        ok &= mf_vas_switch(VA_B) == 0 && *p == 0xbbbb + (uint64_t)i;
        *p += 1;
    }
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(ok);
    UCHECK(cleanup());
    return NULL;
}

UTEST(vas_segment_configure_and_map_errors)
{
    UCHECK(cleanup());   // start clean even if an earlier test failed
    UCHECK(obj(MF_OBJ_SEGMENT, 13, SEG));
    UCHECK(mf_untyped_retype(UT, MF_OBJ_SEGMENT, 12, 1, ROOT, SEG_B) == -E_INVAL);   // too small
    UCHECK(mf_segment_configure(SEG, SEG_BASE + 4096, 2 * MiB) == -E_INVAL);        // misaligned
    UCHECK(mf_segment_configure(SEG, 0, 2 * MiB) == -E_RANGE);                      // the home region
    UCHECK(mf_segment_configure(SEG, SEG_BASE, 4 * MiB) == -E_NOMEM);              // 1 table page only
    UCHECK(mf_segment_configure(SEG, SEG_BASE, 2 * MiB) == 0);
    UCHECK(mf_segment_configure(SEG, SEG_BASE, 2 * MiB) == -E_BUSY);               // once
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 2, ROOT, FRAMES) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 21, 1, ROOT, FRAMES + 2) == 0);
    UCHECK(mf_frame_map(FRAMES, SEG, SEG_BASE + 2 * MiB, MF_RIGHT_READ) == -E_RANGE);
    UCHECK(mf_frame_map(FRAMES, SEG, SEG_BASE + 1, MF_RIGHT_READ) == -E_RANGE);
    UCHECK(mf_frame_map(FRAMES, SEG, SEG_BASE, 0) == -E_INVAL);
    UCHECK(mf_frame_map(FRAMES + 2, SEG, SEG_BASE, MF_RIGHT_READ) == -E_INVAL);     // 2 MiB frame
    UCHECK(mf_frame_map(FRAMES, SEG, SEG_BASE, MF_RIGHT_READ) == 0);
    UCHECK(mf_frame_map(FRAMES, SEG, SEG_BASE + 4096, MF_RIGHT_READ) == -E_BUSY);   // one per cap
    UCHECK(mf_frame_map(FRAMES + 1, SEG, SEG_BASE, MF_RIGHT_READ) == -E_BUSY);      // taken
    UCHECK(mf_cnode_copy(ROOT, FRAMES + 1, COPY, MF_RIGHT_READ) == 0);
    UCHECK(mf_frame_map(COPY, SEG, SEG_BASE + 4096, MF_RIGHT_READ | MF_RIGHT_WRITE) == -E_PERM);
    UCHECK(mf_frame_map(COPY, SEG, SEG_BASE + 4096, MF_RIGHT_READ) == 0);
    // Deleting a mapping cap removes the mapping: the address is free again.
    UCHECK(mf_cnode_delete(ROOT, FRAMES) == 0);
    UCHECK(mf_frame_map(FRAMES + 1, SEG, SEG_BASE, MF_RIGHT_READ) == 0);
    UCHECK(mf_frame_unmap(FRAMES + 1) == 0);
    UCHECK(mf_frame_map(FRAMES + 1, SEG, SEG_BASE, MF_RIGHT_READ) == 0);
    UCHECK(cleanup());
    return NULL;
}

// Worker: waits for the go signal, touches the segment, reports success.
static void toucher(uint64_t write)
{
    mf_notification_wait(NTFN_GO);
    volatile uint64_t *p = (volatile uint64_t *)SEG_BASE;
    if (write)
        *p = 1;
    else
        (void)*p;
    mf_notification_signal(NTFN_DONE);
}

// Starts a worker that runs in `vas`.
static bool start_in(long vas, long thread, uint8_t *stack, size_t size, uint64_t arg)
{
    if (mf_vas_switch(vas) != 0)
        return false;
    bool ok = mf_thread_start(thread, toucher, stack, size, arg) == 0;
    return mf_vas_switch(0) == 0 && ok;
}

UTEST_FAULTS(vas_revoked_segment_faults_everywhere)
{
    UCHECK(cleanup());   // start clean even if an earlier test failed
    UCHECK(vas_with_segment(VA_A, SEG, SEG_BASE, 2 * MiB, 1, FRAMES));
    UCHECK(vas_with_segment(VA_B, 0, 0, 0, 0, 0));
    UCHECK(mf_vas_attach_segment(VA_B, SEG, MF_RIGHT_READ) == 0);
    UCHECK(obj(MF_OBJ_THREAD, 0, WORKER) && obj(MF_OBJ_THREAD, 0, WORKER2));
    UCHECK(obj(MF_OBJ_NOTIFICATION, 0, NTFN_GO) && obj(MF_OBJ_NOTIFICATION, 0, NTFN_DONE));
    // Before: a reader in B succeeds.
    UCHECK(start_in(VA_B, WORKER, stack1, sizeof(stack1), 0));
    UCHECK(mf_notification_signal(NTFN_GO) == 0);
    UCHECK(mf_notification_wait(NTFN_DONE) == 1);
    // Revoke the segment (its only cap): gone from A and B alike.
    UCHECK(mf_cnode_delete(ROOT, SEG) == 0);
    UCHECK(start_in(VA_B, WORKER2, stack2, sizeof(stack2), 0));
    UCHECK(mf_notification_signal(NTFN_GO) == 0);
    UWAIT(mf_thread_resume(WORKER2) == -E_INVAL, 100); // it may run on another CPU
    UCHECK(mf_notification_poll(NTFN_DONE) == 0);     // it faulted and died
    UCHECK(mf_thread_resume(WORKER2) == -E_INVAL);    // and is stopped, without registers
    UCHECK(cleanup());
    return NULL;
}

UTEST_FAULTS(vas_read_only_attachment)
{
    UCHECK(cleanup());   // start clean even if an earlier test failed
    UCHECK(vas_with_segment(VA_A, SEG, SEG_BASE, 2 * MiB, 1, FRAMES));
    UCHECK(vas_with_segment(VA_B, 0, 0, 0, 0, 0));
    UCHECK(mf_vas_attach_segment(VA_B, SEG, MF_RIGHT_READ) == 0);
    UCHECK(obj(MF_OBJ_THREAD, 0, WORKER));
    UCHECK(obj(MF_OBJ_NOTIFICATION, 0, NTFN_GO) && obj(MF_OBJ_NOTIFICATION, 0, NTFN_DONE));
    UCHECK(start_in(VA_B, WORKER, stack1, sizeof(stack1), 1));   // a writer in B
    UCHECK(mf_notification_signal(NTFN_GO) == 0);
    UWAIT(mf_thread_resume(WORKER) == -E_INVAL, 100);  // it may run on another CPU
    UCHECK(mf_notification_poll(NTFN_DONE) == 0);     // the write faulted
    UCHECK(cleanup());
    return NULL;
}

UTEST(vas_pager_resolves_1000_faults)
{
    UCHECK(cleanup());
    UCHECK(vas_with_segment(VA_A, SEG, SEG_BASE, 4 * MiB, 0, 0));
    UCHECK(obj(MF_OBJ_ENDPOINT, 0, EP) && obj(MF_OBJ_THREAD, 0, PAGER));
    static struct mf_pager pager;
    pager = (struct mf_pager){.endpoint = EP, .untyped = UT, .cnode = ROOT,
                              .first_slot = PAGER_FRAMES, .slot_count = 1024};
    UCHECK(mf_pager_attach(&pager, SEG, COPY) == 0);
    UCHECK(mf_thread_start(PAGER, mf_pager_thread, stack1, sizeof(stack1), (uint64_t)(uintptr_t)&pager) == 0);
    UCHECK(mf_vas_switch(VA_A) == 0);
    volatile uint64_t *p = (volatile uint64_t *)SEG_BASE;
    bool zero = true, kept = true;
    for (uint64_t i = 0; i < 1000; i++) {
        zero &= p[i * 512] == 0;        // first touch: a fault, a zeroed page
        p[i * 512 + 1] = i;
    }
    for (uint64_t i = 0; i < 1000; i++)
        kept &= p[i * 512 + 1] == i;
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(zero && kept);
    UCHECK(pager.faults == 1000 && pager.refused == 0);
    UCHECK(cleanup());
    return NULL;
}

static void dying_pager(uint64_t ep)
{
    struct mf_msg m = {0};
    mf_recv((long)ep, &m);      // take the fault, then end without replying
}

UTEST_FAULTS(vas_dead_pager_kills_only_the_faulting_thread)
{
    UCHECK(cleanup());   // start clean even if an earlier test failed
    UCHECK(vas_with_segment(VA_A, SEG, SEG_BASE, 2 * MiB, 0, 0));
    UCHECK(obj(MF_OBJ_ENDPOINT, 0, EP) && obj(MF_OBJ_THREAD, 0, PAGER) && obj(MF_OBJ_THREAD, 0, WORKER));
    UCHECK(obj(MF_OBJ_NOTIFICATION, 0, NTFN_GO) && obj(MF_OBJ_NOTIFICATION, 0, NTFN_DONE));
    UCHECK(mf_segment_set_pager(SEG, EP) == 0);
    UCHECK(mf_thread_start(PAGER, dying_pager, stack2, sizeof(stack2), EP) == 0);
    UCHECK(start_in(VA_A, WORKER, stack1, sizeof(stack1), 0));
    UCHECK(mf_notification_signal(NTFN_GO) == 0);
    UWAIT(mf_thread_resume(WORKER) == -E_INVAL, 100);  // it may run on another CPU
    UCHECK(mf_notification_poll(NTFN_DONE) == 0);
    UCHECK(mf_thread_resume(WORKER) == -E_INVAL);     // killed
    UCHECK(cleanup());
    return NULL;
}

static void parked_in_vas(uint64_t unused)
{
    (void)unused;
    mf_notification_wait(NTFN_GO);
}

UTEST(vas_segment_lock_excludes_a_second_writer)
{
    UCHECK(cleanup());
    UCHECK(vas_with_segment(VA_A, SEG, SEG_BASE, 2 * MiB, 1, FRAMES));
    UCHECK(vas_with_segment(VA_B, 0, 0, 0, 0, 0));
    UCHECK(mf_vas_attach_segment(VA_B, SEG, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(obj(MF_OBJ_THREAD, 0, WORKER) && obj(MF_OBJ_NOTIFICATION, 0, NTFN_GO));
    // A worker stays in A, holding the segment's writer lock.
    UCHECK(mf_vas_switch(VA_A) == 0);
    UCHECK(mf_thread_start(WORKER, parked_in_vas, stack1, sizeof(stack1), 0) == 0);
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(mf_vas_switch(VA_B) == -E_BUSY);   // B would write the same segment
    UCHECK(mf_vas_switch(VA_A) == 0);         // sharing A is fine
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(mf_notification_signal(NTFN_GO) == 0);
    mf_sleep(1);
    UCHECK(mf_vas_switch(VA_B) == -E_BUSY);   // finished, but still placed in A
    UCHECK(mf_cnode_delete(ROOT, WORKER) == 0);
    UCHECK(mf_vas_switch(VA_B) == 0);         // gone: the lock is free
    UCHECK(cleanup());
    return NULL;
}

// A pager that answers write faults by giving the frame FRAMES write access
// back with frame_protect (the page stays mapped throughout).
static volatile uint64_t protect_faults, protect_access;
static void upgrading_pager(uint64_t ep)
{
    struct mf_msg m = {0};
    mf_recv((long)ep, &m);
    for (;;) {
        protect_faults++;
        protect_access = m.mr[1];
        bool ok = mf_frame_protect(FRAMES, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0;
        m.info = MF_INFO(ok ? 0 : MF_FAULT_KILL, 0);
        mf_reply_recv((long)ep, &m);
    }
}

UTEST(vas_frame_protect_changes_rights_in_place)
{
    UCHECK(cleanup());
    UCHECK(vas_with_segment(VA_A, SEG, SEG_BASE, 2 * MiB, 1, FRAMES));
    UCHECK(obj(MF_OBJ_ENDPOINT, 0, EP) && obj(MF_OBJ_THREAD, 0, PAGER));
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 1, ROOT, FRAMES + 1) == 0);
    UCHECK(mf_frame_protect(FRAMES + 1, MF_RIGHT_READ) == -E_NOENT);        // maps nothing
    UCHECK(mf_frame_protect(FRAMES, MF_RIGHT_WRITE) == -E_INVAL);           // no read
    UCHECK(mf_frame_protect(FRAMES, 8) == -E_INVAL);
    UCHECK(mf_cnode_copy(ROOT, FRAMES + 1, COPY, MF_RIGHT_READ) == 0);
    UCHECK(mf_frame_map(COPY, SEG, SEG_BASE + 4096, MF_RIGHT_READ) == 0);
    UCHECK(mf_frame_protect(COPY, MF_RIGHT_READ | MF_RIGHT_WRITE) == -E_PERM);
    UCHECK(mf_segment_set_pager(SEG, EP) == 0);
    protect_faults = 0;
    UCHECK(mf_thread_start(PAGER, upgrading_pager, stack1, sizeof(stack1), EP) == 0);
    volatile uint64_t *p = (volatile uint64_t *)SEG_BASE;
    UCHECK(mf_vas_switch(VA_A) == 0);
    p[0] = 1;                                   // writable: no fault
    bool ok = mf_frame_protect(FRAMES, MF_RIGHT_READ) == 0;
    uint64_t seen = p[0];                       // still mapped: reads do not fault
    uint64_t before = protect_faults;
    p[0] = 2;                                   // a write fault; the pager upgrades
    uint64_t after = protect_faults;
    p[0] = 3;                                   // writable again: no fault
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(ok && seen == 1 && before == 0 && after == 1 && protect_faults == 1);
    UCHECK(protect_access == MF_ACCESS_WRITE);
    UCHECK(mf_vas_switch(VA_A) == 0);
    seen = p[0];
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(seen == 3);
    UCHECK(cleanup());
    return NULL;
}

// Frames read and written without a mapping, rights and bounds checked;
// execution is a mapping attribute, never together with write.
UTEST(vas_frame_read_write_and_exec_rights)
{
    UCHECK(cleanup());
    UCHECK(obj(MF_OBJ_FRAME, 12, FRAMES));
    static const char text[] = "written through MF_FRAME_WRITE";
    char back[sizeof(text)] = {0};
    UCHECK(mf_frame_write(FRAMES, 100, text, sizeof(text)) == 0);
    UCHECK(mf_frame_read(FRAMES, 100, back, sizeof(back)) == 0);
    UCHECK(memcmp(text, back, sizeof(text)) == 0);
    UCHECK(mf_frame_read(FRAMES, 4096 - 4, back, 8) == -E_RANGE);     // past the end
    UCHECK(mf_frame_read(FRAMES, 4097, back, 0) == -E_RANGE);
    UCHECK(mf_frame_write(FRAMES, 0, (const void *)0x7000000000ul, 8) == -E_FAULT);
    UCHECK(mf_frame_read(FRAMES, 0, (void *)(uintptr_t)text, 8) == -E_FAULT);   // read-only data of ours
    // A read-only copy reads but does not write.
    UCHECK(mf_cnode_copy(ROOT, FRAMES, FRAMES + 1, MF_RIGHT_READ) == 0);
    UCHECK(mf_frame_read(FRAMES + 1, 100, back, sizeof(back)) == 0);
    UCHECK(mf_frame_write(FRAMES + 1, 0, text, 4) == -E_PERM);
    // W^X, and EXEC needs only READ on the cap.
    UCHECK(obj(MF_OBJ_SEGMENT, 14, SEG) && mf_segment_configure(SEG, SEG_BASE, 2 * MiB) == 0);
    UCHECK(mf_frame_map(FRAMES, SEG, SEG_BASE, MF_RIGHT_READ | MF_RIGHT_WRITE | MF_MAP_EXEC) == -E_INVAL);
    UCHECK(mf_frame_map(FRAMES + 1, SEG, SEG_BASE, MF_RIGHT_READ | MF_MAP_EXEC) == 0);
    UCHECK(mf_frame_protect(FRAMES + 1, MF_RIGHT_READ | MF_RIGHT_WRITE) == -E_PERM);
    UCHECK(mf_frame_protect(FRAMES + 1, MF_RIGHT_READ | MF_RIGHT_WRITE | MF_MAP_EXEC) == -E_INVAL);
    UCHECK(cleanup());
    return NULL;
}

// Home segments: only exactly [0, MF_HOME_SIZE); never beside a home the
// kernel built; a frame moved to another CNode keeps its mapping.
UTEST(vas_home_segment_rules_and_move_to)
{
    UCHECK(cleanup());
    UCHECK(obj(MF_OBJ_SEGMENT, 14, SEG) && obj(MF_OBJ_SEGMENT, 14, SEG_B));
    UCHECK(mf_segment_configure(SEG, 0, 2 * MiB) == -E_RANGE);
    UCHECK(mf_segment_configure(SEG, 2 * MiB, 2 * MiB) == -E_RANGE);
    UCHECK(mf_segment_configure(SEG, 0, MF_HOME_SIZE) == 0);
    UCHECK(obj(MF_OBJ_VAS, 16, VA_A) && mf_vas_attach(VA_A, 0) == 0);           // our (kernel-built) home
    UCHECK(mf_vas_attach_segment(VA_A, SEG, MF_RIGHT_READ | MF_RIGHT_WRITE) == -E_BUSY);
    UCHECK(obj(MF_OBJ_VAS, 16, VA_B));
    UCHECK(mf_vas_attach_segment(VA_B, SEG, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_vas_attach(VA_B, 0) == -E_BUSY);                                 // a home is there
    UCHECK(mf_vas_switch(VA_B) == -E_PERM);                                    // not our home
    // A mapped frame moved into another CNode stays mapped: unmapping
    // through the moved cap finds its mapping.
    UCHECK(obj(MF_OBJ_FRAME, 12, FRAMES));
    UCHECK(mf_frame_map(FRAMES, SEG, 0x400000, MF_RIGHT_READ) == 0);
    UCHECK(obj(MF_OBJ_CNODE, 4, COPY));
    UCHECK(mf_cnode_move_to(ROOT, FRAMES, COPY, 3) == 0);
    UCHECK(mf_cnode_identify(ROOT, FRAMES) == 0);
    UCHECK(mf_frame_map(FRAMES + 1, SEG, 0x400000, MF_RIGHT_READ) == -E_BADCAP);
    UCHECK(obj(MF_OBJ_FRAME, 12, FRAMES + 1));
    UCHECK(mf_frame_map(FRAMES + 1, SEG, 0x400000, MF_RIGHT_READ) == -E_BUSY);  // still mapped
    UCHECK(mf_cnode_move_to(COPY, 3, ROOT, FRAMES) == 0);                       // and back
    UCHECK(mf_frame_unmap(FRAMES) == 0);
    UCHECK(mf_frame_map(FRAMES + 1, SEG, 0x400000, MF_RIGHT_READ) == 0);
    // Copying out needs READ on the source CNode, moving out WRITE.
    UCHECK(mf_cnode_copy(ROOT, COPY, WORKER, MF_RIGHT_READ) == 0);
    UCHECK(mf_cnode_copy(ROOT, FRAMES + 1, FRAMES + 2, MF_RIGHTS_ALL) == 0);
    UCHECK(mf_cnode_move_to(ROOT, FRAMES + 2, COPY, 5) == 0);
    UCHECK(mf_cnode_copy_to(WORKER, 5, ROOT, FRAMES + 3, MF_RIGHT_READ) == 0);
    UCHECK(mf_cnode_move_to(WORKER, 5, ROOT, FRAMES + 4) == -E_PERM);
    UCHECK(cleanup());
    return NULL;
}
