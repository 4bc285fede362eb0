// System call dispatch: one bounds check, then a table of small handlers.
#include "kernel/clustered.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/ipc.h"
#include "kernel/segment.h"
#include "kernel/snapshot.h"
#include "kernel/lrpc.h"
#include "kernel/locks.h"
#include "kernel/loader.h"
#include "kernel/pci.h"
#include "kernel/pmm.h"
#include "kernel/thread.h"
#include "kernel/usercopy.h"
#include "kernel/version.h"
#include "include/manifold/errors.h"
#include "include/manifold/ipc.h"
#include "include/manifold/syscall.h"
#include "lib/string.h"

// Handlers read their arguments from the saved registers
// (arch_syscall_arg): IPC leaves a queued sender's message there until a
// receiver takes it, and nothing is copied for calls that need few.
typedef int64_t (*syscall_fn)(struct thread *self, struct trap_frame *tf);

static int64_t sys_exit(struct thread *self, struct trap_frame *tf)
{
    thread_exit(EXIT_NORMAL, (int)arch_syscall_arg(tf, 0), 0);
}

static int64_t sys_yield(struct thread *self, struct trap_frame *tf)
{
    schedule();
    return 0;
}

static int64_t sys_thread_info(struct thread *self, struct trap_frame *tf)
{
    // One's own only: other threads are a System cap's (MF_SYSTEM_THREAD_INFO).
    struct mf_thread_info info;
    if (arch_syscall_arg(tf, 0) != MF_THREAD_SELF || !thread_info_at(MF_THREAD_SELF, &info))
        return -E_NOENT;
    return copy_to_user(arch_syscall_arg(tf, 1), &info, sizeof(info));
}

static int64_t sys_time(struct thread *self, struct trap_frame *tf)
{
    return (int64_t)sched_ticks();
}

static int64_t sys_sleep(struct thread *self, struct trap_frame *tf)
{
    uint64_t ticks = arch_syscall_arg(tf, 0);
    if (ticks > 1000000)
        return -E_RANGE;
    self->wake_tick = sched_ticks() + ticks;
    return thread_block(BLOCK_SLEEP) ? 0 : -E_AGAIN;
}

static int64_t sys_invoke(struct thread *self, struct trap_frame *tf)
{
    int64_t r;
    if (notification_fast(self, arch_syscall_arg(tf, 0), arch_syscall_arg(tf, 1), &r))
        return r;
    const uint64_t arg[4] = {arch_syscall_arg(tf, 2), arch_syscall_arg(tf, 3), arch_syscall_arg(tf, 4),
                             arch_syscall_arg(tf, 5)};
    return invoke_dispatch(self, arch_syscall_arg(tf, 0), arch_syscall_arg(tf, 1), arg);
}

static int64_t sys_send(struct thread *self, struct trap_frame *tf) { return ipc_send(self, tf, false); }
static int64_t sys_call(struct thread *self, struct trap_frame *tf) { return ipc_send(self, tf, true); }
static int64_t sys_recv(struct thread *self, struct trap_frame *tf) { return ipc_recv(self, tf, false); }
static int64_t sys_reply_recv(struct thread *self, struct trap_frame *tf) { return ipc_recv(self, tf, true); }

static int64_t sys_vas_switch(struct thread *self, struct trap_frame *tf)
{
    return vas_switch(self, arch_syscall_arg(tf, 0));
}

static int64_t sys_lrpc_call(struct thread *self, struct trap_frame *tf)
{
    return lrpc_call(self, tf, arch_syscall_arg(tf, 0), arch_syscall_arg(tf, 1), arch_syscall_arg(tf, 2));
}

static int64_t sys_lrpc_return(struct thread *self, struct trap_frame *tf)
{
    return lrpc_return(self, tf, (int64_t)arch_syscall_arg(tf, 0));
}

static int64_t sys_unknown(struct thread *self, struct trap_frame *tf) { return -E_NOSYS; }
static int64_t sys_exception_return(struct thread *self, struct trap_frame *tf);

// Every entry is a function: sys_unknown unless named below (the first
// initializer covers the whole table and the named ones override it), so
// the dispatch needs only the bounds check.
#define SYSCALL_TABLE 16
_Static_assert(SYS_COUNT <= SYSCALL_TABLE, "the table covers every call");
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
static const syscall_fn syscalls[SYSCALL_TABLE] = {
    [0 ... SYSCALL_TABLE - 1] = sys_unknown,
    [SYS_EXIT] = sys_exit,
    [SYS_YIELD] = sys_yield,
    [SYS_THREAD_INFO] = sys_thread_info,
    [SYS_TIME] = sys_time,
    [SYS_SLEEP] = sys_sleep,
    [SYS_INVOKE] = sys_invoke,
    [SYS_SEND] = sys_send,
    [SYS_RECV] = sys_recv,
    [SYS_CALL] = sys_call,
    [SYS_REPLY_RECV] = sys_reply_recv,
    [SYS_VAS_SWITCH] = sys_vas_switch,
    [SYS_LRPC_CALL] = sys_lrpc_call,
    [SYS_LRPC_RETURN] = sys_lrpc_return,
    [SYS_EXCEPTION_RETURN] = sys_exception_return,
};
#pragma GCC diagnostic pop
_Static_assert(SYS_EXCEPTION_RETURN == SYS_COUNT - 1, "a handler above for every call (a new one: add it)");

// Restart. A thread suspended while blocked in a call (a receive, a send
// not yet taken, a notification wait, a sleep, a console read) makes the
// call again when resumed: its pc goes back on the call instruction, with
// the arguments it had, and no result is written. So what a suspended
// thread shows (MF_THREAD_READ_CONTEXT) is a context that is complete in
// itself, and a checkpointer can copy it into another thread. The wait in
// a call for its reply is the exception (the message was taken: doing it
// again would send it twice): it returns -E_AGAIN, as before. So is a call
// made inside an LRPC call (server code on the client's thread): nobody
// may read or write that context (READ_CONTEXT refuses it), so only
// -E_AGAIN can end a wait there that nobody else will. sched.c
// (thread_deactivate, thread_block_prepare) sets SC_RESTART.
void syscall_entry(struct trap_frame *tf)
{
    uint64_t n = arch_syscall_number(tf);
    struct thread *self = current_thread();
    self->user_frame = tf;
    self->syscall_flags = SC_IN;
    syscall_fn fn = likely(n < SYSCALL_TABLE) ? syscalls[n] : sys_unknown;
    int64_t result = fn(self, tf);
    uint8_t flags = self->syscall_flags;
    self->syscall_flags = 0;
    if (likely(flags == SC_IN))
        arch_syscall_return(tf, result);
    else if (!(flags & SC_WRITTEN))
        arch_syscall_rewind(tf);
    // The common case in one test: runnable, no reschedule due, no LRPC
    // abort, an address space (return_to_user has each case).
    if (unlikely(self->state != THREAD_RUNNABLE || this_cpu()->need_resched ||
                 __atomic_load_n(&self->lrpc_abort_to, __ATOMIC_ACQUIRE) != LRPC_NO_ABORT ||
                 !__atomic_load_n(&self->vas, __ATOMIC_ACQUIRE)))
        return_to_user(tf);
}

void return_to_user(struct trap_frame *tf)
{
    struct thread *t = current_thread();
    (void)tf;   // t->user_frame: the frame at the top of t's kernel stack
    // Stopped (suspended, destroyed, exited), preempted at the end of its
    // slice, or a more important thread was woken or queued here.
    if (unlikely(t->state != THREAD_RUNNABLE || this_cpu()->need_resched))
        schedule();
    // An LRPC call it was in ended meanwhile (lrpc_binding_destroy): its
    // registers become its client's, the call returning -E_DEAD. (The
    // common case, nothing aborted, is tested here, without a call.)
    if (unlikely(__atomic_load_n(&t->lrpc_abort_to, __ATOMIC_ACQUIRE) != LRPC_NO_ABORT))
        lrpc_abort_check(t);
    // Its home VAS was destroyed (segment.c): it has no code left to run.
    // Or the thread itself was, on another CPU, since the check above
    // (thread_object_destroy stops it, then takes its spaces): then it just
    // goes, with no word about its address space.
    if (unlikely(!__atomic_load_n(&t->vas, __ATOMIC_ACQUIRE))) {
        if (__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == THREAD_DEAD)
            schedule();     // never returns: it is dead
        kprintf("manifold: thread %u (%s) killed: its address space was destroyed\n", t->id, t->name);
        thread_exit(EXIT_NO_SPACE, 0, 0);
    }
}

_Static_assert(MF_FAULT_PAGE == FAULT_PAGE && MF_FAULT_UNDEFINED == FAULT_UNDEFINED &&
               MF_FAULT_PROTECTION == FAULT_PROTECTION && MF_FAULT_OTHER == FAULT_OTHER,
               "user-visible fault kinds match the kernel's");

static const char *const fault_names[] = {
    [FAULT_PAGE] = "page fault", [FAULT_UNDEFINED] = "undefined instruction",
    [FAULT_PROTECTION] = "protection fault", [FAULT_ARITHMETIC] = "arithmetic fault",
    [FAULT_OTHER] = "exception",
};

// Exceptions dispatched to the faulting thread (Aegis's model; struct
// mf_exception, docs/exokernel.md "Exceptions"): its context goes into a
// record at the top of its exception stack and it runs its handler there,
// which ends with SYS_EXCEPTION_RETURN. Not while it runs its handler
// already (a fault there is handled as if it had none: no recursion), nor
// inside an LRPC call (it is in the server's address space). Only the
// exceptions an instruction causes (page, protection, undefined,
// arithmetic), not FAULT_OTHER (on x86_64 also NMIs and machine checks
// taken in user mode). False, and nothing changed, when the fault is not
// dispatched.
static bool exception_dispatch(struct thread *t, struct trap_frame *tf, int kind, vaddr_t addr, unsigned access)
{
    if (!__atomic_load_n(&t->exception_pc, __ATOMIC_RELAXED) || t->in_exception || t->lrpc_depth ||
        kind == FAULT_OTHER)
        return false;
    // The three together, as one SET_EXCEPTION left them (it runs under
    // cap_lock, as every invocation does).
    cap_lock();
    uint64_t pc = t->exception_pc, stack = t->exception_stack, arg = t->exception_arg;
    cap_unlock();
    if (!pc)
        return false;
    struct mf_exception e = {.kind = (uint64_t)kind};
    if (kind == FAULT_PAGE || kind == FAULT_PROTECTION)
        e.address = addr;
    if (kind == FAULT_PAGE)
        e.access = (access & VM_WRITE ? MF_ACCESS_WRITE : 0) | (access & VM_EXEC ? MF_ACCESS_EXEC : 0) |
                   (access & (VM_WRITE | VM_EXEC) ? 0 : MF_ACCESS_READ);
    arch_regs_save(tf, &e.context);
    arch_tls_save(t);
    e.context.tls[0] = t->user_tls[0];
    e.context.tls[1] = t->user_tls[1];
    uint64_t top = stack & ~15ul;
    uint64_t record = (top - sizeof(e)) & ~15ul;
    if (top < USER_BASE + sizeof(e) + 16 || copy_to_user(record, &e, sizeof(e)) != 0) {
        kprintf("manifold: thread %u (%s): no room for the exception record below %p\n", t->id, t->name,
                (void *)top);
        return false;
    }
    // The handler is entered as if called, handler(record, arg), with a zero
    // return address (x86_64: the word below the record; aarch64: x30).
    uint64_t zero = 0;
    if (copy_to_user(record - 8, &zero, sizeof(zero)) != 0)
        return false;
    t->in_exception = true;
    arch_trap_set_entry(tf, pc, record, record, arg);
    return true;
}

// SYS_EXCEPTION_RETURN(record): the handler is done; the context in the
// record, as the handler left it, resumes. Returns only on an error (the
// thread stays in its handler).
static int64_t sys_exception_return(struct thread *self, struct trap_frame *tf)
{
    // No exception to return from; or a call made from the handler is in
    // progress, and this is its server speaking (it runs on our thread).
    if (!self->in_exception || self->lrpc_depth)
        return -E_INVAL;
    uint64_t record = arch_syscall_arg(tf, 0);
    struct mf_exception e;
    if (record < USER_BASE || record > USER_TOP - sizeof(e))
        return -E_RANGE;
    if (copy_from_user(&e, record, sizeof(e)) != 0)
        return -E_FAULT;
    if (e.context.pc < USER_BASE || e.context.pc >= USER_TOP || e.context.sp < USER_BASE ||
        e.context.sp >= USER_TOP || !arch_tls_valid(e.context.tls[0]) || !arch_tls_valid(e.context.tls[1]))
        return -E_RANGE;
    self->in_exception = false;
    arch_regs_restore(tf, &e.context);
    self->user_tls[0] = e.context.tls[0];
    self->user_tls[1] = e.context.tls[1];
    tls_load(self);
    self->syscall_flags = 0;        // it leaves here, not through syscall_entry's end
    return_to_user(tf);
    arch_trap_frame_return(tf);     // every register as the record has it
}

// A user thread faulted and nobody handles it: kill only that thread.
void user_fault(struct trap_frame *tf, int kind, vaddr_t addr, unsigned access)
{
    struct thread *t = current_thread();
    kstat_inc(MF_KSTAT_USER_FAULTS);
    // Stopped on another CPU while it ran here (suspended, or destroyed
    // with the memory it was using): it leaves now, with no word. Resumed,
    // it takes the fault again, and it is handled then.
    if (unlikely(__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) != THREAD_RUNNABLE)) {
        schedule();
        return;
    }
    // An LRPC call it was in was aborted (its server may be gone already).
    if (lrpc_abort_check(t))
        return;
    // Another CPU made this one leave t's address space (it was destroyed,
    // t moved): load the one t is in now and retry.
    if (vas_reload(t))
        return;
    if (!t->vas)
        return_to_user(tf);     // none left at all: it dies there
    // A write to a page a snapshot keeps: copied, and written.
    if (kind == FAULT_PAGE && (access & VM_WRITE) && snapshot_write_fault(t, addr))
        return;
    // A page fault in a segment with a pager is the pager's to resolve.
    if (kind == FAULT_PAGE && pager_fault(t, addr, access, arch_trap_pc(tf))) {
        if (unlikely(t->state != THREAD_RUNNABLE))
            schedule();     // stopped while its pager worked
        return;
    }
    if (kind < FAULT_PAGE || kind > FAULT_OTHER)
        kind = FAULT_OTHER;
    // A fault in an LRPC server ends the call, not the thread.
    if (t->lrpc_depth && lrpc_fault(t, tf))
        return;
    // Anything no pager resolved: the thread's own handler, if it has one.
    if (exception_dispatch(t, tf, kind, addr, access))
        return;
    kprintf("manifold: thread %u (%s) killed: %s at %p (pc %p, %s access)\n", t->id, t->name,
            fault_names[kind], (void *)addr, (void *)arch_trap_pc(tf),
            access & VM_WRITE ? "write" : access & VM_EXEC ? "exec" : "read");
    thread_exit(EXIT_FAULT, kind, addr);
}

_Noreturn void kernel_fault(struct trap_frame *tf, const char *what, vaddr_t addr)
{
    panic_frame(tf, "kernel %s at %p", what, (void *)addr);
}
