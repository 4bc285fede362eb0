// A process to checkpoint mid-run (user/tests/ckpt_tests.c,
// docs/checkpoint.md): it holds one of each thing the checkpointer saves,
// works for a while, then checks that everything is as an uninterrupted
// run leaves it and exits 0, or with the number of the check that failed.
//
//   - three worker threads step a random sequence each, XOR-ing it into
//     their part of a 96 KiB array (RW pages), napping a tick now and then
//     (so a checkpoint finds them running or asleep), and end through exit
//     notifications with a badge each: main waits for them (blocked in a
//     notification wait when the checkpoint comes, most likely);
//   - a receiver thread blocked in a receive on our endpoint all along;
//   - a notification with bits 0x5 pending from the start;
//   - two VASes sharing our home, with one segment attached to both: a word
//     written through one is read through the other;
//   - our code (RX) and read-only data (R) checksummed at the start.
//
// Slot 6 of our CSpace holds a notification of the test's: we signal it
// once set up, and the test checkpoints after that.
//
// With an argument (MiB, for make bench: user/root/bench_ckpt.c) it is
// only memory: that many MiB of 4 KiB frames, made from the untypeds in
// slots 16.. into a CNode of ours at slot 8, mapped in a segment at 4 GiB
// of a VAS sharing our home, each page marked; once set up it waits on
// slot 7 and then checks every mark (exit 0, or 10 + the kind of failure).
#include "manifold.h"
#include "lib/crc32.h"

#define WORKERS 3
#define STEPS 1000000
#define NAP 50000                   // steps between naps of a tick: the run lasts 20 ticks at least
#define WORDS 4096
#define READY_CAP 6
#define SHARED_BASE 0x80000000ul

static uint64_t data[WORKERS][WORDS];
static uint64_t result[WORKERS];
static const char motto[] = "a process is what its capabilities name";
static uint8_t stacks[WORKERS + 1][8192] __attribute__((aligned(16)));
static volatile uint64_t received = 0;
static long endpoint;

static uint64_t step(uint64_t x) { return x * 6364136223846793005ull + 1442695040888963407ull; }

static void worker(uint64_t i)
{
    uint64_t x = 0x1234 + i;
    for (uint64_t s = 0; s < STEPS; s++) {
        x = step(x);
        data[i][s % WORDS] ^= x;
        if (s % NAP == NAP - 1)
            mf_sleep(1);
    }
    result[i] = x;
}

static void receiver(uint64_t unused)
{
    (void)unused;
    struct mf_msg m = {0};
    long r = mf_recv(endpoint, &m);
    if (r >= 0 && MF_INFO_LABEL(m.info) == 7)
        received = m.mr[0];
}

#define BIG_BASE 0x100000000ul
#define BIG_CNODE 8
#define BIG_TMP 9
#define GO_CAP 7

static uint64_t mark(uint64_t page) { return step(page ^ 0x6d616e69666f6c64ull); }

// Frames from the first of our untypeds (16..23) with room.
static long big_frame(long slot)
{
    for (long ut = 16; ut < 24; ut++)
        if (mf_untyped_retype(ut, MF_OBJ_FRAME, 12, 1, MF_CAP_SELF_CNODE, slot) == 0)
            return 0;
    return -E_NOMEM;
}

static int big(uint64_t mib)
{
    uint64_t pages = mib << 8;
    long vas = mf_new(MF_OBJ_VAS, 14), seg = mf_new(MF_OBJ_SEGMENT, 16);
    if (vas < 0 || seg < 0 || mib > 16 ||     // the segment's 64 KiB hold 15 tables: 30 MiB
        
        mf_untyped_retype(16, MF_OBJ_CNODE, 13, 1, MF_CAP_SELF_CNODE, BIG_CNODE) ||
        mf_segment_configure(seg, BIG_BASE, (mib + 1) / 2 * (2ul << 20)) || mf_vas_attach(vas, 0) ||
        mf_vas_attach_segment(vas, seg, MF_RIGHT_READ | MF_RIGHT_WRITE))
        return 11;
    for (uint64_t i = 0; i < pages; i++)
        if (big_frame(BIG_TMP) || mf_frame_map(BIG_TMP, seg, BIG_BASE + i * 4096, MF_RIGHT_READ | MF_RIGHT_WRITE) ||
            mf_cnode_move_to(MF_CAP_SELF_CNODE, BIG_TMP, BIG_CNODE, (long)i + 1))
            return 12;
    if (mf_vas_switch(vas) < 0)
        return 13;
    for (uint64_t i = 0; i < pages; i++)
        *(volatile uint64_t *)(BIG_BASE + i * 4096 + (i % 512) * 8) = mark(i);
    mf_notification_signal(READY_CAP);
    if (mf_notification_wait(GO_CAP) < 0)
        return 14;
    for (uint64_t i = 0; i < pages; i++)
        if (*(volatile uint64_t *)(BIG_BASE + i * 4096 + (i % 512) * 8) != mark(i))
            return 15;
    mf_vas_switch(0);
    return 0;
}

static uint32_t code_crc(void) { return crc32_update(0, (const void *)(uintptr_t)step, 64); }

int main(uint64_t arg)
{
    if (arg)
        return big(arg);
    uint32_t code = code_crc(), ro = crc32_update(0, motto, sizeof(motto));
    long done = mf_new(MF_OBJ_NOTIFICATION, 0), pending = mf_new(MF_OBJ_NOTIFICATION, 0);
    endpoint = mf_new(MF_OBJ_ENDPOINT, 0);
    long vas_a = mf_new(MF_OBJ_VAS, 14), vas_b = mf_new(MF_OBJ_VAS, 14);
    long seg = mf_new(MF_OBJ_SEGMENT, 13), frame = mf_new(MF_OBJ_FRAME, 12);
    if (done < 0 || pending < 0 || endpoint < 0 || vas_a < 0 || vas_b < 0 || seg < 0 || frame < 0)
        return 90;
    long five = mf_mint(pending, MF_RIGHT_WRITE, 0x5);
    if (five < 0 || mf_notification_signal(five) < 0)
        return 91;
    if (mf_segment_configure(seg, SHARED_BASE, 2ul << 20) || mf_vas_attach(vas_a, 0) || mf_vas_attach(vas_b, 0) ||
        mf_vas_attach_segment(vas_a, seg, MF_RIGHT_READ | MF_RIGHT_WRITE) ||
        mf_vas_attach_segment(vas_b, seg, MF_RIGHT_READ) ||
        mf_frame_map(frame, seg, SHARED_BASE, MF_RIGHT_READ | MF_RIGHT_WRITE))
        return 92;
    if (mf_vas_switch(vas_a) < 0)
        return 93;
    *(volatile uint64_t *)SHARED_BASE = 0xabcdef;
    mf_vas_switch(0);
    for (unsigned i = 0; i <= WORKERS; i++) {
        long t = mf_new(MF_OBJ_THREAD, 0);
        long exit = i < WORKERS ? mf_mint(done, MF_RIGHT_WRITE, 1ul << i) : 0;
        if (t < 0 || exit < 0 || (exit && mf_thread_bind_exit(t, exit) < 0))
            return 94;
        if (mf_thread_start_named(t, i < WORKERS ? "worker" : "receiver", i < WORKERS ? worker : receiver,
                                  stacks[i], sizeof(stacks[i]), i) < 0)
            return 95;
    }
    mf_notification_signal(READY_CAP);
    uint64_t bits = 0;
    while (bits != (1ul << WORKERS) - 1) {
        long w = mf_notification_wait(done);
        if (w < 0)
            return 96;
        bits |= (uint64_t)w;
    }
    // The checks, against what an uninterrupted run computes.
    for (unsigned i = 0; i < WORKERS; i++) {
        static uint64_t expect[WORDS];
        for (unsigned k = 0; k < WORDS; k++)
            expect[k] = 0;
        uint64_t x = 0x1234 + i;
        for (uint64_t s = 0; s < STEPS; s++) {
            x = step(x);
            expect[s % WORDS] ^= x;
        }
        if (x != result[i])
            return 1;
        for (unsigned k = 0; k < WORDS; k++)
            if (data[i][k] != expect[k])
                return 2;
    }
    if (code_crc() != code || crc32_update(0, motto, sizeof(motto)) != ro)
        return 3;
    if (mf_notification_poll(pending) != 0x5)
        return 4;
    if (mf_vas_switch(vas_b) < 0)
        return 5;
    uint64_t shared = *(volatile uint64_t *)SHARED_BASE;
    mf_vas_switch(0);
    if (shared != 0xabcdef)
        return 6;
    struct mf_msg m = {.info = MF_INFO(7, 1), .mr = {0x600d}};
    if (mf_send(endpoint, &m) < 0)
        return 7;
    for (long end = mf_time() + 200; received != 0x600d && mf_time() < end;)
        mf_yield();
    if (received != 0x600d)
        return 8;
    return 0;
}
