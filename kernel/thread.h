// Threads, the scheduler and the per-CPU state.
//
// The kernel is not preemptible: it runs with interrupts disabled, except in
// the idle loop. A timer tick that arrives in user mode may switch threads.
#pragma once
#include "kernel/types.h"
#include "include/manifold/syscall.h"

struct vas;

#define THREAD_NAME_MAX 32
#define KSTACK_PAGES 4
#define MAX_THREADS 128
#define MAX_CPUS 8

enum thread_state {
    THREAD_FREE = 0,
    THREAD_RUNNABLE,
    THREAD_BLOCKED,
    THREAD_DEAD,        // exited; waiting to be reaped by SYS_WAIT
};

enum block_reason {
    BLOCK_NONE = 0,
    BLOCK_CONSOLE,      // SYS_DEBUG_GETC
    BLOCK_WAIT,         // SYS_WAIT on another thread
    BLOCK_SLEEP,        // SYS_SLEEP
};

struct thread {
    uintptr_t kernel_sp;        // saved by arch_context_switch; keep first
    uint32_t id;
    enum thread_state state;
    enum block_reason blocked_on;
    uint64_t wake_tick;         // BLOCK_SLEEP
    uint32_t wait_for;          // BLOCK_WAIT: thread id
    uint32_t priority;
    uint32_t cpu;
    uintptr_t kstack;           // base of the kernel stack (direct-map address)
    struct trap_frame *user_frame;  // user registers on the kernel stack
    struct vas *vas;            // NULL for kernel threads
    uintptr_t cspace;           // CNode object naming this thread's caps, or 0
    uint32_t parent;            // thread id that may wait for this one
    struct mf_exit_status exit;
    struct thread *next;        // run queue link
    char name[THREAD_NAME_MAX];
};

struct cpu {
    struct thread *current;
    struct thread *idle;
    struct thread *run_head, *run_tail;
    uint64_t ticks;
    uint32_t slice_left;
    uint32_t id;
};

extern struct cpu cpus[MAX_CPUS];
extern unsigned cpu_count;
static inline struct cpu *this_cpu(void) { return &cpus[0]; }
static inline struct thread *current_thread(void) { return this_cpu()->current; }

void sched_init(void);
// Allocates a thread with a kernel stack; NULL when none is free.
struct thread *thread_alloc(const char *name);
// Makes t runnable on this CPU.
void thread_start(struct thread *t);
// Blocks the current thread until thread_wake(); switches away.
void thread_block(enum block_reason why);
void thread_wake(struct thread *t);
// Ends the current thread with the given status; never returns.
_Noreturn void thread_exit(int how, int code, uint64_t address);
// Frees a dead thread's stack and address space.
void thread_reap(struct thread *t);
struct thread *thread_by_id(uint32_t id);
struct thread *thread_by_index(unsigned index);
// Picks the next thread and switches to it. Callers hold no locks.
void schedule(void);
_Noreturn void sched_run_idle(void);
uint64_t sched_ticks(void);
#define TIMER_HZ 100
