// Synchronisation between two threads on one CPU: a futex wake/wait
// ping-pong and a two-thread pthread barrier.
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

static void futex_wait(atomic_int *word, int expected)
{
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void futex_wake(atomic_int *word)
{
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

// turn: 0 = the measuring thread's turn, 1 = the partner's, 2 = stop.
static atomic_int turn;

static void *futex_partner(void *arg)
{
    (void)arg;
    for (;;) {
        int t;
        while ((t = atomic_load(&turn)) == 0)
            futex_wait(&turn, 0);
        if (t == 2)
            return NULL;
        atomic_store(&turn, 0);
        futex_wake(&turn);
    }
}

// One sample: hand the turn over (store + FUTEX_WAKE), sleep in FUTEX_WAIT
// until it comes back. Two wakes, two waits and two switches.
static void futex_pingpong(void)
{
    const char *name = "sync.futex_pingpong_threads";
    pthread_t t;
    atomic_store(&turn, 0);
    if (pthread_create(&t, NULL, futex_partner, NULL)) {
        skip(name, "pthread_create failed");
        return;
    }
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint64_t t0 = counter_read();
        atomic_store(&turn, 1);
        futex_wake(&turn);
        while (atomic_load(&turn) == 1)
            futex_wait(&turn, 1);
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
    }
    atomic_store(&turn, 2);
    futex_wake(&turn);
    pthread_join(t, NULL);
    report(name);
}

static pthread_barrier_t barrier;

static void *barrier_partner(void *arg)
{
    (void)arg;
    for (unsigned i = 0; i < ITERATIONS; i++)
        pthread_barrier_wait(&barrier);
    return NULL;
}

// One sample: one episode of a two-thread barrier, seen by one of them.
static void pthread_barrier(void)
{
    const char *name = "sync.pthread_barrier_2threads";
    pthread_t t;
    if (pthread_barrier_init(&barrier, NULL, 2) || pthread_create(&t, NULL, barrier_partner, NULL)) {
        skip(name, "pthread_barrier_init or pthread_create failed");
        return;
    }
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint64_t t0 = counter_read();
        pthread_barrier_wait(&barrier);
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
    }
    pthread_join(t, NULL);
    pthread_barrier_destroy(&barrier);
    report(name);
}

void bench_sync(void)
{
    futex_pingpong();
    pthread_barrier();
}
