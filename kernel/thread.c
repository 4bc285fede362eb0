// Threads and a round-robin scheduler (one run queue per CPU).
#include "kernel/thread.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/pmm.h"
#include "kernel/vas.h"
#include "lib/string.h"

struct cpu cpus[MAX_CPUS];
unsigned cpu_count = 1;
static struct thread threads[MAX_THREADS];
static uint32_t next_id = 1;

#define SLICE_TICKS 5

struct thread *thread_alloc(const char *name)
{
    for (unsigned i = 0; i < MAX_THREADS; i++) {
        struct thread *t = &threads[i];
        if (t->state != THREAD_FREE)
            continue;
        paddr_t stack = pmm_alloc_contig(KSTACK_PAGES, PAGE_SIZE);
        if (!stack)
            return NULL;
        memset(t, 0, sizeof(*t));
        t->kstack = (uintptr_t)P2V(stack);
        t->id = next_id++;
        t->state = THREAD_BLOCKED;
        t->priority = 10;
        strlcpy(t->name, name, sizeof(t->name));
        return t;
    }
    return NULL;
}

struct thread *thread_by_id(uint32_t id)
{
    for (unsigned i = 0; i < MAX_THREADS; i++)
        if (threads[i].state != THREAD_FREE && threads[i].id == id)
            return &threads[i];
    return NULL;
}

struct thread *thread_by_index(unsigned index)
{
    return index < MAX_THREADS ? &threads[index] : NULL;
}

static void runqueue_push(struct cpu *c, struct thread *t)
{
    t->next = NULL;
    if (c->run_tail)
        c->run_tail->next = t;
    else
        c->run_head = t;
    c->run_tail = t;
}

static struct thread *runqueue_pop(struct cpu *c)
{
    struct thread *t = c->run_head;
    if (t) {
        c->run_head = t->next;
        if (!c->run_head)
            c->run_tail = NULL;
    }
    return t;
}

void thread_start(struct thread *t)
{
    t->state = THREAD_RUNNABLE;
    t->blocked_on = BLOCK_NONE;
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

void schedule(void)
{
    struct cpu *c = this_cpu();
    struct thread *prev = c->current;
    if (prev->state == THREAD_RUNNABLE && prev != c->idle)
        runqueue_push(c, prev);
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
    t->state = THREAD_DEAD;
    for (unsigned i = 0; i < MAX_THREADS; i++) {
        struct thread *w = &threads[i];
        if (w->state == THREAD_BLOCKED && w->blocked_on == BLOCK_WAIT && w->wait_for == t->id)
            thread_wake(w);
    }
    schedule();
    panic("thread_exit: dead thread %u was scheduled", t->id);
}

void thread_reap(struct thread *t)
{
    assert(t->state == THREAD_DEAD && t != current_thread());
    if (t->vas)
        vas_release(t->vas);
    pmm_free_contig(V2P(t->kstack), KSTACK_PAGES);
    t->state = THREAD_FREE;
}

uint64_t sched_ticks(void) { return this_cpu()->ticks; }

// Timer interrupt: wake sleepers and console readers, preempt on slice end.
void timer_tick(void)
{
    struct cpu *c = this_cpu();
    c->ticks++;
    for (unsigned i = 0; i < MAX_THREADS; i++) {
        struct thread *t = &threads[i];
        if (t->state != THREAD_BLOCKED)
            continue;
        if ((t->blocked_on == BLOCK_SLEEP && c->ticks >= t->wake_tick) ||
            t->blocked_on == BLOCK_CONSOLE)
            thread_wake(t);   // console readers re-check the UART themselves
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

void sched_init(void)
{
    struct cpu *c = this_cpu();
    c->id = 0;
    // The boot context becomes the idle thread's first incarnation: a real
    // idle thread is created so the boot stack can be abandoned.
    struct thread *idle = thread_alloc("idle");
    if (!idle)
        panic("sched: no idle thread");
    arch_thread_init_kernel(idle, idle_loop, NULL);
    idle->state = THREAD_RUNNABLE;
    c->idle = idle;
}

_Noreturn void sched_run_idle(void)
{
    struct cpu *c = this_cpu();
    static struct thread boot;   // holds the abandoned boot context
    c->current = &boot;
    boot.state = THREAD_DEAD;
    schedule();
    panic("sched: returned to the boot context");
}
