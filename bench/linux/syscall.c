// System calls and the scheduler: getppid, sched_yield alone and as a
// ping-pong between two threads, thread creation.
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <unistd.h>

#include "bench.h"

// getppid(): entry, a read of current->real_parent->tgid, return. The
// closest real system call to Manifold's syscall.null (an unknown number).
static void null_syscall(void)
{
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint64_t t0 = counter_read();
        getppid();
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
    }
    report("syscall.getppid");
}

// sched_yield() with nothing else runnable on this CPU (init pins itself
// and everything it starts to CPU 0): the scheduler is entered and picks
// the caller again.
static void yield_alone(void)
{
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint64_t t0 = counter_read();
        sched_yield();
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
    }
    report("sched.yield_alone");
}

static atomic_bool yield_stop;

static void *yielder(void *arg)
{
    (void)arg;
    while (!atomic_load_explicit(&yield_stop, memory_order_relaxed))
        sched_yield();
    return NULL;
}

// Two threads of one process on one CPU, both yielding: one sample is the
// round trip from the measuring thread's sched_yield through the other
// thread's and back (two thread switches).
static void yield_pingpong(void)
{
    pthread_t t;
    atomic_store(&yield_stop, false);
    if (pthread_create(&t, NULL, yielder, NULL)) {
        skip("sched.yield_pingpong_threads", "pthread_create failed");
        return;
    }
    sched_yield();  // let the other thread start
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint64_t t0 = counter_read();
        sched_yield();
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
    }
    atomic_store(&yield_stop, true);
    pthread_join(t, NULL);
    report("sched.yield_pingpong_threads");
}

static void *empty_thread(void *arg)
{
    return arg;
}

// pthread_create of a thread that returns at once, and pthread_join: clone,
// first run, exit and reaping (the thread's stack is cached by glibc after
// the first runs, so the warm-up excludes its mmap).
static void thread_create(void)
{
    for (unsigned i = 0; i < ITERATIONS; i++) {
        pthread_t t;
        uint64_t t0 = counter_read();
        if (pthread_create(&t, NULL, empty_thread, NULL)) {
            skip("thread.create_join", "pthread_create failed");
            return;
        }
        pthread_join(t, NULL);
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
    }
    report("thread.create_join");
}

void bench_syscall(void)
{
    null_syscall();
    yield_alone();
    yield_pingpong();
    thread_create();
}
