// Snapshot objects: copy-on-write copies of armed frames, so that a
// checkpointer copies a process's memory while the process runs
// (include/manifold/snapshot.h, docs/checkpoint.md "Copy-on-write").
//
// An armed frame is a physical page in a snapshot's table. Its writable
// mappings in the segments that armed it lose their write permission and
// carry VM_COW instead ("writable, but for a snapshot"). The first write
// through any such mapping faults, and so does the kernel's own write on
// the thread's behalf (copy_to_user, an IPC buffer, MF_FRAME_WRITE): each
// of these paths calls in here, the page is copied into one of the
// snapshot's copy pages, and the write goes on. Nothing waits for user
// space, so a write the kernel makes in the middle of a system call is
// handled exactly like the thread's own.
//
// The write right comes back lazily: a VM_COW mapping whose frame no
// snapshot needs (copied already, released, or the snapshot is gone) just
// gets VM_WRITE back at its next write. So disarming costs nothing, and no
// reverse map from frames to mappings is needed.
//
// References (docs/capabilities.md): a snapshot holds physical addresses of
// frames, never a pointer to an object, and a frame's finalizer removes its
// address from every snapshot (snapshot_frame_gone); the list of armed
// snapshots is what a snapshot's finalizer unlinks it from. All of it
// under space_lock, which every operation here holds (LOCK_SPACE).
#include "kernel/snapshot.h"
#include "kernel/arch.h"
#include "kernel/clustered.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/object.h"
#include "kernel/pmm.h"
#include "kernel/segment.h"
#include "kernel/thread.h"
#include "kernel/usercopy.h"
#include "include/manifold/errors.h"
#include "include/manifold/snapshot.h"
#include "lib/string.h"

#define SNAPSHOT_MIN_BITS 14
#define SNAPSHOT_MAX_BITS 26
#define SNAPSHOT_MAX_FRAMES (1ul << 20)   // a 32 MiB table: fits the largest object
#define ENTRY_LOST 1ul          // in entry.copy: the first write found no copy page

struct entry {
    paddr_t frame;              // 0: empty
    paddr_t copy;               // the copy page, ENTRY_LOST, or 0 (not written since armed)
};

struct snapshot {
    bool configured;
    bool linked;                // on armed_snapshots: while it has armed frames
    struct snapshot *prev, *next;   // the armed snapshots (space_lock)
    struct entry *table;        // `slots` entries, a power of two, linear probing
    uint64_t slots, capacity, armed;
    paddr_t fresh, end;         // copy pages never used: [fresh, end)
    paddr_t free;               // copy pages given back, linked through their first word
    uint64_t copy_pages, copies, copied, lost;
};
_Static_assert(sizeof(struct snapshot) <= PAGE_SIZE, "the header fits its page");

// Snapshots with frames armed: only these cost the kernel's write paths a
// lookup (space_lock).
static struct snapshot *armed_snapshots;

static void armed_add(struct snapshot *s)
{
    s->prev = NULL;
    s->next = armed_snapshots;
    if (s->next)
        s->next->prev = s;
    armed_snapshots = s;
    s->linked = true;
}

static void armed_remove(struct snapshot *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        armed_snapshots = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->linked = false;
}

// ------------------------------------------------------------------ table

static uint64_t home_slot(const struct snapshot *s, paddr_t frame)
{
    return ((frame >> PAGE_SHIFT) * 0x9e3779b97f4a7c15ull >> 17) & (s->slots - 1);
}

static struct entry *lookup(const struct snapshot *s, paddr_t frame)
{
    for (uint64_t i = home_slot(s, frame);; i = (i + 1) & (s->slots - 1)) {
        if (s->table[i].frame == frame)
            return &s->table[i];
        if (!s->table[i].frame)
            return NULL;
    }
}

// Room is checked by the caller (armed < capacity <= slots / 2).
static struct entry *insert(struct snapshot *s, paddr_t frame)
{
    uint64_t i = home_slot(s, frame);
    while (s->table[i].frame && s->table[i].frame != frame)
        i = (i + 1) & (s->slots - 1);
    if (!s->table[i].frame) {
        s->table[i] = (struct entry){.frame = frame};
        if (!s->armed++)
            armed_add(s);
    }
    return &s->table[i];
}

static void give_page(struct snapshot *s, paddr_t page)
{
    *(paddr_t *)P2V(page) = s->free;
    s->free = page;
}

static paddr_t take_page(struct snapshot *s)
{
    paddr_t page = s->free;
    if (page) {
        s->free = *(paddr_t *)P2V(page);
    } else if (s->fresh < s->end) {
        page = s->fresh;
        s->fresh += PAGE_SIZE;
    }
    return page;
}

// Empties e (its copy page freed) and moves later entries of its probe run
// back, so that lookups still find them (deletion without tombstones).
static void erase(struct snapshot *s, struct entry *e)
{
    if (e->copy && e->copy != ENTRY_LOST) {
        give_page(s, e->copy);
        s->copies--;
    }
    uint64_t hole = (uint64_t)(e - s->table), mask = s->slots - 1;
    for (uint64_t i = (hole + 1) & mask; s->table[i].frame; i = (i + 1) & mask) {
        uint64_t want = home_slot(s, s->table[i].frame);
        // Movable into the hole when its home is not in (hole, i].
        if (((i - want) & mask) >= ((i - hole) & mask)) {
            s->table[hole] = s->table[i];
            hole = i;
        }
    }
    s->table[hole] = (struct entry){0};
    if (!--s->armed)
        armed_remove(s);
}

// ------------------------------------------------- the kernel's write paths

static bool armed_uncopied(paddr_t frame)
{
    for (struct snapshot *s = armed_snapshots; s; s = s->next) {
        const struct entry *e = lookup(s, frame);
        if (e && !e->copy)
            return true;
    }
    return false;
}

// Every snapshot that armed `frame` and has no copy of it yet gets one now.
static void copy_before_write(paddr_t frame)
{
    for (struct snapshot *s = armed_snapshots; s; s = s->next) {
        struct entry *e = lookup(s, frame);
        if (!e || e->copy)
            continue;
        paddr_t page = take_page(s);
        if (!page) {
            e->copy = ENTRY_LOST;
            s->lost++;
            continue;
        }
        memcpy(P2V(page), P2V(frame), PAGE_SIZE);
        e->copy = page;
        s->copies++;
        s->copied++;
    }
}

unsigned snapshot_leaf_flags(paddr_t frame, unsigned flags)
{
    assert(space_lock_held());
    if ((flags & VM_WRITE) && armed_snapshots && armed_uncopied(frame))
        return (flags & ~VM_WRITE) | VM_COW;
    return flags;
}

void snapshot_frame_written(paddr_t frame)
{
    assert(space_lock_held());
    if (armed_snapshots)
        copy_before_write(frame);
}

// True when the write may be retried: the page was copy-on-write and is
// writable now, or another CPU made it writable while we waited for the
// lock (two threads writing one page at once: both retry). That CPU
// flushed every TLB before it let the lock go; `flush` flushes again for a
// page found writable (a write that faulted there, so never a loop), which
// copy_to_user's walk over a whole buffer does not need.
static bool write_fault_locked(struct vas *v, vaddr_t va, bool flush)
{
    paddr_t pa;
    unsigned flags;
    va = ALIGN_DOWN(va, PAGE_SIZE);
    if (!v || va < USER_BASE || va >= USER_TOP || vm_lookup(v->root, va, &pa, &flags) ||
        !(flags & (VM_COW | VM_WRITE)))
        return false;
    struct segment *seg = segment_at(v, va);
    pte_t *e = seg ? segment_leaf(seg, va) : NULL;
    if (!e || !arch_pte_valid(*e) || arch_pte_addr(*e) != pa)
        return false;   // VM_COW only ever marks 4 KiB leaves of segments
    if (flags & VM_COW) {
        copy_before_write(pa);
        *e = arch_pte_leaf(pa, (arch_pte_flags(*e, 0) & ~VM_COW) | VM_WRITE, 0);
        kstat_inc(MF_KSTAT_COW_FAULTS);
        flush = true;
    }
    if (flush)
        segment_flush(seg, va, PAGE_SIZE);
    return true;
}

bool snapshot_write_fault(const struct thread *t, vaddr_t va)
{
    bool held = space_lock_held();
    if (!held)
        space_lock();
    bool done = write_fault_locked(t->vas, va, true);     // t's VAS moves under space_lock only
    if (!held)
        space_unlock();
    return done;
}

bool snapshot_write_range(const struct thread *t, vaddr_t va, size_t len)
{
    if (!len || va < USER_BASE || va >= USER_TOP || len > USER_TOP - va)
        return false;
    bool any = false;
    bool held = space_lock_held();
    if (!held)
        space_lock();
    for (vaddr_t a = ALIGN_DOWN(va, PAGE_SIZE); a < va + len; a += PAGE_SIZE)
        any |= write_fault_locked(t->vas, a, false);
    if (!held)
        space_unlock();
    return any;
}

void snapshot_frame_gone(paddr_t frame)
{
    bool held = space_lock_held();
    if (!held)
        space_lock();
    for (struct snapshot *s = armed_snapshots, *next; s; s = next) {
        next = s->next;     // erasing its last frame unlinks s
        struct entry *e = lookup(s, frame);
        if (e)
            erase(s, e);
    }
    if (!held)
        space_unlock();
}

// ------------------------------------------------------------ invocations

static struct snapshot *target(const struct invocation *inv) { return (struct snapshot *)inv->target->cap.obj; }

// A 4 KiB frame cap with READ, named by cptr.
static int frame_arg(const struct invocation *inv, uint64_t cptr, struct slot **out)
{
    int r = cap_lookup(inv->caller, cptr, MF_OBJ_FRAME, MF_RIGHT_READ, out);
    if (r)
        return r;
    if ((*out)->cap.size_bits != PAGE_SHIFT)
        return refuse(inv, -E_INVAL, "a snapshot holds 4 KiB frames only");
    return 0;
}

// CONFIGURE(frames).
struct configure_args {
    struct snapshot *s;
    uint64_t slots, capacity;
    paddr_t table, pool, end;
};

static int decode_configure(const struct invocation *inv, struct decoded *d)
{
    struct configure_args *a = DECODED(struct configure_args, d);
    struct snapshot *s = target(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (s->configured)
        return -E_BUSY;
    uint64_t frames = inv->arg[0];
    if (!frames || frames > SNAPSHOT_MAX_FRAMES)
        return refuse(inv, -E_RANGE, "frames: 1 up to 2^20");
    uint64_t slots = 2;
    while (slots < 2 * frames)
        slots *= 2;
    uint64_t table_pages = (slots * sizeof(struct entry) + PAGE_SIZE - 1) / PAGE_SIZE;
    uint64_t pages = (1ul << inv->target->cap.size_bits) / PAGE_SIZE;
    if (1 + table_pages + 1 > pages)
        return refuse(inv, -E_NOMEM, "the table and one copy page do not fit the object");
    paddr_t base = V2P(inv->target->cap.obj);
    a->s = s;
    a->slots = slots;
    a->capacity = frames;
    a->table = base + PAGE_SIZE;
    a->pool = base + (1 + table_pages) * PAGE_SIZE;
    a->end = base + pages * PAGE_SIZE;
    return 0;
}

static int64_t invoke_configure(const struct decoded *d)
{
    const struct configure_args *a = DECODED(struct configure_args, d);
    struct snapshot *s = a->s;
    s->table = P2V(a->table);   // zeroed by retype: every entry empty
    s->slots = a->slots;
    s->capacity = a->capacity;
    s->fresh = a->pool;
    s->end = a->end;
    s->copy_pages = (a->end - a->pool) / PAGE_SIZE;
    s->configured = true;
    return 0;
}

// ADD_SEGMENT(segment): every 4 KiB RAM leaf the segment's tables hold.
struct add_segment_args {
    struct snapshot *s;
    struct segment *seg;
};

// Visits the user RAM 4 KiB leaves below table_pa (at `level`): counts the
// ones s lacks (count) or arms them (arm: inserted, writable ones made
// copy-on-write unless copied already). 2 MiB leaves are left alone.
static uint64_t visit(struct snapshot *s, paddr_t table_pa, int level, bool arm)
{
    pte_t *table = P2V(table_pa);
    uint64_t n = 0;
    for (unsigned i = 0; i < 512; i++) {
        pte_t e = table[i];
        if (!arch_pte_valid(e))
            continue;
        if (level > 0) {
            if (!arch_pte_is_leaf(e, level))
                n += visit(s, arch_pte_addr(e), level - 1, arm);
            continue;
        }
        paddr_t pa = arch_pte_addr(e);
        unsigned flags = arch_pte_flags(e, 0);
        if (!(flags & VM_USER) || !pmm_is_ram(pa))
            continue;
        if (!arm) {
            n += !lookup(s, pa);
            continue;
        }
        n += !lookup(s, pa);
        struct entry *en = insert(s, pa);
        if ((flags & VM_WRITE) && !en->copy)
            table[i] = arch_pte_leaf(pa, (flags & ~VM_WRITE) | VM_COW, 0);
    }
    return n;
}

static uint64_t visit_segment(struct snapshot *s, const struct segment *seg, bool arm)
{
    uint64_t n = 0;
    for (uint32_t i = 0; i < seg->table_count; i++)
        if (seg->tables[i])
            n += visit(s, seg->tables[i], seg->level, arm);
    return n;
}

static int decode_add_segment(const struct invocation *inv, struct decoded *d)
{
    struct add_segment_args *a = DECODED(struct add_segment_args, d);
    struct snapshot *s = target(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *ss;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_SEGMENT, MF_RIGHT_READ, &ss);
    if (r)
        return r;
    if (!s->configured)
        return refuse(inv, -E_INVAL, "the snapshot is not configured");
    struct segment *seg = (struct segment *)ss->cap.obj;
    if (!seg->configured)
        return refuse(inv, -E_INVAL, "the segment is not configured");
    // A frame mapped twice counts twice here: the check errs on the safe side.
    if (visit_segment(s, seg, false) > s->capacity - s->armed)
        return refuse(inv, -E_NOMEM, "more frames than the snapshot has room for");
    a->s = s;
    a->seg = seg;
    return 0;
}

static int64_t invoke_add_segment(const struct decoded *d)
{
    const struct add_segment_args *a = DECODED(struct add_segment_args, d);
    uint64_t n = visit_segment(a->s, a->seg, true);
    segment_flush(a->seg, a->seg->base, a->seg->size);
    return (int64_t)n;
}

// ADD_FRAME(frame), READ(frame, offset, buffer, len), RELEASE(frame).
struct frame_args {
    struct snapshot *s;
    struct slot *frame;
    struct entry *entry;
    uint64_t offset, buffer, len;
};

static int decode_add_frame(const struct invocation *inv, struct decoded *d)
{
    struct frame_args *a = DECODED(struct frame_args, d);
    struct snapshot *s = target(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    int r = frame_arg(inv, inv->arg[0], &a->frame);
    if (r)
        return r;
    if (!s->configured)
        return refuse(inv, -E_INVAL, "the snapshot is not configured");
    a->entry = lookup(s, V2P(a->frame->cap.obj));
    if (!a->entry && s->armed >= s->capacity)
        return refuse(inv, -E_NOMEM, "the snapshot's table is full");
    a->s = s;
    return 0;
}

static int64_t invoke_add_frame(const struct decoded *d)
{
    const struct frame_args *a = DECODED(struct frame_args, d);
    paddr_t pa = V2P(a->frame->cap.obj);
    const struct entry *en = a->entry ? a->entry : insert(a->s, pa);
    // The cap's own mapping, when it has one and it is writable (armed
    // through another segment, this one may not be protected yet).
    struct segment *seg;
    vaddr_t va;
    pte_t *e = frame_mapping(a->frame, &seg, &va);
    if (e && !en->copy && (arch_pte_flags(*e, 0) & VM_WRITE)) {
        *e = arch_pte_leaf(pa, (arch_pte_flags(*e, 0) & ~VM_WRITE) | VM_COW, 0);
        segment_flush(seg, va, PAGE_SIZE);
    }
    return a->entry ? 1 : 0;
}

static int decode_armed_frame(const struct invocation *inv, struct frame_args *a)
{
    struct snapshot *s = target(inv);
    int r = frame_arg(inv, inv->arg[0], &a->frame);
    if (r)
        return r;
    if (!s->configured)
        return refuse(inv, -E_INVAL, "the snapshot is not configured");
    a->entry = lookup(s, V2P(a->frame->cap.obj));
    if (!a->entry)
        return refuse(inv, -E_NOENT, "the frame is not armed in this snapshot");
    a->s = s;
    return 0;
}

static int decode_read(const struct invocation *inv, struct decoded *d)
{
    struct frame_args *a = DECODED(struct frame_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    int r = decode_armed_frame(inv, a);
    if (r)
        return r;
    uint64_t offset = inv->arg[1], len = inv->arg[3];
    if (offset > PAGE_SIZE || len > PAGE_SIZE - offset)
        return -E_RANGE;
    if (a->entry->copy == ENTRY_LOST)
        return refuse(inv, -E_NOMEM, "written when no copy page was left: lost");
    a->offset = offset;
    a->buffer = inv->arg[2];
    a->len = len;
    return 0;
}

static int64_t invoke_read(const struct decoded *d)
{
    const struct frame_args *a = DECODED(struct frame_args, d);
    paddr_t from = a->entry->copy ? a->entry->copy : V2P(a->frame->cap.obj);
    // Our buffer may be copy-on-write for some snapshot: copy_to_user
    // copies that page first. (A buffer on this very frame, not copied
    // yet, is read and written at once: the caller gets what it asked for.)
    return copy_to_user(a->buffer, (const uint8_t *)P2V(from) + a->offset, a->len);
}

static int decode_release(const struct invocation *inv, struct decoded *d)
{
    struct frame_args *a = DECODED(struct frame_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    return decode_armed_frame(inv, a);
}

static int64_t invoke_release(const struct decoded *d)
{
    const struct frame_args *a = DECODED(struct frame_args, d);
    erase(a->s, a->entry);
    return 0;
}

// INFO(buffer).
struct info_args {
    struct mf_snapshot_info info;
    uint64_t buffer;
};

static int decode_info(const struct invocation *inv, struct decoded *d)
{
    struct info_args *a = DECODED(struct info_args, d);
    const struct snapshot *s = target(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    a->info = (struct mf_snapshot_info){
        .capacity = s->capacity, .armed = s->armed, .copy_pages = s->copy_pages,
        .copies = s->copies, .copied = s->copied, .lost = s->lost,
    };
    a->buffer = inv->arg[0];
    return 0;
}

static int64_t invoke_info(const struct decoded *d)
{
    const struct info_args *a = DECODED(struct info_args, d);
    return copy_to_user(a->buffer, &a->info, sizeof(a->info));
}

static const struct op_handler snapshot_ops[MAX_OPS] = {
    [MF_SNAPSHOT_CONFIGURE] = {decode_configure, invoke_configure},
    [MF_SNAPSHOT_ADD_SEGMENT] = {decode_add_segment, invoke_add_segment},
    [MF_SNAPSHOT_ADD_FRAME] = {decode_add_frame, invoke_add_frame},
    [MF_SNAPSHOT_READ] = {decode_read, invoke_read},
    [MF_SNAPSHOT_RELEASE] = {decode_release, invoke_release},
    [MF_SNAPSHOT_INFO] = {decode_info, invoke_info},
};

static int snapshot_bits(unsigned size_bits)
{
    return size_bits >= SNAPSHOT_MIN_BITS && size_bits <= SNAPSHOT_MAX_BITS ? (int)size_bits : -1;
}

// The final cap is gone: off the armed list. Mappings it made copy-on-write
// get their write right back at their next write.
static void snapshot_finalize(const struct cap *cap)
{
    struct snapshot *s = (struct snapshot *)cap->obj;
    bool held = space_lock_held();
    if (!held)
        space_lock();
    if (s->linked)
        armed_remove(s);
    s->configured = false;
    if (!held)
        space_unlock();
}

const struct object_type snapshot_object_type = {
    .name = "snapshot",
    .object_bits = snapshot_bits,
    .finalize = snapshot_finalize,
    .ops = snapshot_ops,
    .op_count = MF_SNAPSHOT_OP_COUNT,
    .lock_class = LOCK_SPACE,
};
