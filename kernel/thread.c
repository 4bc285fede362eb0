// Threads and a priority round-robin scheduler (one run queue per CPU).
#include "kernel/thread.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/ipc.h"
#include "kernel/pmm.h"
#include "kernel/segment.h"
#include "lib/string.h"

struct cpu cpus[MAX_CPUS];
unsigned cpu_count = 1;
static struct thread *all_threads;
static uint32_t next_id = 1;

#define SLICE_TICKS 5

static void list_add(struct thread *t)
{
    t->all_prev = NULL;
    t->all_next = all_threads;
    if (all_threads)
        all_threads->all_prev = t;
    all_threads = t;
}

static void list_remove(struct thread *t)
{
    if (t->all_prev)
        t->all_prev->all_next = t->all_next;
    else if (all_threads == t)
        all_threads = t->all_next;
    if (t->all_next)
        t->all_next->all_prev = t->all_prev;
    t->all_next = t->all_prev = NULL;
}

static void thread_format(struct thread *t, const char *name, bool is_object)
{
    t->kstack = (uintptr_t)t;
    t->id = next_id++;
    t->state = THREAD_INACTIVE;
    t->priority = 10;
    t->is_object = is_object;
    strlcpy(t->name, name, sizeof(t->name));
    list_add(t);
}

struct thread *thread_alloc(const char *name)
{
    paddr_t block = pmm_alloc_contig(KSTACK_PAGES, PAGE_SIZE);
    if (!block)
        return NULL;
    struct thread *t = P2V(block);
    thread_format(t, name, false);
    return t;
}

void thread_object_init(uintptr_t obj)
{
    thread_format((struct thread *)obj, "thread", true);
}

struct thread *thread_by_id(uint32_t id)
{
    for (struct thread *t = all_threads; t; t = t->all_next)
        if (t->id == id)
            return t;
    return NULL;
}

struct thread *thread_by_index(unsigned index)
{
    struct thread *t = all_threads;
    while (t && index--)
        t = t->all_next;
    return t;
}

void thread_for_each(void (*fn)(struct thread *t, uintptr_t arg), uintptr_t arg)
{
    for (struct thread *t = all_threads, *next; t; t = next) {
        next = t->all_next;   // fn may unlink t
        fn(t, arg);
    }
}

// Higher priority first; a thread goes behind others of its priority.
static void runqueue_push(struct cpu *c, struct thread *t)
{
    struct thread **p = &c->run_head;
    while (*p && (*p)->priority >= t->priority)
        p = &(*p)->next;
    t->next = *p;
    *p = t;
}

static struct thread *runqueue_pop(struct cpu *c)
{
    struct thread *t = c->run_head;
    if (t)
        c->run_head = t->next;
    return t;
}

static void runqueue_remove(struct cpu *c, struct thread *t)
{
    for (struct thread **p = &c->run_head; *p; p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            return;
        }
}

void thread_start(struct thread *t)
{
    t->state = THREAD_RUNNABLE;
    t->blocked_on = BLOCK_NONE;
    if (t != this_cpu()->current)
        runqueue_push(this_cpu(), t);
}

void thread_wake(struct thread *t)
{
    if (t->state == THREAD_BLOCKED)
        thread_start(t);
}

void thread_block(enum block_reason why)
{
    struct thread *t = current_thread();
    t->state = THREAD_BLOCKED;
    t->blocked_on = why;
    schedule();
}

void thread_deactivate(struct thread *t)
{
    if (t->state == THREAD_RUNNABLE)
        runqueue_remove(this_cpu(), t);
    else if (t->state == THREAD_BLOCKED)
        ipc_cancel(t);
    t->state = THREAD_INACTIVE;
    t->blocked_on = BLOCK_NONE;
}

void thread_set_priority(struct thread *t, unsigned priority)
{
    bool queued = t->state == THREAD_RUNNABLE && t != this_cpu()->current;
    if (queued)
        runqueue_remove(this_cpu(), t);
    t->priority = priority;
    if (queued)
        runqueue_push(this_cpu(), t);
}

void thread_object_destroy(struct thread *t)
{
    thread_deactivate(t);
    ipc_forget(t);
    lrpc_thread_destroy(t);
    if (t->vas) {
        vas_thread_leave(t->vas);
        vas_release(t->vas);
        t->vas = NULL;
    }
    if (t->home_vas) {
        vas_release(t->home_vas);
        t->home_vas = NULL;
    }
    list_remove(t);
    t->state = THREAD_DEAD;     // if current, schedule() never returns here
}

void schedule(void)
{
    struct cpu *c = this_cpu();
    struct thread *prev = c->current;
    if (prev->state == THREAD_RUNNABLE && prev != c->idle) {
        // Keep running if nothing of at least our priority waits.
        if (c->run_head == NULL || (c->slice_left && c->run_head->priority < prev->priority))
            return;
        runqueue_push(c, prev);
    }
    struct thread *next = runqueue_pop(c);
    if (!next)
        next = c->idle;
    c->slice_left = SLICE_TICKS;
    if (next == prev)
        return;
    c->current = next;
    if (next->vas)
        vas_activate(next->vas);
    arch_thread_activate(next);
    arch_context_switch(prev, next);
}

_Noreturn void thread_exit(int how, int code, uint64_t address)
{
    struct thread *t = current_thread();
    t->exit.how = how;
    t->exit.code = code;
    t->exit.address = address;
    ipc_forget(t);
    if (t->is_object) {
        // A Thread object cannot be reaped: it stops, inactive, until its
        // holder resumes it with new registers or deletes it.
        t->state = THREAD_INACTIVE;
        t->has_context = false;
    } else {
        t->state = THREAD_DEAD;
        for (struct thread *w = all_threads; w; w = w->all_next)
            if (w->state == THREAD_BLOCKED && w->blocked_on == BLOCK_WAIT && w->wait_for == t->id)
                thread_wake(w);
    }
    schedule();
    panic("thread_exit: finished thread %u was scheduled", t->id);
}

void thread_reap(struct thread *t)
{
    assert(t->state == THREAD_DEAD && t != current_thread() && !t->is_object);
    lrpc_thread_destroy(t);
    if (t->vas) {
        vas_thread_leave(t->vas);
        vas_release(t->vas);
    }
    if (t->home_vas)
        vas_release(t->home_vas);
    list_remove(t);
    pmm_free_contig(V2P(t->kstack), KSTACK_PAGES);
}

// The boot CPU's tick count is the system's clock.
uint64_t sched_ticks(void) { return __atomic_load_n(&cpus[0].ticks, __ATOMIC_RELAXED); }

// Timer interrupt: wake sleepers and console readers, preempt on slice end.
void timer_tick(void)
{
    struct cpu *c = this_cpu();
    __atomic_store_n(&c->ticks, c->ticks + 1, __ATOMIC_RELAXED);
    for (struct thread *t = c->id == 0 ? all_threads : NULL; t; t = t->all_next) {
        if (t->state != THREAD_BLOCKED)
            continue;
        if ((t->blocked_on == BLOCK_SLEEP && c->ticks >= t->wake_tick) ||
            t->blocked_on == BLOCK_CONSOLE) {
            thread_wake(t);   // console readers re-check the UART themselves
        } else if (t->blocked_on == BLOCK_NOTIFICATION && t->wake_tick && c->ticks >= t->wake_tick) {
            ipc_cancel(t);    // a timed wait ran out: it returns -E_AGAIN
            thread_wake(t);
        }
    }
    if (c->slice_left && --c->slice_left == 0)
        schedule();
    else if (c->current == c->idle && c->run_head)
        schedule();
}

static void idle_loop(void *arg)
{
    (void)arg;
    for (;;) {
        arch_wait_for_interrupt();
        arch_interrupts_disable();
        if (this_cpu()->run_head)
            schedule();
    }
}

bool sched_init_cpu(unsigned cpu)
{
    struct cpu *c = &cpus[cpu];
    c->id = cpu;
    struct thread *idle = thread_alloc("idle");
    if (!idle)
        return false;
    arch_thread_init_kernel(idle, idle_loop, NULL);
    idle->state = THREAD_RUNNABLE;
    idle->priority = 0;
    idle->cpu = cpu;
    c->idle = idle;
    return true;
}

void sched_init(void)
{
    if (!sched_init_cpu(0))
        panic("sched: no idle thread");
}

void sched_reschedule_ipi(void)
{
    if (this_cpu()->run_head)
        schedule();
}

_Noreturn void sched_run_idle(void)
{
    struct cpu *c = this_cpu();
    static struct thread boot[MAX_CPUS];   // hold the abandoned boot contexts
    c->current = &boot[c->id];
    boot[c->id].state = THREAD_DEAD;
    schedule();
    panic("sched: returned to the boot context");
}
