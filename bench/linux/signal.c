// A user-level fault handler on Linux by signals: the page is PROT_NONE,
// a store to it raises SIGSEGV, the handler mprotect()s the page writable
// and returns, and the store is retried and completes. The other Linux
// counterpart (beside userfaultfd) of Manifold's fault -> pager -> map ->
// resume, handled in the faulting thread itself as Aegis dispatches an
// exception to the faulting application.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define PAGE 4096ul

static volatile char *page;
static volatile unsigned handled;
static volatile bool wrong_address;

static void on_segv(int sig, siginfo_t *info, void *context)
{
    (void)sig;
    (void)context;
    // Anything but our page is a real fault: let it kill us.
    if ((char *)info->si_addr < (char *)page || (char *)info->si_addr >= (char *)page + PAGE) {
        wrong_address = true;
        signal(SIGSEGV, SIG_DFL);
        return;
    }
    if (mprotect((void *)page, PAGE, PROT_READ | PROT_WRITE) == 0)
        handled++;
}

void bench_segv(void)
{
    const char *name = "signal.segv_mprotect_4k";
    page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (page == MAP_FAILED) {
        skip(name, "mmap: %s", strerror(errno));
        return;
    }
    page[1] = 0x5a;     // present before the first sample: no zero-fill in the loop
    struct sigaction sa = {.sa_sigaction = on_segv, .sa_flags = SA_SIGINFO}, old;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old) != 0) {
        skip(name, "sigaction: %s", strerror(errno));
        munmap((void *)page, PAGE);
        return;
    }
    // Checked (untimed): each sample took exactly one signal, and the
    // store reached the page that was there before.
    bool ok = true;
    for (unsigned i = 0; ok && i < ITERATIONS; i++) {
        ok = mprotect((void *)page, PAGE, PROT_NONE) == 0;
        uint64_t t0 = counter_read();
        page[0] = (char)i;
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
        ok = ok && handled == i + 1 && page[0] == (char)i && page[1] == 0x5a && !wrong_address;
    }
    sigaction(SIGSEGV, &old, NULL);
    munmap((void *)page, PAGE);
    if (ok)
        report(name);
    else
        skip(name, "a store did not take exactly one SIGSEGV (%u handled)", handled);
}
