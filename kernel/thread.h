// Threads, the scheduler and the per-CPU state.
//
// A thread lives at the base of a 16 KiB block whose rest is its kernel
// stack: either a Thread object retyped from untyped memory, or a block the
// kernel took from the page allocator for programs it starts itself
// (mf_spawn). All threads are on one list, for `ps` and the timer.
//
// The kernel is not preemptible: it runs with interrupts disabled, except in
// the idle loop. A timer tick that arrives in user mode may switch threads.
#pragma once
#include "kernel/arch.h"
#include "kernel/types.h"
#include "include/manifold/syscall.h"
#include "kernel/lrpc.h"

struct vas;
struct endpoint;

#define THREAD_NAME_MAX 32
#define THREAD_OBJECT_BITS 14                 // 16 KiB: struct thread + kernel stack
#define KSTACK_PAGES ((1u << THREAD_OBJECT_BITS) / PAGE_SIZE)
#define MAX_CPUS 8
#define MAX_PRIORITY 255

enum thread_state {
    THREAD_INACTIVE = 0,    // created or suspended: never scheduled
    THREAD_RUNNABLE,
    THREAD_BLOCKED,
    THREAD_DEAD,            // exited; waiting to be reaped by SYS_WAIT
};

enum block_reason {
    BLOCK_NONE = 0,
    BLOCK_CONSOLE,      // SYS_DEBUG_GETC
    BLOCK_WAIT,         // SYS_WAIT on another thread
    BLOCK_SLEEP,        // SYS_SLEEP
    BLOCK_SEND,         // queued on an endpoint to send (or call)
    BLOCK_RECV,         // queued on an endpoint to receive
    BLOCK_REPLY,        // called; waiting for the server's reply
    BLOCK_NOTIFICATION, // waiting on a notification
};

struct thread {
    uintptr_t kernel_sp;        // saved by arch_context_switch; keep first
    uint32_t id;
    enum thread_state state;
    enum block_reason blocked_on;
    uint64_t wake_tick;         // BLOCK_SLEEP
    uint32_t wait_for;          // BLOCK_WAIT: thread id
    uint32_t priority;          // 0..MAX_PRIORITY, higher runs first
    uint32_t cpu;
    bool is_object;             // a Thread object: its memory belongs to an untyped
    bool has_context;           // registers set: may be resumed
    uintptr_t kstack;           // base of the 16 KiB block (== the thread itself)
    struct trap_frame *user_frame;  // user registers on the kernel stack
    struct vas *vas;            // the address space it runs in; NULL for kernel threads
    struct vas *home_vas;       // where its code, data and stack live (retained)
    uintptr_t cspace;           // CNode object naming this thread's caps, or 0
    uint32_t parent;            // thread id that may wait for this one
    struct mf_exit_status exit;
    struct thread *next;        // run queue or endpoint queue link
    struct thread *all_next, *all_prev;
    // IPC (kernel/ipc.c)
    void *waiting_on;           // endpoint or notification while blocked on one
    struct thread *caller;      // server side: the thread waiting for our reply
    uint64_t ipc_badge;         // queued sender: badge of the cap it used
    bool ipc_is_call;           // queued sender: waits for a reply afterwards
    bool ipc_can_grant;         // queued sender: its cap had the grant right
    int64_t ipc_result;         // what a blocked IPC call returns when woken
    vaddr_t ipc_buffer;         // user address of its IPC buffer page, or 0
    bool in_fault;              // calling its pager: the message is fault_msg, not registers
    uint64_t fault_msg[5];      // info, mr0..mr3
    bool in_syscall;            // between syscall_entry and its return
    bool lrpc_aborted;          // a call it was in ended: its syscall returns -E_DEAD
    uint8_t lrpc_depth;         // LRPC calls in progress (kernel/lrpc.c)
    struct lrpc_link lrpc[LRPC_MAX_DEPTH];
    char name[THREAD_NAME_MAX];
};
_Static_assert(sizeof(struct thread) <= 2048, "the thread leaves most of its block to the stack");

struct cpu {
    struct thread *current;
    struct thread *idle;
    struct thread *run_head;    // ordered by priority, FIFO among equals
    uint64_t ticks;
    uint32_t slice_left;
    uint32_t id;
    bool online;                // set by the CPU itself once it runs
};

extern struct cpu cpus[MAX_CPUS];
extern unsigned cpu_count;      // CPUs online: 0..cpu_count-1
static inline struct cpu *this_cpu(void) { return &cpus[arch_cpu_id()]; }
static inline struct thread *current_thread(void) { return this_cpu()->current; }

void sched_init(void);
// CPU `cpu` (not yet started) gets its idle thread; false when out of memory.
bool sched_init_cpu(unsigned cpu);
// IPI_RESCHEDULE arrived: run the scheduler if something waits here.
void sched_reschedule_ipi(void);
// A thread in a fresh 16 KiB block from the page allocator; NULL when out of memory.
struct thread *thread_alloc(const char *name);
// Formats a Thread object at obj (zeroed memory, 2^THREAD_OBJECT_BITS bytes).
void thread_object_init(uintptr_t obj);
// Makes t runnable on this CPU.
void thread_start(struct thread *t);
// Blocks the current thread until thread_wake(); switches away.
void thread_block(enum block_reason why);
void thread_wake(struct thread *t);
// Takes t off every queue and makes it inactive (suspend). If t is the
// current thread it stops running when the kernel next returns to user mode.
void thread_deactivate(struct thread *t);
// Changes t's priority, moving it in the run queue if it is queued.
void thread_set_priority(struct thread *t, unsigned priority);
// A Thread object's final capability is gone: deactivate it, forget it.
void thread_object_destroy(struct thread *t);
// Ends the current thread with the given status; never returns.
_Noreturn void thread_exit(int how, int code, uint64_t address);
// Frees a dead thread's stack and address space.
void thread_reap(struct thread *t);
struct thread *thread_by_id(uint32_t id);
// The index-th thread on the list of all threads, or NULL.
struct thread *thread_by_index(unsigned index);
// Calls fn on every thread (including inactive ones).
void thread_for_each(void (*fn)(struct thread *t, uintptr_t arg), uintptr_t arg);
// Picks the next thread and switches to it. Callers hold no locks.
void schedule(void);
_Noreturn void sched_run_idle(void);
uint64_t sched_ticks(void);
#define TIMER_HZ 100
