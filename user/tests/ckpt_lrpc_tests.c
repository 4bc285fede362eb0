// Checkpoint/restart of a process holding an LRPC binding
// (docs/checkpoint.md, "LRPC bindings"): ckpt_lrpc is its own server (a
// server VAS, an A-stack segment, a state segment only the server maps)
// and its own clients (three threads in client VASes calling in a loop and
// checking every result against the running sum they keep, and a holder
// whose calls stay in the server for 10 ticks). It is checkpointed, killed
// (its untyped revoked), and restored from another untyped, three times;
// the restored clients call on and the process checks everything at its
// end. A call that does not end in time makes the save refuse, and the
// process runs on; forged and mutated binding records are refused or
// built only from the restore's untyped.
//
// Slots of ours: 3400..3547 (CL_*), nothing else's.
#include "utest.h"
#include "ckpt.h"
#include "lib/crc32.h"
#include "lib/string.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT_RUN (MF_CAP_UNTYPED_BASE + 3)        // the original
#define UT_BACK (MF_CAP_UNTYPED_BASE + 2)       // the restored process
#define CL_CSPACE 3400
#define CL_LOADER 3401                          // MF_PROGRAM_SLOTS of them
#define CL_READY 3410                           // from UT_BACK: it outlives the original
#define CL_OUT_CNODES 3411                      // 2
#define CL_OUT_LOOSE 3413                       // 2: its thread, its exit notification
#define CL_FRESH_UT 3415
#define CL_SCRATCH 3420                         // MF_CKPT_SCRATCH_SLOTS: save's, then restore's
#define CL_LAST (CL_SCRATCH + MF_CKPT_SCRATCH_SLOTS)
#define CL_CSPACE_BITS 8
#define CL_UT_BITS 20                           // the program's own untyped (slot 16)
#define PROCEDURES 4                            // ckpt_lrpc's
#define ASTACKS 4                               // its 3 clients and the holder

#define MAX_OBJECTS 256
#define MAX_CAPS 256
static struct mf_ckpt_object objects[MAX_OBJECTS];
static struct mf_ckpt_cap caps[MAX_CAPS];
static uint32_t hash[2 * MAX_OBJECTS], next[MAX_CAPS];
static long held[MAX_OBJECTS];
static struct mf_ckpt_work work = {objects, caps, hash, next, held, MAX_OBJECTS, MAX_CAPS};
static uint8_t image[1u << 20] __attribute__((aligned(4096)));

// Its CSpace: itself (1), the console (3), the System cap read only (4),
// our ready notification (6), an untyped (16).
static long make_cspace(void)
{
    long r = mf_untyped_retype(UT_RUN, MF_OBJ_CNODE, CL_CSPACE_BITS, 1, ROOT, CL_CSPACE);
    if (!r)
        r = mf_cnode_copy_to(ROOT, CL_CSPACE, CL_CSPACE, 1, MF_RIGHTS_ALL);
    if (!r)
        r = mf_cnode_copy_to(ROOT, MF_CAP_CONSOLE, CL_CSPACE, 3, MF_RIGHT_WRITE);
    if (!r)
        r = mf_cnode_copy_to(ROOT, MF_CAP_SYSTEM, CL_CSPACE, 4, MF_RIGHT_READ);
    if (!r)
        r = mf_cnode_copy_to(ROOT, CL_READY, CL_CSPACE, 6, MF_RIGHT_WRITE);
    if (!r)
        r = mf_untyped_retype(UT_RUN, MF_OBJ_UNTYPED, CL_UT_BITS, 1, CL_CSPACE, 16);
    return r;
}

static void clean(void)
{
    mf_cnode_revoke(ROOT, UT_RUN);
    mf_cnode_revoke(ROOT, UT_BACK);
    for (long s = CL_CSPACE; s < CL_LAST; s++)
        mf_cnode_delete(ROOT, s);
}

// Loads and starts ckpt_lrpc (arg: its holder's one long hold, or 0);
// returns once its holder is inside the server.
static const char *start(struct mf_program *p, uint64_t arg)
{
    if (mf_untyped_retype(UT_BACK, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CL_READY) || make_cspace())
        return "could not make ckpt_lrpc's CSpace";
    struct mf_load_args a = {.name = "ckpt_lrpc", .arg = arg, .cspace = CL_CSPACE, .untyped = UT_RUN,
                             .slots = CL_LOADER};
    if (mf_program_load(p, &a) != 0 || mf_program_start(p) != 0)
        return "could not start ckpt_lrpc";
    if (mf_notification_wait_timeout(CL_READY, 500) <= 0)
        return "ckpt_lrpc did not get ready";
    return NULL;
}

static void process_of(const struct mf_program *p, struct mf_ckpt_process *proc)
{
    *proc = (struct mf_ckpt_process){.cnode = {CL_CSPACE, p->objects}, .cnodes = 2,
                                     .loose = {p->thread, p->exit}, .looses = 2,
                                     .external = {{0, 6}}, .externals = 1};
}

// Ends the original: its thread, then all of its memory.
static void kill(struct mf_program *p)
{
    mf_program_destroy(p);
    mf_cnode_revoke(ROOT, UT_RUN);
    for (long s = CL_CSPACE; s < CL_CSPACE + 8; s++)
        mf_cnode_delete(ROOT, s);
}

static long restore(struct mf_ckpt_store *st, struct mf_ckpt_stats *stats)
{
    if (mf_untyped_retype(UT_BACK, MF_OBJ_UNTYPED, CL_UT_BITS, 1, ROOT, CL_FRESH_UT) != 0)
        return -E_NOMEM;
    struct mf_ckpt_env env = {.untyped = {UT_BACK}, .scratch = CL_SCRATCH,
                              .external = {{0, 6, CL_READY}}, .externals = 1,
                              .cnode_out = {CL_OUT_CNODES, CL_OUT_CNODES + 1},
                              .loose_out = {CL_OUT_LOOSE, CL_OUT_LOOSE + 1}};
    env.by_type[MF_OBJ_CONSOLE] = MF_CAP_CONSOLE;
    env.by_type[MF_OBJ_SYSTEM] = MF_CAP_SYSTEM;
    env.by_type[MF_OBJ_UNTYPED] = CL_FRESH_UT;
    return mf_ckpt_restore(st, &work, &env, stats);
}

// The image's one binding, checked against what ckpt_lrpc configured: its
// index, or -1.
static int image_binding(const struct mf_ckpt_header *h)
{
    int found = -1;
    for (unsigned k = 0; k < h->object_count; k++) {
        const struct mf_ckpt_object *o = &objects[k];
        if (o->type != MF_OBJ_BINDING)
            continue;
        if (found >= 0)
            return -1;
        found = (int)k;
        bool ok = o->binding.procedures == PROCEDURES && o->binding.entry &&
                  o->binding.cspace == 1 &&     // the process's CSpace: listed CNode 0
                  objects[o->binding.server - 1].type == MF_OBJ_VAS &&
                  objects[o->binding.astacks - 1].type == MF_OBJ_SEGMENT;
        for (unsigned i = 0; i < 16; i++)
            ok &= i < ASTACKS ? o->binding.astack[i].size == 1024 && o->binding.astack[i].estack_top &&
                                    o->binding.astack[i].va == 0x100000000ul + i * 1024
                              : o->binding.astack[i].size == 0;
        // The A-stack segment is attached to the server VAS and to the
        // four client VASes (ATTACH_CLIENT), read-write.
        unsigned attached = 0;
        for (unsigned v = 0; v < h->object_count; v++)
            for (unsigned i = 0; objects[v].type == MF_OBJ_VAS && i < objects[v].vas.count && i < 16; i++)
                attached += objects[v].vas.segment[i] == o->binding.astacks &&
                            objects[v].vas.rights[i] == (MF_RIGHT_READ | MF_RIGHT_WRITE);
        if (!ok || attached != 1 + ASTACKS) {
            printf("# the image's binding #%u: %u procedures, CSpace #%d, attached to %u VASes\n", k,
                   o->binding.procedures, (int)o->binding.cspace - 1, attached);
            return -1;
        }
    }
    return found;
}

static const struct {
    const char *name;
    long delay;          // ticks between ready (the holder inside the server) and the checkpoint
} cases[] = {{"holder inside", 0}, {"midway", 15}};

UTEST_FAULTS(checkpoint_lrpc_server_and_clients_restart_three_times)
{
    clean();
    static struct mf_ckpt_memory mem = {image, sizeof(image)};
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &mem);
    uint64_t waited_inside = 0;
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0 && si.counter_hz >= 1000000);
    for (unsigned c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        for (int round = 0; round < 3; round++) {
            struct mf_program p;
            const char *why = start(&p, 0);
            if (why) {
                clean();
                return why;
            }
            if (cases[c].delay)
                mf_sleep(cases[c].delay);
            struct mf_ckpt_process proc;
            process_of(&p, &proc);
            struct mf_ckpt_stats ss, rs;
            long r = mf_ckpt_save(&proc, &st, &work, CL_SCRATCH, &ss);
            bool finished = mf_notification_poll(p.exit) != 0;
            kill(&p);
            if (r != 0) {
                printf("# %s, round %d: save: %s\n", cases[c].name, round, mf_strerror_detail(r));
                clean();
                return "the checkpoint failed";
            }
            if (finished) {
                clean();
                return "ckpt_lrpc finished before its checkpoint (make CALLS larger)";
            }
            struct mf_ckpt_header h;
            UCHECK(mf_ckpt_check(&st, &work, &h) == 0);
            UCHECK(image_binding(&h) >= 0);
            r = restore(&st, &rs);
            if (r != 0) {
                printf("# %s, round %d: restore: %s\n", cases[c].name, round, mf_strerror_detail(r));
                clean();
                return "the restore failed";
            }
            long exited = mf_notification_wait_timeout(CL_OUT_LOOSE + 1, 3000);
            struct mf_exit_status es = {0};
            long sr = mf_thread_exit_status(CL_OUT_LOOSE, &es);
            printf("# %s, round %d: %lu objects, %lu caps, %lu threads (%lu inside an LRPC call, let out), "
                   "%lu pages, frozen %lu us; exit %ld/%ld how %u code %d\n",
                   cases[c].name, round, (unsigned long)ss.objects, (unsigned long)ss.caps,
                   (unsigned long)ss.threads, (unsigned long)ss.lrpc_waited, (unsigned long)ss.pages,
                   (unsigned long)(ss.frozen_cycles / (si.counter_hz / 1000000)), exited, sr, es.how,
                   es.code);
            clean();
            if (c == 0)
                waited_inside += ss.lrpc_waited;
            UCHECK(exited > 0 && sr == 0);
            UCHECK(es.how == EXIT_NORMAL && es.code == 0);
            UCHECK(ss.threads == 5);        // main, three clients, the holder
        }
    }
    // The holder signals from inside the server and stays 10 ticks: the
    // checkpoints right after found it (or a client) inside a call.
    UCHECK(waited_inside > 0);
    return NULL;
}

// A call that stays in the server longer than a save waits (200 ticks
// against 50): the save refuses with -E_BUSY and the process runs on to
// its end, every check passed.
UTEST_FAULTS(checkpoint_lrpc_call_that_does_not_end_is_refused)
{
    clean();
    static struct mf_ckpt_memory mem = {image, sizeof(image)};
    struct mf_ckpt_store st;
    mf_ckpt_memory_store(&st, &mem);
    struct mf_program p;
    const char *why = start(&p, 200);
    if (why) {
        clean();
        return why;
    }
    struct mf_ckpt_process proc;
    process_of(&p, &proc);
    struct mf_ckpt_stats ss = {0};
    long began = mf_time();
    long r = mf_ckpt_save(&proc, &st, &work, CL_SCRATCH, &ss);
    long took = mf_time() - began;
    struct mf_exit_status es = {0};
    long w = r == -E_BUSY ? mf_notification_wait_timeout(p.exit, 3000) : r;
    long sr = mf_thread_exit_status(p.thread, &es);
    printf("# save %ld (%s) after %ld ticks; then exit %ld/%ld how %u code %d\n", r, mf_strerror(r), took, w, sr,
           es.how, es.code);
    kill(&p);
    clean();
    UCHECK(r == -E_BUSY);
    UCHECK(w > 0 && sr == 0 && es.how == EXIT_NORMAL && es.code == 0);
    // The scratch slots are empty again.
    for (long s = CL_SCRATCH; s < CL_LAST; s++)
        UCHECK(mf_cnode_identify(ROOT, s) == 0);
    return NULL;
}

// Saves ckpt_lrpc once (holder inside) into image[]; *h its header.
static const char *saved(struct mf_ckpt_store *st, struct mf_ckpt_header *h, int *binding)
{
    static struct mf_ckpt_memory mem = {image, sizeof(image)};
    mf_ckpt_memory_store(st, &mem);
    struct mf_program p;
    const char *why = start(&p, 0);
    if (why) {
        clean();
        return why;
    }
    struct mf_ckpt_process proc;
    process_of(&p, &proc);
    long r = mf_ckpt_save(&proc, st, &work, CL_SCRATCH, NULL);
    kill(&p);
    clean();
    if (r != 0 || mf_ckpt_check(st, &work, h) != 0 || (*binding = image_binding(h)) < 0)
        return "could not save ckpt_lrpc";
    return NULL;
}

// Both checksums made right again after a change to the tables.
static void reseal(const struct mf_ckpt_header *h)
{
    struct mf_ckpt_header *ih = (struct mf_ckpt_header *)image;
    uint32_t crc = crc32_update(0, image + h->object_offset, h->object_count * sizeof(struct mf_ckpt_object));
    ih->table_crc = crc32_update(crc, image + h->cap_offset, h->cap_count * sizeof(struct mf_ckpt_cap));
    ih->header_crc = 0;
    ih->header_crc = crc32_update(0, ih, sizeof(*ih));
}

// After a restore that failed or was taken back: our slots as they were,
// nothing left of it but memory the untypeds take back.
static bool restorer_whole(void)
{
    bool ok = mf_cnode_revoke(ROOT, UT_BACK) == 0 && mf_cnode_revoke(ROOT, UT_RUN) == 0;
    for (long s = CL_READY; s < CL_LAST; s++)
        mf_cnode_delete(ROOT, s);
    ok &= (mf_cnode_identify(ROOT, MF_CAP_CONSOLE) & 0xff) == MF_OBJ_CONSOLE;
    ok &= (mf_cnode_identify(ROOT, MF_CAP_SYSTEM) & 0xff) == MF_OBJ_SYSTEM;
    ok &= mf_untyped_retype(UT_BACK, MF_OBJ_UNTYPED, 23, 1, ROOT, CL_FRESH_UT) == 0;     // all 8 MiB free
    mf_cnode_delete(ROOT, CL_FRESH_UT);
    return ok && mf_cnode_revoke(ROOT, UT_BACK) == 0;
}

// Forged binding records with good checksums: references to objects of
// the wrong type or to none (restore would otherwise configure the binding
// with our own CSpace), state on a binding said to be unconfigured, and
// values the kernel refuses. Each is refused, with a console line; nothing
// is left.
UTEST_FAULTS(checkpoint_lrpc_forged_bindings_are_refused)
{
    clean();
    struct mf_ckpt_store st;
    struct mf_ckpt_header h;
    int b = -1;
    const char *why = saved(&st, &h, &b);
    if (why)
        return why;
    struct mf_ckpt_object *o = (struct mf_ckpt_object *)(image + h.object_offset) + b;
    const struct mf_ckpt_object good = *o;
    uint32_t vas = good.binding.server, seg = good.binding.astacks;
    enum { SERVER_IS_SEGMENT, NO_CSPACE, CSPACE_IS_VAS, ASTACKS_ARE_VAS, STATE_UNCONFIGURED, PROCEDURES_200,
           ASTACK_OUTSIDE, ESTACK_IN_KERNEL, FORGERIES };
    static const long expect[FORGERIES] = {-E_INVAL, -E_INVAL, -E_INVAL, -E_INVAL, -E_INVAL, -E_RANGE, -E_RANGE,
                                           -E_RANGE};
    for (unsigned f = 0; f < FORGERIES; f++) {
        *o = good;
        switch (f) {
        case SERVER_IS_SEGMENT: o->binding.server = seg; break;
        case NO_CSPACE: o->binding.cspace = 0; break;
        case CSPACE_IS_VAS: o->binding.cspace = vas; break;
        case ASTACKS_ARE_VAS: o->binding.astacks = vas; break;
        case STATE_UNCONFIGURED: o->binding.procedures = 0; break;
        case PROCEDURES_200: o->binding.procedures = 200; break;
        case ASTACK_OUTSIDE: o->binding.astack[1].va = 0x100000000ul + (4ul << 20); break;
        case ESTACK_IN_KERNEL: o->binding.astack[2].estack_top = 0xffff800000010000ul; break;
        }
        reseal(&h);
        UCHECK(mf_untyped_retype(UT_RUN, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CL_READY) == 0);
        long r = restore(&st, NULL);
        if (r != expect[f])
            printf("# forgery %u: restore %ld (%s)\n", f, r, mf_strerror(r));
        UCHECK(r == expect[f]);
        for (long s = CL_OUT_CNODES; s < CL_OUT_LOOSE + 2; s++)
            UCHECK(mf_cnode_identify(ROOT, s) == 0);
        UCHECK(restorer_whole());
    }
    // The unforged record again: restored and run to its end.
    *o = good;
    reseal(&h);
    UCHECK(mf_untyped_retype(UT_RUN, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CL_READY) == 0);
    UCHECK(restore(&st, NULL) == 0);
    struct mf_exit_status es = {0};
    UCHECK(mf_notification_wait_timeout(CL_OUT_LOOSE + 1, 3000) > 0);
    UCHECK(mf_thread_exit_status(CL_OUT_LOOSE, &es) == 0 && es.how == EXIT_NORMAL && es.code == 0);
    UCHECK(restorer_whole());
    clean();
    return NULL;
}

// Random bytes of the binding record changed, both checksums made right
// again: each restore is refused with an error or builds a process out of
// its own untyped (whose calls may fault or end with -E_DEAD in its own
// domain); revoking the untypeds ends all of it.
UTEST_FAULTS(checkpoint_lrpc_mutated_bindings_fail_cleanly)
{
    clean();
    struct mf_ckpt_store st;
    struct mf_ckpt_header h;
    int b = -1;
    const char *why = saved(&st, &h, &b);
    if (why)
        return why;
    struct mf_ckpt_object *o = (struct mf_ckpt_object *)(image + h.object_offset) + b;
    const struct mf_ckpt_object good = *o;
    uint64_t seed = 0x1b9c0de5;
    unsigned refused = 0, built = 0;
    for (unsigned round = 0; round < 24; round++) {
        *o = good;
        for (unsigned k = 0; k < 1 + round % 3; k++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            // Mostly the binding's fields, sometimes its type's neighbours.
            uint64_t at = (seed >> 33) % sizeof(*o);
            ((uint8_t *)o)[at] ^= (uint8_t)(seed >> 17 | 1);
        }
        reseal(&h);
        UCHECK(mf_untyped_retype(UT_RUN, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CL_READY) == 0);
        long r = restore(&st, NULL);
        if (r == 0) {
            built++;
            mf_notification_wait_timeout(CL_OUT_LOOSE + 1, 20);    // let it call (or fault) a little
        } else {
            UCHECK(r < 0 && r > -E_ERROR_COUNT);
            refused++;
        }
        UCHECK(restorer_whole());
    }
    printf("# 24 mutated binding records: %u refused, %u built and taken back\n", refused, built);
    UCHECK(refused > 0);
    clean();
    return NULL;
}
