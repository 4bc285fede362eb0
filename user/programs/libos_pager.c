// A library OS's own page replacement, under visible revocation
// (docs/exokernel.md, "A paging policy under revocation"). Its memory is
// ten pages of a segment it pages itself, backed by a store of its own;
// the frames that hold them are lent by a resource manager through a
// Reclaim object. It evicts by its policy when it runs out of frames, and
// when the manager asks frames back it empties them, saving what they
// hold, and gives them back before the deadline.
//
// arg = policy (0 FIFO: evict the page loaded first; 1 MRU: the page
// loaded last) | rounds << 8. The manager puts in our CSpace: the Reclaim
// page (read-only) at LP_PAGE, its notification at LP_NTFN, the lent
// frames where the page's entries say. A worker thread sweeps the ten
// pages `rounds` times, checking each holds what it wrote the round
// before; after the first half it waits until a revocation has been
// answered, then sweeps on with what is left. Exit code: the page faults
// served (all data right), or -1 (a page lost its contents), -2 (set-up).
#include "manifold.h"
#include "lib/spinlock.h"
#include "lib/string.h"

#define LP_PAGE 40
#define LP_NTFN 41
#define PAGES 10
#define BASE (16ul << 30)
#define EP 42
#define BADGED 43
#define SEG 44
#define VAS 45
#define T_PAGER 46
#define T_WORKER 47

enum { FIFO, MRU };
static unsigned policy, rounds;
static uint8_t store[PAGES][4096];
static struct mcs_lock lock;            // the resident table (pager thread and main thread)
static struct {
    long frame;                         // cptr, 0 once given back
    int page;                           // mapped page, or -1
    uint64_t loaded;                    // when (a counter)
} res[MF_RECLAIM_ENTRIES];
static unsigned nres;
static uint64_t clock_now, faults, evictions, released;
static volatile int bad;
static volatile bool revoked;
static uint8_t stacks[2][8192] __attribute__((aligned(16)));

static struct mf_reclaim_page page;

static void read_page(void)
{
    uint64_t seq;
    do {
        mf_frame_read(LP_PAGE, 0, &page, sizeof(page));
        mf_frame_read(LP_PAGE, 0, &seq, sizeof(seq));
    } while ((page.sequence & 1) || seq != page.sequence);
}

// Empties res[i]: unmapped first (a write after the copy would be lost),
// then its contents saved to the store.
static void evict(unsigned i)
{
    mf_frame_unmap(res[i].frame);
    mf_frame_read(res[i].frame, 0, store[res[i].page], 4096);
    res[i].page = -1;
    evictions++;
}

// A frame for a new page: a free one, else the policy's victim.
static int frame_for_new_page(void)
{
    int victim = -1;
    for (unsigned i = 0; i < nres; i++) {
        if (!res[i].frame)
            continue;
        if (res[i].page < 0)
            return (int)i;
        if (victim < 0 || (policy == FIFO ? res[i].loaded < res[victim].loaded : res[i].loaded > res[victim].loaded))
            victim = (int)i;
    }
    if (victim >= 0)
        evict((unsigned)victim);
    return victim;
}

static bool serve(const struct mf_msg *m)
{
    if (MF_INFO_LABEL(m->info) != MF_FAULT_LABEL || m->mr[0] < BASE || m->mr[0] >= BASE + PAGES * 4096)
        return false;
    unsigned p = (unsigned)((m->mr[0] - BASE) / 4096);
    struct mcs_qnode q;
    mcs_lock(&lock, &q);
    int i = frame_for_new_page();
    bool ok = i >= 0 && mf_frame_write(res[i].frame, 0, store[p], 4096) == 0 &&
              mf_frame_map(res[i].frame, SEG, BASE + p * 4096ul, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0;
    if (ok) {
        res[i].page = (int)p;
        res[i].loaded = ++clock_now;
        faults++;
    }
    mcs_unlock(&lock, &q);
    return ok;
}

static void pager(uint64_t unused)
{
    struct mf_msg m = {0};
    mf_recv(EP, &m);
    for (;;) {
        bool ok = serve(&m);
        m.info = MF_INFO(ok ? 0 : MF_FAULT_KILL, 0);
        mf_reply_recv(EP, &m);
    }
}

static void sweep(unsigned from, unsigned to)
{
    for (unsigned r = from; r < to; r++)
        for (unsigned p = 0; p < PAGES; p++) {
            volatile uint64_t *w = (volatile uint64_t *)(BASE + p * 4096ul);
            if (*w != (r ? (uint64_t)(r - 1) * 100 + p : 0))
                bad = 1;
            *w = (uint64_t)r * 100 + p;
        }
}

static void worker(uint64_t exit_ntfn)
{
    mf_vas_switch(VAS);
    sweep(0, rounds / 2);
    while (!revoked)
        mf_yield();
    sweep(rounds / 2, rounds);
}

// Answers one request: every requested entry emptied and given back.
static void answer_revocation(void)
{
    while (!revoked) {
        mf_notification_wait(LP_NTFN);
        read_page();
        struct mcs_qnode q;
        mcs_lock(&lock, &q);
        for (unsigned i = 0; i < nres; i++) {
            if (!res[i].frame || !(page.entry[i].flags & MF_RECLAIM_REQUESTED))
                continue;
            if (res[i].page >= 0)
                evict(i);
            mf_cnode_delete(MF_CAP_SELF_CNODE, res[i].frame);
            res[i].frame = 0;
            released++;
            revoked = true;
        }
        mcs_unlock(&lock, &q);
    }
}

int main(uint64_t arg)
{
    policy = arg & 0xff;
    rounds = (unsigned)(arg >> 8 & 0xffff);
    if (policy > MRU || rounds < 2)
        return -2;
    read_page();
    for (unsigned i = 0; i < MF_RECLAIM_ENTRIES; i++)
        if (page.entry[i].flags & MF_RECLAIM_GRANTED) {
            res[i] = (typeof(res[i])){.frame = (long)page.entry[i].cptr, .page = -1};
            nres = i + 1;
        }
    // Our paged memory: a segment in a VAS with our home, served by our pager.
    if (mf_untyped_retype(MF_CAP_UNTYPED_BASE, MF_OBJ_ENDPOINT, 0, 1, MF_CAP_SELF_CNODE, EP) ||
        mf_untyped_retype(MF_CAP_UNTYPED_BASE, MF_OBJ_SEGMENT, 13, 1, MF_CAP_SELF_CNODE, SEG) ||
        mf_untyped_retype(MF_CAP_UNTYPED_BASE, MF_OBJ_VAS, 14, 1, MF_CAP_SELF_CNODE, VAS) ||
        mf_untyped_retype(MF_CAP_UNTYPED_BASE, MF_OBJ_THREAD, 0, 2, MF_CAP_SELF_CNODE, T_PAGER) ||
        mf_segment_configure(SEG, BASE, 2ul << 20) || mf_vas_attach(VAS, 0) ||
        mf_vas_attach_segment(VAS, SEG, MF_RIGHT_READ | MF_RIGHT_WRITE) ||
        mf_cnode_mint(MF_CAP_SELF_CNODE, EP, BADGED, MF_RIGHT_WRITE, SEG) || mf_segment_set_pager(SEG, BADGED) ||
        mf_thread_start(T_PAGER, pager, stacks[0], sizeof(stacks[0]), 0) ||
        mf_thread_start(T_WORKER, worker, stacks[1], sizeof(stacks[1]), 0))
        return -2;
    printf("libos_pager: %s policy, %u frames lent, %u rounds over %u pages\n", policy == FIFO ? "FIFO" : "MRU", nres,
           rounds, PAGES);
    answer_revocation();
    struct mf_exit_status st;
    while (mf_thread_exit_status(T_WORKER, &st) == -E_BUSY)
        mf_sleep(1);
    mf_cnode_delete(MF_CAP_SELF_CNODE, T_PAGER);       // it waits for faults forever: end it
    printf("libos_pager: %s: %lu faults, %lu evictions, %lu frames given back, data %s\n",
           policy == FIFO ? "FIFO" : "MRU", (unsigned long)faults, (unsigned long)evictions, (unsigned long)released,
           bad ? "LOST" : "intact");
    return bad ? -1 : (int)faults;
}
