// The capability core: slots, the derivation tree, delete and revoke.
//
// A slot holds one capability and its place in the derivation tree: copies
// and minted caps are children of the cap they came from; objects carved by
// retype are children of the untyped cap. Deleting a cap re-links its
// children to its parent. Revoke deletes a whole subtree.
//
// Objects end when their final capability goes (cap_is_final). A CNode
// cannot be emptied in bounded time, so its final deletion turns it into a
// zombie that later calls drain a bounded number of slots at a time.
//
// Locking: single CPU, kernel not preemptible; callers hold no locks.
#pragma once
#include "kernel/types.h"
#include "include/manifold/cap.h"

struct cap {
    uintptr_t obj;          // kernel virtual address of the object
    uint8_t type;           // MF_OBJ_*
    uint8_t rights;         // MF_RIGHT_*
    uint8_t size_bits;      // untyped/frame: log2 bytes; cnode: log2 slots
    uint8_t held;           // CAP_* below: who keeps this slot (never copied)
    uint32_t reserved1;
    uint64_t badge;         // badge; for untyped: bytes already retyped (watermark)
};

// cap.held: 0, or a kernel object keeps the slot inside itself for a
// purpose its type's cap_deleted hook must know about.
#define CAP_RECLAIM_GRANT 1     // a Reclaim object's grant (kernel/reclaim.c)
#define CAP_FILTER_RING 2       // a packet filter's ring frame (kernel/net.c)
#define CAP_FILTER_NOTIFY 3     // a packet filter's notification
#define CAP_SLOTS_NOTIFY 4      // a Slots object's notification (kernel/slots.c)


struct slot {
    struct cap cap;
    struct slot *parent, *first_child, *next_sibling, *prev_sibling;
    uint64_t reserved;
};
_Static_assert(sizeof(struct slot) == 64, "a slot is one cache line");

// The object a marked slot (cap.held) lies in: those objects are one page,
// retyped page-aligned, so a slot inside one finds it by its address (as
// seL4 finds a TCB from the slots inside it).
static inline uintptr_t cap_holder_object(const struct slot *s)
{
    return (uintptr_t)s & ~(uintptr_t)(PAGE_SIZE - 1);
}

// Slot 0 of every CNode holds this header instead of a capability.
struct cnode_header {
    uint32_t magic;
    uint8_t size_bits;
    bool zombie;
    uint16_t reserved;
    uint32_t drain_next;            // zombie: next slot index to empty
    uint32_t reserved2;
    struct cnode_header *next_zombie;
};
_Static_assert(sizeof(struct cnode_header) <= sizeof(struct slot), "header fits in slot 0");
#define CNODE_MAGIC 0x434e4f44u

static inline struct slot *cnode_slots(uintptr_t obj) { return (struct slot *)obj; }
static inline struct cnode_header *cnode_header(uintptr_t obj) { return (struct cnode_header *)obj; }
static inline bool slot_empty(const struct slot *s) { return s->cap.type == MF_OBJ_NULL; }

// Formats a CNode of 2^size_bits slots at obj (memory already zeroed).
void cnode_init(uintptr_t obj, unsigned size_bits);
// Places cap in the empty slot dst as a child of parent (NULL: a root).
void cap_insert(struct slot *dst, const struct cap *cap, struct slot *parent);
// The capability a copy or mint of src makes, checked: rights only shrink
// (rights outside MF_RIGHTS_ALL: -E_INVAL); untyped caps are never copied
// (-E_TYPE); only endpoints and notifications take a badge, once (badge_arg
// 0 keeps src's); a frame copy starts unmapped. Every path that makes a
// cap from a cap (cnode copy/mint/copy_to, IPC transfer) goes through here.
int cap_derive(const struct cap *src, uint64_t rights, uint64_t badge_arg, struct cap *out);
// True when no other slot holds a capability to the same object.
bool cap_is_final(const struct slot *s);
// Empties s. Consumes one unit of *budget per capability deleted, including
// those in CNodes that become zombies. Returns 0, or -E_AGAIN when the
// budget ran out with zombie CNodes still to drain (s itself is deleted).
int cap_delete(struct slot *s, unsigned *budget);
// Empties a slot kept inside another object (a thread's CSpace, a
// binding's server CSpace) as that object is finalized or reconfigured.
// Such slots hold only CNode caps, whose finalization is bounded (the CNode
// becomes a zombie for cap_drain_zombies). cap_lock held.
void cap_delete_nested(struct slot *s);
// Deletes every descendant of s (s stays). For an untyped cap whose subtree
// is gone, resets its watermark. 0 when complete, -E_AGAIN to continue.
int cap_revoke(struct slot *s, unsigned *budget);
// True while cap_revoke deletes a descendant (cap_lock held): a cap_deleted
// hook tells a revocation from above from its holder's own delete.
bool cap_revoking(void);
// Moves the capability in src to the empty slot dst, links included.
void cap_move(struct slot *dst, struct slot *src);
// A CNode's final cap is gone: it becomes a zombie that cap_drain_zombies
// empties a bounded number of slots at a time.
void cnode_finalize(const struct cap *cap);
// Drains zombie CNodes; 0 when none are left, else -E_AGAIN.
int cap_drain_zombies(unsigned *budget);
bool cap_zombies_pending(void);
