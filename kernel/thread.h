// Threads, the scheduler and the per-CPU state.
//
// A thread lives at the base of a 16 KiB block whose rest is its kernel
// stack: either a Thread object retyped from untyped memory, or a block the
// kernel took from the page allocator for what it starts itself (the idle
// threads, the root task). All threads are on one list, for `ps` and the
// timer.
//
// The kernel is not preemptible: it runs with interrupts disabled, except in
// the idle loop. A timer tick that arrives in user mode may switch threads.
//
// SMP (docs/smp.md): each CPU has its own run queue and lock. A thread runs
// only on t->cpu and is queued only there; t->cpu changes only while the
// thread is on no queue and on no CPU (on_cpu clear). cpus[c].lock guards
// c's queue, c->current and the scheduling state (state, blocked_on) of the
// threads whose cpu is c. threads_lock (thread.c) guards the list of all
// threads and ids.
#pragma once
#include "kernel/arch.h"
#include "kernel/types.h"
#include "include/manifold/syscall.h"
#include "kernel/cap.h"
#include "kernel/lrpc.h"
#include "kernel/vas_ref.h"
#include "include/manifold/slots.h"
#include "lib/spinlock.h"

struct vas;
struct endpoint;

#define THREAD_NAME_MAX 32
#define THREAD_OBJECT_BITS 14                 // 16 KiB: struct thread + kernel stack
#define KSTACK_PAGES ((1u << THREAD_OBJECT_BITS) / PAGE_SIZE)
#define MAX_CPUS 8
#define MAX_PRIORITY 255
#define VAS_REF_HOME (1 + LRPC_MAX_DEPTH)     // thread->vas_ref[] index of home_vas

#define SC_IN 1
#define SC_RESTART 2
#define SC_WRITTEN 4

enum thread_state {
    THREAD_INACTIVE = 0,    // created or suspended: never scheduled
    THREAD_RUNNABLE,
    THREAD_BLOCKED,
    THREAD_DEAD,            // a kernel-started thread that exited, or a destroyed Thread object
};

enum block_reason {
    BLOCK_NONE = 0,
    BLOCK_CONSOLE,      // a Console cap's GETC
    BLOCK_SLEEP,        // SYS_SLEEP
    BLOCK_SEND,         // queued on an endpoint to send (or call)
    BLOCK_RECV,         // queued on an endpoint to receive
    BLOCK_REPLY,        // called; waiting for the server's reply
    BLOCK_NOTIFICATION, // waiting on a notification
};

struct thread {
    uintptr_t kernel_sp;        // saved by arch_context_switch; keep first
    uint32_t on_cpu;            // offset 8: context live on a CPU; arch_context_switch clears it once saved
    uint32_t id;
    enum thread_state state;
    enum block_reason blocked_on;
    uint8_t ipc_last_path;      // enum ipc_path of its latest call or reply-receive
    uint64_t ipc_fast, ipc_slow;
    uint64_t wake_tick;         // BLOCK_SLEEP
    uint32_t priority;          // 0..MAX_PRIORITY, higher runs first
    uint32_t cpu;               // the CPU it runs or ran on, whose queue it joins
    bool is_object;             // a Thread object: its memory belongs to an untyped
    bool has_context;           // registers set: may be resumed
    uintptr_t kstack;           // base of the 16 KiB block (== the thread itself)
    struct trap_frame *user_frame;  // user registers on the kernel stack
    // Its thread pointers (MF_TLS_*), while it is off its CPU: saved and
    // loaded as it leaves and enters one (tls_switch, kernel/thread.c).
    uint64_t user_tls[2];
    struct vas *vas;            // the address space it runs in; NULL for kernel threads
    struct vas *home_vas;       // where its code, data and stack live (retained)
    // kernel/vas_ref.h: vas, then each LRPC call's client_vas, then home_vas
    struct vas_ref vas_ref[VAS_REF_HOME + 1];
    struct slot cspace;         // a cap to the CNode naming its caps (empty: none); in the derivation tree
    struct slot exit_notify;    // a Notification cap signalled when it exits or dies (empty: none)
    struct mf_exit_status exit; // how it last ended (how == 0: it has not)
    struct cpu_slots *slots;    // CPU slots it is bound to (kernel/slots.c): runs only in those
    // Why its latest capability operation was refused (kernel/invoke.c):
    // read through its own mf_thread_info.
    struct refusal {
        int32_t error;
        uint32_t cptr;
        uint8_t found, expected, rights, op;
        const char *why;        // a static string, or NULL
        uint32_t index;         // a batch operation: the refused entry + 1 (0: not one)
    } refusal;
    struct thread *next;        // run queue link (sched.c)
    struct thread *ipc_next;    // endpoint or notification queue link (ipc.c): a timed-out
                                // waiter is on both until it leaves the second itself
    struct thread *all_next, *all_prev;
    // IPC (kernel/ipc.c)
    void *waiting_on;           // endpoint or notification while blocked on one
    struct mcs_lock ipc_lock;   // our reply link: `caller`, and its `replier`
    struct thread *caller;      // server side: the thread waiting for our reply
    struct thread *replier;     // caller side: the server that owes us a reply
    uint64_t ipc_badge;         // queued sender: badge of the cap it used
    bool ipc_is_call;           // queued sender: waits for a reply afterwards
    bool ipc_can_grant;         // queued sender: its cap had the grant right
    int64_t ipc_result;         // what a blocked IPC call returns when woken
    vaddr_t ipc_buffer;         // user address of its IPC buffer page, or 0
    bool in_fault;              // calling its pager: the message is fault_msg, not registers
    // Its exception handler (MF_THREAD_SET_EXCEPTION; 0: none), and whether
    // it is running one (a fault then is not dispatched again).
    uint64_t exception_pc, exception_stack, exception_arg;
    bool in_exception;
    uint64_t fault_msg[5];      // info, mr0..mr3
    uint8_t lrpc_abort_to;      // LRPC_NO_ABORT, or the depth its aborted calls unwind to
    bool wait_expired;          // woken by the tick from a timed notification wait, still queued
    bool block_interrupted;     // suspended while blocked: thread_block returns false once resumed
    // The system call in progress (kernel/syscall.c, "Restart"): SC_IN
    // while its handler runs; SC_RESTART: suspended while blocked in it, so
    // it is made again when resumed; SC_WRITTEN: WRITE_CONTEXT replaced the
    // context meanwhile, which then takes neither a result nor a restart.
    uint8_t syscall_flags;
    uint8_t lrpc_depth;         // LRPC calls in progress (kernel/lrpc.c)
    struct lrpc_link lrpc[LRPC_MAX_DEPTH];
    char name[THREAD_NAME_MAX];
    // Scheduling (kernel/sched.c), under the lock of t->cpu's queue.
    bool on_rq;                 // on cpus[cpu]'s run queue
    uint8_t policy;             // MF_SCHED_*; MF_SCHED_DEFAULT = the boot policy
    uint8_t fixed_cpu;          // for MF_SCHED_FIXED
    uint8_t last_cpu;           // where it last ran (0xff: never)
    uint32_t migrations;        // switched in on another CPU than the time before
    uint64_t enqueued_at;       // tick it joined its queue (aging)
    uint64_t switches_in;
    uint32_t left_at[MAX_CPUS]; // cpus[c].switches when it last ran on c, + 1 (0 = never)
};
_Static_assert(sizeof(struct thread) <= 2048, "the thread leaves most of its block to the stack");
_Static_assert(__builtin_offsetof(struct thread, on_cpu) == 8, "arch_context_switch clears on_cpu");

struct cpu {
    struct mcs_lock lock;       // run queue, current, state of its threads
    struct thread *current;
    struct thread *idle;
    struct thread *run_head;    // ordered by priority, FIFO among equals
    struct thread *prev;        // switched away from last (retype checks it)
    uint32_t queued;            // threads on run_head
    uint32_t switches;          // switches to a thread: counts intervening threads
    uint64_t ticks;
    uint32_t slice_left;
    bool need_resched;          // schedule before returning to user mode (return_to_user)
    uint32_t id;
    bool online;                // set by the CPU itself once it runs
    // Quiescent states passed (an interrupt taken, the idle loop): moments
    // it held no reference into kernel memory. grace_period_wait counts them.
    uint64_t quiescent;
    // The CPU slot vector (kernel/slots.c): who holds each slot (changed
    // under slots_lock and this lock), the holder of the current slot (this
    // lock), and how many slots are held (zero: the tick skips it all).
    struct cpu_slots *slot_owner[MF_SLOT_COUNT];
    struct cpu_slots *slot_active;
    uint32_t slotted;
} __attribute__((aligned(CACHE_LINE_SIZE)));

extern struct cpu cpus[MAX_CPUS];
extern unsigned cpu_count;      // CPUs online: 0..cpu_count-1
static inline struct cpu *this_cpu(void) { return &cpus[arch_cpu_id()]; }
static inline struct thread *current_thread(void) { return this_cpu()->current; }

// Grace periods (kernel/sched.c): a CPU is quiescent when it takes an
// interrupt or passes through its idle loop: the kernel is not preemptible
// and runs with interrupts off, so an interrupt finds the CPU in user mode
// or idle, holding no pointer into kernel memory. The reschedule IPI and
// the tick count (quiescent_state); nothing on the system-call path does. grace_period_wait returns once every other online CPU
// has been quiescent since it was called: whatever a CPU could see before
// the call (an object marked dying, a pointer unpublished) it no longer
// uses. Not with a lock held; the caller must not itself be using what it
// waits to free.
// The count is released after what this CPU did before (a waiter that
// sees it may free what that used), and fenced before what it does next:
// kernel code after a quiescent state (the tick's, the idle loop's, a call
// served while waiting) is a new reader, and must see what a grace period
// that counted this state was waiting to make visible.
static inline void quiescent_state(struct cpu *c)
{
    __atomic_store_n(&c->quiescent, c->quiescent + 1, __ATOMIC_RELEASE);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
void grace_period_wait(void);

void sched_init(void);
// CPU `cpu` (not yet started) gets its idle thread; false when out of memory.
bool sched_init_cpu(unsigned cpu);
// IPI_RESCHEDULE arrived: run the scheduler if something waits here.
void sched_reschedule_ipi(void);
// A thread in a fresh 16 KiB block from the page allocator; NULL when out of memory.
struct thread *thread_alloc(const char *name);
// User thread pointers (t->user_tls): tls_switch saves prev's live ones
// and makes next's live (writing only what differs); tls_load makes the
// current thread's saved ones live (after a change to them).
void tls_switch(struct thread *prev, struct thread *next);
void tls_load(const struct thread *t);
// Formats a Thread object at obj (zeroed memory, 2^THREAD_OBJECT_BITS bytes).
void thread_object_init(uintptr_t obj);
// Makes t runnable on this CPU.
void thread_start(struct thread *t);
// Marks the current thread blocked (it keeps running until it calls
// schedule()). Call it with the lock of whatever will wake the thread held,
// then release that lock, then schedule(): a wake-up in between is not lost.
// False when the thread was suspended or destroyed meanwhile: do not block.
bool thread_block_prepare(enum block_reason why);
// thread_block_prepare + schedule, for reasons the timer tick re-checks
// (sleep, console). False when it did not block (see above), or was
// suspended while blocked (the call then returns -E_AGAIN after the
// resume, as a blocked IPC does).
bool thread_block(enum block_reason why);
// A blocked thread becomes runnable on its CPU (an IPI tells that CPU when
// it should switch to it). No effect on a thread that is not blocked.
void thread_wake(struct thread *t);
// Makes t notice a change to its state made for it (an aborted LRPC call):
// wakes it if blocked (its IPC is cancelled), interrupts it if it runs on
// another CPU.
void thread_kick(struct thread *t);
// A synchronous hand-off: the calling thread blocks right after (IPC call,
// reply): t runs on this CPU next, unless its policy fixes it elsewhere, so
// that call and reply need no IPI and find the message in this CPU's cache.
void thread_wake_sync(struct thread *t);
// Takes t off every queue and makes it inactive (suspend). If t is the
// current thread it stops running when the kernel next returns to user mode.
enum thread_state thread_deactivate(struct thread *t);     // -> the state it had
// Changes t's priority, moving it in the run queue if it is queued.
void thread_set_priority(struct thread *t, unsigned priority);
// Changes t's scheduling policy (MF_SCHED_*; cpu for MF_SCHED_FIXED, valid).
// A thread fixed to another CPU than its own moves there at once (queued),
// or when it next switches away (running).
void thread_set_sched(struct thread *t, unsigned policy, unsigned cpu);
// The policy threads at MF_SCHED_DEFAULT follow (sched= on the command line).
unsigned sched_default_policy(void);
// A Thread object's final capability is gone: deactivate it, forget it.
void thread_object_destroy(struct thread *t);
// Ends the current thread with the given status; never returns.
_Noreturn void thread_exit(int how, int code, uint64_t address);
// Frees a dead kernel-started thread's stack and address space (self-tests).
void thread_reap(struct thread *t);
// SYS_THREAD_INFO: the index-th thread on the list of all threads, or the
// current one for MF_THREAD_SELF; false past the end.
bool thread_info_at(unsigned index, struct mf_thread_info *info);
// threads_lock, for code that must keep a thread it found through another
// thread from being reaped (ipc.c).
void thread_lock_list(struct mcs_qnode *q);
void thread_unlock_list(struct mcs_qnode *q);
// Calls fn on every thread (including inactive ones) with threads_lock
// held: fn must not take threads_lock or anything ordered before it.
void thread_for_each(void (*fn)(struct thread *t, uintptr_t arg), uintptr_t arg);
// True when a thread whose block lies in [start, end) may still be running
// on some CPU (untyped retype must not zero it yet).
bool sched_memory_in_use(uintptr_t start, uintptr_t end);
// Waits (1 s at most) until the threads this CPU suspended or destroyed
// while they ran on other CPUs have left them; no lock may be held (they
// may need one to get there). Called at the end of every invocation, so a
// suspend or delete returns once the thread has stopped.
void sched_wait_stopped(void);
// Picks the next thread and switches to it. Callers hold no locks.
void schedule(void);
// This CPU's boot context becomes its current thread (a dead one, left
// for good by the first schedule()). A secondary CPU does this before it
// says it is online: from then on other CPUs wake threads onto it and read
// its current thread (issue seen under host load: an AP online with no
// current thread yet, and a wake-up on another CPU read through NULL).
void sched_adopt_boot_context(void);
_Noreturn void sched_run_idle(void);
uint64_t sched_ticks(void);
#define TIMER_HZ 100
