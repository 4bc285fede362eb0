// Copy-on-write snapshots (include/manifold/snapshot.h, kernel/snapshot.c):
// armed frames keep what they held, whichever path writes them — the
// thread's own store, a system call's result (copy_to_user), a message into
// an IPC buffer, MF_FRAME_WRITE — and the writes themselves all go
// through. Out of copy pages, a frame is lost and reported, never a write.
// Slots 3150..3170 of the root task's CSpace.
#include "manifold.h"
#include "utest.h"
#include "lib/string.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT (MF_CAP_UNTYPED_BASE + 3)
#define SN_VAS 3150
#define SN_SEG 3151
#define SN_FRAME 3152           // PAGES of them
#define SN_SNAP 3160
#define SN_EP 3161
#define SN_THREAD 3162          // 2
#define SN_LAST 3170
#define BASE 0x90000000ul
#define PAGES 4

static volatile uint64_t writers_done, writers_stop;

static void clean(void)
{
    mf_vas_switch(0);
    mf_cnode_revoke(ROOT, UT);
    for (long s = SN_VAS; s <= SN_LAST; s++)
        mf_cnode_delete(ROOT, s);
}

static const char *set_up(void);

// Runs a test's body in a fresh set_up(); whatever it found, nothing of it
// is left for the next test: our threads stopped, the root task back in
// its home, the slots empty.
static const char *run(const char *(*body)(void))
{
    const char *why = set_up();
    if (!why)
        why = body();
    writers_stop = 1;
    clean();
    return why;
}

static bool make(unsigned type, unsigned bits, long slot)
{
    return mf_untyped_retype(UT, type, bits, 1, ROOT, slot) == 0;
}

static volatile uint8_t *page(unsigned i) { return (volatile uint8_t *)(BASE + (uint64_t)i * 4096); }
static volatile uint64_t *word(unsigned i, unsigned w) { return (volatile uint64_t *)(BASE + (uint64_t)i * 4096) + w; }

// A VAS sharing our home with a segment at BASE: PAGES frames mapped
// read-write, page i filled with byte 0x10 + i. We are switched into it.
static const char *set_up(void)
{
    clean();
    if (!make(MF_OBJ_VAS, 14, SN_VAS) || !make(MF_OBJ_SEGMENT, 13, SN_SEG) ||
        mf_segment_configure(SN_SEG, BASE, 2ul << 20) || mf_vas_attach(SN_VAS, 0) ||
        mf_vas_attach_segment(SN_VAS, SN_SEG, MF_RIGHT_READ | MF_RIGHT_WRITE))
        return "could not make the VAS and segment";
    for (unsigned i = 0; i < PAGES; i++)
        if (!make(MF_OBJ_FRAME, 12, SN_FRAME + i) ||
            mf_frame_map(SN_FRAME + i, SN_SEG, BASE + i * 4096ul, MF_RIGHT_READ | MF_RIGHT_WRITE))
            return "could not map the frames";
    if (mf_vas_switch(SN_VAS) < 0)
        return "could not switch into the VAS";
    for (unsigned i = 0; i < PAGES; i++)
        for (unsigned b = 0; b < 4096; b++)
            page(i)[b] = (uint8_t)(0x10 + i);
    return NULL;
}

// Whether the snapshot gives frame i as set_up filled it.
static bool kept(long snap, unsigned i)
{
    static uint8_t buf[4096];
    if (mf_snapshot_read(snap, SN_FRAME + i, 0, buf, sizeof(buf)) != 0)
        return false;
    for (unsigned b = 0; b < sizeof(buf); b++)
        if (buf[b] != 0x10 + i)
            return false;
    return true;
}

static volatile uint64_t got;
static uint8_t receiver_stack[8192] __attribute__((aligned(16)));

static void receiver(uint64_t ep)
{
    struct mf_msg m = {0};
    if (mf_recv((long)ep, &m) >= 0)
        got = m.mr[0];
}

static const char *snapshot_keeps_armed_frames_as_they_were_body(void)
{
    struct mf_snapshot_info info;
    struct mf_kstats k0, k1;
    // A receiver whose IPC buffer is page 3, blocked before anything is armed.
    got = 0;
    UCHECK(make(MF_OBJ_ENDPOINT, 0, SN_EP) && make(MF_OBJ_THREAD, 0, SN_THREAD));
    UCHECK(mf_thread_start_buffer(SN_THREAD, receiver, receiver_stack, sizeof(receiver_stack), SN_EP,
                                  (void *)(BASE + 3 * 4096ul)) == 0);
    // 8 pages: the header, the table, 6 copy pages.
    UCHECK(make(MF_OBJ_SNAPSHOT, 15, SN_SNAP));
    UCHECK(mf_snapshot_add_segment(SN_SNAP, SN_SEG) == -E_INVAL);       // not configured
    UCHECK(mf_snapshot_configure(SN_SNAP, (1ul << 20) + 1) == -E_RANGE);
    UCHECK(mf_snapshot_configure(SN_SNAP, 4096) == -E_NOMEM);          // its table alone is 128 KiB
    UCHECK(mf_snapshot_configure(SN_SNAP, 8) == 0);
    UCHECK(mf_snapshot_configure(SN_SNAP, 8) == -E_BUSY);
    UCHECK(mf_snapshot_read(SN_SNAP, SN_FRAME, 0, (void *)&got, 8) == -E_NOENT);     // not armed yet
    UCHECK(mf_kstats(&k0) == 0);
    UCHECK(mf_snapshot_add_segment(SN_SNAP, SN_SEG) == PAGES);
    UCHECK(mf_snapshot_add_segment(SN_SNAP, SN_SEG) == 0);               // nothing new
    UCHECK(mf_snapshot_add_frame(SN_SNAP, SN_FRAME + 1) == 1);           // armed already
    // The mapping still says read-write: copy-on-write is not a right taken.
    static struct mf_cap_info ci;
    UCHECK(mf_cnode_describe(ROOT, SN_FRAME, &ci) >= 0 && ci.frame.rights == (MF_RIGHT_READ | MF_RIGHT_WRITE));

    // Four writes, one per path, to the four armed pages.
    *word(0, 1) = 0xb0;                                                 // our own store
    UCHECK(mf_system_info((struct mf_system_info *)(BASE + 4096 + 64)) == 0);     // a system call's result
    uint64_t v = 0xf2;
    UCHECK(mf_frame_write(SN_FRAME + 2, 8, &v, 8) == 0);                 // MF_FRAME_WRITE
    uint64_t *buf = mf_ipc_buffer();                                    // a long message's words 4..7
    for (unsigned i = 0; i < 4; i++)
        buf[i] = 0x300 + i;
    struct mf_msg m = {.info = MF_INFO(0, 8), .mr = {0x33}};
    UCHECK(mf_send(SN_EP, &m) == 0);
    for (int i = 0; i < 200 && got != 0x33; i++)
        mf_sleep(1);
    UCHECK(got == 0x33);
    UCHECK(mf_kstats(&k1) == 0);

    // Every write went through...
    struct mf_system_info si;
    memcpy(&si, (const void *)(BASE + 4096 + 64), sizeof(si));
    UCHECK(*word(0, 1) == 0xb0 && si.counter_hz != 0 && *word(2, 1) == 0xf2 && *word(3, 0) == 0x300 &&
           *word(3, 3) == 0x303);
    // ... and the snapshot kept every page as it was.
    for (unsigned i = 0; i < PAGES; i++)
        UCHECK(kept(SN_SNAP, i));
    UCHECK(mf_snapshot_info(SN_SNAP, &info) == 0);
    printf("# armed %lu, copied %lu, lost %lu; copy-on-write faults +%lu\n", (unsigned long)info.armed,
           (unsigned long)info.copied, (unsigned long)info.lost,
           (unsigned long)(k1.count[MF_KSTAT_COW_FAULTS] - k0.count[MF_KSTAT_COW_FAULTS]));
    UCHECK(info.armed == PAGES && info.copied == PAGES && info.copies == PAGES && info.lost == 0);
    // Three of the writes met a copy-on-write mapping (MF_FRAME_WRITE does not map).
    UCHECK(k1.count[MF_KSTAT_COW_FAULTS] - k0.count[MF_KSTAT_COW_FAULTS] >= 3);
    // Partial reads, bounds.
    uint64_t w = 0;
    UCHECK(mf_snapshot_read(SN_SNAP, SN_FRAME, 8, &w, 8) == 0 && w == 0x1010101010101010ull);
    UCHECK(mf_snapshot_read(SN_SNAP, SN_FRAME, 4090, &w, 8) == -E_RANGE);

    // Released, a frame is no longer there; a second write copies nothing.
    UCHECK(mf_snapshot_release(SN_SNAP, SN_FRAME) == 0);
    UCHECK(mf_snapshot_release(SN_SNAP, SN_FRAME) == -E_NOENT);
    UCHECK(mf_snapshot_read(SN_SNAP, SN_FRAME, 0, &w, 8) == -E_NOENT);
    *word(0, 2) = 0xb1;
    UCHECK(mf_snapshot_info(SN_SNAP, &info) == 0 && info.armed == PAGES - 1 && info.copies == PAGES - 1);
    // A frame whose last cap goes leaves the snapshot with its copy.
    UCHECK(mf_cnode_delete(ROOT, SN_FRAME + 3) == 0);
    UCHECK(mf_snapshot_info(SN_SNAP, &info) == 0 && info.armed == PAGES - 2 && info.copies == PAGES - 2);
    // Re-armed after its copy was taken: armed again, nothing new to copy.
    UCHECK(mf_snapshot_add_frame(SN_SNAP, SN_FRAME) == 0);
    UCHECK(mf_snapshot_read(SN_SNAP, SN_FRAME, 8, &w, 8) == 0 && w == 0xb0);
    return NULL;
}

UTEST(snapshot_keeps_armed_frames_as_they_were)
{
    return run(snapshot_keeps_armed_frames_as_they_were_body);
}

static const char *snapshot_out_of_copy_pages_loses_a_frame_not_a_write_body(void)
{
    struct mf_snapshot_info info;
    struct mf_kstats k0, k1;
    // 4 pages: the header, the table, 2 copy pages for 4 armed frames.
    UCHECK(make(MF_OBJ_SNAPSHOT, 14, SN_SNAP) && mf_snapshot_configure(SN_SNAP, PAGES) == 0);
    UCHECK(mf_snapshot_add_segment(SN_SNAP, SN_SEG) == PAGES);
    for (unsigned i = 0; i < PAGES; i++)
        *word(i, 0) = 0xc0 + i;
    for (unsigned i = 0; i < PAGES; i++)
        UCHECK(*word(i, 0) == 0xc0 + i);
    UCHECK(mf_snapshot_info(SN_SNAP, &info) == 0);
    UCHECK(info.copy_pages == 2 && info.copied == 2 && info.lost == PAGES - 2);
    uint64_t w;
    for (unsigned i = 0; i < PAGES; i++)
        UCHECK(i < 2 ? kept(SN_SNAP, i) : mf_snapshot_read(SN_SNAP, SN_FRAME + i, 0, &w, 8) == -E_NOMEM);
    // A cap that is not a frame.
    UCHECK(mf_snapshot_add_frame(SN_SNAP, SN_SEG) < 0);
    // Deleted, the snapshot leaves copy-on-write mappings behind that get
    // their write right back at their next write.
    UCHECK(mf_cnode_delete(ROOT, SN_SNAP) == 0);
    UCHECK(make(MF_OBJ_SNAPSHOT, 14, SN_SNAP) && mf_snapshot_configure(SN_SNAP, PAGES) == 0);
    UCHECK(mf_snapshot_add_segment(SN_SNAP, SN_SEG) == PAGES);
    UCHECK(mf_cnode_delete(ROOT, SN_SNAP) == 0);
    UCHECK(mf_kstats(&k0) == 0);
    for (unsigned i = 0; i < PAGES; i++)
        *word(i, 0) = 0xd0 + i;
    UCHECK(mf_kstats(&k1) == 0);
    for (unsigned i = 0; i < PAGES; i++)
        UCHECK(*word(i, 0) == 0xd0 + i);
    UCHECK(k1.count[MF_KSTAT_COW_FAULTS] - k0.count[MF_KSTAT_COW_FAULTS] >= PAGES);
    return NULL;
}

UTEST(snapshot_out_of_copy_pages_loses_a_frame_not_a_write)
{
    return run(snapshot_out_of_copy_pages_loses_a_frame_not_a_write_body);
}

// Two threads store to one armed page at once: whichever loses the race to
// the copy finds the page writable again and retries; neither dies. Fifty
// rounds of arming the page and releasing it while they run.
static uint8_t writer_stacks[2][8192] __attribute__((aligned(16)));

// Stores 1, 2, 3, ... to its word until told to stop; done when the word
// holds the last one (nothing was lost or undone).
static void writer(uint64_t i)
{
    volatile uint64_t *w = word(0, 8 + (unsigned)i);
    uint64_t n = 0;
    while (!writers_stop)
        *w = ++n;
    if (*w == n)
        __atomic_fetch_add(&writers_done, 1, __ATOMIC_SEQ_CST);
}

static const char *snapshot_two_writers_of_one_page_both_go_on_body(void)
{
    writers_done = writers_stop = 0;
    *word(0, 8) = *word(0, 9) = 0;
    struct mf_kstats k0, k1;
    UCHECK(make(MF_OBJ_SNAPSHOT, 16, SN_SNAP) && mf_snapshot_configure(SN_SNAP, PAGES) == 0);
    UCHECK(mf_kstats(&k0) == 0);
    for (unsigned i = 0; i < 2; i++)
        UCHECK(make(MF_OBJ_THREAD, 0, SN_THREAD + i) &&
               mf_thread_start(SN_THREAD + i, writer, writer_stacks[i], sizeof(writer_stacks[i]), i) == 0);
    // Both writing before the first arming.
    for (int t = 0; t < 500 && (!*word(0, 8) || !*word(0, 9)); t++)
        mf_sleep(1);
    UCHECK(*word(0, 8) && *word(0, 9));
    for (unsigned round = 0; round < 50; round++) {
        UCHECK(mf_snapshot_add_segment(SN_SNAP, SN_SEG) >= 0);
        mf_yield();
        for (unsigned i = 0; i < PAGES; i++)
            mf_snapshot_release(SN_SNAP, SN_FRAME + i);
    }
    writers_stop = 1;
    for (int t = 0; t < 500 && writers_done < 2; t++)
        mf_sleep(1);
    UCHECK(mf_kstats(&k1) == 0);
    printf("# 50 rounds of arming under two writers: copy-on-write faults +%lu\n",
           (unsigned long)(k1.count[MF_KSTAT_COW_FAULTS] - k0.count[MF_KSTAT_COW_FAULTS]));
    UCHECK(writers_done == 2);
    UCHECK(k1.count[MF_KSTAT_COW_FAULTS] > k0.count[MF_KSTAT_COW_FAULTS]);
    return NULL;
}

UTEST(snapshot_two_writers_of_one_page_both_go_on)
{
    return run(snapshot_two_writers_of_one_page_both_go_on_body);
}
