// Address-space objects (SpaceJMP): VAS objects, segments and the frames
// mapped into segments.
//
// A segment owns the page tables for its virtual range; attaching it to a
// VAS links those tables into the VAS's tree, so every VAS sees the same
// mappings at the same address and a mapping made once is visible in all.
// Segments are 2 MiB aligned (they own level-0 tables, 2 MiB each) or 1 GiB
// aligned (level-1 tables, which also take 2 MiB frames).
//
// The home region [0, MF_HOME_SIZE) of a VAS is the level-1 table of the
// address space its threads were loaded into: their code, data and stack,
// shared the same way. For the root task that is the address space the
// kernel built at boot; for every other program it is a home segment (a
// segment configured at [0, MF_HOME_SIZE)) that the user-level loader
// filled and attached to the program's first VAS.
#pragma once
#include "kernel/vas.h"
#include "kernel/vm.h"

struct endpoint;
struct slot;
struct thread;

#define SEGMENT_MAX_ATTACH 16
#define VAS_MAX_SEGMENTS 16

struct vas_object;
struct binding;

struct segment {
    uint32_t magic, id;         // id: unique per configured segment
    vaddr_t base;
    uint64_t size;
    int level;                  // level of the tables it owns (0 or 1)
    bool configured;
    uint32_t table_count;
    struct table_pool pool;     // the object's pages after this header
    struct endpoint *pager;     // the endpoint of pager_slot's cap, or NULL
    uint64_t pager_badge;
    // The pager's endpoint, held as a capability inside the segment (a
    // copy of the one SET_PAGER named, with its badge): the endpoint lives
    // while the segment refers to it, and when this copy goes (revoked,
    // replaced, the segment destroyed) its cap_deleted hook clears `pager`.
    struct slot pager_slot;
    struct binding *astack_bindings;    // bindings whose A-stacks live here (lrpc.c)
    struct vas_object *attached[SEGMENT_MAX_ATTACH];
    uint32_t readers;           // SpaceJMP lock: VASes in use with read-only /
    bool writer;                //   writable attachments of this segment
    bool home;                  // [0, MF_HOME_SIZE): a program's home region (no lock)
    bool unlocked;              // shared without the lock (LRPC A-stacks: the
                                //   binding's per-A-stack busy flags order use)
    // Halves of a split process (segment.c, "Halves"): the half whose
    // range it was attached in (0: none yet); a home segment's ranges.
    uint8_t half;
    uint8_t range_count;
    struct half_range {
        vaddr_t base;
        uint64_t size;
        uint64_t half;          // MF_HALF_*
    } ranges[MF_HALF_RANGES_MAX];
    paddr_t tables[];           // table_count tables, from the pool
};

struct vas_object {
    struct vas vas;             // root, tag, references (kernel/vas.h)
    struct table_pool pool;
    struct vas *home;           // address space whose home region is linked in, retained
    // Attached segments, packed at the front: [0, segment_count) are used.
    struct segment *segments[VAS_MAX_SEGMENTS];
    uint8_t segment_rights[VAS_MAX_SEGMENTS];
    uint32_t segment_count;
    uint32_t locked_count;      // of those, how many take the SpaceJMP lock
    uint32_t active;            // threads switched in: they hold the segment locks
    struct binding *bindings;   // bindings whose server runs here (lrpc.c)
};

// Retype: format the objects (zeroed memory of 2^size_bits bytes).
void vas_object_init(uintptr_t obj, unsigned size_bits);
void segment_init(uintptr_t obj, unsigned size_bits);
// An endpoint cap is being deleted: if it is a segment's pager cap, the
// segment has no pager from now on.
void endpoint_cap_deleted(const struct slot *s);
// The segment of v (if v is a VAS object) that covers va, or NULL.
struct segment *segment_at(struct vas *v, vaddr_t va);
// The 4 KiB leaf entry for va in seg's tables, or NULL (outside, none, or a
// 2 MiB leaf covers va). space_lock.
pte_t *segment_leaf(struct segment *seg, vaddr_t va);
// The leaf entry of the mapping a frame cap records (4 KiB or 2 MiB), if
// its segment lives and still maps that frame there; its segment and va.
// space_lock.
pte_t *frame_mapping(const struct slot *frame, struct segment **seg, vaddr_t *va);
// TLB entries for [va, va + len) in every VAS seg is attached to.
void segment_flush(struct segment *seg, vaddr_t va, size_t len);
// A frame cap recording a mapping is being deleted: undo the mapping.
void frame_cap_deleted(const struct slot *s);
// Final capability gone.
void segment_destroy(struct segment *seg);
void vas_object_destroy(struct vas_object *vo);
// A thread starts or stops running in v: while any does, v holds the locks
// of its segments (SpaceJMP). No effect for address spaces that are not
// VAS objects.
void vas_thread_enter(struct vas *v);
void vas_thread_leave(struct vas *v);
// Moves t into v (references, locks, and the MMU if t is running).
void vas_move_thread(struct thread *t, struct vas *v);
// Whether t may enter v now: the segment locks v needs are free (counting
// those t holds only because of where it is).
bool vas_can_enter(const struct thread *t, struct vas *v);
// Attach seg to vo, checked first (0 or -E_*; *slots for the second call).
int segment_attach_check(struct vas_object *vo, struct segment *seg, uint64_t rights, uint64_t *slots);
void segment_attach(struct vas_object *vo, struct segment *seg, uint64_t rights, uint64_t slots);
// The home segment whose tables the VAS `home` has at [0, MF_HOME_SIZE),
// or NULL (none, or a home the kernel built).
struct segment *home_segment_of(struct vas *home);
// Device pages in a home segment (PCI MAP_BAR), 4 KiB each, with tables
// from the segment's own pool: room for them (0 or -E_NOMEM), then the map.
int home_segment_map_check(struct segment *seg, vaddr_t va, size_t size);
void home_segment_map(struct segment *seg, vaddr_t va, paddr_t pa, size_t size, unsigned flags);
// SYS_VAS_SWITCH.
int64_t vas_switch(struct thread *self, uint64_t cptr);
// MF_THREAD_SET_VAS: inactive t moved into `to` (NULL: its home) with
// SYS_VAS_SWITCH's checks; cap_lock held, takes space_lock.
int vas_switch_other(struct thread *t, struct vas_object *to);
// A user page fault: if a segment with a pager covers addr, send the fault
// to the pager and wait for its reply. True when the thread may retry the
// access, false when it must die.
bool pager_fault(struct thread *t, vaddr_t addr, unsigned access, uint64_t pc);
