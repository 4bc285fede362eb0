// Tutorial 5 (docs/tutorial/5-threads.md): threads of our own, their
// stacks, priorities, suspend and resume, and how each one ended.
#include "manifold.h"

struct worker {
    volatile uint64_t count;       // how far it got
    volatile bool stop;
    volatile long cpu;             // where it ran
    int code;                      // its exit status
    uint8_t stack[8192] __attribute__((aligned(16)));
};
static struct worker high, low = {.code = 5}, faulty;

static void count(uint64_t w_)
{
    struct worker *w = (struct worker *)(uintptr_t)w_;
    w->cpu = mf_cpu_id();
    while (!w->stop)
        w->count++;
    if (w->code)
        mf_exit(w->code);          // ends this thread only, with a status
}                                  // returning ends it too: mf_exit(0)

static void crash(uint64_t w_)
{
    ((struct worker *)(uintptr_t)w_)->count = *(volatile uint64_t *)0;   // a page fault
}

// Lets a suspend or resume take effect (the counters run on another CPU),
// then watches both counters for at least 10 timer ticks: which moved?
static int phase(const char *what, bool high_runs)
{
    mf_sleep(3);
    uint64_t h = high.count, l = low.count;
    volatile uint64_t *runner = high_runs ? &high.count : &low.count;
    uint64_t start = *runner;
    for (int i = 0; i < 10 || (i < 100 && *runner == start); i++)   // a busy host may be slow
        mf_sleep(1);
    bool hm = high.count != h, lm = low.count != l;
    printf("tut_threads: %s: high %s, low %s\n", what, hm ? "ran" : "did not run", lm ? "ran" : "did not run");
    return hm == high_runs && lm == !high_runs ? 0 : 1;
}

int main(uint64_t arg)
{
    (void)arg;
    struct mf_thread_info me;
    struct mf_system_info si;
    if (mf_thread_info(MF_THREAD_SELF, &me) || mf_system_info(&si))
        return 1;
    printf("tut_threads: I am thread %u on CPU %ld, priority %u\n", me.id, mf_cpu_id(), me.priority);

    // 1. Three thread objects, one exit notification: each thread signals
    //    its own bit (a badged copy) whenever it ends.
    long th = mf_new(MF_OBJ_THREAD, 0), tl = mf_new(MF_OBJ_THREAD, 0), tf = mf_new(MF_OBJ_THREAD, 0);
    long ended = mf_new(MF_OBJ_NOTIFICATION, 0);
    if (th < 0 || tl < 0 || tf < 0 || ended < 0 || mf_thread_bind_exit(th, mf_mint(ended, MF_RIGHTS_ALL, 1)) ||
        mf_thread_bind_exit(tl, mf_mint(ended, MF_RIGHTS_ALL, 2)) ||
        mf_thread_bind_exit(tf, mf_mint(ended, MF_RIGHTS_ALL, 4)))
        return 2;

    // 2. Priorities: at most our own. Both counters fixed to one CPU, so
    //    they compete for it; the low one starts first.
    unsigned cpu = si.cpus - 1, lo = me.priority / 2;
    long above = mf_thread_set_priority(th, me.priority + 1);
    printf("tut_threads: priority %u for a thread: %s\n", me.priority + 1, mf_strerror(above));
    if (mf_thread_set_priority(tl, lo) || mf_thread_set_sched(th, MF_SCHED_FIXED, cpu) ||
        mf_thread_set_sched(tl, MF_SCHED_FIXED, cpu) ||
        mf_thread_start(tl, count, low.stack, sizeof(low.stack), (uint64_t)(uintptr_t)&low) ||
        mf_thread_start(th, count, high.stack, sizeof(high.stack), (uint64_t)(uintptr_t)&high))
        return 3;
    int bad = above != -E_PERM;

    // 3. The higher priority runs while it can; suspended, it gives way.
    bad += phase("both runnable", true);
    mf_thread_suspend(th);
    bad += phase("high suspended", false);
    mf_thread_resume(th);
    bad += phase("high resumed", true);
    printf("tut_threads: high (priority %u) and low (priority %u) ran on CPU %ld and %ld\n", me.priority, lo,
           high.cpu, low.cpu);
    bad += high.cpu != cpu || low.cpu != cpu;

    // 4. The faulting thread dies alone; we wait for all three to end.
    high.stop = low.stop = true;
    if (mf_thread_start_named(tf, "faulty", crash, faulty.stack, sizeof(faulty.stack), (uint64_t)(uintptr_t)&faulty))
        return 4;
    long bits = 0;
    while (bits != 7)
        bits |= mf_notification_wait(ended);
    struct mf_exit_status s[3];
    const long t[3] = {th, tl, tf};
    const char *name[3] = {"high", "low", "faulty"};
    for (int i = 0; i < 3; i++) {
        if (mf_thread_exit_status(t[i], &s[i]))
            return 5;
        if (s[i].how == EXIT_NORMAL)
            printf("tut_threads: %s exited with status %d\n", name[i], s[i].code);
        else
            printf("tut_threads: %s was killed (fault %d at %#lx)\n", name[i], s[i].code, (unsigned long)s[i].address);
    }
    bad += !(s[0].how == EXIT_NORMAL && s[0].code == 0 && s[1].how == EXIT_NORMAL && s[1].code == 5 &&
             s[2].how == EXIT_FAULT && s[2].code == MF_FAULT_PAGE && s[2].address == 0);
    printf("tut_threads: and I am still here, on CPU %ld\n", mf_cpu_id());
    return bad;
}
