// Checkpoint/restart (user/lib/ckpt.c, docs/checkpoint.md): ckpt_victim
// is loaded from one untyped, checkpointed mid-run into an image in our
// memory, killed and its untyped revoked (its frames are gone), then
// restored from the image out of another untyped; the restored process
// must finish its run and pass its own checks, three times in a row. A
// corrupted image is refused with the error that says where, nothing made.
// (Killing the original by revoking its memory kills its other threads
// with fault lines: UTEST_FAULTS.)
#include "utest.h"
#include "ckpt.h"
#include "user/lib/split.h"
#include "test_disk.h"
#include "lib/crc32.h"
#include "lib/string.h"
#include "user/root/root.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT_RUN (MF_CAP_UNTYPED_BASE + 3)        // the original
#define UT_BACK (MF_CAP_UNTYPED_BASE + 2)       // the restored process
#define CK_CSPACE 2800
#define CK_LOADER 2801                          // MF_PROGRAM_SLOTS of them
#define CK_READY 2810                           // from UT_BACK: it outlives the original
#define CK_OUT_CNODES 2811                      // 2
#define CK_OUT_LOOSE 2813                       // 2
#define CK_FRESH_UT 2815
#define CK_SNAP 3090                            // copy-on-write: a Snapshot object
#define CK_SCRATCH_SAVE 2820                    // MF_CKPT_SCRATCH_SLOTS
#define CK_SCRATCH_BACK 2950                    // MF_CKPT_SCRATCH_SLOTS
#define CK_CSPACE_BITS 8
#define CK_UT_BITS 20                           // the program's own untyped (slot 16)

#define MAX_OBJECTS 512
#define MAX_CAPS 512
static struct mf_ckpt_object objects[MAX_OBJECTS];
static struct mf_ckpt_cap caps[MAX_CAPS];
static uint32_t hash[2 * MAX_OBJECTS], next[MAX_CAPS];
static long held[MAX_OBJECTS];
static struct mf_ckpt_work work = {objects, caps, hash, next, held, MAX_OBJECTS, MAX_CAPS};
static uint8_t image[2u << 20] __attribute__((aligned(4096)));

// The victim's CSpace: itself (1), the console (3), the System cap read
// only (4), the test's ready notification (6), an untyped (16).
static long make_cspace(void)
{
    long r = mf_untyped_retype(UT_RUN, MF_OBJ_CNODE, CK_CSPACE_BITS, 1, ROOT, CK_CSPACE);
    if (!r)
        r = mf_cnode_copy_to(ROOT, CK_CSPACE, CK_CSPACE, 1, MF_RIGHTS_ALL);
    if (!r)
        r = mf_cnode_copy_to(ROOT, MF_CAP_CONSOLE, CK_CSPACE, 3, MF_RIGHT_WRITE);
    if (!r)
        r = mf_cnode_copy_to(ROOT, MF_CAP_SYSTEM, CK_CSPACE, 4, MF_RIGHT_READ);
    if (!r)
        r = mf_cnode_copy_to(ROOT, CK_READY, CK_CSPACE, 6, MF_RIGHT_WRITE);
    if (!r)
        r = mf_untyped_retype(UT_RUN, MF_OBJ_UNTYPED, CK_UT_BITS, 1, CK_CSPACE, 16);
    return r;
}

static void clean(void)
{
    mf_cnode_revoke(ROOT, UT_RUN);
    mf_cnode_revoke(ROOT, UT_BACK);
    mf_cnode_delete(ROOT, CK_READY);
    mf_cnode_delete(ROOT, CK_SNAP);
    for (long s = CK_CSPACE; s < CK_SCRATCH_BACK + MF_CKPT_SCRATCH_SLOTS; s++)
        mf_cnode_delete(ROOT, s);
}

// Loads and starts the victim; waits until it is set up.
static const char *start_victim(struct mf_program *p)
{
    if (mf_untyped_retype(UT_BACK, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CK_READY) || make_cspace())
        return "could not make the victim's CSpace";
    struct mf_load_args a = {.name = "ckpt_victim", .cspace = CK_CSPACE, .untyped = UT_RUN, .slots = CK_LOADER};
    if (mf_program_load(p, &a) != 0 || mf_program_start(p) != 0)
        return "could not start ckpt_victim";
    if (mf_notification_wait_timeout(CK_READY, 500) <= 0)
        return "ckpt_victim did not get ready";
    return NULL;
}

static void victim_process(const struct mf_program *p, struct mf_ckpt_process *proc)
{
    *proc = (struct mf_ckpt_process){.cnode = {CK_CSPACE, p->objects}, .cnodes = 2,
                                     .loose = {p->thread, p->exit}, .looses = 2,
                                     .external = {{0, 6}}, .externals = 1};
}

static long restore(struct mf_ckpt_store *st, struct mf_ckpt_stats *stats)
{
    if (mf_untyped_retype(UT_BACK, MF_OBJ_UNTYPED, CK_UT_BITS, 1, ROOT, CK_FRESH_UT) != 0)
        return -E_NOMEM;
    struct mf_ckpt_env env = {.untyped = {UT_BACK}, .scratch = CK_SCRATCH_BACK,
                              .external = {{0, 6, CK_READY}}, .externals = 1,
                              .cnode_out = {CK_OUT_CNODES, CK_OUT_CNODES + 1},
                              .loose_out = {CK_OUT_LOOSE, CK_OUT_LOOSE + 1}};
    env.by_type[MF_OBJ_CONSOLE] = MF_CAP_CONSOLE;
    env.by_type[MF_OBJ_SYSTEM] = MF_CAP_SYSTEM;
    env.by_type[MF_OBJ_UNTYPED] = CK_FRESH_UT;
    return mf_ckpt_restore(st, &work, &env, stats);
}

// The cases, each three times: checkpoint at once after set-up (main about
// to wait, workers starting), and later, with the workers midway.
static const struct {
    const char *name;
    long delay;          // ticks between ready and the checkpoint
} cases[] = {{"just set up", 0}, {"midway", 5}};

// A store that takes its time: its first write waits 3 ticks, so that a
// copy-on-write save copies while the process has run for a while.
struct slow_store {
    struct mf_ckpt_store inner;
    bool slept;
};

static long slow_write(void *ctx, uint64_t offset, const void *buf, uint64_t len)
{
    struct slow_store *s = ctx;
    if (!s->slept) {
        s->slept = true;
        mf_sleep(3);
    }
    return s->inner.write(s->inner.ctx, offset, buf, len);
}

static long slow_read(void *ctx, uint64_t offset, void *buf, uint64_t len)
{
    struct slow_store *s = ctx;
    return s->inner.read(s->inner.ctx, offset, buf, len);
}

// One round: start the victim, wait `delay` ticks, checkpoint it (with a
// copy-on-write snapshot when `cow`; *copied counts the pages it copied),
// kill it, restore it; it must finish its run with its own checks passed.
static const char *kill_restart_round(const char *name, int round, long delay, bool cow, uint64_t *copied)
{
    static struct mf_ckpt_memory mem = {image, sizeof(image)};
    static struct slow_store slow;
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&slow.inner, &mem);
    slow.slept = false;
    if (cow)
        st = (struct mf_ckpt_store){&slow, slow_write, slow_read, slow.inner.capacity};
    else
        st = slow.inner;
    struct mf_program p;
    const char *why = start_victim(&p);
    if (why)
        return why;
    if (delay)
        mf_sleep(delay);
    struct mf_ckpt_process proc;
    victim_process(&p, &proc);
    // The snapshot comes from the original's untyped and goes with it.
    if (cow && mf_untyped_retype(UT_RUN, MF_OBJ_SNAPSHOT, 20, 1, ROOT, CK_SNAP) != 0)
        return "could not make the snapshot";
    proc.snapshot = cow ? CK_SNAP : 0;
    struct mf_ckpt_stats ss, rs;
    long r = mf_ckpt_save(&proc, &st, &work, CK_SCRATCH_SAVE, &ss);
    if (r != 0) {
        printf("# %s, round %d: save: %s\n", name, round, mf_strerror_detail(r));
        return "the checkpoint failed";
    }
    struct mf_snapshot_info info = {0};
    if (cow) {
        if (mf_snapshot_info(CK_SNAP, &info) != 0 || info.lost || info.armed)
            return "the snapshot lost a page or kept one armed";
        *copied += info.copied;
    }
    // The original ends before it could finish: its untyped, every
    // frame it had included, is revoked.
    bool finished = mf_notification_poll(p.exit) != 0;
    mf_program_destroy(&p);
    UCHECK(mf_cnode_revoke(ROOT, UT_RUN) == 0);
    for (long s = CK_CSPACE; s < CK_CSPACE + 8; s++)
        mf_cnode_delete(ROOT, s);
    mf_cnode_delete(ROOT, CK_SNAP);
    if (finished)
        return "the victim finished before its checkpoint (make STEPS larger)";
    r = restore(&slow.inner, &rs);
    if (r != 0) {
        printf("# %s, round %d: restore: %s\n", name, round, mf_strerror_detail(r));
        return "the restore failed";
    }
    long exited = mf_notification_wait_timeout(CK_OUT_LOOSE + 1, 3000);
    struct mf_exit_status es = {0};
    long sr = mf_thread_exit_status(CK_OUT_LOOSE, &es);
    printf("# %s, round %d: %lu objects, %lu caps, %lu threads, %lu pages; frozen %lu of %lu cycles",
           name, round, (unsigned long)ss.objects, (unsigned long)ss.caps, (unsigned long)ss.threads,
           (unsigned long)ss.pages, (unsigned long)ss.frozen_cycles, (unsigned long)ss.total_cycles);
    if (cow)
        printf(", %lu pages written meanwhile", (unsigned long)info.copied);
    printf("; exit %ld/%ld how %u code %d\n", exited, sr, es.how, es.code);
    UCHECK(exited > 0 && sr == 0);
    UCHECK(es.how == EXIT_NORMAL && es.code == 0);
    UCHECK(ss.threads >= 3 && ss.pages > 30);     // main, the receiver, a worker at least: mid-run
    return NULL;
}

UTEST_FAULTS(checkpoint_kill_restart_finishes_the_run)
{
    clean();
    uint64_t copied = 0;
    for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (int round = 0; round < 3; round++) {
            const char *why = kill_restart_round(cases[c].name, round, cases[c].delay, false, &copied);
            clean();
            if (why)
                return why;
        }
    }
    return NULL;
}

// Copy-on-write (docs/checkpoint.md): the workers go on stepping their
// sequences into their arrays while the save copies them. The restored
// run can only end with every check passed if each page was saved as it
// was at the instant the threads stopped, not as they left it later; and
// the snapshot must have copied pages they wrote meanwhile (else this
// would not test it).
UTEST_FAULTS(checkpoint_copy_on_write_saves_the_instant_it_stopped)
{
    clean();
    uint64_t copied = 0;
    for (int round = 0; round < 3; round++) {
        const char *why = kill_restart_round("copy-on-write, midway", round, 5, true, &copied);
        clean();
        if (why)
            return why;
    }
    UCHECK(copied > 0);
    return NULL;
}

// ------------------------------------------------- a split process
// Restart on a fresh lower half, as MANA re-initializes MPI: split_upper
// in its checkpoint mode (user/programs/split_upper.c) calls its lower
// half, then waits; the checkpoint leaves the lower half's memory out; the
// original is ended and its memory revoked; the restore builds the upper
// half, the lower half is loaded again from its image, and the upper half
// calls it once more. Its exit code says what it found: the lower half's
// counter started again (1) while its own was kept (16 x 1) = 17; run
// without a restart, the same program exits 22.
#define CK_SPLIT_GO 2816                // a copy of its "go" notification (slot 7)

static const char *start_split(struct mf_program *p)
{
    if (mf_untyped_retype(UT_BACK, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CK_READY) || make_cspace() ||
        mf_untyped_retype(UT_RUN, MF_OBJ_NOTIFICATION, 0, 1, CK_CSPACE, 7))
        return "could not make the split process's CSpace";
    struct mf_load_args a = {.name = "split_upper", .lower = "split_lower", .arg = 2, .cspace = CK_CSPACE,
                             .untyped = UT_RUN, .slots = CK_LOADER};
    if (mf_program_load(p, &a) != 0 || mf_program_start(p) != 0)
        return "could not start the split process";
    if (mf_notification_wait_timeout(CK_READY, 500) <= 0)
        return "the split process did not get ready";
    return NULL;
}

static long signal_go(long cspace)
{
    long r = mf_cnode_copy_to(cspace, 7, ROOT, CK_SPLIT_GO, MF_RIGHT_WRITE);
    if (r == 0)
        r = mf_notification_signal(CK_SPLIT_GO);
    mf_cnode_delete(ROOT, CK_SPLIT_GO);
    return r;
}

UTEST_FAULTS(checkpoint_restarts_a_split_process_on_a_fresh_lower_half)
{
    clean();
    static struct mf_ckpt_memory mem = {image, sizeof(image)};
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &mem);
    // Uninterrupted, for comparison: 22.
    struct mf_program p;
    const char *why = start_split(&p);
    struct mf_exit_status es = {0};
    if (!why && (signal_go(CK_CSPACE) != 0 || mf_program_wait(&p, &es) != 0))
        why = "the split process did not run to its end";
    if (p.thread)
        mf_program_destroy(&p);
    clean();
    if (why)
        return why;
    UCHECK(es.how == EXIT_NORMAL && es.code == 22);
    for (int round = 0; round < 3; round++) {
        if ((why = start_split(&p)) != NULL) {
            clean();
            return why;
        }
        uint64_t info_va = p.split_info;
        struct mf_ckpt_process proc;
        victim_process(&p, &proc);
        struct mf_ckpt_stats whole, fresh, rs;
        long r = mf_ckpt_save(&proc, &st, &work, CK_SCRATCH_SAVE, &whole);
        proc.fresh_half = MF_HALF_LOWER;
        if (r == 0)
            r = mf_ckpt_save(&proc, &st, &work, CK_SCRATCH_SAVE, &fresh);
        mf_program_destroy(&p);
        mf_cnode_revoke(ROOT, UT_RUN);
        for (long s = CK_CSPACE; s < CK_CSPACE + 8; s++)
            mf_cnode_delete(ROOT, s);
        if (r == 0)
            r = restore(&st, &rs);
        struct mf_split_reload rl = {.image = "split_lower", .objects = CK_OUT_CNODES + 1, .info_va = info_va,
                                     .untyped = UT_BACK, .scratch = CK_SCRATCH_BACK};
        long reloaded = r == 0 ? mf_split_reload_lower(&rl) : r;
        long go = reloaded == 0 ? signal_go(CK_OUT_CNODES) : reloaded;
        long exited = go == 0 ? mf_notification_wait_timeout(CK_OUT_LOOSE + 1, 3000) : go;
        es = (struct mf_exit_status){0};
        long sr = mf_thread_exit_status(CK_OUT_LOOSE, &es);
        printf("# round %d: whole image %lu pages, without the lower half %lu; restore %ld, reload %ld, "
               "exit %ld/%ld how %u code %d\n", round, (unsigned long)whole.pages, (unsigned long)fresh.pages, r,
               reloaded, exited, sr, es.how, es.code);
        clean();
        UCHECK(r == 0 && reloaded == 0 && exited > 0 && sr == 0);
        UCHECK(fresh.pages < whole.pages);
        UCHECK(es.how == EXIT_NORMAL && es.code == 17);
    }
    return NULL;
}

// Starts ckpt_victim, checkpoints it into `st` and ends it (everything but
// the image cleaned up); the image's header, checked, in *h.
static const char *saved_victim(const struct mf_ckpt_store *st, struct mf_ckpt_header *h)
{
    struct mf_program p;
    const char *why = start_victim(&p);
    if (why) {
        clean();
        return why;
    }
    struct mf_ckpt_process proc;
    victim_process(&p, &proc);
    long r = mf_ckpt_save(&proc, st, &work, CK_SCRATCH_SAVE, NULL);
    mf_program_destroy(&p);
    clean();
    UCHECK(r == 0);
    UCHECK(mf_ckpt_check(st, &work, h) == 0);
    return NULL;
}

// Makes both checksums of the image at img right again after a change to
// its tables (a forger's work).
static void reseal(uint8_t *img, const struct mf_ckpt_header *h)
{
    struct mf_ckpt_header *ih = (struct mf_ckpt_header *)img;
    uint32_t crc = crc32_update(0, img + h->object_offset, h->object_count * sizeof(struct mf_ckpt_object));
    ih->table_crc = crc32_update(crc, img + h->cap_offset, h->cap_count * sizeof(struct mf_ckpt_cap));
    ih->header_crc = 0;
    ih->header_crc = crc32_update(0, ih, sizeof(*ih));
}

// A bad image makes nothing: a flipped byte in a page, in the tables, in
// the header, a wrong magic each give their error, and the untyped given
// for the restore is untouched (one more retype of all of it succeeds).
UTEST_FAULTS(corrupted_checkpoint_image_is_refused)
{
    clean();
    static struct mf_ckpt_memory mem = {image, sizeof(image)};
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &mem);
    struct mf_ckpt_header h;
    const char *why = saved_victim(&st, &h);
    if (why)
        return why;
    // The magic, the header, the tables, a page.
    const uint64_t where[4] = {0, offsetof(struct mf_ckpt_header, image_bytes), h.object_offset + 20,
                               h.page_offset + 5 * 4096 + 123};
    const long error[4] = {-E_NOEXEC, -E_INVAL, -E_INVAL, -E_INVAL};
    for (unsigned i = 0; i < 4; i++) {
        image[where[i]] ^= 0x40;
        long r = restore(&st, NULL);
        image[where[i]] ^= 0x40;
        for (long s = CK_OUT_CNODES; s < CK_OUT_LOOSE + 2; s++)
            UCHECK(mf_cnode_identify(ROOT, s) == 0);
        mf_cnode_delete(ROOT, CK_FRESH_UT);
        UCHECK(r == error[i]);
        // Nothing of it is left but memory the untyped takes back.
        UCHECK(mf_cnode_revoke(ROOT, UT_BACK) == 0);
        UCHECK(mf_untyped_retype(UT_BACK, MF_OBJ_UNTYPED, 23, 1, ROOT, CK_FRESH_UT) == 0);
        mf_cnode_delete(ROOT, CK_FRESH_UT);
        UCHECK(mf_cnode_revoke(ROOT, UT_BACK) == 0);
    }
    // A forged image: a thread's home VAS taken away, both checksums made
    // right again. The checksum is no authentication: the check of every
    // reference refuses it (restore would otherwise configure the thread
    // in our own address space).
    for (unsigned k = 0; k < h.object_count; k++) {
        struct mf_ckpt_object *o = (struct mf_ckpt_object *)(image + h.object_offset) + k;
        if (o->type != MF_OBJ_THREAD || (o->flags & MF_CKPT_OBJECT_FLAG_NO_CONTEXT))
            continue;
        o->thread.home = 0;
        reseal(image, &h);
        UCHECK(restore(&st, NULL) == -E_INVAL);
        mf_cnode_delete(ROOT, CK_FRESH_UT);
        for (long sl = CK_OUT_CNODES; sl < CK_OUT_LOOSE + 2; sl++)
            UCHECK(mf_cnode_identify(ROOT, sl) == 0);
        UCHECK(mf_cnode_revoke(ROOT, UT_BACK) == 0);
        break;
    }
    clean();
    return NULL;
}

// Images with good checksums and random bytes changed in their tables (a
// buggy checkpointer, a forger): every restore either refuses with an
// error or builds a process out of its own untyped, whose threads may
// fault or spin in their own address space; revoking the untyped ends
// all of it, and the restorer's slots stay as they were. The kernel and
// the restorer see nothing worse than errors and fault lines.
static uint8_t mutant[sizeof(image)] __attribute__((aligned(4096)));

UTEST_FAULTS(mutated_checkpoint_images_fail_cleanly)
{
    clean();
    static struct mf_ckpt_memory mem = {image, sizeof(image)}, mmem = {mutant, sizeof(mutant)};
    struct mf_ckpt_store st, mst;
    mf_ckpt_memory_store(&st, &mem);
    mf_ckpt_memory_store(&mst, &mmem);
    struct mf_ckpt_header h;
    const char *why = saved_victim(&st, &h);
    if (why)
        return why;
    uint64_t objects = h.object_count * sizeof(struct mf_ckpt_object), caps = h.cap_count * sizeof(struct mf_ckpt_cap);
    uint64_t seed = 0x5eed0f1a;
    unsigned refused = 0, built = 0;
    for (unsigned round = 0; round < 40; round++) {
        memcpy(mutant, image, h.image_bytes);
        for (unsigned k = 0; k < 1 + round % 4; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            uint64_t at = (seed >> 33) % (objects + caps);
            uint64_t off = at < objects ? h.object_offset + at : h.cap_offset + (at - objects);
            mutant[off] ^= (uint8_t)(seed >> 17 | 1);
        }
        reseal(mutant, &h);
        UCHECK(mf_untyped_retype(UT_RUN, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CK_READY) == 0);
        long r = restore(&mst, NULL);
        if (r == 0) {
            built++;
            mf_notification_wait_timeout(CK_OUT_LOOSE + 1, 20);    // let it run (or fault) a little
        } else {
            UCHECK(r < 0 && r > -E_ERROR_COUNT);
            refused++;
        }
        // Everything it made goes with the untypeds; our slots are ours.
        UCHECK(mf_cnode_revoke(ROOT, UT_BACK) == 0 && mf_cnode_revoke(ROOT, UT_RUN) == 0);
        for (long sl = CK_READY; sl < CK_OUT_LOOSE + 2; sl++)
            mf_cnode_delete(ROOT, sl);
        mf_cnode_delete(ROOT, CK_FRESH_UT);
        UCHECK((mf_cnode_identify(ROOT, MF_CAP_CONSOLE) & 0xff) == MF_OBJ_CONSOLE);
        UCHECK((mf_cnode_identify(ROOT, MF_CAP_SYSTEM) & 0xff) == MF_OBJ_SYSTEM);
    }
    printf("# 40 mutated images: %u refused, %u built and taken back\n", refused, built);
    UCHECK(refused > 0);
    UCHECK(mf_untyped_retype(UT_BACK, MF_OBJ_UNTYPED, 23, 1, ROOT, CK_FRESH_UT) == 0);   // all of it free again
    clean();
    return NULL;
}

// MF_CNODE_DESCRIBE: one name per object whatever the cap; the object's
// state only through a cap with READ; the next occupied slot; READ on the
// CNode needed; an empty slot is type 0.
#define CK_NTFN 2816
#define CK_NTFN_W 2817
#define CK_CNODE_W 2818
#define CK_EMPTY 2819
UTEST(describe_names_objects_and_shows_state_through_read)
{
    clean();
    UCHECK(mf_untyped_retype(UT_BACK, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CK_NTFN) == 0);
    UCHECK(mf_cnode_mint(ROOT, CK_NTFN, CK_NTFN_W, MF_RIGHT_WRITE, 0x30) == 0);
    UCHECK(mf_notification_signal(CK_NTFN_W) == 0);
    UCHECK(mf_cnode_copy(ROOT, ROOT, CK_CNODE_W, MF_RIGHT_WRITE) == 0);
    static struct mf_cap_info full, writer, none;
    UCHECK(mf_cnode_describe(ROOT, CK_NTFN, &full) == 0 && mf_cnode_describe(ROOT, CK_NTFN_W, &writer) == 0);
    UCHECK(full.type == MF_OBJ_NOTIFICATION && full.rights == MF_RIGHTS_ALL && full.notification.word == 0x30);
    UCHECK(writer.object == full.object && full.object != 0);
    UCHECK(full.next == CK_NTFN_W && writer.next == CK_CNODE_W);       // the next occupied slots
    UCHECK(writer.badge == 0x30 && writer.notification.word == 0);     // no READ: no state
    UCHECK(mf_notification_poll(CK_NTFN) == 0x30);                       // describing took nothing
    UCHECK(mf_cnode_describe(ROOT, CK_EMPTY, &none) == 0 && none.type == 0 && none.object == 0);
    UCHECK(mf_cnode_describe(CK_CNODE_W, CK_NTFN, &none) == -E_PERM);
    UCHECK(mf_cnode_describe(ROOT, 1 << MF_ROOT_CNODE_BITS, &none) == -E_RANGE);
    UCHECK(mf_cnode_describe(ROOT, CK_NTFN, (struct mf_cap_info *)0xffff800000000000ul) == -E_FAULT);
    // Another object, another name.
    UCHECK(mf_untyped_retype(UT_BACK, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CK_EMPTY) == 0);
    UCHECK(mf_cnode_describe(ROOT, CK_EMPTY, &none) == 0 && none.object != full.object);
    clean();
    return NULL;
}

// ---------------------------------------------------------------- on disk
// The image goes to the data disk through the block service (blkd), from
// sector TEST_DISK_CKPT_SECTOR (test_disk.h); tools/qemu then checks it
// with tools/ckpt-inspect and boots the machine again on the same disk with
// `ckpt-reboot` on the command line, where the second test restores it:
// the victim finishes its run in a machine that never ran it.
#define CK_DISK_SECTOR TEST_DISK_CKPT_SECTOR

static const char *blk_open(struct mf_ckpt_store *st)
{
    return test_disk_open(TEST_DISK_CKPT_SECTOR, TEST_DISK_DSM_SECTOR, st);
}

static const char *run_restored(struct mf_ckpt_store *st)
{
    struct mf_ckpt_stats rs;
    long r = restore(st, &rs);
    if (r != 0) {
        printf("# restore: %s\n", mf_strerror_detail(r));
        return "the restore failed";
    }
    long exited = mf_notification_wait_timeout(CK_OUT_LOOSE + 1, 3000);
    struct mf_exit_status es = {0};
    long sr = mf_thread_exit_status(CK_OUT_LOOSE, &es);
    printf("# restored from the disk: %lu pages; exit %ld/%ld how %u code %d\n", (unsigned long)rs.pages, exited, sr,
           es.how, es.code);
    if (exited <= 0 || sr != 0 || es.how != EXIT_NORMAL || es.code != 0)
        return "the restored process did not finish its run";
    return NULL;
}

UTEST_FAULTS(checkpoint_image_goes_to_disk_and_back)
{
    clean();
    struct mf_ckpt_store st;
    const char *why = blk_open(&st);
    struct mf_program p;
    if (!why)
        why = start_victim(&p);
    if (!why) {
        mf_sleep(3);
        struct mf_ckpt_process proc;
        victim_process(&p, &proc);
        struct mf_ckpt_stats ss;
        long r = mf_ckpt_save(&proc, &st, &work, CK_SCRATCH_SAVE, &ss);
        mf_program_destroy(&p);
        UCHECK(mf_cnode_revoke(ROOT, UT_RUN) == 0);
        for (long s = CK_CSPACE; s < CK_CSPACE + 8; s++)
            mf_cnode_delete(ROOT, s);
        if (r != 0)
            why = "the checkpoint to disk failed";
        else
            printf("# ckpt image on the data disk: sector %u, %lu bytes, %lu threads\n", CK_DISK_SECTOR,
                   (unsigned long)ss.image_bytes, (unsigned long)ss.threads);
    }
    if (!why)
        why = run_restored(&st);
    test_disk_close();
    clean();
    return why;
}

UTEST(checkpoint_restart_after_reboot)
{
    if (!test_disk_second_boot())
        return "SKIP runs in the second boot tools/qemu makes on the same disk (ckpt-reboot)";
    clean();
    UCHECK(mf_untyped_retype(UT_BACK, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CK_READY) == 0);
    struct mf_ckpt_store st;
    const char *why = blk_open(&st);
    if (!why)
        why = run_restored(&st);
    test_disk_close();
    clean();
    return why;
}
