// GUPS over a table split into regions that all live at the same virtual
// window (the SpaceJMP paper's benchmark, seed 000), in three modes:
//
//   spacejmp  one VAS per region; vas_switch to the region's VAS per batch
//   map       one VAS; detach the current region's segment, attach the next
//   mp        one thread per region in its own VAS; updates go as IPC calls
//
// Every mode applies the same update sequence (batches of 64 random updates
// within one randomly chosen region: table[ran & mask] ^= ran), so the
// final tables must equal a reference: each region is checked against the
// whole sequence replayed on plain memory for that region alone.
//
// Sizes: QEMU gets 512 MiB and the root task 256 MiB of untyped, of which
// GUPS_UT_FIRST.. (16 blocks of 8 MiB, root.h) are GUPS's: a region is one
// 2 MiB frame (262144 entries) in a 1 GiB-aligned segment, and 1 to 64
// regions (128 MiB) are measured: the table is up to 64 times what one
// address space shows at the window at once. Rates are per group of 16
// batches (1,024 updates), enough cycles that they are not quantized.
#include "manifold.h"
#include "lib/fmt.h"
#include "root.h"
#include "lib/string.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT_OBJECTS GUPS_UT_OBJECTS
#define MAX_REGIONS 64
#define REGIONS_PER_UT 4    // 2 MiB frames in an 8 MiB untyped
// Slots, 64 per kind (2400..2720: nobody else's, root.h).
#define S_VAS 2400          // + r
#define S_SEG 2464          // + r
#define S_FRAME 2528        // + r
#define S_THREAD 2592       // + r
#define S_EP 2656           // + r
#define S_MAPVAS 2720

#define WINDOW 0x80000000ul
#define WINDOW_SIZE (1ul << 30)
#define REGION_BYTES (2ul << 20)
#define REGION_ENTRIES (REGION_BYTES / 8)
#define BATCH 64
#define BATCHES 1024
#define GROUP 16            // batches per rate sample
#define GROUPS (BATCHES / GROUP)

static uint64_t reference[REGION_ENTRIES];      // one region's, replayed
static uint64_t samples[GROUPS];
static uint8_t server_stacks[MAX_REGIONS][4096] __attribute__((aligned(16)));
static volatile uint64_t *const window = (volatile uint64_t *)WINDOW;

static uint64_t rng_state;
static uint64_t rng(void)
{
    // xorshift64*: cheap, full period, the same sequence in every mode.
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static void fill_initial(volatile uint64_t *t, unsigned region)
{
    for (uint64_t i = 0; i < REGION_ENTRIES; i++)
        t[i] = region * REGION_ENTRIES + i;
}

// Objects: per region a segment at WINDOW with one 2 MiB frame.
static bool make_regions(unsigned regions)
{
    for (unsigned r = 0; r < regions; r++) {
        long ut = GUPS_UT_FIRST + r / REGIONS_PER_UT;
        if (mf_untyped_retype(UT_OBJECTS, MF_OBJ_SEGMENT, 13, 1, ROOT, S_SEG + r) ||
            mf_segment_configure(S_SEG + r, WINDOW, WINDOW_SIZE) ||
            mf_untyped_retype(ut, MF_OBJ_FRAME, 21, 1, ROOT, S_FRAME + r) ||
            mf_frame_map(S_FRAME + r, S_SEG + r, WINDOW, MF_RIGHT_READ | MF_RIGHT_WRITE))
            return false;
    }
    return true;
}

static bool make_vas(long slot)
{
    return mf_untyped_retype(UT_OBJECTS, MF_OBJ_VAS, 14, 1, ROOT, slot) == 0 && mf_vas_attach(slot, 0) == 0;
}

// Region r's final table: the whole update sequence replayed on plain
// memory, applying only the batches that went to r.
static void replay(unsigned regions, unsigned r)
{
    fill_initial(reference, r);
    rng_state = 88172645463325252ull;
    for (unsigned b = 0; b < BATCHES; b++) {
        unsigned to = (unsigned)(rng() % regions);
        for (unsigned k = 0; k < BATCH; k++) {
            uint64_t ran = rng();
            if (to == r)
                reference[ran & (REGION_ENTRIES - 1)] ^= ran;
        }
    }
}

// Compares every region with its replay (switching into VAS `vas[r]`, or
// attaching region r to `map_vas`).
static bool verify(unsigned regions, const long *vas, long map_vas)
{
    bool ok = true;
    for (unsigned r = 0; r < regions && ok; r++) {
        replay(regions, r);
        if (map_vas) {
            ok = mf_vas_attach_segment(map_vas, S_SEG + r, MF_RIGHT_READ) == 0 && mf_vas_switch(map_vas) == 0;
        } else {
            ok = mf_vas_switch(vas[r]) == 0;
        }
        for (uint64_t i = 0; ok && i < REGION_ENTRIES; i++)
            ok = window[i] == reference[i];
        mf_vas_switch(0);
        if (map_vas)
            mf_vas_detach_segment(map_vas, S_SEG + r);
    }
    return ok;
}

static void report(const char *mode, unsigned regions, bool verified)
{
    struct mf_system_info si;
    mf_system_info(&si);
    // Rates per group of batches: GROUP * 64 updates over the group's cycles.
    uint64_t rates[GROUPS];
    for (unsigned i = 0; i < GROUPS; i++)
        rates[i] = samples[i] ? GROUP * BATCH * si.counter_hz / samples[i] : 0;
    char name[32];
    snprintf(name, sizeof(name), "gups.%s.r%u", mode, regions);
    mf_bench_report(name, "updates/s", rates, GROUPS, verified ? "\"verified\":true" : "\"verified\":false");
}

static bool run_spacejmp(unsigned regions)
{
    long vas[MAX_REGIONS];
    for (unsigned r = 0; r < regions; r++) {
        vas[r] = S_VAS + r;
        if (!make_vas(vas[r]) || mf_vas_attach_segment(vas[r], S_SEG + r, MF_RIGHT_READ | MF_RIGHT_WRITE))
            return false;
        mf_vas_switch(vas[r]);
        fill_initial(window, r);
    }
    mf_vas_switch(0);
    rng_state = 88172645463325252ull;
    uint64_t t0 = 0;
    for (unsigned b = 0; b < BATCHES; b++) {
        if (b % GROUP == 0)
            t0 = mf_arch_cycles();
        unsigned r = (unsigned)(rng() % regions);
        mf_vas_switch(vas[r]);
        for (unsigned k = 0; k < BATCH; k++) {
            uint64_t ran = rng();
            window[ran & (REGION_ENTRIES - 1)] ^= ran;
        }
        if (b % GROUP == GROUP - 1)
            samples[b / GROUP] = mf_arch_cycles() - t0;
    }
    mf_vas_switch(0);
    return verify(regions, vas, 0);
}

static bool run_map(unsigned regions)
{
    long v = S_MAPVAS;
    if (!make_vas(v))
        return false;
    for (unsigned r = 0; r < regions; r++) {
        if (mf_vas_attach_segment(v, S_SEG + r, MF_RIGHT_READ | MF_RIGHT_WRITE) || mf_vas_switch(v))
            return false;
        fill_initial(window, r);
        mf_vas_switch(0);
        mf_vas_detach_segment(v, S_SEG + r);
    }
    rng_state = 88172645463325252ull;
    int attached = -1;
    mf_vas_switch(v);
    uint64_t t0 = 0;
    for (unsigned b = 0; b < BATCHES; b++) {
        if (b % GROUP == 0)
            t0 = mf_arch_cycles();
        unsigned r = (unsigned)(rng() % regions);
        if ((int)r != attached) {
            if (attached >= 0)
                mf_vas_detach_segment(v, S_SEG + attached);
            mf_vas_attach_segment(v, S_SEG + r, MF_RIGHT_READ | MF_RIGHT_WRITE);
            attached = (int)r;
        }
        for (unsigned k = 0; k < BATCH; k++) {
            uint64_t ran = rng();
            window[ran & (REGION_ENTRIES - 1)] ^= ran;
        }
        if (b % GROUP == GROUP - 1)
            samples[b / GROUP] = mf_arch_cycles() - t0;
    }
    mf_vas_switch(0);
    if (attached >= 0)
        mf_vas_detach_segment(v, S_SEG + attached);
    return verify(regions, NULL, v);
}

// MP: a server per region applies the updates it receives, four per call.
static void region_server(uint64_t ep)
{
    struct mf_msg m = {0};
    mf_recv((long)ep, &m);
    for (;;) {
        for (unsigned i = 0; i < MF_INFO_LENGTH(m.info); i++)
            window[m.mr[i] & (REGION_ENTRIES - 1)] ^= m.mr[i];
        m.info = 0;
        mf_reply_recv((long)ep, &m);
    }
}

static bool run_mp(unsigned regions)
{
    long vas[MAX_REGIONS];
    for (unsigned r = 0; r < regions; r++) {
        vas[r] = S_VAS + r;
        if (!make_vas(vas[r]) || mf_vas_attach_segment(vas[r], S_SEG + r, MF_RIGHT_READ | MF_RIGHT_WRITE) ||
            mf_untyped_retype(UT_OBJECTS, MF_OBJ_THREAD, 0, 1, ROOT, S_THREAD + r) ||
            mf_untyped_retype(UT_OBJECTS, MF_OBJ_ENDPOINT, 0, 1, ROOT, S_EP + r))
            return false;
        mf_vas_switch(vas[r]);
        fill_initial(window, r);
        long started = mf_thread_start(S_THREAD + r, region_server, server_stacks[r], sizeof(server_stacks[r]),
                                       S_EP + r);
        mf_vas_switch(0);
        if (started)
            return false;
    }
    rng_state = 88172645463325252ull;
    uint64_t t0 = 0;
    for (unsigned b = 0; b < BATCHES; b++) {
        if (b % GROUP == 0)
            t0 = mf_arch_cycles();
        unsigned r = (unsigned)(rng() % regions);
        for (unsigned k = 0; k < BATCH; k += MF_MSG_MAX_REGS) {
            struct mf_msg m = {.info = MF_INFO(0, MF_MSG_MAX_REGS)};
            for (unsigned i = 0; i < MF_MSG_MAX_REGS; i++)
                m.mr[i] = rng();
            mf_call(S_EP + r, &m);
        }
        if (b % GROUP == GROUP - 1)
            samples[b / GROUP] = mf_arch_cycles() - t0;
    }
    return verify(regions, vas, 0);
}

static const struct {
    const char *name;
    bool (*run)(unsigned regions);
} modes[] = {{"spacejmp", run_spacejmp}, {"map", run_map}, {"mp", run_mp}};

// Runs one mode over `regions` regions; true when the table verified.
static bool gups_once(unsigned mode, unsigned regions, bool print)
{
    memset(samples, 0, sizeof(samples));
    struct mf_system_info si = {0};
    const unsigned need = GUPS_UT_OBJECTS - MF_CAP_UNTYPED_BASE + 1;
    bool have = mf_system_info(&si) == 0 && si.untyped_count >= need;
    if (!have)
        printf("gups: the root task has %u untypeds, not the %u GUPS needs\n", si.untyped_count, need);
    bool ok = have && regions <= MAX_REGIONS && make_regions(regions) && modes[mode].run(regions);
    mf_vas_switch(0);
    if (print)
        report(modes[mode].name, regions, ok);
    mf_cnode_revoke(ROOT, UT_OBJECTS);
    for (unsigned i = 0; have && i * REGIONS_PER_UT < regions; i++)
        mf_cnode_revoke(ROOT, GUPS_UT_FIRST + i);       // only those it used
    return ok;
}

bool gups_verify_all(unsigned regions)
{
    bool ok = true;
    for (unsigned m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
        ok &= gups_once(m, regions, false);
    return ok;
}

// Timed in a driver thread fixed to one CPU (bench_run_pinned): the
// aarch64 cycle counter is per CPU, and the root task, which blocks in the
// MP mode's calls, may wake on another.
static void gups_driver(uint64_t unused)
{
    (void)unused;
    static const unsigned region_counts[] = {1, 2, 4, 8, 16, 32, 64};
    for (unsigned c = 0; c < sizeof(region_counts) / sizeof(region_counts[0]); c++) {
        for (unsigned m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
            gups_once(m, region_counts[c], true);
    }
}

void run_gups(void)
{
    if (!bench_run_pinned(gups_driver, 0))
        printf("gups: the driver thread did not run to its end\n");
    mf_cnode_revoke(ROOT, BENCH_UT);
}
