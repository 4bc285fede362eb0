// Thread object invocations: configure, registers, resume, suspend,
// priority, scheduling, and how it ended. A configured thread runs in the
// VAS named at CONFIGURE (its home), or in the configuring thread's.
#include "kernel/object.h"
#include "kernel/arch.h"
#include "kernel/invoke.h"
#include "kernel/locks.h"
#include "kernel/lrpc.h"
#include "kernel/thread.h"
#include "kernel/segment.h"
#include "kernel/usercopy.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

static struct thread *target_thread(const struct invocation *inv)
{
    return (struct thread *)inv->target->cap.obj;
}

// CONFIGURE: the thread gets a copy of the cspace cap (none when NULL),
// its IPC buffer address, and an address space: the VAS object named (it
// becomes the thread's home too: a program a loader built), or else the
// caller's current VAS and home.
struct thread_configure_args {
    struct thread *thread;
    struct slot *cspace;
    struct vas *vas, *home_vas;
    uint64_t ipc_buffer;
    bool named;
    char name[THREAD_NAME_MAX];
};

static int decode_configure(const struct invocation *inv, struct decoded *d)
{
    struct thread_configure_args *a = DECODED(struct thread_configure_args, d);
    struct thread *t = target_thread(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    struct slot *cn = NULL, *vs = NULL;
    if (inv->arg[0]) {
        int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_CNODE, MF_RIGHT_WRITE, &cn);
        if (r)
            return r;
    }
    if (inv->arg[2]) {
        int r = cap_lookup(inv->caller, inv->arg[2], MF_OBJ_VAS, MF_RIGHT_WRITE, &vs);
        if (r)
            return r;
    }
    uint64_t buffer = inv->arg[1];
    if (buffer & (PAGE_SIZE - 1) || (buffer && (buffer < USER_BASE || buffer >= USER_TOP)))
        return -E_RANGE;
    if (t->state != THREAD_INACTIVE)
        return -E_BUSY;
    if (vs) {
        a->vas = a->home_vas = &((struct vas_object *)vs->cap.obj)->vas;
        if (!vas_can_enter(t, a->vas))
            return -E_BUSY;     // its segments' SpaceJMP locks are held elsewhere
    } else {
        if (!inv->caller->vas || !inv->caller->home_vas)
            return -E_INVAL;
        a->vas = inv->caller->vas;
        a->home_vas = inv->caller->home_vas;
    }
    // arg[3]: THREAD_NAME_MAX bytes of name for `ps` (0: keep the name).
    a->named = inv->arg[3] != 0;
    if (a->named && copy_from_user(a->name, inv->arg[3], sizeof(a->name)))
        return -E_FAULT;
    a->name[sizeof(a->name) - 1] = 0;
    a->thread = t;
    a->cspace = cn;
    a->ipc_buffer = buffer;
    return 0;
}

static int64_t invoke_configure(const struct decoded *d)
{
    const struct thread_configure_args *a = DECODED(struct thread_configure_args, d);
    struct thread *t = a->thread;
    struct vas *v = a->vas, *home = a->home_vas;
    space_lock();           // thread->vas and the VAS's active count
    vas_retain(v);
    vas_retain(home);
    vas_thread_enter(v);
    if (t->vas) {
        vas_thread_leave(t->vas);
        vas_release(t->vas);
    }
    vas_release(t->home_vas);
    t->vas = v;
    vas_ref_set(&t->vas_ref[0], v);
    t->home_vas = home;
    vas_ref_set(&t->vas_ref[VAS_REF_HOME], home);
    space_unlock();
    // The thread holds its CSpace as a copy of the CNode cap in a slot of
    // its own: the CNode lives as long as the thread refers to it.
    cap_delete_nested(&t->cspace);
    if (a->cspace)
        cap_insert(&t->cspace, &a->cspace->cap, a->cspace);
    t->ipc_buffer = a->ipc_buffer;
    if (a->named)
        memcpy(t->name, a->name, sizeof(t->name));
    return 0;
}

// Inside an LRPC call (or one being unwound) a thread's user registers are
// the server's, in the server's address space: its client, who holds the
// Thread cap, may neither read nor set them.
static bool in_lrpc(const struct thread *t)
{
    return t->lrpc_depth || __atomic_load_n(&t->lrpc_abort_to, __ATOMIC_ACQUIRE) != LRPC_NO_ABORT;
}

// Another thread than the caller, inactive, off its CPU (a thread just
// suspended there may not have switched away yet: its kernel stack and
// saved state are still in use) and not inside an LRPC call: its saved
// user state is the caller's to read and write.
static bool stopped_other(const struct invocation *inv, const struct thread *t)
{
    return t->state == THREAD_INACTIVE && t != inv->caller && !__atomic_load_n(&t->on_cpu, __ATOMIC_ACQUIRE) &&
           !in_lrpc(t);
}

// WRITE_REGS: the thread's user entry point, stack and first argument.
struct write_regs_args {
    struct thread *thread;
    uint64_t pc, sp, arg;
};

static int decode_write_regs(const struct invocation *inv, struct decoded *d)
{
    struct write_regs_args *a = DECODED(struct write_regs_args, d);
    struct thread *t = target_thread(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    uint64_t pc = inv->arg[0], sp = inv->arg[1];
    if (pc < USER_BASE || pc >= USER_TOP || sp < USER_BASE || sp > USER_TOP)
        return -E_RANGE;
    if (!stopped_other(inv, t))      // (its kernel stack is rebuilt below)
        return -E_BUSY;
    a->thread = t;
    a->pc = pc;
    a->sp = sp;
    a->arg = inv->arg[2];
    return 0;
}

static int64_t invoke_write_regs(const struct decoded *d)
{
    const struct write_regs_args *a = DECODED(struct write_regs_args, d);
    // Discards any kernel context the thread had (it was inactive).
    arch_thread_init_user(a->thread, a->pc, a->sp, a->arg);
    a->thread->has_context = true;
    a->thread->syscall_flags = 0;       // no call in progress in the new context
    a->thread->in_exception = false;
    a->thread->exit = (struct mf_exit_status){0};     // a new run: it has not ended
    return 0;
}

// READ_REG: one saved user register (MF_REG_PC or MF_REG_SP).
struct read_reg_args {
    const struct thread *thread;
    uint64_t reg;
};

static int decode_read_reg(const struct invocation *inv, struct decoded *d)
{
    struct read_reg_args *a = DECODED(struct read_reg_args, d);
    struct thread *t = target_thread(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    if (inv->arg[0] != MF_REG_PC && inv->arg[0] != MF_REG_SP)
        return -E_INVAL;
    if (t->state != THREAD_INACTIVE || !t->has_context)
        return -E_BUSY;
    a->thread = t;
    a->reg = inv->arg[0];
    return 0;
}

static int64_t invoke_read_reg(const struct decoded *d)
{
    const struct read_reg_args *a = DECODED(struct read_reg_args, d);
    const struct thread *t = a->thread;
    return (int64_t)(a->reg == MF_REG_PC ? arch_trap_pc(t->user_frame) : arch_trap_sp(t->user_frame));
}

// RESUME, SUSPEND: the invoked thread.
struct thread_args {
    struct thread *thread;
};

static int decode_resume(const struct invocation *inv, struct decoded *d)
{
    struct thread_args *a = DECODED(struct thread_args, d);
    struct thread *t = target_thread(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (t->state != THREAD_INACTIVE)
        return -E_BUSY;
    if (!t->vas || !t->has_context)
        return -E_INVAL;
    a->thread = t;
    return 0;
}

static int64_t invoke_resume(const struct decoded *d)
{
    thread_start(DECODED(struct thread_args, d)->thread);
    return 0;
}

// SUSPEND (report): with report 1, says whether it stopped the thread (1)
// or found it inactive already (0): a checkpointer resumes afterwards only
// the threads it stopped.
struct suspend_args {
    struct thread *thread;
    bool report;
};

static int decode_suspend(const struct invocation *inv, struct decoded *d)
{
    struct suspend_args *a = DECODED(struct suspend_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    a->thread = target_thread(inv);
    a->report = inv->arg[0] == 1;
    return 0;
}

static int64_t invoke_suspend(const struct decoded *d)
{
    const struct suspend_args *a = DECODED(struct suspend_args, d);
    struct thread *t = a->thread;
    if (t->state != THREAD_RUNNABLE && t->state != THREAD_BLOCKED)
        return 0;
    // The current thread stops on its way out; one running on another CPU
    // is told to, and invoke_dispatch waits until it has.
    enum thread_state was = thread_deactivate(t);
    return a->report && (was == THREAD_RUNNABLE || was == THREAD_BLOCKED);
}

struct set_priority_args {
    struct thread *thread;
    unsigned priority;
};

static int decode_set_priority(const struct invocation *inv, struct decoded *d)
{
    struct set_priority_args *a = DECODED(struct set_priority_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (inv->arg[0] > MAX_PRIORITY)
        return -E_RANGE;
    if (inv->arg[0] > inv->caller->priority)
        return -E_PERM;     // no thread raises another above itself
    a->thread = target_thread(inv);
    a->priority = (unsigned)inv->arg[0];
    return 0;
}

static int64_t invoke_set_priority(const struct decoded *d)
{
    const struct set_priority_args *a = DECODED(struct set_priority_args, d);
    thread_set_priority(a->thread, a->priority);
    return 0;
}

// SET_SCHED: cpu is 0 unless the policy is MF_SCHED_FIXED.
struct set_sched_args {
    struct thread *thread;
    unsigned policy, cpu;
};

static int decode_set_sched(const struct invocation *inv, struct decoded *d)
{
    struct set_sched_args *a = DECODED(struct set_sched_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    uint64_t policy = inv->arg[0], cpu = inv->arg[1];
    if (policy >= MF_SCHED_POLICIES)
        return -E_INVAL;
    if (policy == MF_SCHED_FIXED && cpu >= cpu_count)
        return -E_RANGE;
    a->thread = target_thread(inv);
    if (a->thread->slots)
        return refuse(inv, -E_BUSY, "the thread holds CPU slots: it stays on their CPU");
    a->policy = (unsigned)policy;
    a->cpu = policy == MF_SCHED_FIXED ? (unsigned)cpu : 0;
    return 0;
}

static int64_t invoke_set_sched(const struct decoded *d)
{
    const struct set_sched_args *a = DECODED(struct set_sched_args, d);
    thread_set_sched(a->thread, a->policy, a->cpu);
    return 0;
}

// BIND_EXIT: the thread keeps a copy of a Notification cap (badge
// included) and signals it whenever it ends: exits, is killed by a fault,
// or loses its address space. 0 unbinds.
struct bind_exit_args {
    struct thread *thread;
    struct slot *notification;
};

static int decode_bind_exit(const struct invocation *inv, struct decoded *d)
{
    struct bind_exit_args *a = DECODED(struct bind_exit_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    a->notification = NULL;
    if (inv->arg[0]) {
        int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_NOTIFICATION, MF_RIGHT_WRITE, &a->notification);
        if (r)
            return r;
    }
    a->thread = target_thread(inv);
    return 0;
}

static int64_t invoke_bind_exit(const struct decoded *d)
{
    const struct bind_exit_args *a = DECODED(struct bind_exit_args, d);
    // Nested, like the CSpace: revoking the caller's cap reaches this copy.
    cap_delete_nested(&a->thread->exit_notify);
    if (a->notification)
        cap_insert(&a->thread->exit_notify, &a->notification->cap, a->notification);
    return 0;
}

// EXIT_STATUS: how the thread last ended, into a struct mf_exit_status of
// the caller's; -E_BUSY while it has not ended since its registers were set.
struct exit_status_args {
    const struct thread *thread;
    uint64_t buffer;
};

static int decode_exit_status(const struct invocation *inv, struct decoded *d)
{
    struct exit_status_args *a = DECODED(struct exit_status_args, d);
    const struct thread *t = target_thread(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    if (t->state != THREAD_INACTIVE || !t->exit.how)
        return -E_BUSY;
    a->thread = t;
    a->buffer = inv->arg[0];
    return 0;
}

static int64_t invoke_exit_status(const struct decoded *d)
{
    const struct exit_status_args *a = DECODED(struct exit_status_args, d);
    struct mf_exit_status st = a->thread->exit;
    return copy_to_user(a->buffer, &st, sizeof(st));
}

// SET_EXCEPTION: where the thread's exceptions go (kernel/syscall.c,
// exception_dispatch): handler pc (0: nowhere, as before), the top of the
// stack the record and the handler use, and the handler's second argument.
// Any time, the thread itself included: the next exception sees it.
struct set_exception_args {
    struct thread *thread;
    uint64_t pc, stack, arg;
};

static int decode_set_exception(const struct invocation *inv, struct decoded *d)
{
    struct set_exception_args *a = DECODED(struct set_exception_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    uint64_t pc = inv->arg[0], stack = inv->arg[1];
    if (pc && (pc < USER_BASE || pc >= USER_TOP || stack <= USER_BASE || stack > USER_TOP))
        return -E_RANGE;
    a->thread = target_thread(inv);
    a->pc = pc;
    a->stack = pc ? stack : 0;
    a->arg = pc ? inv->arg[2] : 0;
    return 0;
}

static int64_t invoke_set_exception(const struct decoded *d)
{
    const struct set_exception_args *a = DECODED(struct set_exception_args, d);
    // Under cap_lock (every invocation): exception_dispatch reads the three
    // under it too, so it never pairs a new handler with an old stack.
    a->thread->exception_stack = a->stack;
    a->thread->exception_arg = a->arg;
    __atomic_store_n(&a->thread->exception_pc, a->pc, __ATOMIC_RELAXED);
    return 0;
}

// READ_CONTEXT / WRITE_CONTEXT: an inactive thread's whole user context
// (struct mf_regs), as exception records hold it. The thread has a
// context (its registers were written, or it ran) and has left its CPU.
// A thread stopped inside a system call that it makes again when resumed
// (kernel/syscall.c, "Restart": suspended while blocked) reads as the
// context that makes it: pc on the call instruction, its arguments in
// their registers; READ says 2, so a debugger may instead move it past the
// call with a result of its choosing (mf_thread_abort_call). One stopped inside a call that
// finishes when resumed (a call's wait for its reply) reads 1: its result
// register (and on x86_64 rcx and r11, which sysret takes) are the call's
// then, so a checkpointer knows. A written context replaces all that: the
// call neither returns into it nor restarts.
struct context_args {
    struct thread *thread;
    uint64_t buffer;
};

static int decode_context(const struct invocation *inv, struct decoded *d, bool write)
{
    struct context_args *a = DECODED(struct context_args, d);
    struct thread *t = target_thread(inv);
    if (!(inv->target->cap.rights & (write ? MF_RIGHT_WRITE : MF_RIGHT_READ)))
        return -E_PERM;
    if (!stopped_other(inv, t) || !t->has_context)
        return -E_BUSY;
    a->thread = t;
    a->buffer = inv->arg[0];
    return 0;
}

static int decode_read_context(const struct invocation *inv, struct decoded *d) { return decode_context(inv, d, false); }
static int decode_write_context(const struct invocation *inv, struct decoded *d) { return decode_context(inv, d, true); }

static int64_t invoke_read_context(const struct decoded *d)
{
    const struct context_args *a = DECODED(struct context_args, d);
    struct mf_regs regs = {0};
    uint8_t flags = a->thread->syscall_flags;
    struct trap_frame tf = *a->thread->user_frame;
    if (flags == (SC_IN | SC_RESTART))
        arch_syscall_rewind(&tf);
    arch_regs_save(&tf, &regs);
    regs.tls[0] = a->thread->user_tls[0];      // saved as it left its CPU
    regs.tls[1] = a->thread->user_tls[1];
    int r = copy_to_user(a->buffer, &regs, sizeof(regs));
    return r ? r : flags == SC_IN ? 1 : flags == (SC_IN | SC_RESTART) ? 2 : 0;
}

static int64_t invoke_write_context(const struct decoded *d)
{
    const struct context_args *a = DECODED(struct context_args, d);
    struct mf_regs regs;
    int r = copy_from_user(&regs, a->buffer, sizeof(regs));
    if (r)
        return r;
    if (regs.pc < USER_BASE || regs.pc >= USER_TOP || regs.sp < USER_BASE || regs.sp >= USER_TOP ||
        !arch_tls_valid(regs.tls[0]) || !arch_tls_valid(regs.tls[1]))
        return -E_RANGE;
    arch_regs_restore(a->thread->user_frame, &regs);
    a->thread->user_tls[0] = regs.tls[0];       // loaded as it next enters a CPU
    a->thread->user_tls[1] = regs.tls[1];
    if (a->thread->syscall_flags & SC_IN)
        a->thread->syscall_flags |= SC_WRITTEN;
    a->thread->in_exception = false;    // wherever it was, it is not in its handler now
    return 0;
}

// SET_VAS: where an inactive thread runs (a restored thread that had
// switched into a VAS of its own; kernel/segment.c has the checks).
struct set_vas_args {
    struct thread *thread;
    struct vas_object *to;
};

static int decode_set_vas(const struct invocation *inv, struct decoded *d)
{
    struct set_vas_args *a = DECODED(struct set_vas_args, d);
    struct thread *t = target_thread(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    a->to = NULL;
    if (inv->arg[0]) {
        struct slot *vs;
        int r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_VAS, MF_RIGHT_READ, &vs);
        if (r)
            return r;
        a->to = (struct vas_object *)vs->cap.obj;
    }
    if (!stopped_other(inv, t) || !t->vas)
        return -E_BUSY;
    a->thread = t;
    return 0;
}

static int64_t invoke_set_vas(const struct decoded *d)
{
    const struct set_vas_args *a = DECODED(struct set_vas_args, d);
    return vas_switch_other(a->thread, a->to);
}

// SET_TLS(index, value): one of a thread's thread pointers (MF_TLS_*). On
// itself it takes effect at once; another thread must be inactive and off
// its CPU (its saved pointers are the ones it will load). Where user code
// cannot write its own (no FSGSBASE: mf_system_info.flags), this is how it
// switches; the loader uses it to set a new thread's.
struct set_tls_args {
    struct thread *thread;
    unsigned index;
    uint64_t value;
};

static int decode_set_tls(const struct invocation *inv, struct decoded *d)
{
    struct set_tls_args *a = DECODED(struct set_tls_args, d);
    struct thread *t = target_thread(inv);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (inv->arg[0] > MF_TLS_OTHER)
        return -E_INVAL;
    if (!arch_tls_valid(inv->arg[1]))
        return -E_RANGE;
    if (t != inv->caller && !stopped_other(inv, t))
        return -E_BUSY;
    a->thread = t;
    a->index = (unsigned)inv->arg[0];
    a->value = inv->arg[1];
    return 0;
}

static int64_t invoke_set_tls(const struct decoded *d)
{
    const struct set_tls_args *a = DECODED(struct set_tls_args, d);
    if (a->thread == current_thread()) {
        arch_tls_save(a->thread);       // the other one may have changed in user mode
        a->thread->user_tls[a->index] = a->value;
        tls_load(a->thread);
    } else {
        a->thread->user_tls[a->index] = a->value;
    }
    return 0;
}

const struct op_handler thread_ops[MAX_OPS] = {
    [MF_THREAD_CONFIGURE] = {decode_configure, invoke_configure},
    [MF_THREAD_WRITE_REGS] = {decode_write_regs, invoke_write_regs},
    [MF_THREAD_READ_REG] = {decode_read_reg, invoke_read_reg},
    [MF_THREAD_RESUME] = {decode_resume, invoke_resume},
    [MF_THREAD_SUSPEND] = {decode_suspend, invoke_suspend},
    [MF_THREAD_SET_PRIORITY] = {decode_set_priority, invoke_set_priority},
    [MF_THREAD_SET_SCHED] = {decode_set_sched, invoke_set_sched},
    [MF_THREAD_BIND_EXIT] = {decode_bind_exit, invoke_bind_exit},
    [MF_THREAD_EXIT_STATUS] = {decode_exit_status, invoke_exit_status},
    [MF_THREAD_SET_EXCEPTION] = {decode_set_exception, invoke_set_exception},
    [MF_THREAD_READ_CONTEXT] = {decode_read_context, invoke_read_context},
    [MF_THREAD_WRITE_CONTEXT] = {decode_write_context, invoke_write_context},
    [MF_THREAD_SET_VAS] = {decode_set_vas, invoke_set_vas},
    [MF_THREAD_SET_TLS] = {decode_set_tls, invoke_set_tls},
};
_Static_assert(MF_THREAD_OP_COUNT <= MAX_OPS, "thread operation table");

static int thread_bits(unsigned size_bits) { return size_bits == 0 ? THREAD_OBJECT_BITS : -1; }

static void thread_init(uintptr_t obj, unsigned size_bits) { thread_object_init(obj); }

static void thread_finalize(const struct cap *cap) { thread_object_destroy((struct thread *)cap->obj); }

const struct object_type thread_object_type = {
    .name = "thread",
    .object_bits = thread_bits,
    .init = thread_init,
    .finalize = thread_finalize,
    .ops = thread_ops,
    .op_count = MF_THREAD_OP_COUNT,
};

// MF_CNODE_DESCRIBE's part for a thread (kernel/cnode.c). A snapshot: a
// checkpointer suspends the thread first.
void thread_describe(uintptr_t obj, struct mf_cap_info *out)
{
    const struct thread *t = (const struct thread *)obj;
    static const uint32_t states[] = {
        [THREAD_INACTIVE] = MF_THREAD_STATE_INACTIVE, [THREAD_RUNNABLE] = MF_THREAD_STATE_RUNNABLE,
        [THREAD_BLOCKED] = MF_THREAD_STATE_BLOCKED, [THREAD_DEAD] = MF_THREAD_STATE_DEAD,
    };
    enum thread_state s = __atomic_load_n(&t->state, __ATOMIC_RELAXED);
    out->thread.state = s < ARRAY_SIZE(states) ? states[s] : MF_THREAD_STATE_DEAD;
    out->thread.cspace = object_name(t->cspace.cap.obj);
    out->thread.home = object_name((uintptr_t)__atomic_load_n(&t->home_vas, __ATOMIC_RELAXED));
    out->thread.vas = object_name((uintptr_t)__atomic_load_n(&t->vas, __ATOMIC_RELAXED));
    out->thread.ipc_buffer = t->ipc_buffer;
    out->thread.exit = object_name(t->exit_notify.cap.obj);
    out->thread.exit_badge = t->exit_notify.cap.badge;
    out->thread.exception_pc = __atomic_load_n(&t->exception_pc, __ATOMIC_RELAXED);
    out->thread.exception_stack = t->exception_stack;
    out->thread.exception_arg = t->exception_arg;
    out->thread.priority = t->priority;
    out->thread.policy = t->policy;
    out->thread.fixed_cpu = t->fixed_cpu;
    out->thread.has_context = t->has_context;
    out->thread.in_lrpc = t->lrpc_depth != 0;
    memcpy(out->thread.name, t->name, sizeof(out->thread.name));
    out->thread.name[sizeof(out->thread.name) - 1] = 0;
}
