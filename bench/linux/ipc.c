// IPC round trips through pipes: a request to an echo peer and its reply,
// the peer a second process (cross address space) or a second thread of
// this process (same address space). On one CPU a round trip is two
// writes, two reads and two switches: the Linux counterpart of an endpoint
// call + reply. The process variants carry the sizes of the LRPC paper's
// four calls (Null, Add, BigIn, BigInOut), as Manifold's ipc.* figures do.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_MESSAGE 256

struct pipes {
    int request[2];     // measuring side writes, echo side reads
    int reply[2];       // echo side writes, measuring side reads
    size_t in, out;     // request and reply sizes in bytes
};

// A pipe write of at most PIPE_BUF bytes is atomic, so one read returns
// the whole message once it is there.
static bool transfer(int fd, char *buf, size_t size, bool writing)
{
    ssize_t n = writing ? write(fd, buf, size) : read(fd, buf, size);
    return n == (ssize_t)size;
}

// Answers every request with a reply until the request pipe is closed.
static void echo(const struct pipes *p)
{
    char buf[MAX_MESSAGE] = {0};
    while (transfer(p->request[0], buf, p->in, false))
        if (!transfer(p->reply[1], buf, p->out, true))
            break;
}

static void *echo_thread(void *arg)
{
    echo(arg);
    return NULL;
}

static bool round_trips(const struct pipes *p)
{
    char buf[MAX_MESSAGE] = {0};
    for (unsigned i = 0; i < ITERATIONS; i++) {
        buf[0] = (char)i;
        uint64_t t0 = counter_read();
        if (!transfer(p->request[1], buf, p->in, true) || !transfer(p->reply[0], buf, p->out, false))
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

static void pipe_processes(const char *call, size_t in, size_t out)
{
    char name[64];
    snprintf(name, sizeof(name), "ipc.pipe_processes.%s", call);
    struct pipes p = {.in = in, .out = out};
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
    const char *name = "ipc.pipe_threads.null";
    struct pipes p = {.in = 1, .out = 1};
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
    // Null: a byte each way (a pipe carries no empty message). Add: two
    // 8-byte arguments, one result. BigIn: 200 bytes in. BigInOut: 200
    // bytes each way.
    pipe_processes("null", 1, 1);
    pipe_processes("add", 16, 8);
    pipe_processes("bigin", 200, 1);
    pipe_processes("biginout", 200, 200);
    pipe_threads();
}
