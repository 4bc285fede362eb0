// Checkpoint/restart figures (docs/checkpoint.md): ckpt_victim with 1 MiB
// and 16 MiB of marked 4 KiB pages is checkpointed into an image kept in
// 2 MiB frames of ours (mf_ckpt_frames_store), killed, and restored from
// the image out of other untyped memory; then the restored process checks
// every page's mark, which makes the figures "verified". Per size:
//   ckpt.frozen_<n>mib    how long its threads were stopped (the memory is
//                         copied meanwhile)
//   ckpt.frozen_cow_<n>mib  the same with a copy-on-write snapshot: stopped
//                         only to arm its frames, copied after it resumed
//   ckpt.save_cow_<n>mib  that whole save, copying included
//   ckpt.restore_<n>mib   mf_ckpt_restore, from the check of the image to
//                         the threads resumed
//   ckpt.save_pages_per_s, ckpt.restore_pages_per_s (16 MiB)
// in counter cycles (the unit of every other figure) and per second by
// the counter's rate. CRIU's published figures for a ~1,100-page process
// (frozen 282 ms, restore 18.8 ms) are cited beside them in the docs, as
// external figures.
#include "manifold.h"
#include "ckpt.h"
#include "lib/fmt.h"
#include "root.h"

// Untypeds (8 MiB each): the bench runs last in mode=bench, so it takes
// some the tests and the earlier benchmarks used: four for the victim
// (4 MiB of each in slots 16..19 of its CSpace), four for the restored
// process, and GUPS's first three for the image.
#define CB_UT_RUN (MF_CAP_UNTYPED_BASE + 1)         // 1..5
#define CB_CSPACE 2800
#define CB_LOADER 2801
#define CB_READY 2810
#define CB_GO 2811
#define CB_BIG_CNODE 2812
#define CB_OUT_CNODES 2813                          // 3
#define CB_OUT_LOOSE 2816                           // 2
#define CB_SNAP 2818                                // copy-on-write: a Snapshot object
#define CB_SNAP_BITS 20                             // 1 MiB: a 512 KiB table (frames and mappings), 127 copy pages
#define CB_IMAGE 2820                               // up to 12 frames of 2 MiB
#define CB_FRESH_UT 2835                            // 5
#define CB_SCRATCH_SAVE 2840
#define CB_SCRATCH_BACK 2970
#define ROUNDS 3

#define MAX_OBJECTS 4608
#define MAX_CAPS 4864
static struct mf_ckpt_object objects[MAX_OBJECTS];
static struct mf_ckpt_cap caps[MAX_CAPS];
static uint32_t hash[2 * MAX_OBJECTS], next[MAX_CAPS];
static long held[MAX_OBJECTS];
static struct mf_ckpt_work work = {objects, caps, hash, next, held, MAX_OBJECTS, MAX_CAPS};

#define RUN_UTS 5
static const long run_ut[RUN_UTS] = {CB_UT_RUN, CB_UT_RUN + 1, CB_UT_RUN + 2, CB_UT_RUN + 3, CB_UT_RUN + 4};
static const long back_ut[4] = {MF_CAP_UNTYPED_BASE + 6, MF_CAP_UNTYPED_BASE + 7, MF_CAP_UNTYPED_BASE + 11,
                                MF_CAP_UNTYPED_BASE + 12};

static void clean(void)
{
    for (unsigned i = 0; i < RUN_UTS; i++)
        mf_cnode_revoke(MF_CAP_SELF_CNODE, run_ut[i]);
    for (unsigned i = 0; i < 4; i++)
        mf_cnode_revoke(MF_CAP_SELF_CNODE, back_ut[i]);
    for (long s = CB_CSPACE; s < CB_SCRATCH_BACK + MF_CKPT_SCRATCH_SLOTS; s++)
        if (s < CB_IMAGE || s >= CB_IMAGE + 12)
            mf_cnode_delete(MF_CAP_SELF_CNODE, s);
}

// The victim's CSpace: itself, the console, the ready and go
// notifications (6, 7), and five untypeds (16..20: 4 MiB from each of
// ours: 16 MiB of frames, its CNode and tables fit).
static long make_victim(struct mf_program *p, uint64_t mib)
{
    const long self = MF_CAP_SELF_CNODE;
    long r = mf_untyped_retype(back_ut[3], MF_OBJ_NOTIFICATION, 0, 2, self, CB_READY);
    if (!r)
        r = mf_untyped_retype(run_ut[0], MF_OBJ_CNODE, 8, 1, self, CB_CSPACE);
    if (!r)
        r = mf_cnode_copy_to(self, CB_CSPACE, CB_CSPACE, 1, MF_RIGHTS_ALL);
    if (!r)
        r = mf_cnode_copy_to(self, MF_CAP_CONSOLE, CB_CSPACE, 3, MF_RIGHT_WRITE);
    if (!r)
        r = mf_cnode_copy_to(self, CB_READY, CB_CSPACE, 6, MF_RIGHT_WRITE);
    if (!r)
        r = mf_cnode_copy_to(self, CB_GO, CB_CSPACE, 7, MF_RIGHT_READ);
    // Loaded first: an untyped hands out memory upwards only, and the
    // 4 MiB ones take the upper half of each of ours.
    struct mf_load_args a = {.name = "ckpt_victim", .arg = mib, .cspace = CB_CSPACE, .untyped = run_ut[0],
                             .slots = CB_LOADER};
    if (!r)
        r = mf_program_load(p, &a);
    for (unsigned i = 0; i < RUN_UTS && !r; i++)
        r = mf_untyped_retype(run_ut[i], MF_OBJ_UNTYPED, 22, 1, CB_CSPACE, 16 + i);
    if (!r)
        r = mf_program_start(p);
    if (!r && mf_notification_wait_timeout(CB_READY, 6000) <= 0) {
        struct mf_exit_status es = {0};
        mf_thread_exit_status(p->thread, &es);
        printf("bench ckpt: ckpt_victim %lu did not get ready (exit how %u code %d)\n", (unsigned long)mib, es.how,
               es.code);
        r = -E_AGAIN;
    }
    // The CNode of its frames, for the checkpointer's list.
    if (!r)
        r = mf_cnode_copy_to(CB_CSPACE, 8, self, CB_BIG_CNODE, MF_RIGHT_READ | MF_RIGHT_WRITE);
    return r;
}

static void report(const char *name, const char *unit, uint64_t *v, bool verified)
{
    mf_bench_report(name, unit, v, ROUNDS, verified ? "\"verified\":true" : "\"verified\":false");
}

static void one_size(uint64_t mib, const struct mf_ckpt_store *st, uint64_t hz, bool cow)
{
    uint64_t frozen[ROUNDS], restore[ROUNDS], save_rate[ROUNDS], restore_rate[ROUNDS], save[ROUNDS];
    bool verified = true;
    for (unsigned round = 0; round < ROUNDS; round++) {
        clean();
        struct mf_program p;
        long r = make_victim(&p, mib);
        struct mf_ckpt_stats ss = {0}, rs = {0};
        struct mf_ckpt_process proc = {.cnode = {CB_CSPACE, p.objects, CB_BIG_CNODE}, .cnodes = 3,
                                       .loose = {p.thread, p.exit}, .looses = 2,
                                       .external = {{0, 6}, {0, 7}}, .externals = 2};
        if (!r && cow) {
            r = mf_untyped_retype(back_ut[3], MF_OBJ_SNAPSHOT, CB_SNAP_BITS, 1, MF_CAP_SELF_CNODE, CB_SNAP);
            proc.snapshot = CB_SNAP;
        }
        if (!r)
            r = mf_ckpt_save(&proc, st, &work, CB_SCRATCH_SAVE, &ss);
        struct mf_snapshot_info si = {0};
        if (!r && cow && (mf_snapshot_info(CB_SNAP, &si) != 0 || si.lost || si.armed))
            r = -E_INVAL;       // every frame copied and released, none lost
        mf_cnode_delete(MF_CAP_SELF_CNODE, CB_SNAP);
        if (r == 0) {
            mf_program_destroy(&p);
            for (unsigned i = 0; i < RUN_UTS; i++)
                mf_cnode_revoke(MF_CAP_SELF_CNODE, run_ut[i]);
            // Its own untypeds come back fresh (and small: it made
            // everything it needed before the checkpoint).
            for (unsigned i = 0; i < RUN_UTS && !r; i++)
                r = mf_untyped_retype(back_ut[3], MF_OBJ_UNTYPED, 20, 1, MF_CAP_SELF_CNODE, CB_FRESH_UT + i);
            struct mf_ckpt_env env = {.scratch = CB_SCRATCH_BACK,
                                      .external = {{0, 6, CB_READY}, {0, 7, CB_GO}, {0, 16, CB_FRESH_UT},
                                                   {0, 17, CB_FRESH_UT + 1}, {0, 18, CB_FRESH_UT + 2},
                                                   {0, 19, CB_FRESH_UT + 3}, {0, 20, CB_FRESH_UT + 4}},
                                      .externals = 7,
                                      .cnode_out = {CB_OUT_CNODES, CB_OUT_CNODES + 1, CB_OUT_CNODES + 2},
                                      .loose_out = {CB_OUT_LOOSE, CB_OUT_LOOSE + 1}};
            for (unsigned i = 0; i < 3; i++)
                env.untyped[i] = back_ut[i];
            env.by_type[MF_OBJ_CONSOLE] = MF_CAP_CONSOLE;
            if (!r)
                r = mf_ckpt_restore(st, &work, &env, &rs);
        }
        struct mf_exit_status es = {0};
        if (r == 0) {
            mf_notification_signal(CB_GO);
            if (mf_notification_wait_timeout(CB_OUT_LOOSE + 1, 6000) <= 0 ||
                mf_thread_exit_status(CB_OUT_LOOSE, &es) != 0)
                r = -E_AGAIN;
        }
        if (r != 0 || es.how != EXIT_NORMAL || es.code != 0) {
            printf("bench ckpt %lu MiB, round %u: %s, exit how %u code %d\n", (unsigned long)mib, round,
                   mf_strerror_detail(r), es.how, es.code);
            verified = false;
        }
        frozen[round] = ss.frozen_cycles;
        restore[round] = rs.total_cycles;
        save_rate[round] = ss.frozen_cycles ? ss.pages * hz / ss.frozen_cycles : 0;
        restore_rate[round] = rs.total_cycles ? rs.pages * hz / rs.total_cycles : 0;
        save[round] = ss.total_cycles;
        if (round == 0)
            printf("bench ckpt %lu MiB%s: %lu pages, %lu objects, %lu caps, image %lu KiB\n", (unsigned long)mib,
                   cow ? " (copy-on-write)" : "", (unsigned long)ss.pages, (unsigned long)ss.objects,
                   (unsigned long)ss.caps, (unsigned long)(ss.image_bytes >> 10));
    }
    clean();
    char name[48];
    if (cow) {
        snprintf(name, sizeof(name), "ckpt.frozen_cow_%lumib", (unsigned long)mib);
        report(name, "cycles", frozen, verified);
        snprintf(name, sizeof(name), "ckpt.save_cow_%lumib", (unsigned long)mib);
        report(name, "cycles", save, verified);
        return;
    }
    snprintf(name, sizeof(name), "ckpt.frozen_%lumib", (unsigned long)mib);
    report(name, "cycles", frozen, verified);
    snprintf(name, sizeof(name), "ckpt.restore_%lumib", (unsigned long)mib);
    report(name, "cycles", restore, verified);
    if (mib >= 16) {
        report("ckpt.save_pages_per_s", "pages/s", save_rate, verified);
        report("ckpt.restore_pages_per_s", "pages/s", restore_rate, verified);
    }
}

void run_ckpt_benchmarks(void)
{
    struct mf_system_info si;
    if (mf_system_info(&si) != 0)
        return;
    // The image store: up to twelve 2 MiB frames (a 16 MiB process's image
    // is about 18.3 MiB) from GUPS's untypeds.
    static struct mf_ckpt_frames frames = {CB_IMAGE, 0, 21};
    unsigned made = 0;
    for (long ut = GUPS_UT_FIRST; ut < GUPS_UT_FIRST + 3; ut++) {
        mf_cnode_revoke(MF_CAP_SELF_CNODE, ut);
        while (made < 12 && mf_untyped_retype(ut, MF_OBJ_FRAME, 21, 1, MF_CAP_SELF_CNODE, CB_IMAGE + made) == 0)
            made++;
    }
    frames.count = made;
    struct mf_ckpt_store st;
    mf_ckpt_frames_store(&st, &frames);
    for (int cow = 0; cow < 2; cow++) {
        one_size(1, &st, si.counter_hz, cow);
        one_size(16, &st, si.counter_hz, cow);
    }
    for (unsigned i = 0; i < made; i++)
        mf_cnode_delete(MF_CAP_SELF_CNODE, CB_IMAGE + i);
    for (long ut = GUPS_UT_FIRST; ut < GUPS_UT_FIRST + 3; ut++)
        mf_cnode_revoke(MF_CAP_SELF_CNODE, ut);
}
