// The DSM repository: a coordinated checkpoint of a whole instance at a
// barrier, and a restart from it (docs/dsm.md "Repository"; the format is
// repository.h).
//
// Checkpoint. Every node's application calls dsm_checkpoint at the same
// point of its program: a barrier (every node's writes released and
// acquired), then it parks. Once all are parked (setup.c's wait_apps), the
// root task waits until every engine is idle — blocked on its doorbell, no
// message in a ring or an outbox, no port busy, no demand deferred, no
// transaction open — twice in a row with no wake-up in between: nothing can
// then change a node's state until an application runs again, so the nodes'
// states together are one consistent state of the protocol. It records each
// node's protocol state and the pool frames its pages use (copies, twins,
// reference copies) by entering the node's VAS, as dsm_check does, writes
// the repository through the target store, and lets the applications go on.
//
// Restart. The repository is read and checked (checksums, then every
// record's indices and free lists: a record with good checksums and a frame
// used twice is refused, not restored), then an instance with the recorded
// configuration boots; each engine takes its record before it is
// reachable (repository_apply): protocol state, frames, and a mapping in
// the shared region for every page the record says is mapped. dsm_check
// must then hold across the nodes.
#include "repository.h"
#include "engine.h"
#include "ckpt.h"
#include "lib/crc32.h"
#include "lib/string.h"

#define REPO_MAX (2ul << 20)            // the staging buffer: the largest repository

static struct {
    bool has_target;
    struct mf_ckpt_store store;
    struct dsm_repository_stats stats;
} repo;

// The repository being written or restored: root task memory, which every
// node's VAS maps too (its home region), so a booting engine reads its
// record here.
static uint8_t staging[REPO_MAX] __attribute__((aligned(4096)));

static uint32_t arch_code(void)
{
    struct mf_system_info si;
    if (mf_system_info(&si) != 0)
        return 0;
    return strcmp(si.arch, "x86_64") == 0 ? DSM_REPO_ARCH_X86_64 : DSM_REPO_ARCH_AARCH64;
}

static uint64_t counter_hz(void)
{
    struct mf_system_info si;
    return mf_system_info(&si) == 0 ? si.counter_hz : 0;
}

void dsm_repository_target(const struct mf_ckpt_store *s)
{
    repo.has_target = s != NULL;
    if (s)
        repo.store = *s;
}

void dsm_repository_stats(struct dsm_repository_stats *out)
{
    *out = repo.stats;
}

// ------------------------------------------------------------- quiescence

static bool idle_state(const struct node *s);

// Whether the node we are in is idle, and its wake-up count. Read as a
// sequence lock: the count before and after every other check must agree,
// so an engine that woke (and drained a ring) while we looked is seen.
static bool node_idle(uint64_t *wakeups)
{
    const struct node *s = NODE;
    *wakeups = __atomic_load_n(&s->wakeups, __ATOMIC_ACQUIRE);
    if (!idle_state(s))
        return false;
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    return __atomic_load_n(&s->wakeups, __ATOMIC_ACQUIRE) == *wakeups;
}

static bool idle_state(const struct node *s)
{
    if (!__atomic_load_n(&s->asleep, __ATOMIC_ACQUIRE) || s->deferred_count || s->tx_open ||
        !ring_empty(s->outbox))
        return false;
    for (unsigned k = 0; k < s->nodes; k++)
        if (!ring_empty(s->inbox[k]))
            return false;
    for (unsigned p = 0; p < PORTS; p++)
        if (s->port[p].active || s->port[p].posted)
            return false;
    for (unsigned p = 0; p < s->pages; p++)
        if (s->page[p].waiting || (s->page[p].manager && (s->dir[p].busy || s->dir[p].queue_head >= 0)))
            return false;
    return true;
}

// Every engine idle in two passes in a row, none woken in between: each
// was asleep with nothing to do over an interval all the intervals share,
// and only a running engine (or an application, all parked) sends or posts
// anything. The confirming pass follows at once; a pass that finds work
// gives the engines a tick. -E_BUSY after `ticks` passes.
static long quiesce(unsigned nodes, long ticks, uint64_t *counts)
{
    uint64_t before[DSM_MAX_NODES], now[DSM_MAX_NODES];
    bool was_idle = false;
    unsigned busy = 0;
    for (long t = 0; t <= ticks; t++) {
        bool idle = true;
        for (unsigned n = 0; n < nodes; n++) {
            if (!dsm_enter(n))
                return -E_INVAL;
            if (!node_idle(&now[n])) {
                idle = false;
                busy = n;
            }
            mf_vas_switch(0);
        }
        if (idle && was_idle && memcmp(before, now, nodes * sizeof(now[0])) == 0) {
            memcpy(counts, now, nodes * sizeof(now[0]));
            return 0;
        }
        if (!idle || was_idle)
            mf_sleep(1);
        was_idle = idle;
        memcpy(before, now, sizeof(before));
    }
    printf("dsm: repository: node %u did not become idle in %ld ticks\n", busy, ticks);
    return -E_BUSY;
}

// ------------------------------------------------------------- recording

static void add_frame(struct dsm_repo_node *r, int f)
{
    if (f >= 0 && r->frames < POOL_MAX)
        r->frame_index[r->frames++] = (uint16_t)f;
}

// Node n's record and frames at `r` (entered by the caller); its size, or
// 0 if they do not fit in `room` bytes or its pool does not add up.
static uint64_t record_node(struct dsm_repo_node *r, uint64_t progress, uint64_t room)
{
    const struct node *s = NODE;
    memset(r, 0, sizeof(*r));
    r->id = s->id;
    r->pool_frames = s->pool_frames;
    r->frames_used = s->frames_used;
    r->clock = s->clock;
    r->barrier_date = s->barrier_date;
    r->barrier_previous = s->barrier_previous;
    r->progress = progress;
    r->stream_next = s->stream_next;
    r->run = s->run;
    r->frame_free = s->frame_free;
    memcpy(r->frame_next, s->frame_next, sizeof(r->frame_next));
    memcpy(r->weak_written, s->weak_written, sizeof(r->weak_written));
    memcpy(r->weak_changed, s->weak_changed, sizeof(r->weak_changed));
    memcpy(r->lock, s->lock, sizeof(r->lock));
    r->barrier = s->barrier;
    for (unsigned p = 0; p < s->pages; p++) {
        r->known[p] = s->known[p];
        r->page[p] = s->page[p];
        r->page[p].hold_until = 0;      // ticks of this boot
        if (s->page[p].manager)
            r->dir[p] = s->dir[p];
        add_frame(r, s->page[p].frame);
        add_frame(r, s->page[p].twin);
    }
    uint64_t bytes = DSM_REPO_RECORD_SPAN + (uint64_t)r->frames * DSM_PAGE;
    if (r->frames != s->frames_used || bytes > room)
        return 0;
    uint8_t *data = (uint8_t *)r + DSM_REPO_RECORD_SPAN;
    for (unsigned i = 0; i < r->frames; i++)
        memcpy(data + (uint64_t)i * DSM_PAGE, pool_page(r->frame_index[i]), DSM_PAGE);
    return bytes;
}

static uint32_t header_crc(struct dsm_repo_header *h)
{
    uint32_t saved = h->header_crc;
    h->header_crc = 0;
    uint32_t crc = crc32_update(0, h, sizeof(*h));
    h->header_crc = saved;
    return crc;
}

// Every node's record into staging once all are quiet; *total: the bytes.
// -E_BUSY: an engine woke while we recorded (a message could have slipped
// between two records), so the records are not one consistent state.
static long record_all(const struct dsm_config *c, const uint64_t *progress, struct dsm_repository_stats *st,
                       uint64_t start, uint64_t *total)
{
    uint64_t counts[DSM_MAX_NODES];
    long r = quiesce(c->nodes, 500, counts);
    if (r)
        return r;
    uint64_t recorded = mf_arch_cycles();
    st->quiesce_cycles = recorded - start;
    st->frames = 0;
    struct dsm_repo_header *h = (struct dsm_repo_header *)staging;
    memset(h, 0, sizeof(*h));
    uint64_t at = sizeof(*h), limit = repo.store.capacity < REPO_MAX ? repo.store.capacity : REPO_MAX;
    for (unsigned n = 0; n < c->nodes; n++) {
        if (!dsm_enter(n))
            return -E_INVAL;
        struct dsm_repo_node *rec = (struct dsm_repo_node *)(staging + at);
        // record_node fills a whole record before it counts the frames:
        // there must be room for that much at least.
        uint64_t bytes = at < limit && limit - at >= DSM_REPO_RECORD_SPAN ? record_node(rec, progress[n], limit - at)
                                                                          : 0;
        h->date = max_u64(h->date, NODE->clock);
        mf_vas_switch(0);
        if (!bytes) {
            printf("dsm: repository: node %u does not fit in %lu bytes, or its pool does not add up\n", n,
                   (unsigned long)limit);
            return -E_NOMEM;
        }
        h->node[n].offset = at;
        h->node[n].frames = rec->frames;
        h->node[n].crc = crc32_update(0, rec, bytes);
        st->frames += rec->frames;
        at += bytes;
    }
    for (unsigned n = 0; n < c->nodes; n++) {
        uint64_t w;
        if (!dsm_enter(n))
            return -E_INVAL;
        bool idle = node_idle(&w);
        mf_vas_switch(0);
        if (!idle || w != counts[n])
            return -E_BUSY;
    }
    st->record_cycles = mf_arch_cycles() - recorded;
    *total = at;
    return 0;
}

long repository_checkpoint(const struct dsm_config *c, const uint64_t *progress)
{
    uint64_t start = mf_arch_cycles();
    struct dsm_repository_stats st = {.nodes = c->nodes};
    if (!repo.has_target)
        return -E_NOENT;
    if (c->transport == DSM_TRANSPORT_LINK || c->pageout.store)
        return -E_NOSYS;       // the link's sequence numbers and queues, paged-out pages are not recorded
    // Recorded again (a few times) if an engine woke meanwhile.
    uint64_t at = 0;
    long r = -E_BUSY;
    for (int attempt = 0; attempt < 4 && r == -E_BUSY; attempt++)
        r = record_all(c, progress, &st, start, &at);
    if (r) {
        if (r == -E_BUSY)
            printf("dsm: repository: the engines did not stay quiet while they were recorded\n");
        return r;
    }
    struct dsm_repo_header *h = (struct dsm_repo_header *)staging;
    uint64_t written = mf_arch_cycles();
    memcpy(h->magic, DSM_REPO_MAGIC, sizeof(h->magic));
    h->version = DSM_REPO_VERSION;
    h->arch = arch_code();
    h->header_bytes = sizeof(*h);
    h->record_bytes = sizeof(struct dsm_repo_node);
    h->nodes = c->nodes;
    h->pages = c->pages;
    h->model = c->model;
    h->xfetch = c->xfetch;
    h->transport = c->transport;
    h->pool_frames = ((struct dsm_repo_node *)(staging + h->node[0].offset))->pool_frames;
    h->total_bytes = at;
    h->frozen_cycles = written - start;   // until the write, below; the store may take long
    h->counter_hz = counter_hz();
    h->header_crc = header_crc(h);
    // The header last: a store whose header is not yet valid holds no repository.
    r = repo.store.write(repo.store.ctx, sizeof(*h), staging + sizeof(*h), at - sizeof(*h));
    if (!r)
        r = repo.store.write(repo.store.ctx, 0, h, sizeof(*h));
    uint64_t date = h->date;
    memset(staging, 0, at);     // the nodes' pages do not linger in our memory (every node's VAS maps it)
    if (r)
        return r;
    uint64_t end = mf_arch_cycles();
    st.write_cycles = end - written;
    st.frozen_cycles = end - start;
    st.bytes = at;
    st.date = date;
    repo.stats = st;
    return 0;
}

// --------------------------------------------------------------- checking

#define REFUSE(error, ...) do { printf("dsm: repository refused: " __VA_ARGS__); printf("\n"); \
                                return error; } while (0)

static long check_header(struct dsm_repo_header *h, uint64_t capacity)
{
    if (memcmp(h->magic, DSM_REPO_MAGIC, sizeof(h->magic)) != 0 || h->version != DSM_REPO_VERSION)
        REFUSE(-E_NOEXEC, "not a DSM repository (magic or version)");
    if (h->arch != arch_code() || h->header_bytes != sizeof(*h) || h->record_bytes != sizeof(struct dsm_repo_node))
        REFUSE(-E_NOEXEC, "written by another architecture or layout (arch %u, record %u bytes)", h->arch,
               h->record_bytes);
    if (h->header_crc != header_crc(h))
        REFUSE(-E_INVAL, "header checksum");
    if (h->nodes < 1 || h->nodes > DSM_MAX_NODES || h->pages < 1 || h->pages > DSM_MAX_PAGES ||
        h->model >= DSM_MODEL_COUNT || h->xfetch > DSM_XFETCH_MAX || h->transport >= DSM_TRANSPORT_LINK ||
        h->pool_frames < 1 || h->pool_frames > POOL_MAX)
        REFUSE(-E_INVAL, "configuration (%u nodes, %u pages, transport %u, %u frames)", h->nodes, h->pages,
               h->transport, h->pool_frames);
    if (h->total_bytes > REPO_MAX || h->total_bytes > capacity)
        REFUSE(-E_NOMEM, "%lu bytes", (unsigned long)h->total_bytes);
    // Node records in order, each after the one before, within the total.
    uint64_t at = sizeof(*h);
    for (unsigned n = 0; n < h->nodes; n++) {
        if (h->node[n].offset != at || h->node[n].frames > h->pool_frames)
            REFUSE(-E_INVAL, "node %u's record is not where it should be", n);
        at += DSM_REPO_RECORD_SPAN + (uint64_t)h->node[n].frames * DSM_PAGE;
    }
    if (at != h->total_bytes)
        REFUSE(-E_INVAL, "the records do not add up to %lu bytes", (unsigned long)h->total_bytes);
    return 0;
}

static bool frame_ok(int f, unsigned pool) { return f >= -1 && f < (int)pool; }

// One node's record: every index in range, every frame the pages use saved
// once and used once, the free list exactly the frames left, no
// transaction, request or barrier arrival in progress.
static long check_record(const struct dsm_repo_header *h, unsigned n, const struct dsm_repo_node *r)
{
    static uint8_t used[POOL_MAX];
    unsigned pool = h->pool_frames;
    if (r->id != n || r->pool_frames != pool || r->frames != h->node[n].frames || r->frames != r->frames_used)
        REFUSE(-E_INVAL, "node %u: identity or frame counts", n);
    memset(used, 0, sizeof(used));
    for (unsigned i = 0; i < r->frames; i++) {
        if (r->frame_index[i] >= pool || used[r->frame_index[i]])
            REFUSE(-E_INVAL, "node %u: saved frame %u out of range or twice", n, r->frame_index[i]);
        used[r->frame_index[i]] = 1;
    }
    unsigned referenced = 0;
    for (unsigned p = 0; p < DSM_MAX_PAGES; p++) {
        const struct page *pg = &r->page[p];
        if (p >= h->pages) {
            if (pg->frame != 0 || pg->twin != 0 || pg->access || pg->manager || r->known[p])
                REFUSE(-E_INVAL, "node %u: page %u beyond the region", n, p);
            continue;
        }
        if (pg->access > pg->allowed || pg->allowed > ACC_WRITE || pg->model >= DSM_MODEL_COUNT ||
            pg->manager > 1 || pg->hint >= h->nodes || pg->waiting || pg->orphan || pg->evicted ||
            !frame_ok(pg->frame, pool) || !frame_ok(pg->twin, pool) || (pg->access && pg->frame < 0) ||
            (pg->manager && pg->frame < 0) || (pg->twin >= 0 && pg->frame < 0))
            REFUSE(-E_INVAL, "node %u: page %u's state", n, p);
        for (int f = pg->frame, k = 0; k < 2; f = pg->twin, k++) {
            if (f < 0)
                continue;
            if (used[f] != 1)
                REFUSE(-E_INVAL, "node %u: page %u's frame %d not saved, or shared", n, p, f);
            used[f] = 2;
            referenced++;
        }
        const struct directory *d = &r->dir[p];
        if (!pg->manager)
            continue;
        if (d->busy || d->acks || d->granted || d->owed || d->queue_head != -1 || d->queue_tail != -1)
            REFUSE(-E_INVAL, "node %u: page %u's directory has a transaction open", n, p);
        for (unsigned k = 0; k < DSM_MAX_NODES; k++)
            if (d->access[k] > ACC_WRITE || d->model[k] >= DSM_MODEL_COUNT || (k >= h->nodes && d->access[k]))
                REFUSE(-E_INVAL, "node %u: page %u's directory entry for node %u", n, p, k);
    }
    if (referenced != r->frames)
        REFUSE(-E_INVAL, "node %u: %u frames saved, %u used", n, r->frames, referenced);
    // The free list: every other frame of the pool, once, then the end.
    unsigned free_count = 0;
    for (int f = r->frame_free; f != -1; f = r->frame_next[f]) {
        if (f < 0 || f >= (int)pool || used[f] || ++free_count > pool)
            REFUSE(-E_INVAL, "node %u: the pool's free list", n);
        used[f] = 3;
    }
    if (free_count + r->frames != pool)
        REFUSE(-E_INVAL, "node %u: the pool's free list has %u frames, %u are free", n, free_count,
               pool - r->frames);
    for (unsigned l = 0; l < DSM_MAX_LOCKS; l++) {
        const struct lock_state *ls = &r->lock[l];
        if (ls->queue_length > sizeof(ls->queue) || (ls->held && ls->holder >= h->nodes * PORTS))
            REFUSE(-E_INVAL, "node %u: lock %u", n, l);
        for (unsigned i = 0; i < ls->queue_length; i++)
            if (ls->queue[i] >= h->nodes * PORTS)
                REFUSE(-E_INVAL, "node %u: lock %u's queue", n, l);
    }
    if (r->barrier.arrived)
        REFUSE(-E_INVAL, "node %u: a barrier in progress", n);
    return 0;
}

long dsm_restart(const struct mf_ckpt_store *s, struct dsm_config *out, struct dsm_repository_stats *stats)
{
    uint64_t start = mf_arch_cycles();
    struct dsm_repository_stats st = {0};
    dsm_stop();
    // Nothing of an earlier checkpoint stays in the buffer: what is
    // restored is what the store gives back.
    memset(staging, 0, sizeof(staging));
    struct dsm_repo_header *h = (struct dsm_repo_header *)staging;
    if (s->capacity < sizeof(*h))
        return -E_NOMEM;
    long r = s->read(s->ctx, 0, h, sizeof(*h));
    if (!r)
        r = check_header(h, s->capacity);
    if (!r)
        r = s->read(s->ctx, sizeof(*h), staging + sizeof(*h), h->total_bytes - sizeof(*h));
    if (r)
        return r;
    const struct dsm_repo_node *records[DSM_MAX_NODES];
    uint64_t progress[DSM_MAX_NODES] = {0};
    for (unsigned n = 0; n < h->nodes; n++) {
        const struct dsm_repo_node *rec = (const struct dsm_repo_node *)(staging + h->node[n].offset);
        uint64_t bytes = DSM_REPO_RECORD_SPAN + (uint64_t)h->node[n].frames * DSM_PAGE;
        if (crc32_update(0, rec, bytes) != h->node[n].crc)
            REFUSE(-E_INVAL, "node %u's checksum", n);
        if ((r = check_record(h, n, rec)) != 0)
            return r;
        records[n] = rec;
        progress[n] = rec->progress;
        st.frames += rec->frames;
    }
    struct dsm_config c = {.nodes = h->nodes, .pages = h->pages, .model = h->model, .xfetch = h->xfetch,
                           .transport = h->transport, .pool_frames = h->pool_frames};
    uint64_t booting = mf_arch_cycles();
    st.read_cycles = booting - start;
    if (!dsm_start_restored(&c, records, progress)) {
        dsm_stop();
        REFUSE(-E_INVAL, "the nodes could not take their records");
    }
    uint64_t checking = mf_arch_cycles();
    st.start_cycles = checking - booting;
    const char *bad = dsm_check();
    if (bad) {
        dsm_stop();
        REFUSE(-E_INVAL, "the restored instance: %s", bad);
    }
    st.check_cycles = mf_arch_cycles() - checking;
    st.bytes = h->total_bytes;
    st.nodes = h->nodes;
    st.date = h->date;
    if (out)
        *out = c;
    if (stats)
        *stats = st;
    return 0;
}

// ------------------------------------------------------------ engine side

// In the node's VAS, on its engine, while it boots: the fresh node (its
// pool mapped, nothing in the shared region mapped yet, no peer connected)
// becomes the recorded one. The root task checked the record.
bool repository_apply(const struct dsm_repo_node *r)
{
    struct node *self = NODE;
    if (r->id != self->id || r->pool_frames != self->pool_frames)
        return false;
    self->clock = r->clock;
    self->barrier_date = r->barrier_date;
    self->barrier_previous = r->barrier_previous;
    self->stream_next = r->stream_next;
    self->run = r->run;
    self->frame_free = r->frame_free;
    self->frames_used = r->frames_used;
    memcpy(self->frame_next, r->frame_next, sizeof(self->frame_next));
    memcpy(self->weak_written, r->weak_written, sizeof(self->weak_written));
    memcpy(self->weak_changed, r->weak_changed, sizeof(self->weak_changed));
    memcpy(self->lock, r->lock, sizeof(self->lock));
    self->barrier = r->barrier;
    const uint8_t *data = (const uint8_t *)r + DSM_REPO_RECORD_SPAN;
    for (unsigned i = 0; i < r->frames; i++)
        memcpy(pool_page(r->frame_index[i]), data + (uint64_t)i * DSM_PAGE, DSM_PAGE);
    bool ok = true;
    for (unsigned p = 0; p < self->pages; p++) {
        struct page *pg = &self->page[p];
        self->known[p] = r->known[p];
        *pg = r->page[p];
        pg->access = ACC_NONE;          // nothing is mapped yet
        pg->hold_until = 0;
        memset(&self->dir[p], 0, sizeof(self->dir[p]));
        self->dir[p].queue_head = self->dir[p].queue_tail = -1;
        if (pg->manager)
            self->dir[p] = r->dir[p];
        if (r->page[p].access)
            ok = map_app(p, r->page[p].access) && ok;
    }
    return ok;
}
