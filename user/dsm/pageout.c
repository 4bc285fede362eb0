// Distant page-out (docs/dsm.md "Page-out"): a node whose pool of frames
// is full evicts a page to make room, and takes it back when it is needed.
//
// Engine side. frame_take is the engine's allocator: with a page-out area
// and no free frame, it chooses a victim (victim(), the policy below) and
// evicts it. A read copy that is not ours to keep is dropped: its frame
// goes back to the pool and nothing is written, since its manager has the
// page; the directory still lists us, so a later access simply asks the
// manager again (and a demand for it is answered as for any copy). Any
// other page in the pool, a reference copy we manage or a writer's copy
// with its twin, goes to the page-out area first: the node's slot for the
// page, copy then twin, with a CRC-32 of each kept in node memory. Its
// protocol state does not change: it is still held, as it was; only its
// frames are elsewhere. Every place that uses a page's frames calls
// page_ready first, which reads the page back (checking its CRCs) and pins
// it for the rest of the engine's current message or operation, so that
// making room for one page never evicts another still in use.
//
// The disk is the root task's: its disk thread (root side, below) moves a
// node's pages through the instance's page-out store (user/lib/ckpt.h: in
// memory, or through blkd on a disk). The engine calls it and waits for the
// reply: a page-out or a page-in is synchronous, and messages for the node
// wait in its inbox rings meanwhile.
#include "engine.h"
#include "ckpt.h"
#include "lib/crc32.h"
#include "lib/string.h"
#include "user/root/root.h"

// --------------------------------------------------------------- engine side

void node_fail(long error)
{
    struct node *self = NODE;
    if (self->status && !self->status->error)
        self->status->error = (int32_t)error;
}

void pageout_event(void)
{
    NODE->pageout.event++;
}

void pageout_used(unsigned p)
{
    struct pageout_state *po = &NODE->pageout;
    po->last_use[p] = ++po->clock;
}

void pageout_init_page(unsigned p)
{
    NODE->page[p].evicted = EVICT_ZERO;
}

void pageout_changed(unsigned p)
{
    NODE->pageout.clean[p] = 0;
}

// Our slot for page p in the page-out area (its copy; the twin follows).
static uint64_t slot_offset(unsigned p)
{
    const struct node *self = NODE;
    return ((uint64_t)self->id * self->pages + p) * 2 * DSM_PAGE;
}

// Moves `bytes` between the mailbox and our slot for page p through the
// root task's disk thread (a call: the thread comes to our CPU and the
// reply back) and waits for it; adds the time to *cycles. 0 or the
// store's -E_*.
static long disk(unsigned p, bool write, uint64_t bytes, uint64_t *cycles)
{
    struct pageout_mailbox *mb = NODE->pageout.mailbox;
    uint64_t start = mf_arch_cycles();
    mb->write = write;
    mb->offset = slot_offset(p);
    mb->bytes = bytes;
    struct mf_msg m = {.info = MF_INFO(0, 0)};
    long r = mf_call(CAP_PAGEOUT_EP, &m);
    *cycles += mf_arch_cycles() - start;
    return r < 0 ? r : (long)m.mr[0];
}

// A read copy we neither manage nor write: dropped, not written.
static bool droppable(const struct page *pg)
{
    return !pg->manager && pg->twin < 0 && pg->allowed != ACC_WRITE;
}

// Whether page p may leave the pool at all now: it is in it, no frame of
// it is in use in this event, and (a read copy) no request of ours for it
// is in flight (an upgrade may be granted without the data, as we have
// it) and its manager can give it back (not dead).
static bool evictable(unsigned p)
{
    const struct node *self = NODE;
    const struct page *pg = &self->page[p];
    if (pg->frame < 0 || self->pageout.pin[p] == self->pageout.event)
        return false;
    if (droppable(pg) && (pg->waiting || pg->orphan || node_dead(pg->hint)))
        return false;
    return true;
}

// What evicting page p costs: nothing written (a read copy to drop, a
// page the area still holds as it is), or a write.
enum cost { DROP, CLEAN, WRITE, COSTS };

static enum cost cost_of(unsigned p)
{
    return droppable(&NODE->page[p]) ? DROP : NODE->pageout.clean[p] ? CLEAN : WRITE;
}

// The policy: among the pages that may leave, the cheapest to evict first
// (a read copy to drop, then a page whose copy on disk is still good, then
// one to write), and among equals the least recently used (faulted on,
// fetched or read back: the engine sees no access between faults); the
// pages of the last PAGEOUT_RECENT uses only when nothing else can go (the
// faulting thread needs them to get on). -1: none.
static int victim(void)
{
    const struct node *self = NODE;
    const struct pageout_state *po = &self->pageout;
    int best[2][COSTS];                             // [recent][cost]
    for (unsigned i = 0; i < 2 * COSTS; i++)
        best[i / COSTS][i % COSTS] = -1;
    for (unsigned p = 0; p < self->pages; p++) {
        if (!evictable(p))
            continue;
        bool recent = po->clock - po->last_use[p] < PAGEOUT_RECENT;
        int *b = &best[recent][cost_of(p)];
        if (*b < 0 || (int32_t)(po->last_use[p] - po->last_use[*b]) < 0)
            *b = (int)p;
    }
    for (unsigned i = 0; i < 2 * COSTS; i++)
        if (best[i / COSTS][i % COSTS] >= 0)
            return best[i / COSTS][i % COSTS];
    return -1;
}

// Writes page p's copy (and twin: `blocks` 2) to our slot, keeping their
// CRCs; false if the store refused (the node fails).
static bool write_out(unsigned p, unsigned blocks)
{
    struct node *self = NODE;
    struct pageout_state *po = &self->pageout;
    struct page *pg = &self->page[p];
    struct pageout_mailbox *mb = po->mailbox;
    memcpy(mb->data, pool_page(pg->frame), DSM_PAGE);
    po->crc[p][0] = crc32_update(0, mb->data, DSM_PAGE);
    if (pg->twin >= 0) {
        memcpy(mb->data + DSM_PAGE, pool_page(pg->twin), DSM_PAGE);
        po->crc[p][1] = crc32_update(0, mb->data + DSM_PAGE, DSM_PAGE);
    }
    long r = disk(p, true, blocks * DSM_PAGE, &self->stats.pageout_cycles);
    memset(mb->data, 0, sizeof(mb->data));
    if (r) {
        printf("dsm: node %u: page %u: page-out failed: %s\n", self->id, p, mf_strerror(r));
        node_fail(r);
        return false;
    }
    return true;
}

// Takes page p out of the pool (unmapped first: the application faults on
// it from now on). False if the disk refused (the page stays).
static bool evict(unsigned p)
{
    struct node *self = NODE;
    struct pageout_state *po = &self->pageout;
    struct page *pg = &self->page[p];
    if (!map_app(p, ACC_NONE))
        return false;
    if (droppable(pg)) {
        frame_free(pg->frame);
        pg->frame = -1;
        pg->evicted = EVICT_DROPPED;
        self->stats.evictions++;
        self->stats.drops++;
        return true;
    }
    unsigned blocks = pg->twin >= 0 ? 2 : 1;
    if (po->clean[p]) {
        // Read back from the area and unchanged since: it is still there.
        self->stats.clean_outs++;
    } else if (!write_out(p, blocks)) {
        return false;
    } else {
        self->stats.page_outs++;
        self->stats.disk_writes += blocks;
    }
    frame_free(pg->frame);
    pg->frame = -1;
    if (pg->twin >= 0)
        frame_free(pg->twin);
    pg->twin = -1;
    pg->evicted = (uint8_t)(EVICT_DISK | (blocks == 2 ? EVICT_TWIN : 0));
    po->clean[p] = 0;
    self->stats.evictions++;
    return true;
}

int frame_take(void)
{
    struct node *self = NODE;
    if (self->frame_free < 0 && self->pageout.mailbox) {
        int v = victim();
        if (v < 0)
            printf("dsm: node %u: the pool is full (%u frames) and every page in it is in use\n", self->id,
                   self->pool_frames);
        else
            evict((unsigned)v);
    }
    int f = frame_alloc();
    if (f < 0)
        node_fail(-E_NOMEM);
    return f;
}

bool page_ready(unsigned p)
{
    struct node *self = NODE;
    struct pageout_state *po = &self->pageout;
    struct page *pg = &self->page[p];
    po->pin[p] = po->event;
    if (!(pg->evicted & (EVICT_DISK | EVICT_ZERO)))
        return true;        // in the pool, or nothing of it here to read back
    bool twin = pg->evicted & EVICT_TWIN;
    int f = frame_take(), t = f >= 0 && twin ? frame_take() : -1;
    if (f < 0 || (twin && t < 0)) {
        if (f >= 0)
            frame_free(f);
        return false;
    }
    if (pg->evicted & EVICT_ZERO) {
        memset(pool_page(f), 0, DSM_PAGE);
        self->stats.zero_fills++;
        po->clean[p] = 0;
    } else {
        struct pageout_mailbox *mb = po->mailbox;
        long r = disk(p, false, (twin ? 2 : 1) * DSM_PAGE, &self->stats.pagein_cycles);
        if (!r && (crc32_update(0, mb->data, DSM_PAGE) != po->crc[p][0] ||
                   (twin && crc32_update(0, mb->data + DSM_PAGE, DSM_PAGE) != po->crc[p][1])))
            r = -E_INVAL;
        if (!r) {
            memcpy(pool_page(f), mb->data, DSM_PAGE);
            if (twin)
                memcpy(pool_page(t), mb->data + DSM_PAGE, DSM_PAGE);
        }
        memset(mb->data, 0, sizeof(mb->data));
        if (r) {
            printf("dsm: node %u: page %u: page-in failed: %s\n", self->id, p,
                   r == -E_INVAL ? "its checksum differs" : mf_strerror(r));
            frame_free(f);
            if (t >= 0)
                frame_free(t);
            node_fail(r);
            return false;
        }
        self->stats.page_ins++;
        po->clean[p] = 1;       // until it changes (pageout_changed)
    }
    pg->frame = (int16_t)f;
    pg->twin = (int16_t)t;
    pg->evicted = 0;
    pageout_used(p);
    return true;
}

void page_done(unsigned p)
{
    struct pageout_state *po = &NODE->pageout;
    if (po->pin[p] == po->event)
        po->pin[p] = po->event - 1;
}

// ----------------------------------------------------------------- root side
// One disk thread per instance, in the root task (its VAS, its CSpace,
// where the store's capabilities are), the only user of the store: it
// answers the engines' calls on its endpoint, node n's badged n + 1, one at
// a time (the others wait in the endpoint's queue). It is not fixed to a
// CPU: a call wakes it on the caller's, whose engine then waits, so a page
// moves without waiting for another CPU (what waits is the store: blkd).

static struct pageout_mailbox mailboxes[DSM_MAX_NODES];
static struct {
    bool running;
    struct mf_ckpt_store store;
    uint64_t offset;
    volatile uint32_t busy;             // inside the store
} disk_thread_state;
static uint8_t disk_stack[16384] __attribute__((aligned(16)));

static long serve(struct pageout_mailbox *mb)
{
    struct mf_ckpt_store *s = &disk_thread_state.store;
    __atomic_store_n(&disk_thread_state.busy, 1, __ATOMIC_RELEASE);
    uint64_t at = disk_thread_state.offset + mb->offset, start = mf_arch_cycles();
    long r = mb->bytes > sizeof(mb->data) ? -E_INVAL
             : mb->write                  ? s->write(s->ctx, at, mb->data, mb->bytes)
                                          : s->read(s->ctx, at, mb->data, mb->bytes);
    mb->store_cycles += mf_arch_cycles() - start;
    __atomic_store_n(&disk_thread_state.busy, 0, __ATOMIC_RELEASE);
    return r;
}

static void disk_thread(uint64_t unused)
{
    (void)unused;
    struct mf_msg m = {0};
    long badge = mf_recv(DSM_SLOT_PAGEOUT_EP, &m);
    for (;;) {
        if (badge < 0) {            // (not while an instance runs)
            mf_sleep(1);
            badge = mf_recv(DSM_SLOT_PAGEOUT_EP, &m);
            continue;
        }
        long r = badge >= 1 && badge <= DSM_MAX_NODES ? serve(&mailboxes[badge - 1]) : -E_INVAL;
        m = (struct mf_msg){.info = MF_INFO(0, 1), .mr = {(uint64_t)r}};
        badge = mf_reply_recv(DSM_SLOT_PAGEOUT_EP, &m);
    }
}

struct pageout_mailbox *pageout_mailbox(unsigned n)
{
    return disk_thread_state.running && n < DSM_MAX_NODES ? &mailboxes[n] : NULL;
}

uint64_t pageout_store_cycles(unsigned n)
{
    return n < DSM_MAX_NODES ? mailboxes[n].store_cycles : 0;
}

bool pageout_fits(const struct dsm_config *c)
{
    const struct mf_ckpt_store *s = c->pageout.store;
    uint64_t need = (uint64_t)c->nodes * c->pages * 2 * DSM_PAGE;
    return s && s->read && s->write && c->pageout.offset % DSM_PAGE == 0 && c->pageout.offset <= s->capacity &&
           need <= s->capacity - c->pageout.offset;
}

bool pageout_start(const struct dsm_config *c)
{
    disk_thread_state.running = false;
    memset(mailboxes, 0, sizeof(mailboxes));
    if (!c->pageout.store)
        return true;
    disk_thread_state.store = *c->pageout.store;
    disk_thread_state.offset = c->pageout.offset;
    disk_thread_state.busy = 0;
    // The engines' priority: the thread runs in their place while they wait.
    if (mf_untyped_retype(DSM_UT_OBJECTS, MF_OBJ_ENDPOINT, 0, 1, MF_CAP_SELF_CNODE, DSM_SLOT_PAGEOUT_EP) ||
        mf_untyped_retype(DSM_UT_OBJECTS, MF_OBJ_THREAD, 0, 1, MF_CAP_SELF_CNODE, DSM_SLOT_PAGEOUT_THREAD) ||
        mf_thread_set_priority(DSM_SLOT_PAGEOUT_THREAD, 10) ||
        mf_thread_start(DSM_SLOT_PAGEOUT_THREAD, disk_thread, disk_stack, sizeof(disk_stack), 0))
        return false;
    disk_thread_state.running = true;
    return true;
}

void pageout_stop(void)
{
    if (!disk_thread_state.running)
        return;
    // Out of the store first (a node that failed may leave others mid-request).
    for (int t = 0; t < 200 && __atomic_load_n(&disk_thread_state.busy, __ATOMIC_ACQUIRE); t++)
        mf_sleep(1);
    mf_thread_suspend(DSM_SLOT_PAGEOUT_THREAD);
    for (unsigned n = 0; n < DSM_MAX_NODES; n++)
        memset(mailboxes[n].data, 0, sizeof(mailboxes[n].data));
    disk_thread_state.running = false;
}

bool pageout_read(unsigned n, unsigned pages, unsigned p, unsigned which, void *out)
{
    if (!disk_thread_state.running)
        return false;
    struct mf_ckpt_store *s = &disk_thread_state.store;
    uint64_t at = disk_thread_state.offset + (((uint64_t)n * pages + p) * 2 + which) * DSM_PAGE;
    return s->read(s->ctx, at, out, DSM_PAGE) == 0;
}
