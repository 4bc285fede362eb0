// A user-level pager on Linux: userfaultfd. A page fault in a registered
// region becomes a message to a handler thread, which supplies the page
// with UFFDIO_COPY; that maps it and wakes the faulting thread. The
// counterpart of Manifold's fault -> pager IPC -> map -> reply -> resume.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

#define PAGE 4096ul

static int uffd;
static char source[PAGE] __attribute__((aligned(PAGE)));

// Serves exactly ITERATIONS faults, one page each.
static void *pager(void *arg)
{
    (void)arg;
    for (unsigned served = 0; served < ITERATIONS;) {
        struct uffd_msg msg;
        if (read(uffd, &msg, sizeof(msg)) != sizeof(msg))
            return (void *)1;
        if (msg.event != UFFD_EVENT_PAGEFAULT)
            continue;
        struct uffdio_copy copy = {
            .dst = msg.arg.pagefault.address & ~(PAGE - 1),
            .src = (uintptr_t)source,
            .len = PAGE,
        };
        if (ioctl(uffd, UFFDIO_COPY, &copy) != 0)
            return (void *)1;
        served++;
    }
    return NULL;
}

void bench_uffd(void)
{
    const char *name = "uffd.fault_resume_4k";
    size_t size = ITERATIONS * PAGE;
    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (uffd < 0) {
        skip(name, "userfaultfd: %s", strerror(errno));
        return;
    }
    struct uffdio_api api = {.api = UFFD_API};
    volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ioctl(uffd, UFFDIO_API, &api) != 0 || p == MAP_FAILED) {
        skip(name, "UFFDIO_API or mmap: %s", strerror(errno));
        close(uffd);
        return;
    }
    madvise((void *)p, size, MADV_NOHUGEPAGE);
    struct uffdio_register reg = {
        .range = {.start = (uintptr_t)p, .len = size},
        .mode = UFFDIO_REGISTER_MODE_MISSING,
    };
    pthread_t t;
    memset(source, 0x5a, sizeof(source));
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0 || pthread_create(&t, NULL, pager, NULL)) {
        skip(name, "UFFDIO_REGISTER or pthread_create: %s", strerror(errno));
        close(uffd);
        return;
    }
    bool ok = true;
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint64_t t0 = counter_read();
        p[i * PAGE] = 1;
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
        ok = ok && p[i * PAGE + 1] == 0x5a;     // the pager's page, not a zero page
    }
    void *pager_status;
    pthread_join(t, &pager_status);
    munmap((void *)p, size);
    close(uffd);
    if (ok && !pager_status)
        report(name);
    else
        skip(name, "the pager failed or the page did not hold its contents");
}
