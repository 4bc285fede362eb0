// Checkpoint/restart of a process by a checkpointer holding its caps
// (user/lib/ckpt.h, docs/checkpoint.md, image format in
// include/manifold/ckpt.h).
#include "ckpt.h"
#include "blk.h"
#include "lib/crc32.h"
#include "lib/string.h"

#define PAGE 4096ul
#define SELF MF_CAP_SELF_CNODE
#define NONE 0xffffffffu

#if defined(__x86_64__)
#define ARCH MF_CKPT_ARCH_X86_64
#else
#define ARCH MF_CKPT_ARCH_AARCH64
#endif

static uint64_t round_page(uint64_t n) { return (n + PAGE - 1) & ~(PAGE - 1); }

// ------------------------------------------------------------------ stores

static long memory_write(void *ctx, uint64_t offset, const void *buf, uint64_t len)
{
    struct mf_ckpt_memory *m = ctx;
    if (offset > m->size || len > m->size - offset)
        return -E_NOMEM;
    memcpy(m->base + offset, buf, len);
    return 0;
}

static long memory_read(void *ctx, uint64_t offset, void *buf, uint64_t len)
{
    struct mf_ckpt_memory *m = ctx;
    if (offset > m->size || len > m->size - offset)
        return -E_RANGE;
    memcpy(buf, m->base + offset, len);
    return 0;
}

void mf_ckpt_memory_store(struct mf_ckpt_store *s, struct mf_ckpt_memory *m)
{
    *s = (struct mf_ckpt_store){.ctx = m, .write = memory_write, .read = memory_read, .capacity = m->size};
}

static long frames_move(struct mf_ckpt_frames *f, uint64_t offset, uint8_t *buf, uint64_t len, bool write)
{
    uint64_t size = 1ul << f->bits;
    if (offset > (uint64_t)f->count * size || len > (uint64_t)f->count * size - offset)
        return write ? -E_NOMEM : -E_RANGE;
    while (len) {
        uint64_t in = offset % size, n = size - in < len ? size - in : len;
        long frame = f->first + (long)(offset / size);
        long r = write ? mf_frame_write(frame, in, buf, n) : mf_frame_read(frame, in, buf, n);
        if (r < 0)
            return r;
        offset += n, buf += n, len -= n;
    }
    return 0;
}

static long frames_write(void *ctx, uint64_t offset, const void *buf, uint64_t len)
{
    return frames_move(ctx, offset, (uint8_t *)(uintptr_t)buf, len, true);
}

static long frames_read(void *ctx, uint64_t offset, void *buf, uint64_t len)
{
    return frames_move(ctx, offset, buf, len, false);
}

void mf_ckpt_frames_store(struct mf_ckpt_store *s, struct mf_ckpt_frames *f)
{
    *s = (struct mf_ckpt_store){.ctx = f, .write = frames_write, .read = frames_read,
                                .capacity = (uint64_t)f->count << f->bits};
}

// The block store moves 4 KiB chunks that start on 4 KiB boundaries (every
// region of an image does); a short last chunk is padded with zeros.
static uint8_t bounce[PAGE] __attribute__((aligned(16)));

static long blk_write(void *ctx, uint64_t offset, const void *buf, uint64_t len)
{
    struct mf_ckpt_blk *b = ctx;
    if (offset % PAGE)
        return -E_INVAL;
    for (uint64_t done = 0; done < len; done += PAGE) {
        uint64_t n = len - done < PAGE ? len - done : PAGE;
        memcpy(bounce, (const uint8_t *)buf + done, n);
        memset(bounce + n, 0, PAGE - n);
        long r = mf_blk_write(b->blk, b->first + (offset + done) / MF_BLK_SECTOR, bounce,
                              (unsigned)((n + MF_BLK_SECTOR - 1) / MF_BLK_SECTOR));
        if (r < 0)
            return r;
    }
    return 0;
}

static long blk_read(void *ctx, uint64_t offset, void *buf, uint64_t len)
{
    struct mf_ckpt_blk *b = ctx;
    if (offset % PAGE)
        return -E_INVAL;
    for (uint64_t done = 0; done < len; done += PAGE) {
        uint64_t n = len - done < PAGE ? len - done : PAGE;
        long r = mf_blk_read(b->blk, b->first + (offset + done) / MF_BLK_SECTOR, bounce,
                             (unsigned)((n + MF_BLK_SECTOR - 1) / MF_BLK_SECTOR));
        if (r < 0)
            return r;
        memcpy((uint8_t *)buf + done, bounce, n);
    }
    return 0;
}

void mf_ckpt_blk_store(struct mf_ckpt_store *s, struct mf_ckpt_blk *b)
{
    uint64_t sectors = b->blk->capacity > b->first ? b->blk->capacity - b->first : 0;
    *s = (struct mf_ckpt_store){.ctx = b, .write = blk_write, .read = blk_read, .capacity = sectors * MF_BLK_SECTOR};
}

// ---------------------------------------------------------------- save

struct saver {
    const struct mf_ckpt_process *p;
    struct mf_ckpt_work *w;
    struct mf_ckpt_header *h;
    long scratch;
    unsigned threads;
    long thread_cap[MF_CKPT_MAX_THREADS];       // our copies, in scratch
    bool thread_active[MF_CKPT_MAX_THREADS];
    unsigned lrpc_waited;                       // threads found inside an LRPC call
};

static struct mf_ckpt_header header;
static uint8_t page_buf[PAGE] __attribute__((aligned(16)));

static unsigned hash_slot(const struct mf_ckpt_work *w, uint64_t name)
{
    return (unsigned)((name * 0x9e3779b97f4a7c15ull) >> 32) % (2 * w->max_objects);
}

// The object named `name`: its index, or NONE.
static uint32_t find(const struct mf_ckpt_work *w, unsigned count, uint64_t name)
{
    for (unsigned i = hash_slot(w, name);; i = (i + 1) % (2 * w->max_objects)) {
        uint32_t k = w->hash[i];
        if (k == NONE)
            return NONE;
        if (k < count && w->objects[k].name == name)
            return k;
    }
}

static uint32_t add_object(struct saver *s, const struct mf_cap_info *info)
{
    struct mf_ckpt_work *w = s->w;
    uint32_t k = find(w, s->h->object_count, info->object);
    if (k != NONE)
        return k;
    if (s->h->object_count >= w->max_objects)
        return NONE;
    k = s->h->object_count++;
    w->objects[k] = (struct mf_ckpt_object){.name = info->object, .type = info->type, .size_bits = info->size_bits};
    unsigned i = hash_slot(w, info->object);
    while (w->hash[i] != NONE)
        i = (i + 1) % (2 * w->max_objects);
    w->hash[i] = k;
    return k;
}

// While saving: an object whose state is recorded, a thread whose context
// was read (both cleared before writing).
#define DESCRIBED 0x80000000u
#define CONTEXT_READ 0x40000000u
#define MAPPED 0x20000000u      // arm_snapshot: a frame some cap maps in a segment

static bool saved_type(uint32_t type)
{
    return type == MF_OBJ_FRAME || type == MF_OBJ_SEGMENT || type == MF_OBJ_VAS || type == MF_OBJ_THREAD ||
           type == MF_OBJ_ENDPOINT || type == MF_OBJ_NOTIFICATION || type == MF_OBJ_BINDING;
}

static bool external_slot(const struct mf_ckpt_process *p, uint32_t cnode, uint32_t slot)
{
    for (unsigned i = 0; i < p->externals; i++)
        if (p->external[i].cnode == cnode && p->external[i].slot == slot)
            return true;
    return false;
}

// Names in the objects' fields are kept as names until every object is
// known; then `resolve` turns them into index + 1.
static long resolve(struct saver *s, uint64_t name, uint32_t *out, const char *what)
{
    if (!name) {
        *out = 0;
        return 0;
    }
    uint32_t k = find(s->w, s->h->object_count, name);
    if (k == NONE) {
        printf("ckpt: %s is not among the process's caps\n", what);
        return -E_NOENT;
    }
    *out = k + 1;
    return 0;
}

// One cap (of CNode `cnode`, or loose). Its description's object fields
// go into the object's record the first time the object is seen (they
// describe the object, not the cap); names are resolved later.
static long add_cap(struct saver *s, uint32_t cnode, uint32_t slot, const struct mf_cap_info *info)
{
    struct mf_ckpt_work *w = s->w;
    if (s->h->cap_count >= w->max_caps)
        return -E_NOMEM;
    struct mf_ckpt_cap *c = &w->caps[s->h->cap_count];
    *c = (struct mf_ckpt_cap){.cnode = cnode, .slot = slot, .type = info->type, .rights = info->rights,
                              .badge = info->badge};
    bool listed = false;
    if (info->type == MF_OBJ_CNODE)
        for (unsigned i = 0; i < s->h->cnode_count; i++)
            listed |= w->objects[i].name == info->object;
    if (cnode != MF_CKPT_LOOSE && external_slot(s->p, cnode, slot))
        listed = false;
    else if (saved_type(info->type))
        listed = true;
    if (!listed) {
        c->object = MF_CKPT_EXTERNAL;
        s->h->cap_count++;
        return 0;
    }
    uint32_t k = add_object(s, info);
    if (k == NONE)
        return -E_NOMEM;
    c->object = k + 1;
    struct mf_ckpt_object *o = &w->objects[k];
    if (info->type == MF_OBJ_FRAME) {
        c->map_va = info->frame.va;
        c->map_rights = (uint32_t)info->frame.rights;
        c->map_segment = info->frame.segment ? 1 : 0;
        c->reserved = 0;
        // the segment's name, resolved at the end (kept in badge meanwhile)
        c->badge = info->frame.segment;
    }
    s->h->cap_count++;
    // The object's state, from the first of its caps with READ (DESCRIBE
    // gives it through those only).
    if ((o->flags & DESCRIBED) || !(info->rights & MF_RIGHT_READ))
        return 0;
    o->flags |= DESCRIBED;
    switch (info->type) {
    case MF_OBJ_SEGMENT:
        o->segment.base = info->segment.base;
        o->segment.size = info->segment.size;
        o->segment.pager_badge = info->segment.pager_badge;
        o->segment.home = (uint32_t)info->segment.home;
        o->segment.ranges = (uint32_t)info->segment.ranges;
        for (unsigned i = 0; i < info->segment.ranges && i < MF_HALF_RANGES_MAX; i++) {
            o->segment.range[i].base = info->segment.range_base[i];
            o->segment.range[i].size = info->segment.range_size[i];
            o->segment.range[i].half = info->segment.range_half[i];
        }
        o->raw[40] = info->segment.pager;
        break;
    case MF_OBJ_VAS:
        if (info->vas.count > 16)
            return -E_RANGE;
        o->vas.count = (uint32_t)info->vas.count;
        for (unsigned i = 0; i < info->vas.count; i++) {
            o->raw[24 + i] = info->vas.segment[i];
            o->vas.rights[i] = info->vas.rights[i];
        }
        o->raw[40] = info->vas.home;
        break;
    case MF_OBJ_NOTIFICATION:
        o->notification.word = info->notification.word;
        break;
    case MF_OBJ_THREAD:
        if (info->thread.in_lrpc) {
            printf("ckpt: thread '%s' is still inside an LRPC call\n", info->thread.name);
            return -E_BUSY;
        }
        o->thread.priority = info->thread.priority;
        o->thread.policy = info->thread.policy;
        o->thread.fixed_cpu = info->thread.fixed_cpu;
        o->thread.exit_badge = info->thread.exit_badge;
        o->thread.ipc_buffer = info->thread.ipc_buffer;
        o->thread.exception_pc = info->thread.exception_pc;
        o->thread.exception_stack = info->thread.exception_stack;
        o->thread.exception_arg = info->thread.exception_arg;
        memcpy(o->thread.name, info->thread.name, sizeof(o->thread.name));
        // names of its CSpace, home VAS and exit notification, resolved later
        o->raw[45] = info->thread.cspace;
        o->raw[46] = info->thread.home;
        o->raw[47] = info->thread.exit;
        o->page = info->thread.vas != info->thread.home ? info->thread.vas : 0;
        if (!info->thread.has_context)
            o->flags |= MF_CKPT_OBJECT_FLAG_NO_CONTEXT;
        break;
    default:
        break;
    }
    return 0;
}

// Every slot of every listed CNode, then the loose caps, through `fn`.
static long walk(struct saver *s, long (*fn)(struct saver *, uint32_t, uint32_t, const struct mf_cap_info *))
{
    static struct mf_cap_info info;
    for (unsigned c = 0; c < s->p->cnodes; c++) {
        if (mf_cnode_describe(SELF, s->p->cnode[c], &info) < 0 || info.type != MF_OBJ_CNODE)
            return -E_BADCAP;
        // Slot 1, then each next occupied one DESCRIBE names.
        for (uint32_t i = 1; i;) {
            long r = mf_cnode_describe(s->p->cnode[c], i, &info);
            if (r < 0)
                return r;
            uint32_t next = info.next;
            if (info.type && (r = fn(s, c, i, &info)) < 0)
                return r;
            i = next;
        }
    }
    for (unsigned l = 0; l < s->p->looses; l++) {
        long r = mf_cnode_describe(SELF, s->p->loose[l], &info);
        if (r < 0)
            return r;
        if (info.type && (r = fn(s, MF_CKPT_LOOSE, l, &info)) < 0)
            return r;
    }
    return 0;
}

// Our copy of the cap at (cnode, slot) in `dst`.
static long copy_out(const struct mf_ckpt_process *p, uint32_t cnode, uint32_t slot, long dst, unsigned rights)
{
    if (cnode == MF_CKPT_LOOSE)
        return mf_cnode_copy(SELF, p->loose[slot], dst, rights);
    return mf_cnode_copy_to(p->cnode[cnode], slot, SELF, dst, rights);
}

// First pass: stop every thread (once each), keeping a copy of its cap.
static long stop_thread(struct saver *s, uint32_t cnode, uint32_t slot, const struct mf_cap_info *info)
{
    // Stopping and reading a thread takes WRITE and READ: a weaker cap is
    // passed over (another of the process's may do; read_contexts says
    // when none did).
    const unsigned need = MF_RIGHT_READ | MF_RIGHT_WRITE;
    if (info->type != MF_OBJ_THREAD || (info->rights & need) != need)
        return 0;
    static uint64_t seen[MF_CKPT_MAX_THREADS];
    for (unsigned i = 0; i < s->threads; i++)
        if (seen[i] == info->object)
            return 0;
    if (s->threads >= MF_CKPT_MAX_THREADS)
        return -E_NOMEM;
    long cap = s->scratch + (long)s->threads;
    long r = copy_out(s->p, cnode, slot, cap, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (r < 0)
        return r;
    seen[s->threads] = info->object;
    s->thread_cap[s->threads] = cap;
    // Whether we stopped it, from the kernel (SUSPEND's report): only
    // those are resumed afterwards.
    r = mf_invoke(cap, MF_THREAD_SUSPEND, 1, 0, 0, 0);
    s->thread_active[s->threads++] = r == 1;
    return r < 0 ? r : 0;
}

// A thread we stopped inside a call that finishes when resumed (one woken
// with its message but not yet back in user mode, one whose reply wait
// the stop cancelled) is let finish it, alone, before anything is
// recorded: resumed, it returns to user mode at once (with its result, or
// -E_AGAIN, as it would anyway), and is stopped again. So is a thread
// inside an LRPC call (lrpc_call_state). Each is tried 20 times, and
// again until FINISH_TICKS have passed since the first.
#define FINISH_TICKS 50
static long lrpc_call_state(long thread, bool *in_lrpc);

static void finish_calls(struct saver *s)
{
    long deadline = mf_time() + FINISH_TICKS;
    for (unsigned i = 0; i < s->threads; i++) {
        if (!s->thread_active[i])
            continue;
        bool in_lrpc;
        long r = lrpc_call_state(s->thread_cap[i], &in_lrpc);
        s->lrpc_waited += in_lrpc;
        // 20 tries; one inside an LRPC call gets until the deadline too.
        for (int tries = 0; r == 1 && (tries < 20 || (in_lrpc && mf_time() < deadline)); tries++) {
            mf_thread_resume(s->thread_cap[i]);
            if (tries < 10)
                mf_yield();
            else
                mf_sleep(1);        // a thread below our priority gets the CPU
            // It may have ended meanwhile: then it is not resumed after.
            s->thread_active[i] = mf_invoke(s->thread_cap[i], MF_THREAD_SUSPEND, 1, 0, 0, 0) == 1;
            r = lrpc_call_state(s->thread_cap[i], &in_lrpc);
        }
    }
}

static void resume_threads(struct saver *s)
{
    for (unsigned i = 0; i < s->threads; i++) {
        if (s->thread_active[i])
            mf_thread_resume(s->thread_cap[i]);
        mf_cnode_delete(SELF, s->thread_cap[i]);
    }
    s->threads = 0;
}

// ------------------------------------------------------- LRPC bindings
// A binding is saved with the objects it names (its server VAS, the
// A-stack segment attached there, the server's CSpace: a listed CNode),
// its procedures, entry and A-stacks with their E-stacks. The client VASes
// it mapped the A-stacks into (ATTACH_CLIENT) need nothing of their own:
// that is an attachment like any other, in the VAS's list. No thread may
// be inside it: the process's threads are let out first (finish_calls),
// so an A-stack still busy is held by a thread of another process.

// 1 when a stopped thread is inside an LRPC call (its registers are the
// server's, and READ_CONTEXT refuses them) or in a call that finishes
// when resumed; else what READ_CONTEXT says.
static long lrpc_call_state(long thread, bool *in_lrpc)
{
    static struct mf_cap_info info;
    static struct mf_regs regs;
    *in_lrpc = mf_cnode_describe(SELF, thread, &info) == 0 && info.type == MF_OBJ_THREAD && info.thread.in_lrpc;
    return *in_lrpc ? 1 : mf_thread_read_context(thread, &regs);
}

static long describe_cap(const struct mf_ckpt_process *p, const struct mf_ckpt_cap *c, struct mf_cap_info *info)
{
    if (c->cnode == MF_CKPT_LOOSE)
        return mf_cnode_describe(SELF, p->loose[c->slot], info);
    return mf_cnode_describe(p->cnode[c->cnode], c->slot, info);
}

// Binding k's record, once every object is known: described again through
// its first cap with READ (the process is stopped), names resolved.
static long save_binding(struct saver *s, uint32_t k)
{
    static struct mf_cap_info info;
    struct mf_ckpt_object *o = &s->w->objects[k];
    const struct mf_ckpt_cap *c = NULL;
    for (unsigned i = 0; i < s->h->cap_count && !c; i++)
        if (s->w->caps[i].object == k + 1 && (s->w->caps[i].rights & MF_RIGHT_READ))
            c = &s->w->caps[i];
    long r = c ? describe_cap(s->p, c, &info) : -E_PERM;
    if (r < 0)
        return r;
    if (info.type != MF_OBJ_BINDING || info.object != o->name)
        return -E_NOENT;        // the slot changed under us: the process was not stopped
    memset(&o->binding, 0, sizeof(o->binding));
    if (!info.binding.procedures)
        return 0;               // not configured: made again as it is
    if (info.binding.busy) {
        printf("ckpt: binding %u: a thread of another process is inside it (A-stacks %#x)\n", k, info.binding.busy);
        return -E_BUSY;
    }
    if (!info.binding.cspace) {
        printf("ckpt: binding %u has no server CSpace (its CNode is gone)\n", k);
        return -E_NOENT;
    }
    o->binding.procedures = info.binding.procedures;
    o->binding.entry = info.binding.entry;
    for (unsigned i = 0; i < MF_DESCRIBE_ASTACKS; i++)
        if (info.binding.set & 1u << i) {
            o->binding.astack[i].va = info.binding.astack[i].va;
            o->binding.astack[i].size = info.binding.astack[i].size;
            o->binding.astack[i].estack_top = info.binding.astack[i].estack_top;
        }
    r = resolve(s, info.binding.server, &o->binding.server, "a binding's server VAS");
    if (!r)
        r = resolve(s, info.binding.astacks, &o->binding.astacks, "a binding's A-stack segment");
    if (!r)
        r = resolve(s, info.binding.cspace, &o->binding.cspace, "a binding's server CSpace (a CNode not listed?)");
    return r;
}

// The image's binding record: what restore needs of its references.
static bool ref_ok(const struct mf_ckpt_header *h, const struct mf_ckpt_work *w, uint32_t ref, uint32_t type,
                   bool none_ok);

static const char *binding_bad(const struct mf_ckpt_header *h, const struct mf_ckpt_work *w,
                               const struct mf_ckpt_object *o)
{
    if (!o->binding.procedures)
        return o->binding.server || o->binding.astacks || o->binding.cspace
                   ? "a binding that is not configured names objects" : NULL;
    if (!ref_ok(h, w, o->binding.server, MF_OBJ_VAS, false) ||
        !ref_ok(h, w, o->binding.astacks, MF_OBJ_SEGMENT, false) ||
        !ref_ok(h, w, o->binding.cspace, MF_OBJ_CNODE, false))
        return "a binding's server VAS, A-stack segment or server CSpace is not one of the image";
    if (w->objects[o->binding.astacks - 1].flags & MF_CKPT_OBJECT_FLAG_FRESH)
        return "a binding's A-stack segment is left out (fresh)";
    return NULL;
}

// Restore: configured once its VASes have their segments, with the
// server's CSpace named (never ours: 0 there would give the server our
// own), then each A-stack that was set.
static long build_binding(const struct mf_ckpt_object *o, uint32_t k, long binding, long server, long astacks,
                          long cspace)
{
    if (!o->binding.procedures)
        return 0;
    long e = cspace ? mf_binding_configure_cspace(binding, server, astacks, o->binding.procedures,
                                                  (void (*)(void))(uintptr_t)o->binding.entry, cspace)
                    : -E_INVAL;
    for (unsigned i = 0; i < 16 && !e; i++)
        if (o->binding.astack[i].size)
            e = mf_binding_set_astack(binding, i, o->binding.astack[i].va, o->binding.astack[i].size,
                                      (void *)(uintptr_t)o->binding.astack[i].estack_top);
    if (e)
        printf("ckpt: binding %u: %s\n", k, mf_strerror(e));
    return e;
}

static long resolve_all(struct saver *s)
{
    struct mf_ckpt_work *w = s->w;
    long r = 0;
    for (unsigned k = 0; k < s->h->object_count && !r; k++) {
        struct mf_ckpt_object *o = &w->objects[k];
        uint64_t names[16];
        bool described = o->flags & DESCRIBED;
        o->flags &= ~DESCRIBED;
        if (!described && o->type != MF_OBJ_ENDPOINT && o->type != MF_OBJ_CNODE) {
            printf("ckpt: object %u (a %s): no cap of the process's to it has READ\n", k, mf_type_name(o->type));
            r = -E_PERM;
            break;
        }
        switch (o->type) {
        case MF_OBJ_SEGMENT:
            r = resolve(s, o->raw[40], &o->segment.pager, "a segment's pager endpoint");
            o->raw[40] = 0;
            break;
        case MF_OBJ_VAS: {
            uint64_t home = o->raw[40];
            for (unsigned i = 0; i < o->vas.count; i++)
                names[i] = o->raw[24 + i];
            memset(&o->raw[24], 0, 17 * sizeof(uint64_t));
            r = resolve(s, home, &o->vas.home, "the home a VAS shares");
            for (unsigned i = 0; i < o->vas.count && !r; i++)
                r = resolve(s, names[i], &o->vas.segment[i], "a segment attached to a VAS");
            break;
        }
        case MF_OBJ_BINDING:
            r = save_binding(s, k);
            break;
        case MF_OBJ_THREAD: {
            uint64_t cspace = o->raw[45], home = o->raw[46], exit = o->raw[47], vas = o->page;
            o->raw[45] = o->raw[46] = o->raw[47] = 0;
            o->page = 0;
            if (o->flags & MF_CKPT_OBJECT_FLAG_NO_CONTEXT)
                break;
            r = resolve(s, cspace, &o->thread.cspace, "a thread's CSpace");
            if (!r)
                r = resolve(s, home, &o->thread.home, "a thread's home VAS");
            if (!r && exit && resolve(s, exit, &o->thread.exit, "a thread's exit notification") < 0)
                r = -E_NOENT;
            if (!r)
                r = resolve(s, vas, &o->thread.vas, "the VAS a thread switched into");
            break;
        }
        default:
            break;
        }
    }
    for (unsigned i = 0; i < s->h->cap_count && !r; i++) {
        struct mf_ckpt_cap *c = &w->caps[i];
        if (c->type == MF_OBJ_FRAME && c->object != MF_CKPT_EXTERNAL) {
            uint64_t seg = c->badge;
            c->badge = 0;
            r = resolve(s, seg, &c->map_segment, "the segment a frame is mapped in");
        }
    }
    return r;
}

// A split process restarted on a fresh half: the segments inside that
// half's ranges of a split home, and the frames mapped there (in such a
// segment, or in the home at an address of that half), are marked FRESH:
// no pages, not made again. A frame is left out whole, whatever other
// mappings its caps have.
static bool in_half(const struct mf_ckpt_object *home, unsigned half, uint64_t base, uint64_t size)
{
    for (unsigned i = 0; i < home->segment.ranges && i < MF_HALF_RANGES_MAX; i++)
        if (home->segment.range[i].half == half && base >= home->segment.range[i].base &&
            base + size <= home->segment.range[i].base + home->segment.range[i].size)
            return true;
    return false;
}

static long leave_out_half(struct saver *s, unsigned half)
{
    struct mf_ckpt_work *w = s->w;
    const struct mf_ckpt_object *home = NULL;
    for (unsigned k = 0; k < s->h->object_count; k++)
        if (w->objects[k].type == MF_OBJ_SEGMENT && w->objects[k].segment.home && w->objects[k].segment.ranges) {
            if (home)
                return -E_INVAL;        // two split homes: which one's ranges?
            home = &w->objects[k];
        }
    if (!home) {
        printf("ckpt: a fresh half was asked for, but the process has no split home\n");
        return -E_INVAL;
    }
    for (unsigned k = 0; k < s->h->object_count; k++) {
        struct mf_ckpt_object *o = &w->objects[k];
        if (o->type == MF_OBJ_SEGMENT && !o->segment.home && in_half(home, half, o->segment.base, o->segment.size))
            o->flags |= MF_CKPT_OBJECT_FLAG_FRESH;
    }
    for (unsigned i = 0; i < s->h->cap_count; i++) {
        const struct mf_ckpt_cap *c = &w->caps[i];
        if (c->type != MF_OBJ_FRAME || c->object == MF_CKPT_EXTERNAL || !c->map_segment)
            continue;
        const struct mf_ckpt_object *seg = &w->objects[c->map_segment - 1];
        struct mf_ckpt_object *f = &w->objects[c->object - 1];
        if ((seg->flags & MF_CKPT_OBJECT_FLAG_FRESH) ||
            (seg == home && in_half(home, half, c->map_va, 1ul << f->size_bits)))
            f->flags |= MF_CKPT_OBJECT_FLAG_FRESH;
    }
    return 0;
}

// Contexts of the stopped threads, into their records.
static long read_contexts(struct saver *s)
{
    static struct mf_cap_info info;
    for (unsigned i = 0; i < s->threads; i++) {
        long r = mf_cnode_describe(SELF, s->thread_cap[i], &info);
        uint32_t k = r < 0 ? NONE : find(s->w, s->h->object_count, info.object);
        if (k == NONE)
            return -E_NOENT;
        struct mf_ckpt_object *o = &s->w->objects[k];
        if (s->thread_active[i])
            o->flags |= MF_CKPT_OBJECT_FLAG_WAS_ACTIVE;
        if (o->flags & MF_CKPT_OBJECT_FLAG_NO_CONTEXT)
            continue;
        // 2: at a call it makes again, a context complete in itself; 1:
        // still inside a call (finish_calls gave up, or we did not stop it).
        r = mf_thread_read_context(s->thread_cap[i], &o->thread.regs);
        if (r < 0)
            return r;
        if (r == 1)
            o->flags |= MF_CKPT_OBJECT_FLAG_IN_CALL;
        o->flags |= CONTEXT_READ;
        s->h->thread_count++;
    }
    for (unsigned k = 0; k < s->h->object_count; k++) {
        struct mf_ckpt_object *o = &s->w->objects[k];
        if (o->type != MF_OBJ_THREAD || (o->flags & MF_CKPT_OBJECT_FLAG_NO_CONTEXT))
            continue;
        if (!(o->flags & CONTEXT_READ)) {
            printf("ckpt: thread %u ('%.31s'): no cap of the process's to it has READ and WRITE\n", k, o->thread.name);
            return -E_PERM;
        }
        o->flags &= ~CONTEXT_READ;
    }
    return 0;
}

// hash[] (lookups are over) becomes each object's first cap with READ,
// and every saved frame gets its place in the page area, in object order.
static void number_pages(struct saver *s)
{
    struct mf_ckpt_work *w = s->w;
    for (unsigned i = s->h->cap_count; i-- > 0;)
        if (w->caps[i].object != MF_CKPT_EXTERNAL && (w->caps[i].rights & MF_RIGHT_READ))
            w->hash[w->caps[i].object - 1] = i;
    uint32_t page = 0;
    for (unsigned k = 0; k < s->h->object_count; k++) {
        struct mf_ckpt_object *o = &w->objects[k];
        if (o->type != MF_OBJ_FRAME || (o->flags & MF_CKPT_OBJECT_FLAG_FRESH))
            continue;
        o->page = page;
        page += (uint32_t)(1ul << o->size_bits) / PAGE;
    }
    s->h->page_count = page;
}

static bool small_frame(const struct mf_ckpt_object *o) { return o->size_bits == 12; }

// Frames' contents, page by page, through a READ copy of one of its caps:
// `cow` false, the frames that are not armed in the snapshot (all of them
// when there is none), while the process is stopped; true, the armed ones
// as the snapshot kept them, each released once copied.
static long save_pages(struct saver *s, const struct mf_ckpt_store *st, bool cow)
{
    struct mf_ckpt_work *w = s->w;
    long tmp = s->scratch + MF_CKPT_MAX_THREADS, snap = s->p->snapshot;
    for (unsigned k = 0; k < s->h->object_count; k++) {
        struct mf_ckpt_object *o = &w->objects[k];
        if (o->type != MF_OBJ_FRAME || (o->flags & MF_CKPT_OBJECT_FLAG_FRESH) ||
            cow != (snap && small_frame(o)))
            continue;
        const struct mf_ckpt_cap *c = &w->caps[w->hash[k]];
        long r = copy_out(s->p, c->cnode, c->slot, tmp, MF_RIGHT_READ);
        if (r < 0)
            return cow ? -E_AGAIN : r;
        // Running again, the process may have moved or deleted the cap
        // since it was recorded: the slot must still name this frame.
        static struct mf_cap_info now;
        if (cow && (mf_cnode_describe(SELF, tmp, &now) < 0 || now.object != o->name)) {
            mf_cnode_delete(SELF, tmp);
            printf("ckpt: frame %u: its cap changed while the process ran; save again\n", k);
            return -E_AGAIN;
        }
        uint32_t crc = 0, page = o->page;
        for (uint64_t off = 0; off < 1ul << o->size_bits && !r; off += PAGE, page++) {
            r = cow ? mf_snapshot_read(snap, tmp, off, page_buf, PAGE) : mf_frame_read(tmp, off, page_buf, PAGE);
            if (!r) {
                crc = crc32_update(crc, page_buf, PAGE);
                r = st->write(st->ctx, s->h->page_offset + (uint64_t)page * PAGE, page_buf, PAGE);
            }
        }
        if (cow && !r)
            r = mf_snapshot_release(snap, tmp);
        mf_cnode_delete(SELF, tmp);
        if (r < 0)
            return r;
        o->crc = crc;
    }
    return 0;
}

// Copy-on-write (include/manifold/snapshot.h): arms every 4 KiB frame in
// the snapshot while the process is stopped. A frame mapped in one of the
// process's segments is armed with the segment (one call for all of its
// frames); one mapped nowhere, on its own.
static long arm_snapshot(struct saver *s)
{
    struct mf_ckpt_work *w = s->w;
    long tmp = s->scratch + MF_CKPT_MAX_THREADS, snap = s->p->snapshot;
    // Room for every 4 KiB frame (a fresh half's too: its segments' walks
    // find them), and once more for each of its mappings: the kernel's
    // room check counts a frame once per mapping in the segment it walks.
    uint64_t frames = 1;
    for (unsigned k = 0; k < s->h->object_count; k++)
        if (w->objects[k].type == MF_OBJ_FRAME && small_frame(&w->objects[k]))
            frames++;
    for (unsigned i = 0; i < s->h->cap_count; i++)
        if (w->caps[i].object != MF_CKPT_EXTERNAL && w->caps[i].type == MF_OBJ_FRAME && w->caps[i].map_segment &&
            small_frame(&w->objects[w->caps[i].object - 1]))
            frames++;
    long r = mf_snapshot_configure(snap, frames);
    for (unsigned i = 0; i < s->h->cap_count; i++) {
        const struct mf_ckpt_cap *c = &w->caps[i];
        if (c->object != MF_CKPT_EXTERNAL && c->type == MF_OBJ_FRAME && c->map_segment)
            w->objects[c->object - 1].flags |= MAPPED;
    }
    for (unsigned k = 0; k < s->h->object_count; k++) {
        struct mf_ckpt_object *o = &w->objects[k];
        bool segment = o->type == MF_OBJ_SEGMENT,
             lone_frame = o->type == MF_OBJ_FRAME && small_frame(o) && !(o->flags & MAPPED);
        o->flags &= ~MAPPED;
        if (r || (!segment && !lone_frame) || (o->flags & MF_CKPT_OBJECT_FLAG_FRESH))
            continue;
        const struct mf_ckpt_cap *c = &w->caps[w->hash[k]];
        r = copy_out(s->p, c->cnode, c->slot, tmp, MF_RIGHT_READ);
        if (r < 0)
            continue;
        r = segment ? mf_snapshot_add_segment(snap, tmp) : mf_snapshot_add_frame(snap, tmp);
        mf_cnode_delete(SELF, tmp);
        r = r < 0 ? r : 0;
    }
    return r;
}

static uint32_t tables_crc(const struct mf_ckpt_work *w, const struct mf_ckpt_header *h)
{
    uint32_t crc = crc32_update(0, w->objects, (uint64_t)h->object_count * sizeof(struct mf_ckpt_object));
    return crc32_update(crc, w->caps, (uint64_t)h->cap_count * sizeof(struct mf_ckpt_cap));
}

// What a save or restore did, from the header (stats may be NULL).
static void fill_stats(struct mf_ckpt_stats *stats, uint64_t start, uint64_t frozen)
{
    if (!stats)
        return;
    *stats = (struct mf_ckpt_stats){
        .frozen_cycles = frozen, .total_cycles = mf_arch_cycles() - start, .pages = header.page_count,
        .image_bytes = header.image_bytes, .objects = header.object_count, .caps = header.cap_count,
        .threads = header.thread_count,
    };
}

long mf_ckpt_save(const struct mf_ckpt_process *p, const struct mf_ckpt_store *st, struct mf_ckpt_work *w,
                  long scratch, struct mf_ckpt_stats *stats)
{
    uint64_t start = mf_arch_cycles();
    struct saver s = {.p = p, .w = w, .h = &header, .scratch = scratch};
    memset(&header, 0, sizeof(header));
    memcpy(header.magic, MF_CKPT_MAGIC, 8);
    header.version = MF_CKPT_VERSION;
    header.arch = ARCH;
    memset(w->hash, 0xff, 2 * (uint64_t)w->max_objects * sizeof(uint32_t));
    if (p->cnodes > MF_CKPT_MAX_CNODES || p->looses > MF_CKPT_MAX_LOOSE || w->max_objects < p->cnodes)
        return -E_RANGE;
    // The listed CNodes are the first objects.
    static struct mf_cap_info info;
    for (unsigned c = 0; c < p->cnodes; c++) {
        if (mf_cnode_describe(SELF, p->cnode[c], &info) < 0 || info.type != MF_OBJ_CNODE)
            return -E_BADCAP;
        if (add_object(&s, &info) != c)
            return -E_INVAL;    // listed twice
    }
    header.cnode_count = p->cnodes;
    header.loose_count = p->looses;
    uint64_t frozen = mf_arch_cycles();
    long r = walk(&s, stop_thread);
    if (!r)
        finish_calls(&s);
    if (!r)
        r = walk(&s, add_cap);
    if (!r)
        r = resolve_all(&s);
    if (!r && p->fresh_half)
        r = leave_out_half(&s, p->fresh_half);
    if (!r)
        r = read_contexts(&s);
    header.object_offset = PAGE;
    header.cap_offset = header.object_offset + round_page((uint64_t)header.object_count * sizeof(struct mf_ckpt_object));
    header.page_offset = header.cap_offset + round_page((uint64_t)header.cap_count * sizeof(struct mf_ckpt_cap));
    if (!r) {
        number_pages(&s);
        r = p->snapshot ? arm_snapshot(&s) : 0;
    }
    if (!r)
        r = save_pages(&s, st, false);
    resume_threads(&s);
    header.frozen_cycles = mf_arch_cycles() - frozen;
    // With a snapshot, the 4 KiB frames are copied now, while the process
    // runs: each as it was when it stopped.
    if (!r && p->snapshot)
        r = save_pages(&s, st, true);
    if (r < 0)
        return r;
    struct mf_system_info si;
    if (mf_system_info(&si) == 0)
        header.counter_hz = si.counter_hz;
    header.image_bytes = header.page_offset + (uint64_t)header.page_count * PAGE;
    if (header.image_bytes > st->capacity)
        return -E_NOMEM;
    header.table_crc = tables_crc(w, &header);
    r = st->write(st->ctx, header.object_offset, w->objects, (uint64_t)header.object_count * sizeof(struct mf_ckpt_object));
    if (!r)
        r = st->write(st->ctx, header.cap_offset, w->caps, (uint64_t)header.cap_count * sizeof(struct mf_ckpt_cap));
    header.header_crc = 0;
    header.header_crc = crc32_update(0, &header, sizeof(header));
    if (!r)
        r = st->write(st->ctx, 0, &header, sizeof(header));    // last: an image without it is no image
    if (r < 0)
        return r;
    fill_stats(stats, start, header.frozen_cycles);
    if (stats)
        stats->lrpc_waited = s.lrpc_waited;
    return 0;
}

// ---------------------------------------------------------------- check

// A reference (index + 1) to an object of `type`; 0 allowed when `none_ok`.
static bool ref_ok(const struct mf_ckpt_header *h, const struct mf_ckpt_work *w, uint32_t ref, uint32_t type,
                   bool none_ok)
{
    if (!ref)
        return none_ok;
    return ref <= h->object_count && w->objects[ref - 1].type == type;
}

// Every object and its references are of the kinds restore makes: a
// checksum is no authentication, and restore turns each reference into a
// capability it holds. The reason, or NULL.
static const char *objects_bad(const struct mf_ckpt_header *h, const struct mf_ckpt_work *w, unsigned *which)
{
    for (unsigned k = 0; k < h->object_count; k++) {
        const struct mf_ckpt_object *o = &w->objects[k];
        *which = k;
        if ((k < h->cnode_count) != (o->type == MF_OBJ_CNODE))
            return "the listed CNodes and only they are the first objects";
        bool fresh = o->flags & MF_CKPT_OBJECT_FLAG_FRESH;
        if (fresh && o->type != MF_OBJ_FRAME && (o->type != MF_OBJ_SEGMENT || o->segment.home))
            return "only frames and segments of a half are left out (fresh), never a home";
        switch (o->type) {
        case MF_OBJ_CNODE:
        case MF_OBJ_ENDPOINT:
        case MF_OBJ_NOTIFICATION:
            break;
        case MF_OBJ_FRAME:
            if (o->size_bits != 12 && o->size_bits != 21)
                return "a frame is neither 4 KiB nor 2 MiB";
            if (!fresh && (o->page > h->page_count || (1ull << (o->size_bits - 12)) > h->page_count - o->page))
                return "a frame's pages lie past the page area";
            break;
        case MF_OBJ_SEGMENT:
            if (!ref_ok(h, w, o->segment.pager, MF_OBJ_ENDPOINT, true))
                return "a segment's pager is not an endpoint of the image";
            if (o->segment.ranges > MF_HALF_RANGES_MAX || (o->segment.ranges && !o->segment.home))
                return "a segment's half ranges are more than MF_HALF_RANGES_MAX, or not a home's";
            break;
        case MF_OBJ_VAS:
            if (o->vas.count > 16 || !ref_ok(h, w, o->vas.home, MF_OBJ_VAS, true))
                return "a VAS has more than 16 segments, or a home that is no VAS of the image";
            for (unsigned i = 0; i < o->vas.count; i++)
                if (!ref_ok(h, w, o->vas.segment[i], MF_OBJ_SEGMENT, false))
                    return "a VAS's segment is not a segment of the image";
            break;
        case MF_OBJ_BINDING: {
            const char *why = binding_bad(h, w, o);
            if (why)
                return why;
            break;
        }
        case MF_OBJ_THREAD:
            if (o->flags & MF_CKPT_OBJECT_FLAG_NO_CONTEXT)
                break;
            if (!ref_ok(h, w, o->thread.cspace, MF_OBJ_CNODE, false) ||
                !ref_ok(h, w, o->thread.home, MF_OBJ_VAS, false) ||
                !ref_ok(h, w, o->thread.exit, MF_OBJ_NOTIFICATION, true) ||
                !ref_ok(h, w, o->thread.vas, MF_OBJ_VAS, true))
                return "a thread's CSpace, home VAS, VAS or exit notification is not one of the image";
            break;
        default:
            return "an object of a type images do not hold";
        }
    }
    return NULL;
}

long mf_ckpt_check(const struct mf_ckpt_store *st, struct mf_ckpt_work *w, struct mf_ckpt_header *h)
{
    long r = st->read(st->ctx, 0, h, sizeof(*h));
    if (r < 0)
        return r;
    if (memcmp(h->magic, MF_CKPT_MAGIC, 8) != 0) {
        printf("ckpt: not a checkpoint image (no magic)\n");
        return -E_NOEXEC;
    }
    if (h->version != MF_CKPT_VERSION || h->arch != ARCH) {
        printf("ckpt: image version %u for architecture %u; this is version %u, architecture %u\n", h->version,
               h->arch, MF_CKPT_VERSION, ARCH);
        return -E_NOEXEC;
    }
    uint32_t want = h->header_crc;
    h->header_crc = 0;
    uint32_t got = crc32_update(0, h, sizeof(*h));
    h->header_crc = want;
    if (got != want) {
        printf("ckpt: header checksum %#x, the image says %#x: corrupted\n", got, want);
        return -E_INVAL;
    }
    uint64_t objects_end = h->object_offset + (uint64_t)h->object_count * sizeof(struct mf_ckpt_object);
    uint64_t caps_end = h->cap_offset + (uint64_t)h->cap_count * sizeof(struct mf_ckpt_cap);
    if (h->object_offset < PAGE || (h->object_offset | h->cap_offset | h->page_offset) % PAGE ||
        h->page_offset > (1ull << 48) || h->object_offset >= h->cap_offset || h->cap_offset >= h->page_offset ||
        h->cap_offset < objects_end || h->page_offset < caps_end ||
        h->image_bytes != h->page_offset + (uint64_t)h->page_count * PAGE) {
        printf("ckpt: the header's offsets and sizes do not describe an image\n");
        return -E_INVAL;
    }
    if (h->object_count > w->max_objects || h->cap_count > w->max_caps || h->cnode_count > MF_CKPT_MAX_CNODES ||
        h->loose_count > MF_CKPT_MAX_LOOSE || h->cnode_count > h->object_count) {
        printf("ckpt: %u objects and %u caps: more than the work tables hold\n", h->object_count, h->cap_count);
        return -E_NOMEM;
    }
    r = st->read(st->ctx, h->object_offset, w->objects, (uint64_t)h->object_count * sizeof(struct mf_ckpt_object));
    if (!r)
        r = st->read(st->ctx, h->cap_offset, w->caps, (uint64_t)h->cap_count * sizeof(struct mf_ckpt_cap));
    if (r < 0)
        return r;
    got = tables_crc(w, h);
    if (got != h->table_crc) {
        printf("ckpt: table checksum %#x, the image says %#x: corrupted\n", got, h->table_crc);
        return -E_INVAL;
    }
    unsigned which = 0;
    const char *bad = objects_bad(h, w, &which);
    if (bad) {
        printf("ckpt: object %u: %s\n", which, bad);
        return -E_INVAL;
    }
    for (unsigned i = 0; i < h->cap_count; i++) {
        const struct mf_ckpt_cap *c = &w->caps[i];
        if (c->object > h->object_count || (c->object && w->objects[c->object - 1].type != c->type) ||
            (c->cnode == MF_CKPT_LOOSE ? c->slot >= h->loose_count : c->cnode >= h->cnode_count) ||
            !ref_ok(h, w, c->map_segment, MF_OBJ_SEGMENT, true) || (c->map_segment && c->type != MF_OBJ_FRAME)) {
            printf("ckpt: cap %u refers outside the image, or to an object of another type\n", i);
            return -E_INVAL;
        }
    }
    return 0;
}

// ---------------------------------------------------------------- restore
// Every object but frames is made into a scratch slot of ours (`held`)
// and kept there while the process is built; frames are made, filled,
// mapped and filed one at a time. Caps are placed last: a copy (or mint)
// of our original goes into its slot, and our originals are deleted.

struct restorer {
    const struct mf_ckpt_env *env;
    struct mf_ckpt_work *w;
    const struct mf_ckpt_header *h;
    long next_scratch;
    unsigned untyped;               // env->untyped[] in use
    long *held;                     // per object: our slot, or 0 (frames)
};

static long scratch_take(struct restorer *r)
{
    if (r->next_scratch >= r->env->scratch + MF_CKPT_SCRATCH_SLOTS - 2)
        return -E_NOMEM;
    return r->next_scratch++;
}

static long held_of(const struct restorer *r, uint32_t ref) { return ref ? r->held[ref - 1] : 0; }

// Our slot (of a listed CNode, or loose) where cap c goes: a cptr of ours
// for loose caps; else the CNode (ours) and index.
static long place(struct restorer *r, const struct mf_ckpt_cap *c, long from)
{
    if (c->cnode == MF_CKPT_LOOSE)
        return mf_cnode_move(SELF, from, r->env->loose_out[c->slot]);
    return mf_cnode_move_to(SELF, from, r->held[c->cnode], c->slot);
}

// An external cap for c, into our slot `tmp`.
static long external(struct restorer *r, const struct mf_ckpt_cap *c, long tmp)
{
    const struct mf_ckpt_env *e = r->env;
    for (unsigned i = 0; i < e->externals; i++)
        if (e->external[i].cnode == c->cnode && e->external[i].slot == c->slot)
            return c->type == MF_OBJ_UNTYPED ? mf_cnode_move(SELF, e->external[i].cap, tmp)
                                             : mf_cnode_copy(SELF, e->external[i].cap, tmp, c->rights);
    long cap = c->type < MF_OBJ_TYPE_COUNT ? e->by_type[c->type] : 0;
    if (!cap) {
        printf("ckpt: no %s cap was given for slot %u of CNode %u\n", mf_type_name(c->type), c->slot, c->cnode);
        return -E_NOENT;
    }
    if (c->type == MF_OBJ_UNTYPED)
        return mf_cnode_move(SELF, cap, tmp);     // untyped caps are never copied
    return mf_cnode_copy(SELF, cap, tmp, c->rights);
}

// From the first untyped of the list with room (the ones before it are
// full and stay skipped).
static long make(struct restorer *r, const struct mf_ckpt_object *o, long slot)
{
    for (; r->untyped < MF_CKPT_MAX_UNTYPED && r->env->untyped[r->untyped]; r->untyped++) {
        long e = mf_untyped_retype(r->env->untyped[r->untyped], o->type, o->size_bits, 1, SELF, slot);
        if (e != -E_NOMEM)
            return e;
    }
    return -E_NOMEM;
}

// Phase 1: the objects kept in scratch, configured and linked.
static long build_objects(struct restorer *r)
{
    const struct mf_ckpt_header *h = r->h;
    struct mf_ckpt_object *obj = r->w->objects;
    long e = 0;
    for (unsigned k = 0; k < h->object_count && !e; k++) {
        const struct mf_ckpt_object *o = &obj[k];
        r->held[k] = 0;
        if (o->type == MF_OBJ_FRAME || (o->flags & MF_CKPT_OBJECT_FLAG_FRESH))
            continue;
        if (o->type != MF_OBJ_CNODE && !saved_type(o->type)) {
            printf("ckpt: object %u is a %s, which images do not hold\n", k, mf_type_name(o->type));
            return -E_TYPE;
        }
        long slot = scratch_take(r);
        if (slot < 0)
            return slot;
        e = make(r, o, slot);
        if (!e)
            r->held[k] = slot;
        if (!e && o->type == MF_OBJ_SEGMENT && o->segment.size)
            e = mf_segment_configure(slot, o->segment.base, o->segment.size);
        // A split process's home: its halves' ranges, before it is attached.
        for (unsigned i = 0; !e && o->type == MF_OBJ_SEGMENT && i < o->segment.ranges; i++)
            e = mf_segment_set_half(slot, (unsigned)o->segment.range[i].half, o->segment.range[i].base,
                                    o->segment.range[i].size);
    }
    for (unsigned k = 0; k < h->object_count && !e; k++) {
        const struct mf_ckpt_object *o = &obj[k];
        if (o->type == MF_OBJ_VAS)
            for (unsigned i = 0; i < o->vas.count && i < 16 && !e; i++)
                if (!(obj[o->vas.segment[i] - 1].flags & MF_CKPT_OBJECT_FLAG_FRESH))
                    e = mf_vas_attach_segment(r->held[k], held_of(r, o->vas.segment[i]), o->vas.rights[i]);
        if (o->type == MF_OBJ_SEGMENT && o->segment.pager && !e) {
            long tmp = r->env->scratch + MF_CKPT_SCRATCH_SLOTS - 1;
            e = mf_cnode_mint(SELF, held_of(r, o->segment.pager), tmp, MF_RIGHT_WRITE, o->segment.pager_badge);
            if (!e)
                e = mf_segment_set_pager(r->held[k], tmp);
            mf_cnode_delete(SELF, tmp);
        }
    }
    // LRPC bindings, once their VASes have their segments.
    for (unsigned k = 0; k < h->object_count && !e; k++) {
        const struct mf_ckpt_object *o = &obj[k];
        if (o->type == MF_OBJ_BINDING)
            e = build_binding(o, k, r->held[k], held_of(r, o->binding.server), held_of(r, o->binding.astacks),
                              held_of(r, o->binding.cspace));
    }
    return e;
}

// Phase 2: frames, their contents checked against their checksums, and
// each of their caps, mapped as it was, filed in its slot.
static long build_frames(struct restorer *r, const struct mf_ckpt_store *st)
{
    const struct mf_ckpt_header *h = r->h;
    struct mf_ckpt_work *w = r->w;
    long orig = r->env->scratch + MF_CKPT_SCRATCH_SLOTS - 2, tmp = orig + 1;
    for (unsigned k = 0; k < h->object_count; k++) {
        const struct mf_ckpt_object *o = &w->objects[k];
        if (o->type != MF_OBJ_FRAME || (o->flags & MF_CKPT_OBJECT_FLAG_FRESH))
            continue;
        long e = make(r, o, orig);
        uint32_t crc = 0;
        for (uint64_t off = 0; off < 1ul << o->size_bits && !e; off += PAGE) {
            e = st->read(st->ctx, h->page_offset + (o->page + off / PAGE) * PAGE, page_buf, PAGE);
            if (!e) {
                crc = crc32_update(crc, page_buf, PAGE);
                e = mf_frame_write(orig, off, page_buf, PAGE);
            }
        }
        if (!e && crc != o->crc) {
            printf("ckpt: frame %u (pages %lu..): checksum %#x, the image says %#x: corrupted\n", k,
                   (unsigned long)o->page, crc, o->crc);
            e = -E_INVAL;
        }
        for (uint32_t i = w->hash[k]; i != NONE && !e; i = w->next[i]) {
            const struct mf_ckpt_cap *c = &w->caps[i];
            e = mf_cnode_copy(SELF, orig, tmp, c->rights);
            if (!e && c->map_segment)
                e = mf_frame_map(tmp, held_of(r, c->map_segment), c->map_va, c->map_rights);
            if (!e)
                e = place(r, c, tmp);
            mf_cnode_delete(SELF, tmp);
        }
        mf_cnode_delete(SELF, orig);
        if (e)
            return e;
    }
    return 0;
}

#if defined(__x86_64__)
#define RESULT_REG 0    // rax
#else
#define RESULT_REG 0    // x0
#endif

// Phase 3: threads configured and given their contexts (not resumed).
static long build_threads(struct restorer *r)
{
    const struct mf_ckpt_header *h = r->h;
    long e = 0;
    for (unsigned k = 0; k < h->object_count && !e; k++) {
        struct mf_ckpt_object *o = &r->w->objects[k];
        if (o->type != MF_OBJ_THREAD || (o->flags & MF_CKPT_OBJECT_FLAG_NO_CONTEXT))
            continue;
        long t = r->held[k];
        char name[32];
        memcpy(name, o->thread.name, sizeof(name));
        name[31] = 0;
        e = mf_thread_configure_in(t, held_of(r, o->thread.cspace), (void *)(uintptr_t)o->thread.ipc_buffer,
                                   held_of(r, o->thread.home), name);
        if (!e)
            e = mf_thread_write_regs(t, o->thread.regs.pc, o->thread.regs.sp, 0);
        struct mf_regs regs = o->thread.regs;
        if (o->flags & MF_CKPT_OBJECT_FLAG_IN_CALL)
            regs.regs[RESULT_REG] = (uint64_t)-E_AGAIN;     // its reply wait ends so, as the original's did
        if (!e)
            e = mf_thread_write_context(t, &regs);
        if (!e && o->thread.priority)
            e = mf_thread_set_priority(t, o->thread.priority);
        if (!e && o->thread.policy)
            e = mf_thread_set_sched(t, o->thread.policy, o->thread.fixed_cpu);
        if (!e && o->thread.exception_pc)
            e = mf_invoke(t, MF_THREAD_SET_EXCEPTION, (long)o->thread.exception_pc, (long)o->thread.exception_stack,
                          (long)o->thread.exception_arg, 0);
        if (!e && o->thread.exit) {
            long tmp = r->env->scratch + MF_CKPT_SCRATCH_SLOTS - 1;
            e = o->thread.exit_badge
                    ? mf_cnode_mint(SELF, held_of(r, o->thread.exit), tmp, MF_RIGHT_WRITE, o->thread.exit_badge)
                    : mf_cnode_copy(SELF, held_of(r, o->thread.exit), tmp, MF_RIGHT_WRITE);
            if (!e)
                e = mf_thread_bind_exit(t, tmp);
            mf_cnode_delete(SELF, tmp);
        }
    }
    // A VAS sharing a home: attach it through a thread whose home that is.
    for (unsigned k = 0; k < h->object_count && !e; k++) {
        const struct mf_ckpt_object *o = &r->w->objects[k];
        if (o->type != MF_OBJ_VAS || !o->vas.home)
            continue;
        long through = 0;
        for (unsigned t = 0; t < h->object_count && !through; t++) {
            const struct mf_ckpt_object *q = &r->w->objects[t];
            if (q->type == MF_OBJ_THREAD && !(q->flags & MF_CKPT_OBJECT_FLAG_NO_CONTEXT) && q->thread.home == o->vas.home)
                through = r->held[t];
        }
        if (!through) {
            printf("ckpt: VAS %u shares a home no thread of the process has\n", k);
            return -E_NOENT;
        }
        e = mf_vas_attach(r->held[k], through);
    }
    // Threads that were switched into another VAS go back there.
    for (unsigned k = 0; k < h->object_count && !e; k++) {
        const struct mf_ckpt_object *o = &r->w->objects[k];
        if (o->type == MF_OBJ_THREAD && !(o->flags & MF_CKPT_OBJECT_FLAG_NO_CONTEXT) && o->thread.vas)
            e = mf_thread_set_vas(r->held[k], held_of(r, o->thread.vas));
    }
    // Bits pending in notifications.
    for (unsigned k = 0; k < h->object_count && !e; k++) {
        const struct mf_ckpt_object *o = &r->w->objects[k];
        if (o->type != MF_OBJ_NOTIFICATION || !o->notification.word)
            continue;
        long tmp = r->env->scratch + MF_CKPT_SCRATCH_SLOTS - 1;
        e = mf_cnode_mint(SELF, r->held[k], tmp, MF_RIGHT_WRITE, o->notification.word);
        if (!e)
            e = mf_notification_signal(tmp);
        mf_cnode_delete(SELF, tmp);
    }
    return e;
}

// Phase 4: every cap of a held object, and the external ones, in place.
static long place_caps(struct restorer *r)
{
    const struct mf_ckpt_header *h = r->h;
    long tmp = r->env->scratch + MF_CKPT_SCRATCH_SLOTS - 1;
    for (unsigned i = 0; i < h->cap_count; i++) {
        const struct mf_ckpt_cap *c = &r->w->caps[i];
        long e;
        if (c->object == MF_CKPT_EXTERNAL)
            e = external(r, c, tmp);
        else if (r->w->objects[c->object - 1].type == MF_OBJ_FRAME ||
                 (r->w->objects[c->object - 1].flags & MF_CKPT_OBJECT_FLAG_FRESH))
            continue;       // frames are placed with their mappings; a fresh half's are left out
        else if (c->badge)
            e = mf_cnode_mint(SELF, held_of(r, c->object), tmp, c->rights, c->badge);
        else
            e = mf_cnode_copy(SELF, held_of(r, c->object), tmp, c->rights);
        if (!e)
            e = place(r, c, tmp);
        if (e) {
            mf_cnode_delete(SELF, tmp);
            printf("ckpt: cap %u (slot %u of CNode %u, a %s): %s\n", i, c->slot, c->cnode, mf_type_name(c->type),
                   mf_strerror(e));
            return e;
        }
    }
    return 0;
}

static void drop_held(struct restorer *r)
{
    for (unsigned k = 0; k < r->h->object_count; k++)
        if (r->held[k])
            mf_cnode_delete(SELF, r->held[k]);
}

long mf_ckpt_restore(const struct mf_ckpt_store *st, struct mf_ckpt_work *w, const struct mf_ckpt_env *env,
                     struct mf_ckpt_stats *stats)
{
    uint64_t start = mf_arch_cycles();
    long e = mf_ckpt_check(st, w, &header);
    if (e < 0)
        return e;
    // Each object's caps, chained: the first in hash[], the next in next[].
    struct restorer r = {.env = env, .w = w, .h = &header, .next_scratch = env->scratch, .held = w->held};
    uint32_t *first = w->hash;
    for (unsigned k = 0; k < header.object_count; k++)
        w->held[k] = 0;
    for (unsigned k = 0; k < header.object_count; k++)
        first[k] = NONE;
    for (unsigned i = header.cap_count; i-- > 0;) {
        w->next[i] = NONE;
        uint32_t obj = w->caps[i].object;
        if (obj != MF_CKPT_EXTERNAL) {
            w->next[i] = first[obj - 1];
            first[obj - 1] = i;
        }
    }
    e = build_objects(&r);
    if (!e)
        e = build_frames(&r, st);
    if (!e)
        e = build_threads(&r);
    if (!e)
        e = place_caps(&r);
    if (!e)
        for (unsigned c = 0; c < header.cnode_count && !e; c++)
            e = mf_cnode_copy(SELF, r.held[c], env->cnode_out[c], MF_RIGHTS_ALL);
    if (!e)
        for (unsigned k = 0; k < header.object_count; k++)
            if (w->objects[k].type == MF_OBJ_THREAD && (w->objects[k].flags & MF_CKPT_OBJECT_FLAG_WAS_ACTIVE))
                mf_thread_resume(r.held[k]);
    drop_held(&r);
    if (e)
        return e;
    fill_stats(stats, start, 0);
    return 0;
}
