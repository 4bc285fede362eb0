// Host tests for lib/spinlock.c and lib/barrier.c on real concurrent threads
// (make host-test-sync). Every lock and every barrier algorithm runs with 1..8
// threads (barriers also with 17 and 64):
//   locks     N threads each add 1 to a plain counter M times under the lock
//             (read, pause, write, so an overlap loses updates); an atomic
//             occupancy count catches two holders at once; trylock alone and
//             under contention; FIFO hand-off order for MCS and ticket.
//   barriers  N threads run K episodes; before episode e each writes e into
//             its slot, after it each checks that every slot holds e and
//             that the arrival count lies in [e*N, (e+1)*N). Threads arrive
//             in random order with random delays.
// A watchdog (alarm) turns a hang -- a lost wake-up, a deadlock -- into a
// failure naming the test.
//
// Usage: test_sync [-q] [-t max_threads] [-s divisor]; -s divides every
// iteration count (the ThreadSanitizer build uses it to stay fast); -q prints
// only failures and the summary.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "lib/barrier.h"
#include "lib/spinlock.h"

// Generous: 8 spinning threads under ThreadSanitizer on a 2-core host that
// also runs QEMU took more than 20 s for one MCS run (a preempted waiter
// holds up the queue); a real hang is still caught.
#define WATCHDOG_SECONDS 180
#define MAX_THREADS 64

static int failures, checks;
static int max_threads = MAX_THREADS;
static int divisor = 1;
static bool quiet;
static char current[128];

#define CHECK(c) check((c), __FILE__, __LINE__, #c)

static void check(bool ok, const char *file, int line, const char *what)
{
    __atomic_fetch_add(&checks, 1, __ATOMIC_RELAXED);
    if (!ok) {
        __atomic_fetch_add(&failures, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "%s:%d: %s: %s\n", file, line, current, what);
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "test_sync: watchdog: hung in ";
    ssize_t r = write(2, msg, sizeof(msg) - 1);
    r = write(2, current, strlen(current));
    r = write(2, "\n", 1);
    (void)r;
    _exit(2);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t xorshift(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

// Runs fn(arg_i) on n threads, with a watchdog over the whole run. The
// threads start together (a pthread barrier, not the code under test), so
// the early ones do not finish before the late ones exist.
struct start {
    pthread_barrier_t *gate;
    void *(*fn)(void *);
    void *arg;
};

static void *start_thread(void *p)
{
    struct start *s = p;
    pthread_barrier_wait(s->gate);
    return s->fn(s->arg);
}

static void run_threads(int n, void *(*fn)(void *), void *args, size_t arg_size)
{
    static struct start starts[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    pthread_barrier_t gate;
    pthread_barrier_init(&gate, NULL, n);
    alarm(WATCHDOG_SECONDS);
    for (int i = 0; i < n; i++)
        starts[i] = (struct start){ &gate, fn, (char *)args + i * arg_size };
    for (int i = 0; i < n; i++) {
        if (pthread_create(&tid[i], NULL, start_thread, &starts[i])) {
            perror("pthread_create");
            exit(1);
        }
    }
    for (int i = 0; i < n; i++)
        pthread_join(tid[i], NULL);
    alarm(0);
    pthread_barrier_destroy(&gate);
}

// ------------------------------------------------------------------ locks

struct lock_test {
    struct any_lock lock;
    struct any_lock second;         // nested test: taken inside `lock`
    uint64_t counter;               // plain: only the lock protects it
    uint64_t nested_counter;
    uint32_t inside;                // atomic occupancy of each critical section
    uint32_t nested_inside;
    uint32_t overlaps;
    uint32_t try_failures;
    int iterations;
    bool use_try;
    bool nested;
};

struct lock_arg {
    struct lock_test *t;
    int id;
};

static void critical_section(struct lock_test *t, uint32_t *inside, uint64_t *counter)
{
    if (__atomic_fetch_add(inside, 1, __ATOMIC_RELAXED) != 0)
        __atomic_fetch_add(&t->overlaps, 1, __ATOMIC_RELAXED);
    uint64_t v = *counter;
    for (int k = 0; k < 20; k++)
        __asm__ volatile("" ::: "memory");  // widen the window for a lost update
    *counter = v + 1;
    __atomic_fetch_sub(inside, 1, __ATOMIC_RELAXED);
}

static void *lock_thread(void *p)
{
    struct lock_arg *a = p;
    struct lock_test *t = a->t;
    struct mcs_qnode q, q2;         // on the stack, as kernel callers may do
    for (int i = 0; i < t->iterations; i++) {
        if (t->use_try) {
            while (!any_lock_try(&t->lock, &q)) {
                __atomic_fetch_add(&t->try_failures, 1, __ATOMIC_RELAXED);
                cpu_relax();
            }
        } else {
            any_lock_acquire(&t->lock, &q);
        }
        critical_section(t, &t->inside, &t->counter);
        if (t->nested) {
            // A second lock with its own qnode, released out of order
            // (outer first): MCS qnodes are independent of each other.
            any_lock_acquire(&t->second, &q2);
            any_lock_release(&t->lock, &q);
            critical_section(t, &t->nested_inside, &t->nested_counter);
            any_lock_release(&t->second, &q2);
        } else {
            any_lock_release(&t->lock, &q);
        }
    }
    return NULL;
}

static void test_lock_counting(enum lock_kind kind, int n, int iterations, bool use_try,
                               bool nested)
{
    static struct lock_test t;
    struct lock_arg args[MAX_THREADS];
    memset(&t, 0, sizeof(t));
    CHECK(any_lock_init(&t.lock, kind));
    CHECK(any_lock_init(&t.second, kind));
    t.iterations = iterations;
    t.use_try = use_try;
    t.nested = nested;
    for (int i = 0; i < n; i++)
        args[i] = (struct lock_arg){ &t, i };
    snprintf(current, sizeof(current), "lock %s%s%s threads=%d iterations=%d",
             lock_kind_name(kind), use_try ? " trylock" : "", nested ? " nested" : "",
             n, iterations);
    double start = now();
    run_threads(n, lock_thread, args, sizeof(args[0]));
    CHECK(t.counter == (uint64_t)n * iterations);
    CHECK(!nested || t.nested_counter == (uint64_t)n * iterations);
    CHECK(t.overlaps == 0);
    if (t.counter != (uint64_t)n * iterations)
        fprintf(stderr, "  counter %llu, want %llu\n", (unsigned long long)t.counter,
                (unsigned long long)n * iterations);
    if (!quiet)
        printf("  %-52s %6.3f s\n", current, now() - start);
}

// trylock alone: succeeds on a free lock, fails on a held one (and leaves it
// held), succeeds again after the release.
static void test_trylock_semantics(enum lock_kind kind)
{
    struct any_lock l;
    struct mcs_qnode q1, q2;
    snprintf(current, sizeof(current), "trylock semantics %s", lock_kind_name(kind));
    CHECK(any_lock_init(&l, kind));
    CHECK(any_lock_try(&l, &q1));
    CHECK(!any_lock_try(&l, &q2));
    CHECK(!any_lock_try(&l, &q2));
    any_lock_release(&l, &q1);
    CHECK(any_lock_try(&l, &q2));
    any_lock_release(&l, &q2);
    any_lock_acquire(&l, &q1);
    CHECK(!any_lock_try(&l, &q2));
    any_lock_release(&l, &q1);
    CHECK(any_lock_try(&l, &q1));
    any_lock_release(&l, &q1);
}

static void test_lock_api(void)
{
    struct mcs_lock m = MCS_LOCK_INIT;
    struct ticket_lock t = TICKET_LOCK_INIT;
    struct tas_lock s = TAS_LOCK_INIT;
    struct mcs_qnode q;
    snprintf(current, sizeof(current), "lock api");
    CHECK(!mcs_is_locked(&m) && !ticket_is_locked(&t) && !tas_is_locked(&s));
    mcs_lock(&m, &q);
    ticket_lock(&t);
    tas_lock(&s);
    CHECK(mcs_is_locked(&m) && ticket_is_locked(&t) && tas_is_locked(&s));
    mcs_unlock(&m, &q);
    ticket_unlock(&t);
    tas_unlock(&s);
    CHECK(!mcs_is_locked(&m) && !ticket_is_locked(&t) && !tas_is_locked(&s));
    struct any_lock a;
    memset(&a, 0x5a, sizeof(a));
    CHECK(!any_lock_init(&a, LOCK_KINDS));
    CHECK(a.kind == (enum lock_kind)0x5a5a5a5a);    // unchanged on failure
    CHECK(strcmp(lock_kind_name(LOCK_MCS), "mcs") == 0);
    CHECK(strcmp(lock_kind_name(LOCK_KINDS), "?") == 0);
}

// FIFO: with the lock held, waiters queue one at a time (each is known to be
// queued before the next starts); after the release they must get the lock
// in queueing order.
#define FIFO_WAITERS 4

struct fifo_test {
    struct any_lock lock;
    struct mcs_qnode q[FIFO_WAITERS + 1];
    int order[FIFO_WAITERS];
    int served;
};

struct fifo_arg {
    struct fifo_test *t;
    int id;
};

static void *fifo_thread(void *p)
{
    struct fifo_arg *a = p;
    any_lock_acquire(&a->t->lock, &a->t->q[a->id + 1]);
    a->t->order[a->t->served++] = a->id;
    any_lock_release(&a->t->lock, &a->t->q[a->id + 1]);
    return NULL;
}

static bool fifo_queued(struct fifo_test *t, int id)
{
    if (t->lock.kind == LOCK_MCS)
        return __atomic_load_n(&t->lock.u.mcs.tail, __ATOMIC_RELAXED) == &t->q[id + 1];
    return __atomic_load_n(&t->lock.u.ticket.next, __ATOMIC_RELAXED) == (uint32_t)id + 2;
}

static void test_fifo(enum lock_kind kind)
{
    static struct fifo_test t;
    struct fifo_arg args[FIFO_WAITERS];
    pthread_t tid[FIFO_WAITERS];
    memset(&t, 0, sizeof(t));
    snprintf(current, sizeof(current), "fifo %s", lock_kind_name(kind));
    CHECK(any_lock_init(&t.lock, kind));
    alarm(WATCHDOG_SECONDS);
    any_lock_acquire(&t.lock, &t.q[0]);
    for (int i = 0; i < FIFO_WAITERS; i++) {
        args[i] = (struct fifo_arg){ &t, i };
        pthread_create(&tid[i], NULL, fifo_thread, &args[i]);
        while (!fifo_queued(&t, i))
            sched_yield();
    }
    any_lock_release(&t.lock, &t.q[0]);
    for (int i = 0; i < FIFO_WAITERS; i++)
        pthread_join(tid[i], NULL);
    alarm(0);
    CHECK(t.served == FIFO_WAITERS);
    for (int i = 0; i < FIFO_WAITERS; i++)
        CHECK(t.order[i] == i);
}

static void test_locks(void)
{
    test_lock_api();
    for (int kind = 0; kind < LOCK_KINDS; kind++) {
        test_trylock_semantics(kind);
        for (int n = 1; n <= max_threads && n <= 8; n++)
            test_lock_counting(kind, n, 5000 / divisor, false, false);
        int n = max_threads < 4 ? max_threads : 4;
        test_lock_counting(kind, n, 5000 / divisor, true, false);
        test_lock_counting(kind, n, 5000 / divisor, false, true);
        if (kind != LOCK_TAS)
            test_fifo(kind);
    }
}

// --------------------------------------------------------------- barriers

struct barrier_test {
    struct any_barrier barrier;
    uint32_t slot[2][MAX_THREADS];  // plain: the barrier orders them
    uint64_t arrived;               // atomic arrival count
    uint32_t n;
    uint32_t episodes;
    uint32_t max_delay;             // random pre-arrival delay, in loop turns
    uint32_t bad_slot, bad_count;
};

struct barrier_arg {
    struct barrier_test *t;
    uint32_t id;
};

static void *barrier_thread(void *p)
{
    struct barrier_arg *a = p;
    struct barrier_test *t = a->t;
    uint32_t id = a->id, n = t->n, seed = 0x9e3779b9u * (id + 1);
    for (uint32_t e = 1; e <= t->episodes; e++) {
        // Arrive in a random order: some threads dawdle, a few yield.
        uint32_t r = xorshift(&seed);
        if (t->max_delay) {
            for (uint32_t k = r % t->max_delay; k > 0; k--)
                __asm__ volatile("" ::: "memory");
            if (r % 16 == 0)
                sched_yield();
        }
        t->slot[e & 1][id] = e;
        __atomic_fetch_add(&t->arrived, 1, __ATOMIC_RELAXED);
        any_barrier_wait(&t->barrier, id);
        // All n arrived at episode e; nobody can be past episode e+1's
        // arrival, since we have not arrived there yet.
        uint64_t arrived = __atomic_load_n(&t->arrived, __ATOMIC_RELAXED);
        if (arrived < (uint64_t)e * n || arrived >= (uint64_t)(e + 1) * n)
            __atomic_fetch_add(&t->bad_count, 1, __ATOMIC_RELAXED);
        // Writes before the barrier are visible after it, and the slot of
        // parity e is not rewritten before everyone passes episode e+1.
        for (uint32_t j = 0; j < n; j++) {
            if (t->slot[e & 1][j] != e)
                __atomic_fetch_add(&t->bad_slot, 1, __ATOMIC_RELAXED);
        }
    }
    return NULL;
}

static void test_barrier(enum barrier_kind kind, uint32_t n, uint32_t episodes, uint32_t max_delay)
{
    static struct barrier_test t;
    struct barrier_arg args[MAX_THREADS];
    memset(&t, 0, sizeof(t));
    CHECK(any_barrier_init(&t.barrier, kind, n));
    t.n = n;
    t.episodes = episodes;
    t.max_delay = max_delay;
    for (uint32_t i = 0; i < n; i++)
        args[i] = (struct barrier_arg){ &t, i };
    snprintf(current, sizeof(current), "barrier %s threads=%u episodes=%u%s",
             barrier_kind_name(kind), n, episodes, max_delay ? " jitter" : "");
    double start = now();
    run_threads(n, barrier_thread, args, sizeof(args[0]));
    CHECK(t.bad_slot == 0);
    CHECK(t.bad_count == 0);
    CHECK(t.arrived == (uint64_t)n * episodes);
    if (t.bad_slot || t.bad_count)
        fprintf(stderr, "  %u stale slots, %u bad arrival counts\n", t.bad_slot, t.bad_count);
    if (!quiet)
        printf("  %-52s %6.3f s\n", current, now() - start);
}

static void test_barrier_init(void)
{
    static struct any_barrier b;
    snprintf(current, sizeof(current), "barrier init");
    for (int kind = 0; kind < BARRIER_KINDS; kind++) {
        CHECK(!any_barrier_init(&b, kind, 0));
        CHECK(!any_barrier_init(&b, kind, BARRIER_MAX_PARTICIPANTS + 1));
        CHECK(any_barrier_init(&b, kind, BARRIER_MAX_PARTICIPANTS));
        CHECK(b.kind == (enum barrier_kind)kind);
    }
    CHECK(!any_barrier_init(&b, BARRIER_KINDS, 4));
    CHECK(b.kind == BARRIER_KINDS - 1);            // unchanged on failure
    // Combining tree shape for 64: 16 leaves, 4 inner nodes, one root.
    CHECK(barrier_combining_init(&b.u.combining, 64));
    CHECK(b.u.combining.node[0].parent == 16 && b.u.combining.node[15].parent == 19);
    CHECK(b.u.combining.node[16].parent == 20 && b.u.combining.node[20].parent == -1);
    CHECK(barrier_combining_init(&b.u.combining, 6));
    CHECK(b.u.combining.node[1].fanin == 2 && b.u.combining.node[2].fanin == 2);
    CHECK(b.u.combining.node[2].parent == -1);
}

static void test_barriers(void)
{
    static const uint32_t big[] = { 17, 64 };
    test_barrier_init();
    for (int kind = 0; kind < BARRIER_KINDS; kind++) {
        for (int n = 1; n <= max_threads && n <= 8; n++)
            test_barrier(kind, n, 2000 / divisor, 0);
        int n = max_threads < 8 ? max_threads : 8;
        test_barrier(kind, n, 1000 / divisor, 200);
        for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
            if ((int)big[i] <= max_threads)
                test_barrier(kind, big[i], 200 / divisor, 200);
        }
    }
}

int main(int argc, char **argv)
{
    int opt;
    while ((opt = getopt(argc, argv, "qt:s:")) != -1) {
        if (opt == 'q')
            quiet = true;
        else if (opt == 't')
            max_threads = atoi(optarg);
        else if (opt == 's')
            divisor = atoi(optarg);
        else
            return fprintf(stderr, "usage: %s [-q] [-t max_threads] [-s divisor]\n", argv[0]), 2;
    }
    if (max_threads < 1 || max_threads > MAX_THREADS || divisor < 1)
        return fprintf(stderr, "bad -t or -s\n"), 2;
    signal(SIGALRM, on_alarm);
    double start = now();
    test_locks();
    test_barriers();
    printf("sync tests: %d checks, %d failed, %.1f s (max %d threads, iterations / %d)\n",
           checks, failures, now() - start, max_threads, divisor);
    return failures != 0;
}
