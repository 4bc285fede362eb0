// Tutorial 9 (docs/tutorial/9-pager.md): a user-level pager of our own.
// Page faults in a segment arrive as IPC calls on its pager endpoint; our
// policy fills each page so that every word holds its own address, counts
// the faults, and refuses pages beyond a limit: the faulting thread is
// killed, and the program goes on.
#include "manifold.h"

#define BASE 0x80000000ul              // the segment: 2 MiB at 2 GiB
#define SIZE (2ul << 20)
#define PAGE 4096ul
#define LIMIT 16                       // we serve the first 16 pages, no more

static long endpoint;                  // where faults arrive
static volatile uint64_t reads, writes, refused;
static uint64_t page_buf[PAGE / 8];    // a page is built here, then copied into its frame
static uint8_t pager_stack[8192] __attribute__((aligned(16)));
static uint8_t rogue_stack[8192] __attribute__((aligned(16)));

// Serves one fault; true when the page is now mapped. The badge is the
// segment's cptr: we minted the pager cap so (mf_mint below).
static bool serve(long segment, uint64_t addr, uint64_t access)
{
    uint64_t page = addr & ~(PAGE - 1);
    if (page >= BASE + LIMIT * PAGE) {
        printf("tut_pager: refused: %s at %#lx, beyond our %d pages\n",
               access & MF_ACCESS_WRITE ? "write" : "read", addr, LIMIT);
        return false;
    }
    for (unsigned i = 0; i < PAGE / 8; i++)      // the policy: each word holds its address
        page_buf[i] = page + 8 * i;
    long frame = mf_new(MF_OBJ_FRAME, 12);
    if (frame < 0 || mf_frame_write(frame, 0, page_buf, PAGE) < 0 ||
        mf_frame_map(frame, segment, page, MF_RIGHT_READ | MF_RIGHT_WRITE) < 0)
        return false;
    uint64_t n = access & MF_ACCESS_WRITE ? ++writes : ++reads;
    printf("tut_pager: %s fault %lu at %#lx: page %lu filled and mapped\n",
           access & MF_ACCESS_WRITE ? "write" : "read", n, addr, (page - BASE) / PAGE);
    return true;
}

// The pager's loop: receive a fault, serve it, reply (the thread retries
// its access) or reply MF_FAULT_KILL (the thread dies), receive the next.
static void pager(uint64_t unused)
{
    (void)unused;
    struct mf_msg m = {0};
    long badge = mf_recv(endpoint, &m);
    for (;;) {
        bool ok = MF_INFO_LABEL(m.info) == MF_FAULT_LABEL && serve(badge, m.mr[0], m.mr[1]);
        if (!ok)
            refused++;
        m.info = MF_INFO(ok ? 0 : MF_FAULT_KILL, 0);
        badge = mf_reply_recv(endpoint, &m);
    }
}

// Touches a page the pager will not give.
static void rogue(uint64_t vas)
{
    mf_vas_switch((long)vas);
    (void)*(volatile uint64_t *)(BASE + LIMIT * PAGE);
}

// True if every word of page p holds its own address (from word `from` on).
static bool pattern_holds(unsigned p, unsigned from)
{
    volatile uint64_t *w = (volatile uint64_t *)(BASE + p * PAGE);
    for (unsigned i = from; i < PAGE / 8; i++)
        if (w[i] != (uint64_t)(uintptr_t)&w[i])
            return false;
    return true;
}

int main(uint64_t arg)
{
    (void)arg;
    // 1. A VAS holding our home and an empty segment; the segment's faults
    //    go to our endpoint, through a cap whose badge names the segment.
    long vas = mf_new(MF_OBJ_VAS, 14), segment = mf_new(MF_OBJ_SEGMENT, 13);
    endpoint = mf_new(MF_OBJ_ENDPOINT, 0);
    long pager_cap = mf_mint(endpoint, MF_RIGHT_WRITE, (uint64_t)segment);
    long pager_thread = mf_new(MF_OBJ_THREAD, 0);
    if (pager_thread < 0 || mf_segment_configure(segment, BASE, SIZE) < 0 ||
        mf_segment_set_pager(segment, pager_cap) < 0 || mf_vas_attach(vas, 0) < 0 ||
        mf_vas_attach_segment(vas, segment, MF_RIGHT_READ | MF_RIGHT_WRITE) < 0)
        return 1;
    // 2. The pager runs in a thread of its own (in our home: it never maps
    //    the segment itself, it fills frames with mf_frame_write).
    if (mf_thread_start(pager_thread, pager, pager_stack, sizeof(pager_stack), 0) < 0)
        return 2;

    // 3. In the VAS: read pages 0..3 and write pages 4 and 5, each first touch a fault.
    if (mf_vas_switch(vas) < 0)
        return 3;
    bool ok = true;
    for (unsigned p = 0; p < 4; p++)
        ok &= *(volatile uint64_t *)(BASE + p * PAGE + p * 8) == BASE + p * PAGE + p * 8;
    for (unsigned p = 4; p < 6; p++)
        *(volatile uint64_t *)(BASE + p * PAGE) = 42;
    // Touching them again faults no more: they are mapped now.
    for (unsigned p = 0; p < 6; p++)
        ok &= pattern_holds(p, p < 4 ? 0 : 1);
    mf_vas_switch(0);
    printf("tut_pager: 6 pages touched, every word holds its address: %s\n", ok ? "yes" : "NO");

    // 4. A thread that goes beyond the limit is killed; we are not.
    long t = mf_new(MF_OBJ_THREAD, 0), done = mf_new(MF_OBJ_NOTIFICATION, 0);
    struct mf_exit_status st = {0};
    if (done < 0 || mf_thread_bind_exit(t, done) < 0 ||
        mf_thread_start(t, rogue, rogue_stack, sizeof(rogue_stack), (uint64_t)vas) < 0 ||
        mf_notification_wait(done) < 0 || mf_thread_exit_status(t, &st) < 0)
        return 4;
    printf("tut_pager: the rogue thread %s at %#lx; we go on\n", st.how == EXIT_FAULT ? "was killed" : "ended",
           (unsigned long)st.address);
    printf("tut_pager: %lu read faults, %lu write faults served, %lu refused\n", reads, writes, refused);
    return ok && reads == 4 && writes == 2 && refused == 1 && st.how == EXIT_FAULT &&
                   st.address == BASE + LIMIT * PAGE
               ? 0
               : 5;
}
