// VAS objects, segments and frame mappings (see kernel/segment.h).
//
// Locking: all of it is under space_lock (kernel/locks.h): the invocations
// hold it from decode to the end of invoke (invoke_dispatch), and so do
// vas_switch, the page-fault path and destruction. Page-table entries
// removed here are shot down on every CPU that may cache them (vas_flush).
#include "kernel/reclaim.h"
#include "kernel/net.h"
#include "kernel/clustered.h"
#include "kernel/object.h"
#include "kernel/segment.h"
#include "kernel/snapshot.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/ipc.h"
#include "kernel/locks.h"
#include "kernel/lrpc.h"
#include "kernel/thread.h"
#include "kernel/usercopy.h"
#include "include/manifold/errors.h"
#include "include/manifold/ipc.h"
#include "lib/string.h"

#define SEGMENT_MAGIC 0x5345474du
#define HOME_LEVEL 1                      // the home region is one level-1 table
// Configured segments, by the low bits of their id: a frame cap's weak
// reference (segment address, id) is checked in O(1) (segment_live), and
// the id's high bits (a generation) tell a new segment at the same address
// and index from the one the cap mapped into.
#define LIVE_SEGMENTS_BITS 10
#define LIVE_SEGMENTS (1u << LIVE_SEGMENTS_BITS)
static struct segment *live_segments[LIVE_SEGMENTS];
static uint32_t segment_generation;

static inline size_t span(int level) { return 1ul << (PAGE_SHIFT + 9 * (level + 1)); }
static inline struct vas_object *vas_object_of(struct vas *v)
{
    return v && v->is_object ? container_of(v, struct vas_object, vas) : NULL;
}

// ------------------------------------------------------------------- init

void vas_object_init(uintptr_t obj, unsigned size_bits)
{
    struct vas_object *vo = (struct vas_object *)obj;
    paddr_t pa = V2P(obj);
    vo->vas.root = pa + PAGE_SIZE;
    vo->vas.refs = 1;
    vo->vas.in_use = true;
    vo->vas.is_object = true;
    arch_vm_init_user_root(P2V(vo->vas.root));
    vo->pool = (struct table_pool){pa + 2 * PAGE_SIZE, (uint32_t)((1ul << size_bits) / PAGE_SIZE - 2), 0};
}

void segment_init(uintptr_t obj, unsigned size_bits)
{
    struct segment *seg = (struct segment *)obj;
    seg->magic = SEGMENT_MAGIC;
    seg->pool = (struct table_pool){V2P(obj) + PAGE_SIZE, (uint32_t)((1ul << size_bits) / PAGE_SIZE - 1), 0};
}

#define SEGMENT_MAX_TABLES ((PAGE_SIZE - sizeof(struct segment)) / sizeof(paddr_t))

// ---------------------------------------------------------- lookup helpers

struct segment *segment_at(struct vas *v, vaddr_t va)
{
    struct vas_object *vo = vas_object_of(v);
    for (unsigned i = 0; vo && i < vo->segment_count; i++) {
        struct segment *seg = vo->segments[i];
        if (seg && va >= seg->base && va - seg->base < seg->size)
            return seg;
    }
    return NULL;
}

static bool segment_live(const struct segment *seg, uint32_t id)
{
    return live_segments[id & (LIVE_SEGMENTS - 1)] == seg && seg->id == id;
}

pte_t *segment_leaf(struct segment *seg, vaddr_t va)
{
    if (!seg->configured || va < seg->base || va - seg->base >= seg->size)
        return NULL;
    return vm_entry(seg->tables[(va - seg->base) / span(seg->level)], seg->level, va, 0, NULL, false);
}

pte_t *frame_mapping(const struct slot *frame, struct segment **seg_out, vaddr_t *va_out)
{
    struct segment *seg = (struct segment *)frame->cap.badge;
    vaddr_t va = frame->reserved;
    if (!seg || !segment_live(seg, frame->cap.reserved1))
        return NULL;
    int leaf = frame->cap.size_bits == PAGE_SHIFT ? 0 : 1;
    pte_t *e = vm_entry(seg->tables[(va - seg->base) / span(seg->level)], seg->level, va, leaf, NULL, false);
    if (!e || !arch_pte_valid(*e) || arch_pte_addr(*e) != V2P(frame->cap.obj))
        return NULL;
    *seg_out = seg;
    *va_out = va;
    return e;
}

static int free_live_index(void)
{
    for (unsigned i = 0; i < LIVE_SEGMENTS; i++)
        if (!live_segments[i])
            return (int)i;
    return -1;
}

// TLB entries for [va, va + len) in every VAS the segment is attached to,
// on every CPU: one batch, one IPI per CPU at most.
void segment_flush(struct segment *seg, vaddr_t va, size_t len)
{
    struct tlb_batch b = {0};
    for (unsigned i = 0; i < SEGMENT_MAX_ATTACH; i++)
        if (seg->attached[i])
            tlb_batch_add(&b, &seg->attached[i]->vas, va, len);
    tlb_batch_flush(&b);
}

// ------------------------------------------------------------- segments

// CONFIGURE: the segment covers [base, base + size) with tables of `level`.
struct segment_configure_args {
    struct segment *segment;
    uint64_t base, size;
    int level;
    bool home;
};

static int decode_configure(const struct invocation *inv, struct decoded *d)
{
    struct segment_configure_args *a = DECODED(struct segment_configure_args, d);
    struct segment *seg = (struct segment *)inv->target->cap.obj;
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    uint64_t base = inv->arg[0], size = inv->arg[1];
    if (!size || (base | size) & (LARGE_PAGE_SIZE - 1))
        return refuse(inv, -E_INVAL, "base and size must be 2 MiB aligned");
    // [0, MF_HOME_SIZE) exactly: a home segment, a program's own home
    // region (code, data, stack) for a user-level loader (docs/programs.md).
    bool home = base == 0 && size == MF_HOME_SIZE;
    if ((base < MF_HOME_SIZE && !home) || base >= USER_TOP || USER_TOP - base < size)
        return refuse(inv, -E_RANGE, "above 1 GiB, or exactly the home region");
    if (seg->configured)
        return refuse(inv, -E_BUSY, "configured already");
    int level = (base | size) & (HUGE_PAGE_SIZE - 1) ? 0 : 1;
    uint64_t tables = size / span(level);
    if (tables > SEGMENT_MAX_TABLES)
        return -E_RANGE;
    if (tables > seg->pool.pages || free_live_index() < 0)
        return -E_NOMEM;        // (more than LIVE_SEGMENTS configured segments at once)
    a->segment = seg;
    a->base = base;
    a->size = size;
    a->level = level;
    a->home = home;
    return 0;
}

static int64_t invoke_configure(const struct decoded *d)
{
    const struct segment_configure_args *a = DECODED(struct segment_configure_args, d);
    struct segment *seg = a->segment;
    seg->base = a->base;
    seg->size = a->size;
    seg->level = a->level;
    // A home is shared by every VAS its program's threads switch to, with
    // no SpaceJMP lock: like the kernel-built home regions it replaces.
    seg->home = a->home;
    seg->unlocked = a->home;
    seg->table_count = (uint32_t)(seg->size / span(seg->level));
    for (uint32_t i = 0; i < seg->table_count; i++)
        seg->tables[i] = table_pool_alloc(&seg->pool);
    int index = free_live_index();      // decode found one; space_lock held since
    seg->id = ++segment_generation << LIVE_SEGMENTS_BITS | (uint32_t)index;
    live_segments[index] = seg;
    seg->configured = true;
    return 0;
}

// SET_PAGER: faults in the segment go to pager (none when NULL) with badge.
struct set_pager_args {
    struct segment *segment;
    struct slot *pager;             // the endpoint cap named, or NULL
};

static int decode_set_pager(const struct invocation *inv, struct decoded *d)
{
    struct set_pager_args *a = DECODED(struct set_pager_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    const struct segment *target = (const struct segment *)inv->target->cap.obj;
    if (inv->target->cap.badge && (target->home || target->half != inv->target->cap.badge))
        return refuse(inv, -E_HALF, "a half's cap sets the pager of its own segments only");
    struct slot *ep = NULL;
    if (inv->arg[0]) {
        int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_ENDPOINT, MF_RIGHT_WRITE, &ep);
        if (r)
            return r;
    }
    a->segment = (struct segment *)inv->target->cap.obj;
    a->pager = ep;
    return 0;
}

static int64_t invoke_set_pager(const struct decoded *d)
{
    const struct set_pager_args *a = DECODED(struct set_pager_args, d);
    struct segment *seg = a->segment;
    cap_delete_nested(&seg->pager_slot);        // clears seg->pager (endpoint_cap_deleted)
    if (a->pager) {
        cap_insert(&seg->pager_slot, &a->pager->cap, a->pager);
        seg->pager_slot.reserved = (uintptr_t)seg;  // marks it a segment's pager cap
        seg->pager = (struct endpoint *)a->pager->cap.obj;
        seg->pager_badge = a->pager->cap.badge;
    }
    return 0;
}

void endpoint_cap_deleted(const struct slot *s)
{
    // Only a segment's own pager_slot has `reserved` set: every other slot
    // holding an endpoint cap was zeroed when it was last emptied.
    struct segment *seg = (struct segment *)s->reserved;
    if (!seg)
        return;
    bool held = space_lock_held();
    if (!held)
        space_lock();
    seg->pager = NULL;          // before the endpoint can be finalized
    seg->pager_badge = 0;
    if (!held)
        space_unlock();
}

// ----------------------------------------------------------------- halves
// A split process (docs/split.md) is two programs in one home: a lower
// half (a library, MANA's MPI) and an upper half (the application). Its
// home segment lists the address ranges of each half: in the home itself
// (each half's image and thread-local storage) and above it (where each
// half attaches segments of its own). A VAS or segment cap minted with a
// half as its badge maps frames and attaches segments only inside that
// half's ranges; a segment attached inside a range belongs to that half
// from then on, so not even a cap of no half attaches it in the other's.
// The point is MANA's recurring accident: one half's allocator placing
// memory where the other half lives, which here is refused with -E_HALF.

// The half whose range holds [base, base + size) in home's ranges: 0 when
// it meets none; -E_HALF when it reaches out of the range it starts in.
static int half_of(const struct segment *home, vaddr_t base, uint64_t size)
{
    for (unsigned i = 0; home && i < home->range_count; i++) {
        const struct half_range *r = &home->ranges[i];
        if (base < r->base + r->size && r->base < base + size)
            return base >= r->base && base + size <= r->base + r->size ? (int)r->half : -E_HALF;
    }
    return 0;
}

// The home segment of vo when it is split, else NULL.
static struct segment *split_home(struct vas_object *vo)
{
    struct segment *home = segment_at(&vo->vas, 0);
    return home && home->home && home->range_count ? home : NULL;
}

// Whether seg may be attached to vo through a VAS cap of half `cap_half`
// (0: none); the half it will belong to in *half.
static int half_attach_check(const struct invocation *inv, struct vas_object *vo, const struct segment *seg,
                             uint64_t cap_half, int *half)
{
    int h = half_of(split_home(vo), seg->base, seg->size);
    if (h < 0)
        return refuse(inv, -E_HALF, "the segment reaches out of a half's range");
    if (cap_half && (uint64_t)h != cap_half)
        return refuse(inv, -E_HALF, "the segment lies outside this half's ranges");
    if (h && seg->half && seg->half != h)
        return refuse(inv, -E_HALF, "the segment belongs to the other half");
    *half = h;
    return 0;
}

// Whether a cap of half `cap_half` may map [va, va + size) in seg.
static int half_map_check(const struct invocation *inv, const struct segment *seg, uint64_t cap_half,
                          vaddr_t va, uint64_t size)
{
    if (!cap_half)
        return 0;
    if (seg->home ? half_of(seg, va, size) != (int)cap_half : seg->half != cap_half)
        return refuse(inv, -E_HALF, "va lies outside this half's ranges");
    return 0;
}

// A split home joining vo: the segments there already must lie in its
// ranges as they would be checked attaching after it; once it is attached
// they belong to the halves whose ranges hold them.
static int split_home_attach_check(const struct invocation *inv, struct vas_object *vo, const struct segment *home)
{
    for (unsigned i = 0; home->range_count && i < vo->segment_count; i++) {
        const struct segment *seg = vo->segments[i];
        int h = half_of(home, seg->base, seg->size);
        if (h < 0 || (h && seg->half && seg->half != h))
            return refuse(inv, -E_HALF, "a segment attached there lies across the halves' ranges");
    }
    return 0;
}

static void split_home_attached(struct vas_object *vo, const struct segment *home)
{
    for (unsigned i = 0; home->range_count && i < vo->segment_count; i++) {
        int h = half_of(home, vo->segments[i]->base, vo->segments[i]->size);
        if (h > 0)
            vo->segments[i]->half = (uint8_t)h;
    }
}

struct set_half_args {
    struct segment *segment;
    struct half_range range;
};

static int decode_set_half(const struct invocation *inv, struct decoded *d)
{
    struct set_half_args *a = DECODED(struct set_half_args, d);
    struct segment *seg = (struct segment *)inv->target->cap.obj;
    uint64_t half = inv->arg[0], base = inv->arg[1], size = inv->arg[2];
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE) || inv->target->cap.badge)
        return refuse(inv, -E_PERM, "needs WRITE on a cap of no half");
    if (!seg->configured || !seg->home)
        return refuse(inv, -E_INVAL, "only a configured home segment has halves");
    if (half != MF_HALF_LOWER && half != MF_HALF_UPPER)
        return refuse(inv, -E_INVAL, "half: MF_HALF_LOWER or MF_HALF_UPPER");
    if ((base | size) & (PAGE_SIZE - 1) || !size || base >= USER_TOP || USER_TOP - base < size)
        return refuse(inv, -E_RANGE, "base and size page aligned, inside user space");
    for (unsigned i = 0; i < SEGMENT_MAX_ATTACH; i++)
        if (seg->attached[i])
            return refuse(inv, -E_BUSY, "the home is attached already");
    if (half_of(seg, base, size) != 0)
        return refuse(inv, -E_BUSY, "overlaps a range set before");
    if (seg->range_count == MF_HALF_RANGES_MAX)
        return refuse(inv, -E_NOMEM, "MF_HALF_RANGES_MAX ranges already");
    a->segment = seg;
    a->range = (struct half_range){base, size, half};
    return 0;
}

static int64_t invoke_set_half(const struct decoded *d)
{
    const struct set_half_args *a = DECODED(struct set_half_args, d);
    a->segment->ranges[a->segment->range_count++] = a->range;
    return 0;
}

static int decode_map_batch(const struct invocation *inv, struct decoded *d);
static int64_t invoke_map_batch(const struct decoded *d);
static int decode_unmap_batch(const struct invocation *inv, struct decoded *d);
static int64_t invoke_unmap_batch(const struct decoded *d);

const struct op_handler segment_ops[MAX_OPS] = {
    [MF_SEGMENT_CONFIGURE] = {decode_configure, invoke_configure},
    [MF_SEGMENT_SET_PAGER] = {decode_set_pager, invoke_set_pager},
    [MF_SEGMENT_MAP_BATCH] = {decode_map_batch, invoke_map_batch},
    [MF_SEGMENT_UNMAP_BATCH] = {decode_unmap_batch, invoke_unmap_batch},
    [MF_SEGMENT_SET_HALF] = {decode_set_half, invoke_set_half},
};

// ---------------------------------------------------------------- frames
// A mapped frame cap records its mapping: cap.badge = segment, reserved1 =
// the segment's id, slot->reserved = virtual address. Copies start unmapped.

// MAP: the invoked frame cap maps its frame at va in segment, with a leaf
// at level `leaf` (0: 4 KiB, 1: 2 MiB) and rights READ, perhaps WRITE.
struct map_args {
    struct slot *frame;
    struct segment *segment;
    vaddr_t va;
    uint64_t rights;
    int leaf;
};

// Rights of a mapping: READ, optionally WRITE or MF_MAP_EXEC (never both).
static bool map_rights_valid(uint64_t rights)
{
    return !(rights & ~(uint64_t)(MF_RIGHT_READ | MF_RIGHT_WRITE | MF_MAP_EXEC)) && (rights & MF_RIGHT_READ) &&
           (rights & (MF_RIGHT_WRITE | MF_MAP_EXEC)) != (MF_RIGHT_WRITE | MF_MAP_EXEC);
}

static unsigned map_flags(uint64_t rights)
{
    return VM_USER | VM_READ | (rights & MF_RIGHT_WRITE ? VM_WRITE : 0) | (rights & MF_MAP_EXEC ? VM_EXEC : 0);
}

// Whether the frame cap in `frame` may map at va in seg with `rights`,
// checked in the documented order; 0 and the leaf level in *leaf. The page
// tables it would add are not counted here (map_tables_missing).
static int map_check(const struct invocation *inv, const struct slot *frame_slot, const struct segment *seg,
                     uint64_t cap_half, uint64_t va, uint64_t rights, int *leaf_out)
{
    const struct cap *frame = &frame_slot->cap;
    if (!seg->configured)
        return refuse(inv, -E_INVAL, "the segment is not configured");
    if (!map_rights_valid(rights))
        return refuse(inv, -E_INVAL, "rights: READ, +WRITE or +EXEC, not both");
    if ((rights & frame->rights & MF_RIGHTS_ALL) != (rights & MF_RIGHTS_ALL))
        return refuse(inv, -E_PERM, "the frame cap lacks a right asked for");
    size_t size = 1ul << frame->size_bits;
    if (va & (size - 1) || va < seg->base || va - seg->base >= seg->size)
        return refuse(inv, -E_RANGE, "va unaligned or outside the segment");
    int r = half_map_check(inv, seg, cap_half, va, size);
    if (r)
        return r;
    int leaf = size == PAGE_SIZE ? 0 : 1;
    if (leaf > seg->level)
        return refuse(inv, -E_INVAL, "a 2 MiB frame needs a 1 GiB aligned segment");
    if (frame->badge)
        return refuse(inv, -E_BUSY, "this frame cap maps already (copy it)");
    paddr_t table = seg->tables[(va - seg->base) / span(seg->level)];
    pte_t *upper = leaf < seg->level ? vm_entry(table, seg->level, va, seg->level, NULL, false) : NULL;
    if (upper && arch_pte_valid(*upper) && arch_pte_is_leaf(*upper, seg->level))
        return refuse(inv, -E_BUSY, "a 2 MiB page already covers va");
    unsigned missing = vm_missing_tables(table, seg->level, va, leaf);
    pte_t *e = missing ? NULL : vm_entry(table, seg->level, va, leaf, NULL, false);
    if (e && arch_pte_valid(*e))
        return refuse(inv, -E_BUSY, "something is mapped at va already");
    *leaf_out = leaf;
    return 0;
}

// The page tables a mapping at (va, leaf) would add to seg.
static unsigned map_tables_missing(const struct segment *seg, vaddr_t va, int leaf)
{
    return vm_missing_tables(seg->tables[(va - seg->base) / span(seg->level)], seg->level, va, leaf);
}

static int decode_map(const struct invocation *inv, struct decoded *d)
{
    struct map_args *a = DECODED(struct map_args, d);
    struct slot *s;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_SEGMENT, MF_RIGHT_WRITE, &s);
    if (r)
        return r;
    struct segment *seg = (struct segment *)s->cap.obj;
    uint64_t va = inv->arg[1], rights = inv->arg[2];
    int leaf;
    r = map_check(inv, inv->target, seg, s->cap.badge, va, rights, &leaf);
    if (r)
        return r;
    if (map_tables_missing(seg, va, leaf) > seg->pool.pages - seg->pool.used)
        return -E_NOMEM;
    a->frame = inv->target;
    a->segment = seg;
    a->va = va;
    a->rights = rights;
    a->leaf = leaf;
    return 0;
}

// Maps the frame in `frame` at va in seg (map_check passed; the pool holds
// the tables it needs) and records the mapping in the cap.
static void map_frame(struct slot *frame, struct segment *seg, vaddr_t va, uint64_t rights, int leaf)
{
    unsigned flags = map_flags(rights);
    if (leaf == 0)
        flags = snapshot_leaf_flags(V2P(frame->cap.obj), flags);    // copy-on-write while armed
    if (rights & MF_MAP_EXEC)    // its code was written through the data side (MF_FRAME_WRITE)
        arch_sync_icache((const void *)frame->cap.obj, 1ul << frame->cap.size_bits);
    paddr_t table = seg->tables[(va - seg->base) / span(seg->level)];
    pte_t *e = vm_entry(table, seg->level, va, leaf, &seg->pool, true);
    *e = arch_pte_leaf(V2P(frame->cap.obj), flags, leaf);
    frame->cap.badge = (uintptr_t)seg;
    frame->cap.reserved1 = seg->id;
    frame->reserved = va;
}

static int64_t invoke_map(const struct decoded *d)
{
    const struct map_args *a = DECODED(struct map_args, d);
    map_frame(a->frame, a->segment, a->va, a->rights, a->leaf);
    return 0;
}

// Clears the entry of the mapping a frame cap records, if its segment still
// exists and still maps this frame there, adding the range to *b (NULL:
// the caller flushes; true when an entry was cleared); the cap then
// records no mapping.
static bool frame_unmap_into(struct slot *frame, struct tlb_batch *b)
{
    assert(space_lock_held());
    struct segment *seg;
    vaddr_t va;
    pte_t *e = frame_mapping(frame, &seg, &va);
    if (e) {
        *e = 0;
        for (unsigned i = 0; b && i < SEGMENT_MAX_ATTACH; i++)
            if (seg->attached[i])
                tlb_batch_add(b, &seg->attached[i]->vas, va, 1ul << frame->cap.size_bits);
    }
    frame->cap.badge = 0;
    frame->cap.reserved1 = 0;
    frame->reserved = 0;
    return e != NULL;
}

// Undoes the mapping a frame cap records (frame_unmap_into), flushed.
static void frame_unmap(struct slot *frame)
{
    struct tlb_batch b = {0};
    frame_unmap_into(frame, &b);
    tlb_batch_flush(&b);
}

void frame_cap_deleted(const struct slot *s)
{
    reclaim_cap_deleted(s);        // a grant, or a cap lent through one
    net_frame_deleted(s);          // a packet filter's ring
    bool held = space_lock_held();
    if (!held)
        space_lock();
    frame_unmap((struct slot *)s);
    if (!held)
        space_unlock();
}

// UNMAP: the invoked frame cap.
struct unmap_args {
    struct slot *frame;
};

static int decode_unmap(const struct invocation *inv, struct decoded *d)
{
    DECODED(struct unmap_args, d)->frame = inv->target;
    return 0;
}

static int64_t invoke_unmap(const struct decoded *d)
{
    struct slot *frame = DECODED(struct unmap_args, d)->frame;
    if (frame->cap.badge)
        frame_unmap(frame);
    return 0;
}

// PROTECT: the leaf entry at va in segment that maps the frame at
// frame_pa gets `rights`.
struct protect_args {
    struct segment *segment;
    pte_t *entry;
    vaddr_t va;
    int leaf;
    paddr_t frame_pa;
    uint64_t rights;
};

// Changes the rights of the mapping a frame cap records, in place: the
// entry keeps its frame, only the write permission changes, and the TLB
// entries of every VAS the segment is attached to are flushed. A pager uses
// it to make a page read-only without unmapping it (no reader faults in
// the meantime) and to give write access back on a write fault.
static int decode_protect(const struct invocation *inv, struct decoded *d)
{
    struct protect_args *a = DECODED(struct protect_args, d);
    const struct cap *frame = &inv->target->cap;
    uint64_t rights = inv->arg[0];
    if (!map_rights_valid(rights))
        return -E_INVAL;
    if ((rights & frame->rights & MF_RIGHTS_ALL) != (rights & MF_RIGHTS_ALL))
        return -E_PERM;
    struct segment *seg;
    vaddr_t va;
    pte_t *e = frame_mapping(inv->target, &seg, &va);
    if (!e)
        return -E_NOENT;    // not mapped, its segment is gone, or it maps another page there
    a->segment = seg;
    a->entry = e;
    a->va = va;
    a->leaf = frame->size_bits == PAGE_SHIFT ? 0 : 1;
    a->frame_pa = V2P(frame->obj);
    a->rights = rights;
    return 0;
}

static int64_t invoke_protect(const struct decoded *d)
{
    const struct protect_args *a = DECODED(struct protect_args, d);
    unsigned flags = map_flags(a->rights);
    if (a->leaf == 0)
        flags = snapshot_leaf_flags(a->frame_pa, flags);     // copy-on-write while armed
    size_t size = a->leaf ? LARGE_PAGE_SIZE : PAGE_SIZE;
    if (a->rights & MF_MAP_EXEC)
        arch_sync_icache(P2V(a->frame_pa), size);
    *a->entry = arch_pte_leaf(a->frame_pa, flags, a->leaf);
    segment_flush(a->segment, a->va, size);
    return 0;
}

// READ, WRITE: copy between the frame and the caller's memory, without
// mapping it (a loader fills a program's frames this way; Zircon's
// vmo_read/vmo_write). The cap's READ or WRITE right decides.
struct frame_copy_args {
    uint8_t *frame;
    uint64_t buffer, len;
};

static int decode_copy(const struct invocation *inv, struct decoded *d, unsigned right)
{
    struct frame_copy_args *a = DECODED(struct frame_copy_args, d);
    const struct cap *frame = &inv->target->cap;
    if (!(frame->rights & right))
        return -E_PERM;
    uint64_t offset = inv->arg[0], len = inv->arg[2], size = 1ul << frame->size_bits;
    if (offset > size || len > size - offset)
        return -E_RANGE;
    a->frame = (uint8_t *)frame->obj + offset;
    a->buffer = inv->arg[1];
    a->len = len;
    return 0;
}

static int decode_read(const struct invocation *inv, struct decoded *d) { return decode_copy(inv, d, MF_RIGHT_READ); }
static int decode_write(const struct invocation *inv, struct decoded *d) { return decode_copy(inv, d, MF_RIGHT_WRITE); }

static int64_t invoke_read(const struct decoded *d)
{
    const struct frame_copy_args *a = DECODED(struct frame_copy_args, d);
    return copy_to_user(a->buffer, a->frame, a->len);
}

static int64_t invoke_write(const struct decoded *d)
{
    const struct frame_copy_args *a = DECODED(struct frame_copy_args, d);
    if (a->len)     // a snapshot that armed the frame keeps it as it was
        snapshot_frame_written(ALIGN_DOWN(V2P(a->frame), PAGE_SIZE));
    return copy_from_user(a->frame, a->buffer, a->len);
}

const struct op_handler frame_ops[MAX_OPS] = {
    [MF_FRAME_MAP] = {decode_map, invoke_map},
    [MF_FRAME_UNMAP] = {decode_unmap, invoke_unmap},
    [MF_FRAME_PROTECT] = {decode_protect, invoke_protect},
    [MF_FRAME_READ] = {decode_read, invoke_read},
    [MF_FRAME_WRITE] = {decode_write, invoke_write},
};

// ------------------------------------------------------- batched bindings
// MAP_BATCH and UNMAP_BATCH (docs/exokernel.md): a library OS installs or
// removes many of its mappings in one invocation, each checked as MAP or
// UNMAP would check it, all or none. The entries are copied in once, at
// decode, into one buffer: invocations hold cap_lock from decode to the
// end of invoke, so one buffer serves every CPU, and invoke never reads
// user memory the caller could change meanwhile.
static struct batch_entry {
    struct slot *frame;
    vaddr_t va;
    uint64_t rights;
    int leaf;
} batch[MF_MAP_BATCH_MAX];
static union {
    struct mf_map_entry map[MF_MAP_BATCH_MAX];
    uint64_t frame[MF_MAP_BATCH_MAX];
} batch_in;

struct batch_args {
    struct segment *segment;
    unsigned count;
};

// Sets of non-zero keys for finding repeats in a batch in linear time
// (open addressing, twice the largest batch; cap_lock).
#define BATCH_SET_SIZE (2 * MF_MAP_BATCH_MAX)
struct batch_set {
    uint64_t key[BATCH_SET_SIZE];
};
static struct batch_set seen_frames, seen_vas, seen_large, seen_small;

// Where key is in s, or the empty place it would go.
static uint64_t *batch_place(struct batch_set *s, uint64_t key)
{
    unsigned i = (unsigned)((key * 0x9e3779b97f4a7c15ull) >> 57) % BATCH_SET_SIZE;
    while (s->key[i] && s->key[i] != key)
        i = (i + 1) % BATCH_SET_SIZE;
    return &s->key[i];
}

static bool batch_has(struct batch_set *s, uint64_t key) { return *batch_place(s, key) == key; }

// True when key was added before; adds it otherwise.
static bool batch_seen(struct batch_set *s, uint64_t key)
{
    uint64_t *k = batch_place(s, key);
    bool seen = *k == key;
    *k = key;
    return seen;
}

// The segment invoked with WRITE, and the count; the entries' bytes copied in.
static int decode_batch(const struct invocation *inv, struct batch_args *a, size_t entry_size)
{
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    uint64_t n = inv->arg[1];
    if (n == 0 || n > MF_MAP_BATCH_MAX)
        return refuse(inv, -E_RANGE, "count: 1 .. MF_MAP_BATCH_MAX");
    if (copy_from_user(&batch_in, inv->arg[0], n * entry_size))
        return refuse(inv, -E_FAULT, "the entry array is not readable");
    a->segment = (struct segment *)inv->target->cap.obj;
    a->count = (unsigned)n;
    return 0;
}

// The page tables the whole batch adds to seg, each new table counted once
// (two mappings in one missing table share it).
static unsigned batch_tables_missing(const struct segment *seg, unsigned n)
{
    static struct { int level; vaddr_t index; } fresh[MF_MAP_BATCH_MAX * 4];     // cap_lock
    unsigned count = 0;
    for (unsigned i = 0; i < n; i++) {
        unsigned m = map_tables_missing(seg, batch[i].va, batch[i].leaf);
        // The missing tables are those at levels leaf .. leaf + m - 1 that
        // would hold va; a table at level l covers span(l) bytes.
        for (unsigned k = 0; k < m; k++) {
            int level = batch[i].leaf + (int)k;
            vaddr_t index = batch[i].va / span(level);
            bool seen = false;
            for (unsigned j = 0; j < count && !seen; j++)
                seen = fresh[j].level == level && fresh[j].index == index;
            if (!seen) {
                fresh[count].level = level;
                fresh[count++].index = index;
            }
        }
    }
    return count;
}

static int decode_map_batch(const struct invocation *inv, struct decoded *d)
{
    struct batch_args *a = DECODED(struct batch_args, d);
    int r = decode_batch(inv, a, sizeof(struct mf_map_entry));
    if (r)
        return r;
    memset(&seen_frames, 0, sizeof(seen_frames));
    memset(&seen_vas, 0, sizeof(seen_vas));
    memset(&seen_large, 0, sizeof(seen_large));
    memset(&seen_small, 0, sizeof(seen_small));
    for (unsigned i = 0; i < a->count; i++) {
        const struct mf_map_entry *in = &batch_in.map[i];
        struct slot *frame;
        r = cap_lookup(inv->caller, in->frame, MF_OBJ_FRAME, 0, &frame);
        if (!r)
            r = map_check(inv, frame, a->segment, inv->target->cap.badge, in->va, in->rights, &batch[i].leaf);
        // Repeats: frames' sizes align them, so two 4 KiB entries clash
        // when their va is equal, and a 2 MiB one with anything in its
        // 2 MiB region (regions counted from 1: keys are never 0).
        uint64_t region = in->va / LARGE_PAGE_SIZE + 1;
        bool large = batch[i].leaf == 1;
        if (!r && batch_seen(&seen_frames, (uintptr_t)frame))
            r = refuse(inv, -E_BUSY, "a frame cap appears twice in the batch");
        if (!r && batch_seen(&seen_vas, in->va + 1))     // (keys are never 0: a home segment starts at 0)
            r = refuse(inv, -E_BUSY, "two entries map the same va");
        if (!r && batch_has(large ? &seen_small : &seen_large, region))
            r = refuse(inv, -E_BUSY, "a 2 MiB entry covers another entry");
        if (!r)
            batch_seen(large ? &seen_large : &seen_small, region);
        if (r) {
            inv->caller->refusal.index = i + 1;     // which entry (mf_thread_info)
            return r;
        }
        batch[i].frame = frame;
        batch[i].va = in->va;
        batch[i].rights = in->rights;
    }
    if (batch_tables_missing(a->segment, a->count) > a->segment->pool.pages - a->segment->pool.used)
        return refuse(inv, -E_NOMEM, "the segment's table pool cannot hold the batch's tables");
    return 0;
}

static int64_t invoke_map_batch(const struct decoded *d)
{
    const struct batch_args *a = DECODED(struct batch_args, d);
    for (unsigned i = 0; i < a->count; i++)
        map_frame(batch[i].frame, a->segment, batch[i].va, batch[i].rights, batch[i].leaf);
    return a->count;
}

static int decode_unmap_batch(const struct invocation *inv, struct decoded *d)
{
    struct batch_args *a = DECODED(struct batch_args, d);
    int r = decode_batch(inv, a, sizeof(uint64_t));
    if (r)
        return r;
    memset(&seen_frames, 0, sizeof(seen_frames));
    for (unsigned i = 0; i < a->count; i++) {
        struct slot *frame;
        r = cap_lookup(inv->caller, batch_in.frame[i], MF_OBJ_FRAME, 0, &frame);
        if (!r && (frame->cap.badge != (uintptr_t)a->segment || !segment_live(a->segment, frame->cap.reserved1)))
            r = refuse(inv, -E_NOENT, "a frame cap maps nothing in this segment");
        if (!r)
            r = half_map_check(inv, a->segment, inv->target->cap.badge, frame->reserved, 1ul << frame->cap.size_bits);
        if (!r && batch_seen(&seen_frames, (uintptr_t)frame))
            r = refuse(inv, -E_BUSY, "a frame cap appears twice in the batch");
        if (r) {
            inv->caller->refusal.index = i + 1;
            return r;
        }
        batch[i].frame = frame;
    }
    return 0;
}

// Every entry cleared, then one shootdown of the range covering them all
// in each VAS the segment is attached to (a range longer than
// TLB_FLUSH_PAGES_MAX flushes the VAS's whole tag instead).
static int64_t invoke_unmap_batch(const struct decoded *d)
{
    const struct batch_args *a = DECODED(struct batch_args, d);
    struct segment *seg = a->segment;
    vaddr_t lo = ~0ul, hi = 0;
    for (unsigned i = 0; i < a->count; i++) {
        struct slot *f = batch[i].frame;
        vaddr_t va = f->reserved, end = va + (1ul << f->cap.size_bits);
        if (frame_unmap_into(f, NULL)) {
            lo = va < lo ? va : lo;
            hi = end > hi ? end : hi;
        }
    }
    if (lo < hi) {
        struct tlb_batch b = {0};
        for (unsigned i = 0; i < SEGMENT_MAX_ATTACH; i++)
            if (seg->attached[i])
                tlb_batch_add(&b, &seg->attached[i]->vas, lo, hi - lo);
        tlb_batch_flush(&b);
    }
    return a->count;
}

// ----------------------------------------------------------- SpaceJMP locks
// While threads run in a VAS, it holds each attached segment's lock: shared
// for read-only attachments, exclusive for writable ones.

static bool locks_available(const struct vas_object *vo)
{
    for (unsigned i = 0; vo->locked_count && i < vo->segment_count; i++) {
        const struct segment *seg = vo->segments[i];
        if (seg->unlocked)
            continue;
        bool write = vo->segment_rights[i] & MF_RIGHT_WRITE;
        if (seg->writer || (write && seg->readers))
            return false;
    }
    return true;
}

static void lock_segment(struct segment *seg, bool write, int delta)
{
    if (seg->unlocked)
        return;
    if (write)
        seg->writer = delta > 0;
    else
        seg->readers += delta;
}

static void lock_all(struct vas_object *vo, int delta)
{
    for (unsigned i = 0; vo->locked_count && i < vo->segment_count; i++)
        lock_segment(vo->segments[i], vo->segment_rights[i] & MF_RIGHT_WRITE, delta);
}

// ------------------------------------------------------------ VAS objects

// The level-1 table holding a program's home region, or 0.
static paddr_t home_table(struct vas *home)
{
    pte_t *e = vm_entry(home->root, 3, 0, HOME_LEVEL + 1, NULL, false);
    return e && arch_pte_valid(*e) && !arch_pte_is_leaf(*e, HOME_LEVEL + 1) ? arch_pte_addr(*e) : 0;
}

// The thread a VAS attach/detach names: a Thread cap (write right), or 0
// for the caller.
static int thread_or_caller(const struct invocation *inv, uint64_t cptr, struct thread **t)
{
    *t = inv->caller;
    if (!cptr)
        return 0;
    struct slot *s;
    int r = cap_lookup(inv->caller, cptr, MF_OBJ_THREAD, MF_RIGHT_WRITE, &s);
    if (!r)
        *t = (struct thread *)s->cap.obj;
    return r;
}

// ATTACH, DETACH: the VAS and the home address space it links in, or
// the home segment it attaches (then the free slots for it).
struct vas_home_args {
    struct vas_object *vas;
    struct vas *home;
    struct segment *segment;
    uint64_t slots;
};

struct segment *home_segment_of(struct vas *home)
{
    struct segment *seg = segment_at(home, 0);
    return seg && seg->home ? seg : NULL;
}

// The home segment of the VAS t's home is, or NULL (the kernel built it).
static struct segment *home_segment(const struct thread *t) { return home_segment_of(t->home_vas); }

int home_segment_map_check(struct segment *seg, vaddr_t va, size_t size)
{
    unsigned missing = 0;
    for (vaddr_t a = ALIGN_DOWN(va, LARGE_PAGE_SIZE); a < va + size; a += LARGE_PAGE_SIZE)
        missing += vm_missing_tables(seg->tables[0], 1, a, 0);
    return missing > seg->pool.pages - seg->pool.used ? -E_NOMEM : 0;
}

void home_segment_map(struct segment *seg, vaddr_t va, paddr_t pa, size_t size, unsigned flags)
{
    for (size_t off = 0; off < size; off += PAGE_SIZE) {
        pte_t *e = vm_entry(seg->tables[0], 1, va + off, 0, &seg->pool, true);
        *e = arch_pte_leaf(pa + off, flags, 0);
    }
}

static int decode_attach_home(const struct invocation *inv, struct decoded *d)
{
    struct vas_home_args *a = DECODED(struct vas_home_args, d);
    struct vas_object *vo = (struct vas_object *)inv->target->cap.obj;
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (inv->target->cap.badge)
        return refuse(inv, -E_PERM, "a half's VAS cap does not attach homes");
    struct thread *t;
    int r = thread_or_caller(inv, inv->arg[0], &t);
    if (r)
        return r;
    if (!t->home_vas || !home_table(t->home_vas))
        return -E_INVAL;
    a->vas = vo;
    a->home = t->home_vas;
    a->segment = home_segment(t);
    if (a->segment) {
        // A loaded program's home: attach its home segment like any other.
        if (segment_at(&vo->vas, 0) == a->segment)
            return 0;
        int r = split_home_attach_check(inv, vo, a->segment);
        return r ? r : segment_attach_check(vo, a->segment, MF_RIGHT_READ | MF_RIGHT_WRITE, &a->slots);
    }
    if (segment_at(&vo->vas, 0))
        return -E_BUSY;     // a home segment is there
    if (vo->home && vo->home != t->home_vas)
        return -E_BUSY;     // one home per VAS
    if (!vo->home && vm_missing_tables(vo->vas.root, 3, 0, HOME_LEVEL + 1) > vo->pool.pages - vo->pool.used)
        return -E_NOMEM;
    return 0;
}

static int64_t invoke_attach_home(const struct decoded *d)
{
    const struct vas_home_args *a = DECODED(struct vas_home_args, d);
    struct vas_object *vo = a->vas;
    struct vas *home = a->home;
    if (a->segment) {
        if (segment_at(&vo->vas, 0) != a->segment) {
            segment_attach(vo, a->segment, MF_RIGHT_READ | MF_RIGHT_WRITE, a->slots);
            split_home_attached(vo, a->segment);
        }
        return 0;
    }
    if (vo->home)
        return 0;
    pte_t *e = vm_entry(vo->vas.root, 3, 0, HOME_LEVEL + 1, &vo->pool, true);
    *e = arch_pte_table(home_table(home));
    vas_retain(home);
    vo->home = home;
    return 0;
}

// Counts the tables linking a segment's tables into vo would allocate: one
// per missing entry at each level above the segment's own tables.
static unsigned tables_needed(const struct vas_object *vo, const struct segment *seg)
{
    unsigned needed = 0;
    for (int l = 2; l > seg->level; l--) {
        // A table at level l is needed for each span(l) block without one.
        for (vaddr_t va = ALIGN_DOWN(seg->base, span(l)); va < seg->base + seg->size; va += span(l)) {
            pte_t *e = vm_entry(vo->vas.root, 3, va, l + 1, NULL, false);
            if (!e || !arch_pte_valid(*e))
                needed++;
        }
    }
    return needed;
}

// Whether seg can be attached to vo with `rights`; on success the free slot
// indices in both are stored in *slots (vo's << 32 | seg's).
int segment_attach_check(struct vas_object *vo, struct segment *seg, uint64_t rights, uint64_t *slots)
{
    if (!seg->configured || rights & ~(uint64_t)(MF_RIGHT_READ | MF_RIGHT_WRITE) || !(rights & MF_RIGHT_READ))
        return -E_INVAL;
    int vslot = vo->segment_count < VAS_MAX_SEGMENTS ? (int)vo->segment_count : -1, sslot = -1;
    for (unsigned i = 0; i < vo->segment_count; i++)
        if (vo->segments[i] == seg)
            return -E_BUSY;
    for (int i = 0; i < SEGMENT_MAX_ATTACH; i++)
        if (!seg->attached[i] && sslot < 0)
            sslot = i;
    for (uint32_t i = 0; i < seg->table_count; i++) {
        pte_t *e = vm_entry(vo->vas.root, 3, seg->base + i * span(seg->level), seg->level + 1, NULL, false);
        if (e && arch_pte_valid(*e))
            return -E_BUSY;    // overlaps another segment
    }
    if (vo->active && !seg->unlocked && (seg->writer || (rights & MF_RIGHT_WRITE && seg->readers)))
        return -E_BUSY;        // in use, and the lock is held elsewhere
    if (vslot < 0 || sslot < 0 || tables_needed(vo, seg) > vo->pool.pages - vo->pool.used)
        return -E_NOMEM;
    *slots = (uint64_t)vslot << 32 | (uint64_t)sslot;
    return 0;
}

// ATTACH_SEGMENT, DETACH_SEGMENT: the VAS and the segment; attaching
// also takes rights and the free slots segment_attach_check found.
struct vas_segment_args {
    struct vas_object *vas;
    struct segment *segment;
    uint64_t rights, slots;
    int half;                   // the half it belongs to once attached (0: none)
};

static int decode_attach_segment(const struct invocation *inv, struct decoded *d)
{
    struct vas_segment_args *a = DECODED(struct vas_segment_args, d);
    struct vas_object *vo = (struct vas_object *)inv->target->cap.obj;
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    uint64_t rights = inv->arg[1];
    struct slot *s;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_SEGMENT,
                   rights & MF_RIGHT_WRITE ? MF_RIGHT_READ | MF_RIGHT_WRITE : MF_RIGHT_READ, &s);
    if (r)
        return r;
    struct segment *seg = (struct segment *)s->cap.obj;
    r = segment_attach_check(vo, seg, rights, &a->slots);
    if (r)
        return r;
    if (seg->home && inv->target->cap.badge)
        return refuse(inv, -E_PERM, "a half's VAS cap does not attach homes");
    r = seg->home ? split_home_attach_check(inv, vo, seg)
                  : half_attach_check(inv, vo, seg, inv->target->cap.badge, &a->half);
    if (r)
        return r;
    a->vas = vo;
    a->segment = seg;
    a->rights = rights;
    return 0;
}

void segment_attach(struct vas_object *vo, struct segment *seg, uint64_t rights, uint64_t slots)
{
    bool write = rights & MF_RIGHT_WRITE;
    for (uint32_t i = 0; i < seg->table_count; i++) {
        pte_t *e = vm_entry(vo->vas.root, 3, seg->base + i * span(seg->level), seg->level + 1, &vo->pool, true);
        *e = write ? arch_pte_table(seg->tables[i]) : arch_pte_table_readonly(seg->tables[i]);
    }
    unsigned vslot = (unsigned)(slots >> 32), sslot = (unsigned)slots;
    vo->segments[vslot] = seg;
    vo->segment_rights[vslot] = (uint8_t)rights;
    vo->segment_count++;
    vo->locked_count += !seg->unlocked;
    seg->attached[sslot] = vo;
    if (vo->active)
        lock_segment(seg, write, +1);
}

static int64_t invoke_attach_segment(const struct decoded *d)
{
    const struct vas_segment_args *a = DECODED(struct vas_segment_args, d);
    segment_attach(a->vas, a->segment, a->rights, a->slots);
    if (a->half)
        a->segment->half = (uint8_t)a->half;
    if (a->segment->home)
        split_home_attached(a->vas, a->segment);
    return 0;
}

// Unlinks seg from vo: page-table links, TLB entries, lists, lock.
static void detach(struct vas_object *vo, struct segment *seg)
{
    for (unsigned i = 0; i < vo->segment_count; i++) {
        if (vo->segments[i] != seg)
            continue;
        for (uint32_t t = 0; t < seg->table_count; t++) {
            pte_t *e = vm_entry(vo->vas.root, 3, seg->base + t * span(seg->level), seg->level + 1, NULL, false);
            if (e)
                *e = 0;
        }
        if (vo->active)
            lock_segment(seg, vo->segment_rights[i] & MF_RIGHT_WRITE, -1);
        // Keep the array packed: the last one takes this place.
        vo->locked_count -= !seg->unlocked;
        vo->segment_count--;
        vo->segments[i] = vo->segments[vo->segment_count];
        vo->segment_rights[i] = vo->segment_rights[vo->segment_count];
        vo->segments[vo->segment_count] = NULL;
        vo->segment_rights[vo->segment_count] = 0;
        break;
    }
    for (unsigned i = 0; i < SEGMENT_MAX_ATTACH; i++)
        if (seg->attached[i] == vo)
            seg->attached[i] = NULL;
    vas_flush(&vo->vas, seg->base, seg->size);
}

static int decode_detach_segment(const struct invocation *inv, struct decoded *d)
{
    struct vas_segment_args *a = DECODED(struct vas_segment_args, d);
    struct vas_object *vo = (struct vas_object *)inv->target->cap.obj;
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *s;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_SEGMENT, MF_RIGHT_READ, &s);
    if (r)
        return r;
    struct segment *seg = (struct segment *)s->cap.obj;
    if (!segment_at(&vo->vas, seg->base) || segment_at(&vo->vas, seg->base) != seg)
        return -E_NOENT;
    if (inv->target->cap.badge && (seg->home || seg->half != inv->target->cap.badge))
        return refuse(inv, -E_HALF, "a half's VAS cap detaches its own segments only");
    a->vas = vo;
    a->segment = seg;
    return 0;
}

static int64_t invoke_detach_segment(const struct decoded *d)
{
    const struct vas_segment_args *a = DECODED(struct vas_segment_args, d);
    detach(a->vas, a->segment);
    return 0;
}

static int decode_detach_home(const struct invocation *inv, struct decoded *d)
{
    struct vas_home_args *a = DECODED(struct vas_home_args, d);
    struct vas_object *vo = (struct vas_object *)inv->target->cap.obj;
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (inv->target->cap.badge)
        return refuse(inv, -E_PERM, "a half's VAS cap does not detach homes");
    struct thread *t;
    int r = thread_or_caller(inv, inv->arg[0], &t);
    if (r)
        return r;
    a->segment = home_segment(t);
    if (a->segment ? segment_at(&vo->vas, 0) != a->segment : !vo->home || vo->home != t->home_vas)
        return -E_NOENT;
    if (vo->active)
        return -E_BUSY;     // threads run in it: their code would vanish
    // Nor may one come back into it: an LRPC call made from it returns
    // there, and a thread whose home it is runs there (referrers other
    // than "running in it"; space_lock, as for every VAS invocation).
    for (const struct vas_ref *ref = vo->vas.referrers; ref; ref = ref->next)
        if (ref->index != 0)
            return -E_BUSY;
    a->vas = vo;
    return 0;
}

static int64_t invoke_detach_home(const struct decoded *d)
{
    const struct vas_home_args *a = DECODED(struct vas_home_args, d);
    struct vas_object *vo = a->vas;
    if (a->segment) {
        detach(vo, a->segment);
        return 0;
    }
    pte_t *e = vm_entry(vo->vas.root, 3, 0, HOME_LEVEL + 1, NULL, false);
    *e = 0;
    vas_flush(&vo->vas, 0, MF_HOME_SIZE);
    vas_release(vo->home);
    vo->home = NULL;
    return 0;
}

const struct op_handler vas_ops[MAX_OPS] = {
    [MF_VAS_ATTACH] = {decode_attach_home, invoke_attach_home},
    [MF_VAS_ATTACH_SEGMENT] = {decode_attach_segment, invoke_attach_segment},
    [MF_VAS_DETACH_SEGMENT] = {decode_detach_segment, invoke_detach_segment},
    [MF_VAS_DETACH] = {decode_detach_home, invoke_detach_home},
};

// --------------------------------------------------------------- switching

void vas_thread_enter(struct vas *v)
{
    struct vas_object *vo = vas_object_of(v);
    if (vo && vo->active++ == 0)
        lock_all(vo, +1);
}

void vas_thread_leave(struct vas *v)
{
    struct vas_object *vo = vas_object_of(v);
    if (vo && --vo->active == 0)
        lock_all(vo, -1);
}

// Moves t from its current VAS to v, keeping the lock counts right
// (space_lock held). A CPU running t elsewhere keeps the old VAS loaded
// until it is made to leave it (vas.c: when the old VAS dies) or switches
// threads.
void vas_move_thread(struct thread *t, struct vas *v)
{
    struct vas *old = t->vas;
    vas_thread_enter(v);
    vas_thread_leave(old);
    vas_retain(v);
    __atomic_store_n(&t->vas, v, __ATOMIC_RELEASE);
    vas_ref_set(&t->vas_ref[0], v);
    vas_release(old);
    if (t == current_thread()) {
        if (v)
            vas_activate(v);
        else
            vas_leave_current();    // it dies on its way out (return_to_user)
    }
}

static int64_t vas_switch_locked(struct thread *self, uint64_t cptr);

// cap_lock for the lookup, space_lock for the rest.
int64_t vas_switch(struct thread *self, uint64_t cptr)
{
    cap_lock();
    space_lock();
    int64_t r = vas_switch_locked(self, cptr);
    space_unlock();
    cap_unlock();
    return r;
}

static int64_t vas_switch_locked(struct thread *self, uint64_t cptr)
{
    struct vas *target = self->home_vas;
    struct vas_object *to = NULL;
    if (cptr) {
        struct slot *s;
        int r = cap_lookup(self, cptr, MF_OBJ_VAS, MF_RIGHT_READ, &s);
        if (r)
            return r;
        to = (struct vas_object *)s->cap.obj;
        if (!self->home_vas || home_table(&to->vas) != home_table(self->home_vas))
            return refuse_call(self, cptr, MF_OBJ_VAS, -E_PERM, "our home is not attached to that VAS");
        target = &to->vas;
    }
    if (!target)
        return -E_INVAL;    // no home to go back to (a kernel thread)
    if (target == self->vas)
        return 0;
    if (!vas_can_enter(self, target))
        return refuse_call(self, cptr, cptr ? MF_OBJ_VAS : MF_OBJ_NULL, -E_BUSY,
                           cptr ? "a segment there is locked (SpaceJMP)" : "a segment of our home is locked (SpaceJMP)");
    vas_move_thread(self, target);
    return 0;
}

int vas_switch_other(struct thread *t, struct vas_object *to)
{
    space_lock();
    struct vas *target = t->home_vas;
    int r = 0;
    if (to && (!t->home_vas || home_table(&to->vas) != home_table(t->home_vas)))
        r = -E_PERM;        // its home is not attached there
    else if (to)
        target = &to->vas;
    if (!r && !target)
        r = -E_INVAL;
    if (!r && target != t->vas && !vas_can_enter(t, target))
        r = -E_BUSY;
    if (!r && target != t->vas)
        vas_move_thread(t, target);
    space_unlock();
    return r;
}

bool vas_can_enter(const struct thread *t, struct vas *target)
{
    struct vas_object *to = vas_object_of(target);
    if (!to || to->active || target == t->vas)
        return true;
    // The locks t holds only because it is in its current VAS do not count
    // against the target.
    struct vas_object *from = vas_object_of(t->vas);
    bool last = from && from->active == 1;
    if (last)
        lock_all(from, -1);
    bool available = locks_available(to);
    if (last)
        lock_all(from, +1);
    return available;
}

// ------------------------------------------------------------- destruction

void segment_destroy(struct segment *seg)
{
    cap_delete_nested(&seg->pager_slot);    // cap_lock held (a finalizer)
    space_lock();
    lrpc_forget_segment(seg);
    for (unsigned i = 0; i < SEGMENT_MAX_ATTACH; i++)
        if (seg->attached[i])
            detach(seg->attached[i], seg);
    if (seg->configured)
        live_segments[seg->id & (LIVE_SEGMENTS - 1)] = NULL;
    seg->magic = 0;
    seg->configured = false;
    space_unlock();
}

void vas_object_destroy(struct vas_object *vo)
{
    space_lock();
    lrpc_forget_vas(vo);    // calls into it end first: their threads go back to their clients
    // Its referrers, and only they: threads running in it go home, and
    // LRPC calls that would return into it return home instead.
    struct vas *v = &vo->vas;
    // A thread whose home this VAS is has nowhere to go: it is left with
    // no address space and dies before it runs user code again
    // (return_to_user, user_fault).
    while (v->referrers) {
        struct vas_ref *r = v->referrers;
        struct thread *t = r->thread;
        struct vas *home = t->home_vas == v ? NULL : t->home_vas;
        if (r->index == 0) {
            vas_move_thread(t, home);
        } else if (r->index == VAS_REF_HOME) {
            vas_ref_set(r, NULL);
            t->home_vas = NULL;
            vas_release(v);
        } else {
            struct lrpc_link *link = &t->lrpc[r->index - 1];
            vas_retain(home);
            vas_release(link->client_vas);
            link->client_vas = home;
            vas_ref_set(r, home);
        }
    }
    while (vo->segment_count)
        detach(vo, vo->segments[vo->segment_count - 1]);
    if (vo->home)
        vas_release(vo->home);
    vo->home = NULL;
    vas_forget(&vo->vas);       // every CPU that still has it loaded leaves it
    space_unlock();
}

// ------------------------------------------------------------------ pagers

bool pager_fault(struct thread *t, vaddr_t addr, unsigned access, uint64_t pc)
{
    struct mcs_qnode q;
    space_lock();
    struct segment *seg = segment_at(t->vas, addr);
    if (!seg || !seg->pager) {
        space_unlock();
        return false;
    }
    struct endpoint *ep = seg->pager;
    uint64_t badge = seg->pager_badge;
    // Locked before space_lock goes: destroying the endpoint clears
    // seg->pager under space_lock first, then wakes the endpoint's waiters.
    mcs_lock(&ep->q.lock, &q);
    space_unlock();
    uint64_t a = (access & VM_WRITE ? MF_ACCESS_WRITE : 0) | (access & VM_EXEC ? MF_ACCESS_EXEC : 0) |
                 (access & (VM_WRITE | VM_EXEC) ? 0 : MF_ACCESS_READ);
    uint64_t msg[5] = {MF_INFO(MF_FAULT_LABEL, 3), addr, a, pc, 0};
    kstat_inc(MF_KSTAT_PAGER_FAULTS);
    int64_t r = ipc_fault_call(t, ep, &q, badge, msg);
    if (r == 0 || r == -E_AGAIN)
        return true;            // retry (a stopped thread goes no further)
    kprintf("manifold: thread %u (%s): pager %s for the fault at %p\n", t->id, t->name,
            r == -E_DEAD ? "died" : "refused", (void *)addr);
    return false;
}

static int frame_bits(unsigned size_bits) { return size_bits == 12 || size_bits == 21 ? (int)size_bits : -1; }

// A header page (and a root table for a VAS), the rest page tables.
static int space_bits(unsigned size_bits) { return size_bits >= 13 && size_bits <= 24 ? (int)size_bits : -1; }

static void vas_finalize(const struct cap *cap) { vas_object_destroy((struct vas_object *)cap->obj); }
static void segment_finalize(const struct cap *cap) { segment_destroy((struct segment *)cap->obj); }

// No snapshot keeps the address of a frame that is gone.
static void frame_finalize(const struct cap *cap)
{
    if (cap->size_bits == PAGE_SHIFT)
        snapshot_frame_gone(V2P(cap->obj));
}

const struct object_type frame_object_type = {
    .name = "frame",
    .object_bits = frame_bits,
    .finalize = frame_finalize,
    .cap_deleted = frame_cap_deleted,   // each frame cap holds at most one mapping
    .ops = frame_ops,
    .op_count = MF_FRAME_OP_COUNT,
    .lock_class = LOCK_SPACE,
};

const struct object_type vas_object_type = {
    .name = "vas",
    .object_bits = space_bits,
    .init = vas_object_init,
    .finalize = vas_finalize,
    .ops = vas_ops,
    .op_count = MF_VAS_OP_COUNT,
    .lock_class = LOCK_SPACE,
};

const struct object_type segment_object_type = {
    .name = "segment",
    .object_bits = space_bits,
    .init = segment_init,
    .finalize = segment_finalize,
    .ops = segment_ops,
    .op_count = MF_SEGMENT_OP_COUNT,
    .lock_class = LOCK_SPACE,
};

// ------------------------------------------------- MF_CNODE_DESCRIBE parts
// (kernel/cnode.c): a frame cap's mapping, a segment, a VAS object; names
// as object_name gives them. space_lock: the mapping and the lists stay
// put meanwhile.

void frame_describe(const struct slot *frame, struct mf_cap_info *out)
{
    space_lock();
    struct segment *seg;
    vaddr_t va;
    const pte_t *e = frame_mapping(frame, &seg, &va);
    if (e) {
        unsigned flags = arch_pte_flags(*e, frame->cap.size_bits == PAGE_SHIFT ? 0 : 1);
        out->frame.segment = object_name((uintptr_t)seg);
        out->frame.va = va;
        out->frame.rights = MF_RIGHT_READ | (flags & (VM_WRITE | VM_COW) ? MF_RIGHT_WRITE : 0) |
                            (flags & VM_EXEC ? MF_MAP_EXEC : 0);
    }
    space_unlock();
}

void segment_describe(uintptr_t obj, struct mf_cap_info *out)
{
    const struct segment *seg = (const struct segment *)obj;
    space_lock();
    if (seg->configured) {
        out->segment.base = seg->base;
        out->segment.size = seg->size;
        out->segment.home = seg->home;
        out->segment.half = seg->half;
        out->segment.ranges = seg->range_count;
        for (unsigned i = 0; i < seg->range_count; i++) {
            out->segment.range_base[i] = seg->ranges[i].base;
            out->segment.range_size[i] = seg->ranges[i].size;
            out->segment.range_half[i] = (uint8_t)seg->ranges[i].half;
        }
        if (seg->pager) {
            out->segment.pager = object_name((uintptr_t)seg->pager);
            out->segment.pager_badge = seg->pager_badge;
        }
    }
    space_unlock();
}

void vas_object_describe(uintptr_t obj, struct mf_cap_info *out)
{
    const struct vas_object *vo = (const struct vas_object *)obj;
    space_lock();
    out->vas.home = object_name((uintptr_t)vo->home);
    out->vas.count = vo->segment_count;
    for (unsigned i = 0; i < vo->segment_count && i < MF_DESCRIBE_SEGMENTS; i++) {
        out->vas.segment[i] = object_name((uintptr_t)vo->segments[i]);
        out->vas.rights[i] = vo->segment_rights[i];
    }
    space_unlock();
}
