// The root task's side of a DSM instance: it builds the nodes, wires them
// together, runs application threads in them and takes it all back.
//
// Per node the root task makes, from DSM_UT_OBJECTS, a CNode (the node's
// CSpace), a VAS with the root task's home attached, three segments (the
// shared region's copies at DSM_BASE, node memory at NODE_BASE, the
// binding's A-stacks), a binding, a doorbell notification, the fault
// endpoint (the segment's pager), the engine thread and an application
// thread; and a 2 MiB untyped from DSM_UT_MEMORY inside the node's CNode,
// from which the node makes everything else itself (its frames, its fault
// thread). A node's threads run in its VAS with its CSpace: they hold no
// capability to another node's memory.
#include "engine.h"
#include "transport.h"
#include "link.h"
#include "user/root/root.h"

#define ROOT MF_CAP_SELF_CNODE
#define SLOT(n, k) (DSM_SLOTS_NODE + 16 * (long)(n) + (k))
enum { R_CNODE, R_VAS, R_SEGMENT, R_MEMORY, R_ASTACKS, R_BINDING, R_DOORBELL, R_DOORBELL_ROOT, R_FAULT_EP,
       R_FAULT_EP_BADGED, R_ENGINE, R_APP, R_DONE_BADGED, R_STOPPING, R_PARKED_BADGED, R_PARK_WAKE, R_SLOTS };
_Static_assert(R_SLOTS <= 16, "a node's root-side slots fit their 16");
// DSM_SLOT_DONE's bits: node n's engine booted or application returned
// (1 << n), node n's application parked in dsm_checkpoint (1 << (PARKED + n)).
#define PARKED 16
#define NODE_UNTYPED_BITS 21

static struct {
    struct dsm_config config;
    uint32_t local;             // the nodes built here (bit n)
    bool running;
    bool resumed;                       // restarted from a repository (dsm_start_restored)
    uint64_t resume_progress[DSM_MAX_NODES];
    struct engine_boot boot[DSM_MAX_NODES];
    struct engine_status status[DSM_MAX_NODES];
} dsm;

struct app_start {
    dsm_app app;
    uint64_t arg;
    struct dsm_thread thread;
    volatile long cpu;          // where the application ran; -1 if it moved
};
static struct app_start starts[DSM_MAX_NODES];

static uint8_t engine_stacks[DSM_MAX_NODES][16384] __attribute__((aligned(16)));
static uint8_t fault_stacks[DSM_MAX_NODES][8192] __attribute__((aligned(16)));
static uint8_t app_stacks[DSM_MAX_NODES][32768] __attribute__((aligned(16)));
static uint8_t link_stacks[DSM_MAX_NODES][16384] __attribute__((aligned(16)));
static uint8_t tick_stacks[DSM_MAX_NODES][4096] __attribute__((aligned(16)));

// In the node's VAS, with the node's CSpace.
static void app_main(uint64_t arg)
{
    struct app_start *s = (struct app_start *)(uintptr_t)arg;
    long cpu = mf_cpu_id();
    s->app(&s->thread, s->arg);
    s->cpu = mf_cpu_id() == cpu ? cpu : -1;
    mf_notification_signal(CAP_DONE);
}

static bool retype(long ut, unsigned type, unsigned bits, long slot)
{
    return mf_untyped_retype(ut, type, bits, 1, ROOT, slot) == 0;
}

static bool give(unsigned n, long slot, long node_slot)
{
    return mf_cnode_copy_to(ROOT, slot, SLOT(n, R_CNODE), node_slot, MF_RIGHTS_ALL) == 0;
}

static bool segment(long slot, uint64_t base, uint64_t size, unsigned bits, long vas)
{
    return retype(DSM_UT_OBJECTS, MF_OBJ_SEGMENT, bits, slot) && mf_segment_configure(slot, base, size) == 0 &&
           mf_vas_attach_segment(vas, slot, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0;
}

// Each step of building a node; the first that fails is named.
#define STEP(what, expr)                                                   \
    do {                                                                   \
        if (!(expr)) {                                                     \
            printf("dsm: node %u: cannot %s\n", n, what);                  \
            return false;                                                  \
        }                                                                  \
    } while (0)

static bool build_node(unsigned n)
{
    long vas = SLOT(n, R_VAS), cnode = SLOT(n, R_CNODE);
    STEP("make its CNode", retype(DSM_UT_OBJECTS, MF_OBJ_CNODE, NODE_CNODE_BITS, cnode) &&
                           give(n, cnode, CAP_SELF));
    STEP("give it memory",
         mf_untyped_retype(DSM_UT_MEMORY, MF_OBJ_UNTYPED, NODE_UNTYPED_BITS, 1, cnode, CAP_UNTYPED) == 0);
    STEP("make its VAS", retype(DSM_UT_OBJECTS, MF_OBJ_VAS, 15, vas) && mf_vas_attach(vas, 0) == 0);
    STEP("make its segments", segment(SLOT(n, R_SEGMENT), DSM_BASE, 2ul << 20, 13, vas) &&
                              segment(SLOT(n, R_MEMORY), NODE_BASE, NODE_SIZE, 14, vas) &&
                              segment(SLOT(n, R_ASTACKS), ASTACK_SEGMENT(n), 2ul << 20, 13, vas));
    STEP("make its binding and doorbell",
         retype(DSM_UT_OBJECTS, MF_OBJ_BINDING, 0, SLOT(n, R_BINDING)) &&
         retype(DSM_UT_OBJECTS, MF_OBJ_NOTIFICATION, 0, SLOT(n, R_DOORBELL)) &&
         mf_cnode_mint(ROOT, SLOT(n, R_DOORBELL), SLOT(n, R_DOORBELL_ROOT), MF_RIGHT_WRITE, BELL_ROOT) == 0);
    STEP("make its pager endpoint",
         retype(DSM_UT_OBJECTS, MF_OBJ_ENDPOINT, 0, SLOT(n, R_FAULT_EP)) &&
         mf_cnode_mint(ROOT, SLOT(n, R_FAULT_EP), SLOT(n, R_FAULT_EP_BADGED), MF_RIGHT_WRITE, n + 1) == 0 &&
         mf_segment_set_pager(SLOT(n, R_SEGMENT), SLOT(n, R_FAULT_EP_BADGED)) == 0);
    STEP("make its threads", retype(DSM_UT_OBJECTS, MF_OBJ_THREAD, 0, SLOT(n, R_ENGINE)) &&
                             retype(DSM_UT_OBJECTS, MF_OBJ_THREAD, 0, SLOT(n, R_APP)));
    STEP("hand it its capabilities",
         mf_cnode_mint(ROOT, DSM_SLOT_DONE, SLOT(n, R_DONE_BADGED), MF_RIGHT_WRITE, 1ul << n) == 0 &&
         mf_cnode_mint(ROOT, DSM_SLOT_DONE, SLOT(n, R_PARKED_BADGED), MF_RIGHT_WRITE, 1ul << (PARKED + n)) == 0 &&
         retype(DSM_UT_OBJECTS, MF_OBJ_NOTIFICATION, 0, SLOT(n, R_PARK_WAKE)) &&
         give(n, SLOT(n, R_PARKED_BADGED), CAP_PARKED) && give(n, SLOT(n, R_PARK_WAKE), CAP_PARK_WAKE) &&
         give(n, vas, CAP_VAS) && give(n, SLOT(n, R_SEGMENT), CAP_SEGMENT) &&
         give(n, SLOT(n, R_MEMORY), CAP_MEMORY) && give(n, SLOT(n, R_ASTACKS), CAP_ASTACKS) &&
         give(n, SLOT(n, R_BINDING), CAP_BINDING) && give(n, SLOT(n, R_DOORBELL), CAP_DOORBELL) &&
         give(n, SLOT(n, R_FAULT_EP), CAP_FAULT_EP) && give(n, SLOT(n, R_DONE_BADGED), CAP_DONE));
    // The page-out disk thread's endpoint, badged n + 1 (minted in our
    // R_STOPPING slot, copied, deleted).
    mf_cnode_delete(ROOT, SLOT(n, R_STOPPING));
    STEP("reach the disk thread",
         !dsm.config.pageout.store ||
             (mf_cnode_mint(ROOT, DSM_SLOT_PAGEOUT_EP, SLOT(n, R_STOPPING), MF_RIGHT_WRITE, n + 1) == 0 &&
              mf_cnode_copy_to(ROOT, SLOT(n, R_STOPPING), cnode, CAP_PAGEOUT_EP, MF_RIGHT_WRITE) == 0 &&
              mf_cnode_delete(ROOT, SLOT(n, R_STOPPING)) == 0));
    return true;
}

// Node n runs on CPU n (modulo the CPUs there are): its engine, fault and
// application threads are fixed there (MF_SCHED_FIXED), so that nodes
// compute in parallel and a node's protocol work stays on its CPU.
static unsigned node_cpu(unsigned node)
{
    struct mf_system_info si;
    return mf_system_info(&si) == 0 && si.cpus ? node % si.cpus : 0;
}

static bool pin(unsigned node, unsigned cpu)
{
    return mf_thread_set_sched(SLOT(node, R_ENGINE), MF_SCHED_FIXED, cpu) == 0 &&
           mf_thread_set_sched(SLOT(node, R_APP), MF_SCHED_FIXED, cpu) == 0;
}

// Starts fn(arg) on `thread` inside node n's VAS with its CSpace.
static bool start_in_node(unsigned n, long thread, void (*fn)(uint64_t), void *stack, size_t size, uint64_t arg,
                          unsigned priority)
{
    if (mf_vas_switch(SLOT(n, R_VAS)))
        return false;
    bool ok = mf_thread_set_priority(thread, priority) == 0 &&
              mf_thread_start_cspace(thread, SLOT(n, R_CNODE), fn, stack, size, arg, NULL) == 0;
    mf_vas_switch(0);
    return ok;
}

// Waits for the done bits of `mask` (engines booting, applications
// returning), at most `ticks` timer ticks.
// Waits until every node in `mask` has said it is done, at most `ticks`;
// the nodes that did not, or 0.
static uint32_t wait_done_missing(uint32_t mask, long ticks)
{
    uint32_t seen = 0;
    for (long t = 0;; t++) {
        seen |= (uint32_t)mf_notification_poll(DSM_SLOT_DONE);
        if ((seen & mask) == mask || t >= ticks)
            return mask & ~seen;
        mf_sleep(1);
    }
}

static bool wait_done(uint32_t mask, long ticks) { return !wait_done_missing(mask, ticks); }

static bool boot_phase(uint32_t all, const char *what)
{
    if (!wait_done(all, 3000)) {
        printf("dsm: nodes did not %s in time\n", what);
        return false;
    }
    for (unsigned n = 0; n < dsm.config.nodes; n++)
        if ((dsm.local >> n & 1) && dsm.status[n].failed) {
            printf("dsm: node %u could not %s\n", n, what);
            return false;
        }
    return true;
}

static bool start_instance(const struct dsm_config *c, const struct dsm_repo_node *const *restore);

bool dsm_start(const struct dsm_config *c)
{
    return start_instance(c, NULL);
}

bool dsm_start_restored(const struct dsm_config *c, const struct dsm_repo_node *const *records,
                        const uint64_t *progress)
{
    if (!start_instance(c, records))
        return false;
    dsm.resumed = true;
    for (unsigned n = 0; n < c->nodes; n++)
        dsm.resume_progress[n] = progress[n];
    return true;
}

static bool start_instance(const struct dsm_config *c, const struct dsm_repo_node *const *restore)
{
    struct mf_system_info si;
    if (c->nodes < 1 || c->nodes > DSM_MAX_NODES || c->pages < 1 || c->pages > DSM_MAX_PAGES ||
        c->xfetch > DSM_XFETCH_MAX || c->model >= DSM_MODEL_COUNT || c->transport >= DSM_TRANSPORT_COUNT)
        return false;
    if (mf_system_info(&si) || si.untyped_count <= DSM_UT_MEMORY - MF_CAP_UNTYPED_BASE) {
        printf("dsm: the root task has no untyped %d for node memory\n", DSM_UT_MEMORY - MF_CAP_UNTYPED_BASE);
        return false;
    }
    unsigned node_pages = (1u << NODE_UNTYPED_BITS) / DSM_PAGE;
    bool link = c->transport == DSM_TRANSPORT_LINK;
    unsigned fixed = node_fixed_pages(c->nodes, link);
    uint32_t local = (1u << c->nodes) - 1;
    if (link && c->link.local)
        local &= c->link.local;
    if (c->nodes << NODE_UNTYPED_BITS > 1ul << si.untyped_size_bits || fixed + 16 + c->pages > node_pages) {
        printf("dsm: %u nodes of %u pages do not fit\n", c->nodes, c->pages);
        return false;
    }
    // Frames for copies and twins: every page and a twin of each, at most
    // what the node's untyped holds besides its fixed memory (16: the fault
    // thread, bells, alignment). Fewer frames, faster start. Fewer still if
    // asked: with a page-out area the nodes evict pages to make room.
    unsigned pool = node_pages - fixed - 16;
    if (pool > 2 * c->pages + 16)
        pool = 2 * c->pages + 16;
    if (pool > POOL_MAX)
        pool = POOL_MAX;
    unsigned least = c->pageout.store ? DSM_PAGEOUT_MIN_POOL + c->xfetch : 1;
    if (c->pool_frames && (c->pool_frames < least || c->pool_frames > pool)) {
        printf("dsm: a pool of %u frames per node is not between %u and %u\n", c->pool_frames, least, pool);
        return false;
    }
    if (c->pool_frames)
        pool = c->pool_frames;
    if (c->pageout.store && !pageout_fits(c)) {
        printf("dsm: the page-out area (%u nodes x %u pages x 8 KiB from byte %lu) is not in its store\n", c->nodes,
               c->pages, (unsigned long)c->pageout.offset);
        return false;
    }
    dsm_stop();
    dsm.config = *c;
    dsm.local = local;
    dsm.running = true;
    dsm.resumed = false;
    dsm_transport_lrpc_export();
    if (link && !c->link.region)
        memset(dsm_standin_region, 0, sizeof(dsm_standin_region));
    uint32_t all = local;
    if (!retype(DSM_UT_OBJECTS, MF_OBJ_NOTIFICATION, 0, DSM_SLOT_DONE) || !pageout_start(c))
        return false;
    for (unsigned n = 0; n < c->nodes; n++) {
        if (!(local >> n & 1))
            continue;
        dsm.status[n] = (struct engine_status){.engine_cpu = -1};
        dsm.boot[n] = (struct engine_boot){.id = n, .nodes = c->nodes, .pages = c->pages, .xfetch = c->xfetch,
                                           .model = c->model, .pool_frames = pool, .transport = c->transport,
                                           .fault_stack = fault_stacks[n], .fault_stack_size = sizeof(fault_stacks[n]),
                                           .link_stack = link_stacks[n], .link_stack_size = sizeof(link_stacks[n]),
                                           .tick_stack = tick_stacks[n], .tick_stack_size = sizeof(tick_stacks[n]),
                                           .link = c->link, .status = &dsm.status[n],
                                           .restore = restore ? restore[n] : NULL,
                                           .pageout = pageout_mailbox(n)};
        dsm.boot[n].cpu = node_cpu(n);
        if (!build_node(n) || !pin(n, dsm.boot[n].cpu))
            return false;
        if (!start_in_node(n, SLOT(n, R_ENGINE), engine_main, engine_stacks[n], sizeof(engine_stacks[n]),
                           (uint64_t)(uintptr_t)&dsm.boot[n], 10))
            return false;
    }
    if (!boot_phase(all, "boot"))
        return false;
    // Wiring: every node gets every other node's binding and its doorbell
    // badged for it (which that node minted), then connects. With the link
    // transport the "doorbell" is the peer's link bell (the stand-in for
    // ivshmem's), and only nodes in this instance are wired.
    for (unsigned i = 0; i < c->nodes; i++)
        for (unsigned j = 0; j < c->nodes; j++) {
            if (i == j || !(local >> i & 1) || !(local >> j & 1))
                continue;
            bool ok = link ? mf_cnode_copy_to(SLOT(j, R_CNODE), CAP_LINK_BELL, SLOT(i, R_CNODE), CAP_PEER_BELL + j,
                                              MF_RIGHT_WRITE) == 0
                           : mf_cnode_copy_to(ROOT, SLOT(j, R_BINDING), SLOT(i, R_CNODE), CAP_PEER_BINDING + j,
                                              MF_RIGHT_READ) == 0 &&
                                 mf_cnode_copy_to(SLOT(j, R_CNODE), CAP_RING_BELL + i, SLOT(i, R_CNODE),
                                                  CAP_PEER_BELL + j, MF_RIGHT_WRITE) == 0;
            if (!ok)
                return false;
        }
    for (unsigned n = 0; n < c->nodes; n++)
        if (local >> n & 1)
            mf_notification_signal(SLOT(n, R_DOORBELL_ROOT));
    return boot_phase(all, "connect");
}

// The first error a node reported (node_fail: its pool is full, its
// disk failed), or 0.
static long node_error(void)
{
    for (unsigned n = 0; n < dsm.config.nodes; n++)
        if ((dsm.local >> n & 1) && dsm.status[n].error)
            return dsm.status[n].error;
    return 0;
}

// Waits for the applications of `mask` to return, as wait_done_missing
// does, or for a node to fail; meanwhile, once every one of them has parked in dsm_checkpoint,
// writes the repository and lets them go on (each gets the result). A
// checkpoint must have every node of the instance: one of a run on fewer
// nodes gets -E_INVAL. Ticks without news count towards `ticks`.
static uint32_t wait_apps(uint32_t mask, long ticks)
{
    uint32_t seen = 0, parked = 0;
    for (long t = 0;; t++) {
        uint64_t bits = (uint64_t)mf_notification_poll(DSM_SLOT_DONE);
        seen |= (uint32_t)bits & 0xff;
        parked |= (uint32_t)(bits >> PARKED) & 0xff;
        if (parked && ((parked | seen) & mask) == mask) {
            uint64_t progress[DSM_MAX_NODES] = {0};
            for (unsigned n = 0; n < dsm.config.nodes; n++)
                progress[n] = starts[n].thread.progress;
            long r = parked == dsm.local ? repository_checkpoint(&dsm.config, progress) : -E_INVAL;
            for (unsigned n = 0; n < dsm.config.nodes; n++)
                if (parked >> n & 1) {
                    starts[n].thread.checkpoint_result = r;
                    mf_notification_signal(SLOT(n, R_PARK_WAKE));
                }
            parked = 0;
            t = 0;
        }
        if ((seen & mask) == mask || t >= ticks || node_error())
            return mask & ~seen;
        mf_sleep(1);
    }
}

long dsm_run_on(uint32_t mask, dsm_app app, uint64_t arg)
{
    if (!dsm.running)
        return -E_INVAL;
    mask &= dsm.local;
    for (unsigned n = 0; n < dsm.config.nodes; n++) {
        if (!(mask & 1u << n))
            continue;
        starts[n] = (struct app_start){.app = app, .arg = arg, .cpu = -2,
                                       .thread = {.node = n, .nodes = dsm.config.nodes, .resumed = dsm.resumed,
                                                  .resume_progress = dsm.resume_progress[n]}};
        // Below the engines and fault threads: protocol work never waits
        // behind a computing application thread.
        if (!start_in_node(n, SLOT(n, R_APP), app_main, app_stacks[n], sizeof(app_stacks[n]),
                           (uint64_t)(uintptr_t)&starts[n], 9))
            return -E_INVAL;
    }
    uint32_t missing = wait_apps(mask, 6000);   // 60 s without progress
    long error = node_error();
    if (error) {
        for (unsigned n = 0; n < dsm.config.nodes; n++)
            if ((dsm.local >> n & 1) && dsm.status[n].error)
                printf("dsm: node %u cannot go on: %s\n", n, mf_strerror(dsm.status[n].error));
        return error;
    }
    if (missing)
        printf("dsm: the application has not ended after 60 s on nodes %#x\n", missing);
    return missing ? -E_AGAIN : 0;
}

long dsm_node_cpu(unsigned node, bool engine)
{
    if (!dsm.running || node >= dsm.config.nodes)
        return -E_RANGE;
    return engine ? dsm.status[node].engine_cpu : starts[node].cpu;
}

long dsm_run(dsm_app app, uint64_t arg)
{
    return dsm_run_on(~0u, app, arg);
}

static bool stop_node_threads(unsigned n);

void dsm_stop(void)
{
    mf_vas_switch(0);
    pageout_stop();
    // Every node's threads stop first: revocation takes objects in no
    // particular order, and a thread still running when its node's memory
    // segment goes would die of a page fault on the way (harmless, but a
    // fault line in the log that means nothing).
    if (dsm.running)
        for (unsigned n = 0; n < dsm.config.nodes; n++)
            if (dsm.local >> n & 1) {
                mf_thread_suspend(SLOT(n, R_APP));
                stop_node_threads(n);
            }
    mf_cnode_revoke(ROOT, DSM_UT_OBJECTS);
    mf_cnode_revoke(ROOT, DSM_UT_MEMORY);
    dsm.running = false;
}

// ------------------------------------------------------ looking inside
// Tests and benchmarks read a node's state by entering its VAS, as a
// debugger would; nodes never do this to each other.

bool dsm_enter(unsigned n)
{
    return dsm.running && n < dsm.config.nodes && (dsm.local >> n & 1) && mf_vas_switch(SLOT(n, R_VAS)) == 0;
}

uint32_t dsm_local_nodes(void)
{
    return dsm.running ? dsm.local : 0;
}

void dsm_get_link_stats(unsigned node, struct dsm_link_stats *out)
{
    *out = (struct dsm_link_stats){0};
    if (dsm.config.transport != DSM_TRANSPORT_LINK || !dsm_enter(node))
        return;
    *out = LINK->stats;
    mf_vas_switch(0);
}

// Suspends a thread of node n's CNode through a copy in our R_STOPPING slot.
static bool suspend_node_thread(unsigned n, long node_slot)
{
    long slot = SLOT(n, R_STOPPING);
    mf_cnode_delete(ROOT, slot);
    bool ok = mf_cnode_copy_to(SLOT(n, R_CNODE), node_slot, ROOT, slot, MF_RIGHTS_ALL) == 0 &&
              mf_thread_suspend(slot) == 0;
    mf_cnode_delete(ROOT, slot);
    return ok;
}

uint32_t dsm_link_up(unsigned n)
{
    if (dsm.config.transport != DSM_TRANSPORT_LINK || !dsm_enter(n))
        return 0;
    uint32_t up = LINK->up;
    mf_vas_switch(0);
    return up;
}

bool dsm_link_idle(unsigned n)
{
    if (dsm.config.transport != DSM_TRANSPORT_LINK || !dsm_enter(n))
        return true;
    bool idle = true;
    for (unsigned k = 0; k < NODE->nodes; k++)
        if (k != n && !(LINK->dead >> k & 1) && !ring_empty(LINK->peer[k].sendq))
            idle = false;
    mf_vas_switch(0);
    return idle;
}

bool dsm_copy_link_bell(unsigned n, long slot)
{
    return dsm.running && (dsm.local >> n & 1) &&
           mf_cnode_copy_to(SLOT(n, R_CNODE), CAP_LINK_BELL, ROOT, slot, MF_RIGHT_WRITE) == 0;
}

// Suspends node n's protocol threads: its engine, its fault thread and,
// with the link transport, its link and ticker; false if one would not.
static bool stop_node_threads(unsigned n)
{
    bool ok = mf_thread_suspend(SLOT(n, R_ENGINE)) == 0;
    ok = suspend_node_thread(n, CAP_FAULT_THREAD) && ok;
    if (dsm.config.transport == DSM_TRANSPORT_LINK) {
        ok = suspend_node_thread(n, CAP_LINK_THREAD) && ok;
        ok = suspend_node_thread(n, CAP_TICK_THREAD) && ok;
    }
    return ok;
}

bool dsm_kill(unsigned n)
{
    if (!dsm.running || n >= dsm.config.nodes || !(dsm.local >> n & 1))
        return false;
    return stop_node_threads(n);
}

unsigned dsm_node_count(void)
{
    return dsm.running ? dsm.config.nodes : 0;
}

void dsm_get_stats(unsigned node, struct dsm_stats *out)
{
    *out = (struct dsm_stats){0};
    for (unsigned n = 0; n < dsm_node_count(); n++) {
        if ((node != DSM_MAX_NODES && n != node) || !dsm_enter(n))
            continue;
        const struct dsm_stats *s = &NODE->stats;
        const uint64_t *from = (const uint64_t *)s;
        uint64_t *to = (uint64_t *)out;
        for (unsigned i = 0; i < sizeof(*s) / sizeof(uint64_t); i++)
            to[i] += from[i];
        for (unsigned p = 0; p < NODE->pages; p++)
            out->paged_out += (NODE->page[p].evicted & (EVICT_DISK | EVICT_DROPPED)) != 0;
        out->store_cycles += pageout_store_cycles(n);
        mf_vas_switch(0);
    }
}

unsigned dsm_pool_peak(unsigned node)
{
    unsigned peak = 0;
    if (node < dsm_node_count() && dsm_enter(node)) {
        peak = NODE->frames_peak;
        mf_vas_switch(0);
    }
    return peak;
}

void dsm_reset_stats(void)
{
    for (unsigned n = 0; n < dsm_node_count(); n++)
        if (dsm_enter(n)) {
            memset(&NODE->stats, 0, sizeof(NODE->stats));
            mf_vas_switch(0);
        }
}

bool dsm_peek(unsigned node, uint64_t offset, void *out, size_t len)
{
    unsigned p = (unsigned)(offset / DSM_PAGE);
    if (offset % DSM_PAGE + len > DSM_PAGE || !dsm_enter(node))
        return false;
    bool held = p < NODE->pages && NODE->page[p].frame >= 0;
    if (held)
        memcpy(out, pool_page(NODE->page[p].frame) + offset % DSM_PAGE, len);
    mf_vas_switch(0);
    return held;
}

const char *dsm_message_name(unsigned type)
{
    static const char *const names[MSG_TYPE_COUNT] = {
        [MSG_REQUEST] = "request", [MSG_GRANT] = "grant", [MSG_GRANT_ACK] = "grant_ack",
        [MSG_INVALIDATE] = "invalidate", [MSG_DOWNGRADE] = "downgrade", [MSG_PULL] = "pull",
        [MSG_ACK] = "ack", [MSG_FLUSH] = "flush", [MSG_FLUSH_ACK] = "flush_ack", [MSG_DROP] = "drop",
        [MSG_LOCK] = "lock", [MSG_LOCK_GRANT] = "lock_grant", [MSG_UNLOCK] = "unlock",
        [MSG_BARRIER] = "barrier", [MSG_BARRIER_DONE] = "barrier_done", [MSG_NACK] = "nack",
    };
    return type < MSG_TYPE_COUNT && names[type] ? names[type] : "?";
}
