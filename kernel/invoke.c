#include "kernel/invoke.h"
#include "kernel/locks.h"
#include "kernel/object.h"
#include "kernel/arch.h"
#include "lib/spinlock.h"
#include "kernel/thread.h"
#include "include/manifold/errors.h"

struct slot *thread_cspace_slot(struct thread *t)
{
    if (t->lrpc_depth) {
        struct binding *b = t->lrpc[t->lrpc_depth - 1].binding;
        return b ? &b->server_cspace : NULL;    // NULL: aborted, unwinding on its way out
    }
    return &t->cspace;
}

struct slot *cspace_lookup(const struct thread *t, uint64_t cptr)
{
    const struct slot *root = thread_cspace_slot((struct thread *)t);
    if (!root || slot_empty(root))
        return NULL;
    return cnode_lookup(&root->cap, cptr);
}

// Only the thread itself writes its refusal record (it is the caller).
static int record(const struct thread *t, int err, uint64_t cptr, const struct slot *s, unsigned expected,
                  unsigned rights, const char *why)
{
    struct refusal *r = &((struct thread *)t)->refusal;
    r->error = err;
    r->cptr = (uint32_t)cptr;
    r->found = s ? s->cap.type : MF_OBJ_NULL;
    r->expected = (uint8_t)expected;
    r->rights = (uint8_t)rights;
    r->why = why;
    r->index = 0;
    return err;
}

static const char *why_no_cap(const struct thread *t, const struct slot *s)
{
    const struct slot *root = thread_cspace_slot((struct thread *)t);
    return !root || slot_empty(root) ? "the thread has no CSpace"
           : !s                      ? "no such slot (0, or past the CNode's end)"
                                     : "the slot is empty";
}

int cap_lookup(const struct thread *t, uint64_t cptr, unsigned type, unsigned rights, struct slot **out)
{
    struct slot *s = cspace_lookup(t, cptr);
    if (unlikely(!s || slot_empty(s)))
        return record(t, -E_BADCAP, cptr, NULL, type, 0, why_no_cap(t, s));
    if (unlikely(s->cap.type != type))
        return record(t, -E_TYPE, cptr, s, type, 0, NULL);
    if (unlikely((s->cap.rights & rights) != rights))
        return record(t, -E_PERM, cptr, s, type, rights & ~s->cap.rights, NULL);
    *out = s;
    return 0;
}

int refuse(const struct invocation *inv, int err, const char *why)
{
    struct refusal *r = &inv->caller->refusal;
    record(inv->caller, err, r->cptr, inv->target, inv->target->cap.type, 0, why);
    r->op = (uint8_t)inv->op;
    return err;
}

int refuse_call(const struct thread *t, uint64_t cptr, unsigned found, int err, const char *why)
{
    record(t, err, cptr, NULL, found, 0, why);
    struct refusal *r = &((struct thread *)t)->refusal;
    r->found = (uint8_t)found;
    r->op = 0xff;       // not an operation: a system call
    return err;
}

// cap_lock is held from the lookup until invoke returns, so what decode
// checked still holds in invoke; an invoke that blocks (notification wait)
// releases it first.
static int64_t dispatch_once(struct thread *t, uint64_t cptr, uint64_t op, const uint64_t arg[4]);

int64_t invoke_dispatch(struct thread *t, uint64_t cptr, uint64_t op, const uint64_t arg[4])
{
    uint64_t deadline = 0;
    for (;;) {
        int64_t r = dispatch_once(t, cptr, op, arg);
        // A thread suspended or destroyed while it ran on another CPU has
        // left it before the invocation returns.
        sched_wait_stopped();
        if (likely(r != INVOKE_RETRY))
            return r;
        if (!deadline)
            deadline = arch_cycles() + arch_cycles_per_second() / 1000 * INVOKE_RETRY_MS;
        if (arch_cycles() > deadline)
            return -E_BUSY;
        for (int i = 0; i < 100; i++)
            cpu_relax();
    }
}

static int64_t dispatch_once(struct thread *t, uint64_t cptr, uint64_t op, const uint64_t arg[4])
{
    int64_t r;
    cap_lock();
    struct slot *target = cspace_lookup(t, cptr);
    const struct object_type *type = target && !slot_empty(target) ? object_types[target->cap.type] : NULL;
    struct refusal *why = &t->refusal;
    why->error = 0;
    why->cptr = 0;
    if (!type) {
        struct slot *unused;
        r = cap_lookup(t, cptr, MF_OBJ_NULL, 0, &unused);   // records why
    } else if (op >= type->op_count || !type->ops[op].decode) {
        r = record(t, -E_NOSYS, cptr, target, target->cap.type, 0, "no such operation for this type");
        why->op = (uint8_t)op;
    } else {
        const struct op_handler *ops = type->ops;
        bool space = type->lock_class == LOCK_SPACE;
        if (space)
            space_lock();
        struct invocation inv = {t, target, op, {arg[0], arg[1], arg[2], arg[3]}};
        struct decoded d = {0};
        r = ops[op].decode(&inv, &d);
        // A decoder's own words (refuse, or a failed lookup of an argument
        // cap) stay; otherwise the refusal names the invoked cap's check.
        if (r < 0 && r != INVOKE_RETRY && why->error != r)
            record(t, (int)r, cptr, target, target->cap.type, 0,
                   r == -E_PERM ? "the invoked cap lacks a right this needs" : NULL);
        if (r < 0 && why->error == r && !why->cptr)
            why->cptr = (uint32_t)cptr;
        why->op = (uint8_t)op;
        if (!r)
            r = ops[op].invoke(&d);
        if (space)
            space_unlock();
    }
    if (cap_lock_held())
        cap_unlock();
    return r;
}
