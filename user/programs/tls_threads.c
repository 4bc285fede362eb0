// Thread-local storage in an ordinary program (docs/split.md, "Thread
// pointers"): its first thread's block comes from the loader, the blocks
// of the threads it starts from mf_thread_start (carved from their
// stacks). Each of three threads adds to its own __thread counter while
// they all take turns on one CPU; every thread must find its own counter,
// the initialised word from the template, and the main thread's must be
// untouched. Exit status 0, or the number of the first check that failed.
#include "user/lib/manifold.h"

#define THREADS 3
#define ROUNDS 100
#define TAG 0x746c735f74616773ul
static __thread uint64_t counter;               // .tbss
static __thread uint64_t tag = TAG;             // .tdata
static __thread uint64_t whoami = 99;
static volatile int failed, done;
static uint8_t stacks[THREADS][8192] __attribute__((aligned(16)));

static void worker(uint64_t i)
{
    if (tag != TAG || counter != 0 || whoami != 99)
        failed = failed ? failed : 10 + (int)i;
    whoami = i;
    for (int k = 0; k < ROUNDS; k++) {
        counter += i + 1;
        mf_yield();
        if (whoami != i || counter != (uint64_t)(k + 1) * (i + 1))
            failed = failed ? failed : 20 + (int)i;
    }
    __atomic_fetch_add(&done, 1, __ATOMIC_RELEASE);
}

int main(uint64_t arg)
{
    (void)arg;
    if (tag != TAG || whoami != 99)
        return 1;                               // the loader's block
    whoami = 1000;
    counter = 7;
    long t = mf_new_range(MF_OBJ_THREAD, 0, THREADS);
    if (t < 0)
        return 2;
    for (int i = 0; i < THREADS; i++) {
        if (mf_thread_set_sched(t + i, MF_SCHED_FIXED, 0) < 0 ||
            mf_thread_start(t + i, worker, stacks[i], sizeof(stacks[i]), (uint64_t)i) < 0)
            return 3;
    }
    for (int k = 0; k < 3000 && __atomic_load_n(&done, __ATOMIC_ACQUIRE) < THREADS; k++)
        mf_sleep(1);
    if (done != THREADS)
        return 4;
    if (failed)
        return failed;
    if (whoami != 1000 || counter != 7 || tag != TAG)
        return 5;
    printf("tls_threads: %d threads, each with its own __thread variables\n", THREADS);
    return 0;
}
