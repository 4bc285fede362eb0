// LRPC bindings and calls (see kernel/lrpc.h).
#include "kernel/clustered.h"
#include "kernel/object.h"
#include "kernel/lrpc.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/ipc.h"
#include "kernel/locks.h"
#include "kernel/segment.h"
#include "kernel/thread.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

_Static_assert(MF_LRPC_MAX_PROCEDURES <= 64, "procedure numbers fit the checks below");
_Static_assert(ARCH_LRPC_SAVED <= LRPC_SAVED_MAX, "a link holds what the architecture keeps");


void binding_init(uintptr_t obj)
{
    (void)obj;  // zeroed memory is an unconfigured binding
}

// ------------------------------------------------------------ the binding

// CONFIGURE: the server VAS, its A-stack segment, the number of procedures,
// the entry point, and the slot of the server's CSpace cap, which the
// binding keeps a copy of: the CNode the third argument's high half names,
// or (0 there) the configuring thread's own CSpace (NULL inside an aborted
// call).
struct binding_configure_args {
    struct binding *binding;
    struct vas_object *server;
    struct segment *astacks;
    uint32_t procedures;
    uint64_t entry;
    struct slot *server_cspace;
};

static int decode_configure(const struct invocation *inv, struct decoded *d)
{
    struct binding_configure_args *a = DECODED(struct binding_configure_args, d);
    struct binding *b = (struct binding *)inv->target->cap.obj;
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *vs, *ss, *cs = NULL;
    uint64_t procedures = inv->arg[2] & 0xffffffff, cspace = inv->arg[2] >> 32;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_VAS, MF_RIGHT_WRITE, &vs);
    if (!r)
        r = cap_lookup(inv->caller, inv->arg[1], MF_OBJ_SEGMENT, MF_RIGHT_WRITE, &ss);
    if (!r && cspace)
        r = cap_lookup(inv->caller, cspace, MF_OBJ_CNODE, MF_RIGHT_WRITE, &cs);
    if (r)
        return r;
    struct vas_object *vo = (struct vas_object *)vs->cap.obj;
    struct segment *seg = (struct segment *)ss->cap.obj;
    if (b->configured)
        return -E_BUSY;
    if (procedures == 0 || procedures > MF_LRPC_MAX_PROCEDURES)
        return -E_RANGE;
    if (inv->arg[3] < USER_BASE || inv->arg[3] >= USER_TOP)
        return -E_RANGE;
    if (!seg->configured || segment_at(&vo->vas, seg->base) != seg)
        return -E_INVAL;    // the A-stacks must be in the server's space
    a->binding = b;
    a->server = vo;
    a->astacks = seg;
    a->procedures = (uint32_t)procedures;
    a->entry = inv->arg[3];
    a->server_cspace = cs ? cs : thread_cspace_slot(inv->caller);
    return 0;
}

static int64_t invoke_configure(const struct decoded *d)
{
    const struct binding_configure_args *a = DECODED(struct binding_configure_args, d);
    struct binding *b = a->binding;
    b->server = a->server;
    b->astacks = a->astacks;
    b->procedures = a->procedures;
    b->entry = a->entry;
    // A copy of the server's CSpace cap, held in the binding.
    if (a->server_cspace && !slot_empty(a->server_cspace))
        cap_insert(&b->server_cspace, &a->server_cspace->cap, a->server_cspace);
    // Clients and the server use the A-stacks at once: the binding's busy
    // flags order them, not the SpaceJMP segment lock.
    struct segment *seg = b->astacks;
    if (!seg->unlocked) {
        for (unsigned i = 0; i < SEGMENT_MAX_ATTACH; i++)
            if (seg->attached[i])
                seg->attached[i]->locked_count--;
        seg->unlocked = true;
        seg->writer = false;
        seg->readers = 0;
    }
    b->configured = true;
    b->server_prev = NULL;
    b->server_next = b->server->bindings;
    if (b->server_next)
        b->server_next->server_prev = b;
    b->server->bindings = b;
    b->astack_prev = NULL;
    b->astack_next = seg->astack_bindings;
    if (b->astack_next)
        b->astack_next->astack_prev = b;
    seg->astack_bindings = b;
    return 0;
}

// SET_ASTACK: A-stack `index` is [va, va + size) in the A-stack segment,
// and calls on it run on the server stack that ends at estack_top.
struct set_astack_args {
    struct binding *binding;
    unsigned index;
    uint64_t va, size, estack_top;
};

static int decode_set_astack(const struct invocation *inv, struct decoded *d)
{
    struct set_astack_args *a = DECODED(struct set_astack_args, d);
    struct binding *b = (struct binding *)inv->target->cap.obj;
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (!b->configured)
        return -E_INVAL;
    uint64_t i = inv->arg[0], va = inv->arg[1], size = inv->arg[2], estack = inv->arg[3];
    if (i >= MF_LRPC_MAX_ASTACKS || size < 64 || va & 15 || estack & 15)
        return -E_RANGE;
    const struct segment *seg = b->astacks;
    if (va < seg->base || va - seg->base >= seg->size || seg->base + seg->size - va < size)
        return -E_RANGE;
    if (estack < USER_BASE || estack > USER_TOP)
        return -E_RANGE;
    if (b->astack[i].busy)
        return -E_BUSY;
    a->binding = b;
    a->index = (unsigned)i;
    a->va = va;
    a->size = size;
    a->estack_top = estack;
    return 0;
}

static int64_t invoke_set_astack(const struct decoded *d)
{
    const struct set_astack_args *a = DECODED(struct set_astack_args, d);
    struct binding *b = a->binding;
    unsigned i = a->index;
    b->astack[i].va = a->va;
    b->astack[i].size = a->size;
    b->astack[i].estack_top = a->estack_top;
    b->astack[i].set = true;
    return 0;
}

// ATTACH_CLIENT: the A-stack segment goes into the client VAS, read-write,
// at the free slots segment_attach_check found.
struct attach_client_args {
    struct vas_object *client;
    struct segment *astacks;
    uint64_t slots;
};

static int decode_attach_client(const struct invocation *inv, struct decoded *d)
{
    struct attach_client_args *a = DECODED(struct attach_client_args, d);
    struct binding *b = (struct binding *)inv->target->cap.obj;
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    struct slot *vs;
    int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_VAS, MF_RIGHT_WRITE, &vs);
    if (r)
        return r;
    if (!b->configured)
        return -E_INVAL;
    struct vas_object *vo = (struct vas_object *)vs->cap.obj;
    const uint64_t rw = MF_RIGHT_READ | MF_RIGHT_WRITE;
    r = segment_attach_check(vo, b->astacks, rw, &a->slots);
    if (r)
        return r;
    a->client = vo;
    a->astacks = b->astacks;
    return 0;
}

static int64_t invoke_attach_client(const struct decoded *d)
{
    const struct attach_client_args *a = DECODED(struct attach_client_args, d);
    segment_attach(a->client, a->astacks, MF_RIGHT_READ | MF_RIGHT_WRITE, a->slots);
    return 0;
}

// ASTACK: where an A-stack is, in the A-stack segment.
struct astack_args {
    uint64_t va;
};

static int decode_astack(const struct invocation *inv, struct decoded *d)
{
    struct binding *b = (struct binding *)inv->target->cap.obj;
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    if (!b->configured)
        return -E_INVAL;
    if (inv->arg[0] >= MF_LRPC_MAX_ASTACKS || !b->astack[inv->arg[0]].set)
        return -E_RANGE;
    DECODED(struct astack_args, d)->va = b->astack[inv->arg[0]].va;
    return 0;
}

static int64_t invoke_astack(const struct decoded *d)
{
    return (int64_t)DECODED(struct astack_args, d)->va;
}

// MF_CNODE_DESCRIBE's part for a binding (kernel/cnode.c; cap_lock held):
// what CONFIGURE and SET_ASTACK gave it, objects by name, and which
// A-stacks calls hold now. space_lock: calls and configuring wait.
_Static_assert(MF_DESCRIBE_ASTACKS == MF_LRPC_MAX_ASTACKS, "a description holds every A-stack");

void binding_describe(uintptr_t obj, struct mf_cap_info *out)
{
    const struct binding *b = (const struct binding *)obj;
    space_lock();
    if (b->configured) {
        out->binding.server = object_name((uintptr_t)b->server);
        out->binding.astacks = object_name((uintptr_t)b->astacks);
        out->binding.cspace = slot_empty(&b->server_cspace) ? 0 : object_name(b->server_cspace.cap.obj);
        out->binding.entry = b->entry;
        out->binding.procedures = b->procedures;
        for (unsigned i = 0; i < MF_LRPC_MAX_ASTACKS; i++) {
            if (!b->astack[i].set)
                continue;
            out->binding.set |= 1u << i;
            out->binding.busy |= b->astack[i].busy ? 1u << i : 0;
            out->binding.astack[i].va = b->astack[i].va;
            out->binding.astack[i].size = b->astack[i].size;
            out->binding.astack[i].estack_top = b->astack[i].estack_top;
        }
    }
    space_unlock();
}

const struct op_handler binding_ops[MAX_OPS] = {
    [MF_BINDING_CONFIGURE] = {decode_configure, invoke_configure},
    [MF_BINDING_SET_ASTACK] = {decode_set_astack, invoke_set_astack},
    [MF_BINDING_ATTACH_CLIENT] = {decode_attach_client, invoke_attach_client},
    [MF_BINDING_ASTACK] = {decode_astack, invoke_astack},
};
_Static_assert(MF_BINDING_OP_COUNT <= MAX_OPS, "binding operation table");

// ----------------------------------------------------------------- calls

// The A-stack of a call ends its use (space_lock).
static void release_astack(struct lrpc_link *link)
{
    link->binding->astack[link->astack].busy = false;
    link->binding->astack[link->astack].caller = NULL;
}

// Fast path: no copy, no scheduler. Checks, in order: the binding cap
// (E_BADCAP, E_TYPE, E_PERM), the binding (E_INVAL), the procedure and
// A-stack numbers (E_RANGE), the A-stack free and the nesting depth
// (E_BUSY), the A-stack mapped where the caller runs (E_PERM: not a bound
// client), the server's segment locks (E_BUSY).
//
// SMP: the binding is found without cap_lock (lock_binding_fast; under it
// when that cannot tell), and the call holds space_lock for the rest, like
// every invocation of a Binding; the binding, its A-stacks and the server
// VAS cannot change meanwhile. A-stacks are claimed under
// space_lock, so calls from several CPUs at once get separate ones.
static int64_t call_locked(struct thread *self, struct trap_frame *tf, uint64_t cptr, struct binding *b,
                           uint64_t proc, uint64_t astack);

// The binding cptr names, with space_lock taken, found without cap_lock
// (kernel/locks.h): NULL when the lock-free lookup cannot tell or
// space_lock is busy (a reader may not wait for it: a holder may be waiting
// for readers), and the caller looks again under cap_lock.
static struct binding *lock_binding_fast(struct thread *self, uint64_t cptr)
{
    uint64_t seq;
    struct cap cap;
    struct binding *b = NULL;
    if (!cap_read_begin(&seq))
        return NULL;
    if (cap_read_lookup(self, seq, cptr, MF_OBJ_BINDING, MF_RIGHT_READ, &cap) && space_trylock()) {
        // Its final cap deleted since? Its destruction waits for us.
        if (cap_read_valid(seq))
            b = (struct binding *)cap.obj;
        else
            space_unlock();
    }
    cap_read_end();
    return b;
}

int64_t lrpc_call(struct thread *self, struct trap_frame *tf, uint64_t cptr, uint64_t proc, uint64_t astack)
{
    struct binding *b = lock_binding_fast(self, cptr);
    if (unlikely(!b)) {
        struct slot *s;
        cap_lock();
        int r = cap_lookup(self, cptr, MF_OBJ_BINDING, MF_RIGHT_READ, &s);
        if (unlikely(r)) {
            cap_unlock();
            arch_syscall_return_pair(tf, r, false);
            return r;
        }
        // The slot may change once cap_lock is gone (a delete or move needs
        // only that); the binding itself cannot go without space_lock.
        b = (struct binding *)s->cap.obj;
        space_lock();
        cap_unlock();
    }
    int64_t v = call_locked(self, tf, cptr, b, proc, astack);
    space_unlock();
    if (unlikely(v < 0))
        arch_syscall_return_pair(tf, v, false);     // refused: no procedure ran
    return v;
}

static int64_t call_locked(struct thread *self, struct trap_frame *tf, uint64_t cptr, struct binding *b,
                           uint64_t proc, uint64_t astack)
{
    const unsigned named = MF_OBJ_BINDING;     // what cptr named, for refusal records
    if (unlikely(self->lrpc_abort_to != LRPC_NO_ABORT))     // report that first
        return refuse_call(self, cptr, named, -E_DEAD, "an earlier call of ours was ended");
    if (unlikely(!b->configured))
        return refuse_call(self, cptr, named, -E_INVAL, "the binding is not configured");
    if (unlikely(proc >= b->procedures))
        return refuse_call(self, cptr, named, -E_RANGE, "no such procedure in the binding");
    if (unlikely(astack >= MF_LRPC_MAX_ASTACKS || !b->astack[astack].set))
        return refuse_call(self, cptr, named, -E_RANGE, "no such A-stack in the binding");
    if (unlikely(b->astack[astack].busy))
        return refuse_call(self, cptr, named, -E_BUSY, "the A-stack is in use by another call");
    if (unlikely(self->lrpc_depth >= LRPC_MAX_DEPTH))
        return refuse_call(self, cptr, named, -E_BUSY, "LRPC calls nested too deep");
    if (unlikely(segment_at(self->vas, b->astack[astack].va) != b->astacks))
        return refuse_call(self, cptr, named, -E_PERM, "the A-stack is not mapped where we run");
    if (unlikely(!vas_can_enter(self, &b->server->vas)))
        return refuse_call(self, cptr, named, -E_BUSY, "a segment of the server VAS is locked");

    struct lrpc_link *link = &self->lrpc[self->lrpc_depth++];
    link->binding = b;
    link->astack = (unsigned)astack;
    link->client_vas = self->vas;
    vas_ref_set(&self->vas_ref[self->lrpc_depth], self->vas);     // depth already counts this call
    vas_retain(self->vas);
    arch_lrpc_save(link->regs, tf);
    // The server neither sees nor changes the client's thread pointers:
    // its procedure starts on 0 (it sets its own), the client's come back.
    arch_tls_save(self);
    link->tls[0] = self->user_tls[0];
    link->tls[1] = self->user_tls[1];
    self->user_tls[0] = self->user_tls[1] = 0;
    tls_load(self);
    b->astack[astack].busy = true;
    b->astack[astack].caller = self;
    vas_move_thread(self, &b->server->vas);
    uint64_t va = b->astack[astack].va;
    arch_trap_set_entry(tf, b->entry, b->astack[astack].estack_top, va, proc);
    return (int64_t)va;     // the first argument register holds it too
}

// Pops the newest call of t: t runs on in its client with `result`; `ran`
// (the second result register) tells the client whether the procedure
// returned it or the kernel ended the call (mf_lrpc_invoke).
static void unwind(struct thread *t, int64_t result, bool ran)
{
    struct lrpc_link *link = &t->lrpc[--t->lrpc_depth];
    if (link->binding)
        release_astack(link);
    arch_lrpc_restore(t->user_frame, link->regs);
    arch_syscall_return_pair(t->user_frame, result, ran);
    t->user_tls[0] = link->tls[0];
    t->user_tls[1] = link->tls[1];
    tls_load(t);
    vas_move_thread(t, link->client_vas);
    vas_ref_set(&t->vas_ref[t->lrpc_depth + 1], NULL);
    vas_release(link->client_vas);
    link->binding = NULL;
    link->client_vas = NULL;
}

// Ends t's calls down to depth t->lrpc_abort_to (t is the caller, space_lock).
static void unwind_aborted(struct thread *t)
{
    while (t->lrpc_depth > t->lrpc_abort_to)
        unwind(t, -E_DEAD, false);
    __atomic_store_n(&t->lrpc_abort_to, LRPC_NO_ABORT, __ATOMIC_RELAXED);
}

int64_t lrpc_return(struct thread *self, struct trap_frame *tf, int64_t value)
{
    (void)tf;
    space_lock();
    if (unlikely(self->lrpc_abort_to != LRPC_NO_ABORT)) {
        unwind_aborted(self);   // the call it returns from was ended already
        value = -E_DEAD;
    } else if (self->lrpc_depth == 0) {
        value = -E_INVAL;
    } else {
        unwind(self, value, true);
    }
    space_unlock();
    return value;
}

bool lrpc_fault(struct thread *t, struct trap_frame *tf)
{
    (void)tf;
    space_lock();
    bool in_call = t->lrpc_depth > 0;
    if (in_call) {
        kprintf("manifold: thread %u (%s): fault in an LRPC server; the call returns an error\n", t->id, t->name);
        if (t->lrpc_abort_to != LRPC_NO_ABORT)
            unwind_aborted(t);
        else
            unwind(t, -E_DEAD, false);
    }
    space_unlock();
    return in_call;
}

bool lrpc_abort_check(struct thread *t)
{
    if (likely(__atomic_load_n(&t->lrpc_abort_to, __ATOMIC_ACQUIRE) == LRPC_NO_ABORT))
        return false;
    space_lock();
    bool pending = t->lrpc_abort_to != LRPC_NO_ABORT;
    if (pending)
        unwind_aborted(t);
    space_unlock();
    return pending;
}

// Aborting a call. Only the thread itself rewrites its registers (on
// another CPU it may be running the server's code right now), so an abort
// marks the depth to unwind to and makes the thread notice:
//   - its links through the binding, and those above them, let go of their
//     A-stacks and bindings at once (the binding may be freed next);
//   - a blocked thread is woken (its system call ends, and the exit path
//     unwinds: lrpc_abort_check);
//   - a thread running on another CPU gets a reschedule IPI, whose handler
//     unwinds it; one running here is in a system call that unwinds on exit;
//   - a thread about to block does not (thread_block_prepare checks).
// All under space_lock, which keeps the callers alive (destroying a thread
// takes it, and clears its A-stacks' caller records first).

// t has a call through b: it and the calls above it end (space_lock).
// True when t must be kicked to notice.
static bool abort_calls_through(struct thread *t, const struct binding *b)
{
    unsigned first = LRPC_NO_ABORT;
    for (unsigned i = 0; i < t->lrpc_depth && first == LRPC_NO_ABORT; i++)
        if (t->lrpc[i].binding == b)
            first = i;
    if (first == LRPC_NO_ABORT)
        return false;
    for (unsigned i = first; i < t->lrpc_depth; i++) {
        struct lrpc_link *link = &t->lrpc[i];
        if (link->binding)
            release_astack(link);
        link->binding = NULL;
    }
    if (first < t->lrpc_abort_to)
        __atomic_store_n(&t->lrpc_abort_to, (uint8_t)first, __ATOMIC_RELEASE);
    return t != current_thread();
}

void lrpc_binding_destroy(struct binding *b)
{
    // space_lock even for an unconfigured binding: an LRPC call that found
    // it without cap_lock holds it while it uses the binding
    // (lock_binding_fast, call_locked), so the binding's memory is not
    // retyped under that call.
    bool held = space_lock_held();
    if (!held)
        space_lock();
    if (b->configured) {
        // Every call in progress holds one of b's A-stacks: at most
        // MF_LRPC_MAX_ASTACKS threads to stop.
        struct thread *kick[MF_LRPC_MAX_ASTACKS];
        unsigned count = 0;
        for (unsigned i = 0; i < MF_LRPC_MAX_ASTACKS; i++) {
            struct thread *t = b->astack[i].busy ? b->astack[i].caller : NULL;
            if (t && abort_calls_through(t, b))
                kick[count++] = t;
        }
        for (unsigned i = 0; i < count; i++)
            thread_kick(kick[i]);
        if (b->server_prev)
            b->server_prev->server_next = b->server_next;
        else
            b->server->bindings = b->server_next;
        if (b->server_next)
            b->server_next->server_prev = b->server_prev;
        if (b->astack_prev)
            b->astack_prev->astack_next = b->astack_next;
        else
            b->astacks->astack_bindings = b->astack_next;
        if (b->astack_next)
            b->astack_next->astack_prev = b->astack_prev;
        b->server_next = b->server_prev = b->astack_next = b->astack_prev = NULL;
        b->configured = false;
        cap_delete_nested(&b->server_cspace);
    }
    if (!held)
        space_unlock();
}

void lrpc_forget_vas(struct vas_object *vo)
{
    while (vo->bindings)
        lrpc_binding_destroy(vo->bindings);     // unlinks it
}

void lrpc_forget_segment(struct segment *seg)
{
    while (seg->astack_bindings)
        lrpc_binding_destroy(seg->astack_bindings);
}

void lrpc_thread_destroy(struct thread *t)
{
    while (t->lrpc_depth) {
        struct lrpc_link *link = &t->lrpc[--t->lrpc_depth];
        if (link->binding)
            release_astack(link);
        vas_ref_set(&t->vas_ref[t->lrpc_depth + 1], NULL);
        vas_release(link->client_vas);
    }
    t->lrpc_abort_to = LRPC_NO_ABORT;
}

static int binding_bits(unsigned size_bits) { return size_bits == 0 ? PAGE_SHIFT : -1; }

static void binding_object_init(uintptr_t obj, unsigned size_bits) { binding_init(obj); }

static void binding_finalize(const struct cap *cap)
{
    lrpc_binding_destroy((struct binding *)cap->obj);
    cap_wait_readers();     // a call between its lookup and space_lock leaves first
}

// A-stack segments and the server VAS: invocations hold space_lock too.
const struct object_type binding_object_type = {
    .name = "binding",
    .object_bits = binding_bits,
    .init = binding_object_init,
    .finalize = binding_finalize,
    .ops = binding_ops,
    .op_count = MF_BINDING_OP_COUNT,
    .lock_class = LOCK_SPACE,
};
