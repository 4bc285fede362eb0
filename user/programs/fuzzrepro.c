// Small reproductions of kernel bugs the fuzzer found (docs/testing.md,
// "Fuzzing"), one per argument; run from the shell: `run fuzzrepro N`.
// Exit status 0 when the kernel survived (the bug is fixed), else the
// kernel panics. Needs the CSpace the shell's `run` gives (slot 16: 4 MiB).
//
//   1  suspend/resume of a thread blocked in a notification wait, from
//      another CPU: the waiter is stopped after thread_block_prepare but
//      before it queues itself (kernel/ipc.c invoke_wait releases cap_lock
//      first), and resume finds it still queued: runqueue_push asserts.
//   2  a mapped frame cap sent by IPC, then the copy deleted: the copy
//      keeps the segment but not the address; frame_unmap indexes the
//      segment's tables with (0 - base): a kernel page fault.
//   3  timed notification waits that run out, with other threads on the
//      same CPU: the tick makes the waiter runnable while it is still in
//      the notification's queue, and both queues link through
//      thread->next (kernel/thread.c wake_timed): threads fall off the run
//      queue, runqueue_push or queue_push asserts.
#include "manifold.h"

#define SELF MF_CAP_SELF_CNODE
#define UT MF_CAP_UNTYPED_BASE
enum { WAITER = 20, NTFN, EP, SERVER, VAS, SEG, FRAME, RECEIVED, THREADS = 32 };

static uint8_t stack[16384] __attribute__((aligned(16)));
static uint8_t stacks[4][8192] __attribute__((aligned(16)));
static volatile uint64_t waits;

static void waiter(uint64_t n)
{
    for (;;) {
        mf_notification_wait_timeout((long)n, 1);
        waits++;
    }
}

static int suspend_while_waiting(void)
{
    if (mf_untyped_retype(UT, MF_OBJ_THREAD, 0, 1, SELF, WAITER) || mf_untyped_retype(UT, MF_OBJ_NOTIFICATION, 0, 1, SELF, NTFN))
        return 2;
    long me = mf_cpu_id();
    struct mf_system_info si;
    mf_system_info(&si);
    // The waiter on another CPU than ours, so the suspend comes from afar.
    mf_thread_set_sched(WAITER, MF_SCHED_FIXED, si.cpus > 1 ? (unsigned)(me + 1) % si.cpus : 0);
    if (mf_thread_start(WAITER, waiter, stack, sizeof(stack), NTFN))
        return 3;
    for (int i = 0; i < 200000; i++) {
        mf_thread_suspend(WAITER);
        mf_thread_resume(WAITER);
        if (i % 16 == 0)
            mf_notification_signal(NTFN);
        if (i % 20000 == 0)
            printf("fuzzrepro 1: %d suspends, %lu waits\n", i, (unsigned long)waits);
    }
    mf_cnode_revoke(SELF, UT);
    return 0;
}

static void server(uint64_t ep)
{
    struct mf_msg m = {.info = MF_INFO_RECV_SLOT(RECEIVED)};
    mf_recv((long)ep, &m);
    for (;;) {
        m.info = MF_INFO(0, 0) | MF_INFO_RECV_SLOT(0);
        mf_reply_recv((long)ep, &m);
    }
}

static int mapped_frame_by_ipc(void)
{
    if (mf_untyped_retype(UT, MF_OBJ_THREAD, 0, 1, SELF, SERVER) || mf_untyped_retype(UT, MF_OBJ_ENDPOINT, 0, 1, SELF, EP) ||
        mf_untyped_retype(UT, MF_OBJ_VAS, 14, 1, SELF, VAS) || mf_untyped_retype(UT, MF_OBJ_SEGMENT, 13, 1, SELF, SEG) ||
        mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 1, SELF, FRAME))
        return 2;
    if (mf_segment_configure(SEG, 4ul << 30, 2ul << 20) || mf_frame_map(FRAME, SEG, 4ul << 30, 3))
        return 3;
    if (mf_thread_start(SERVER, server, stack, sizeof(stack), EP))
        return 4;
    struct mf_msg m = {.info = MF_INFO(0, 0) | MF_INFO_SEND_CAP(FRAME)};
    if (mf_call(EP, &m) < 0)
        return 5;
    printf("fuzzrepro 2: the server holds a copy of our mapped frame; deleting it\n");
    mf_cnode_delete(SELF, RECEIVED);          // the kernel faults here
    mf_cnode_revoke(SELF, UT);
    return 0;
}

static volatile uint64_t progress[4];

static void timed_waiter(uint64_t i)
{
    for (;;) {
        mf_notification_wait_timeout(NTFN, 1);
        progress[i]++;
    }
}

static void yielder(uint64_t i)
{
    for (;;) {
        mf_yield();
        progress[i]++;
    }
}

// Two timed waiters and two yielding threads on one CPU, we on another:
// every thread must keep making progress.
static int timed_waits_on_a_busy_cpu(void)
{
    struct mf_system_info si;
    mf_system_info(&si);
    if (si.cpus < 2 || mf_untyped_retype(UT, MF_OBJ_NOTIFICATION, 0, 1, SELF, NTFN) ||
        mf_untyped_retype(UT, MF_OBJ_THREAD, 0, 4, SELF, THREADS))
        return 2;
    for (int i = 0; i < 4; i++) {
        mf_thread_set_sched(THREADS + i, MF_SCHED_FIXED, 1);
        if (mf_thread_start(THREADS + i, i < 2 ? timed_waiter : yielder, stacks[i], sizeof(stacks[i]), (uint64_t)i))
            return 3;
    }
    uint64_t seen[4] = {0};
    for (int tick = 1; tick <= 1000; tick++) {
        mf_sleep(1);
        if (tick % 3 == 0)
            mf_notification_signal(NTFN);
        if (tick % 100)
            continue;
        printf("fuzzrepro 3: %d ticks, progress %lu %lu %lu %lu\n", tick, (unsigned long)progress[0],
               (unsigned long)progress[1], (unsigned long)progress[2], (unsigned long)progress[3]);
        for (int i = 0; i < 4; i++) {
            if (progress[i] == seen[i]) {
                printf("fuzzrepro 3: thread %d made no progress in 100 ticks: lost from its run queue\n", i);
                return 4;
            }
            seen[i] = progress[i];
        }
    }
    mf_cnode_revoke(SELF, UT);
    return 0;
}

int main(uint64_t arg)
{
    switch (arg) {
    case 1:
        return suspend_while_waiting();
    case 2:
        return mapped_frame_by_ipc();
    case 3:
        return timed_waits_on_a_busy_cpu();
    default:
        printf("fuzzrepro: 1 (suspend during a notification wait), 2 (mapped frame sent by IPC), "
               "3 (timed notification waits)\n");
        return 1;
    }
}
