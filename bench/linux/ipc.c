// IPC round trips through pipes: one byte to an echo peer and back, the
// peer a second process (cross address space) or a second thread of this
// process (same address space). On one CPU a round trip is two writes, two
// reads and two switches: the Linux counterpart of an endpoint call + reply.
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

struct pipes {
    int request[2];     // measuring side writes, echo side reads
    int reply[2];       // echo side writes, measuring side reads
};

// Echoes one byte at a time until the request pipe is closed.
static void echo(const struct pipes *p)
{
    char c;
    while (read(p->request[0], &c, 1) == 1)
        if (write(p->reply[1], &c, 1) != 1)
            break;
}

static void *echo_thread(void *arg)
{
    echo(arg);
    return NULL;
}

static bool round_trips(const struct pipes *p)
{
    for (unsigned i = 0; i < ITERATIONS; i++) {
        char c = (char)i;
        uint64_t t0 = counter_read();
        if (write(p->request[1], &c, 1) != 1 || read(p->reply[0], &c, 1) != 1)
            return false;
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
    }
    return true;
}

static bool open_pipes(struct pipes *p)
{
    return pipe(p->request) == 0 && pipe(p->reply) == 0;
}

static void close_pipes(struct pipes *p)
{
    close(p->request[0]);
    close(p->request[1]);
    close(p->reply[0]);
    close(p->reply[1]);
}

static void pipe_processes(void)
{
    const char *name = "ipc.pipe_pingpong_processes";
    struct pipes p;
    if (!open_pipes(&p)) {
        skip(name, "pipe failed");
        return;
    }
    pid_t pid = fork();
    if (pid < 0) {
        skip(name, "fork failed");
        close_pipes(&p);
        return;
    }
    if (pid == 0) {
        close(p.request[1]);
        echo(&p);
        _exit(0);
    }
    bool ok = round_trips(&p);
    close_pipes(&p);        // the echo process reads end-of-file and exits
    waitpid(pid, NULL, 0);
    if (ok)
        report(name);
    else
        skip(name, "a pipe read or write failed");
}

static void pipe_threads(void)
{
    const char *name = "ipc.pipe_pingpong_threads";
    struct pipes p;
    pthread_t t;
    if (!open_pipes(&p)) {
        skip(name, "pipe failed");
        return;
    }
    if (pthread_create(&t, NULL, echo_thread, &p)) {
        skip(name, "pthread_create failed");
        close_pipes(&p);
        return;
    }
    bool ok = round_trips(&p);
    close(p.request[1]);    // the echo thread reads end-of-file and returns
    pthread_join(t, NULL);
    close(p.request[0]);
    close(p.reply[0]);
    close(p.reply[1]);
    if (ok)
        report(name);
    else
        skip(name, "a pipe read or write failed");
}

void bench_ipc(void)
{
    pipe_processes();
    pipe_threads();
}
