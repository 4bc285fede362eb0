// Object invocation: SYS_INVOKE(cptr, op, a0..a3) dispatches through a
// [type][operation] table of handler pairs. decode() checks everything in
// the documented order (slot lookup, type, rights, arguments, memory) and
// changes nothing; invoke() then cannot fail. What decode found reaches
// invoke as typed arguments: each object file defines, next to its
// handlers, a struct per operation whose fields say what they are, and
// both handlers see struct decoded through it (DECODED).
#pragma once
#include "kernel/cap.h"
#include "kernel/locks.h"
#include "kernel/thread.h"

struct thread;

struct invocation {
    struct thread *caller;
    struct slot *target;        // the invoked capability's slot
    uint64_t op;
    uint64_t arg[4];
};

// Records why the caller's operation is refused (its mf_thread_info shows
// it; mf_strerror_detail words it) and returns err (negative). Decoders
// use it where the error code alone would not say which check failed:
//   return refuse(inv, -E_RANGE, "va outside the segment");
int refuse(const struct invocation *inv, int err, const char *why);
// The same for a system call that names a capability without invoking it
// (SYS_LRPC_CALL, SYS_VAS_SWITCH): t is the caller, `found` the type of the
// cap cptr named (read while cap_lock still held it: MF_OBJ_NULL for none).
int refuse_call(const struct thread *t, uint64_t cptr, unsigned found, int err, const char *why);

// What decode() hands to invoke(): room for one operation's argument
// struct, zeroed before decode runs. Not read as words by anyone.
struct decoded {
    uint64_t space[16];
};

// d as a pointer to the handler's argument struct `type` (const when d is),
// e.g. `struct retype_args *a = DECODED(struct retype_args, d);`. A type
// that does not fit, or needs more alignment, is a build error.
#define DECODED(type, d) ({                                                                 \
    _Static_assert(sizeof(type) <= sizeof(struct decoded), #type " fits in struct decoded"); \
    _Static_assert(_Alignof(type) <= _Alignof(struct decoded), #type " alignment");         \
    _Generic((d), const struct decoded *: (const type *)(const void *)(d)->space,           \
                  struct decoded *: (type *)(void *)(d)->space);                            \
})

struct op_handler {
    int (*decode)(const struct invocation *inv, struct decoded *d);
    int64_t (*invoke)(const struct decoded *d);
};
// decode(): the operation must wait for another CPU (which may need
// cap_lock to get there); invoke_dispatch releases its locks, waits a
// little and decodes again, up to INVOKE_RETRY_MS, then returns -E_BUSY.
#define INVOKE_RETRY (-1000)
#define INVOKE_RETRY_MS 2000

// Operation tables are arrays of MAX_OPS; an object type's descriptor
// (kernel/object.h) bounds them by its op_count.
#define MAX_OPS 16

// The slot holding the CNode cap t's cptrs are looked up in: its own
// (t->cspace) or, inside an LRPC call, the server's (the binding's); NULL
// when a call it is in was aborted. cap_lock held.
struct slot *thread_cspace_slot(struct thread *t);
// Looks up cptr in t's CSpace: the slot, or NULL (no CSpace, out of range,
// slot 0). cap_lock held (kernel/locks.h), as for every slot access.
struct slot *cspace_lookup(const struct thread *t, uint64_t cptr);
// The slot at index in the CNode a capability names; NULL when out of range
// (or the CNode is a zombie). Inline: the lock-free lookup uses it too.
static inline struct slot *cnode_lookup(const struct cap *cnode, uint64_t index)
{
    if (cnode->type != MF_OBJ_CNODE || index == 0 || index >= (1ull << cnode->size_bits))
        return NULL;
    if (cnode_header(cnode->obj)->zombie)
        return NULL;
    return &cnode_slots(cnode->obj)[index];
}
// The lock-free lookup (kernel/locks.h, cap_read_*), inside a read section
// begun with `seq`: copies the cap cptr names in t's own CSpace into *out
// when it is a `type` cap with all of `rights`, as it was at one instant.
// False when it is not, or when the reading cannot tell (a capability
// changed meanwhile; t is inside an LRPC server, whose CSpace is its
// binding's): the caller then looks again under cap_lock, which also says
// what was wrong.
static inline bool cap_read_lookup(const struct thread *t, uint64_t seq, uint64_t cptr, unsigned type,
                                   unsigned rights, struct cap *out)
{
    if (t->lrpc_depth)
        return false;
    struct cap root = t->cspace.cap;
    if (!cap_read_valid(seq))
        return false;           // checked consistent before it is followed
    const struct slot *s = cnode_lookup(&root, cptr);
    if (!s)
        return false;
    *out = s->cap;
    return cap_read_valid(seq) && out->type == type && (out->rights & rights) == rights;
}

// Looks up cptr in t's CSpace and checks it names a `type` object with all
// of `rights`: 0 and *out, or the first of -E_BADCAP, -E_TYPE, -E_PERM.
int cap_lookup(const struct thread *t, uint64_t cptr, unsigned type, unsigned rights, struct slot **out);
int64_t invoke_dispatch(struct thread *t, uint64_t cptr, uint64_t op, const uint64_t arg[4]);

// Boot: the root task's CSpace with untyped memory (kernel/untyped.c).
int root_cspace_create(struct thread *root, unsigned untyped_count, unsigned untyped_bits);
void root_untyped_info(uint32_t *count, uint32_t *size_bits);
