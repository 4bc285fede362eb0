// Memory mapping: map and unmap an existing 4 KiB or 2 MiB page, and the
// first touch of an anonymous page.
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

#define PAGE 4096ul
#define HUGE_PAGE (2ul << 20)

// mmap(MAP_SHARED | MAP_POPULATE) of a memfd page that already exists, then
// munmap: a VMA is created, the page-table entry written (a PMD block for
// the hugetlb 2 MiB page), and both torn down with a TLB flush. Manifold's
// counterpart maps an existing frame capability, so no page is allocated or
// zeroed inside the timed region on either side.
static void map_unmap(const char *name, size_t size, unsigned memfd_flags)
{
    int fd = memfd_create(name, memfd_flags);
    if (fd < 0 || ftruncate(fd, (off_t)size) != 0) {
        skip(name, "memfd_create/ftruncate: %s", strerror(errno));
        return;
    }
    // Allocate the page once, outside the measurement.
    char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        skip(name, "mmap: %s", strerror(errno));
        close(fd);
        return;
    }
    memset(p, 1, size);
    munmap(p, size);
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint64_t t0 = counter_read();
        p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
        if (p == MAP_FAILED) {
            skip(name, "mmap in the loop: %s", strerror(errno));
            close(fd);
            return;
        }
        munmap(p, size);
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
    }
    close(fd);
    report(name);
}

// Each sample writes one byte to a page never touched before: the fault,
// allocating and zeroing a 4 KiB page, mapping it, returning to the store.
// MADV_NOHUGEPAGE keeps transparent huge pages out of it.
static void first_touch(void)
{
    const char *name = "vm.fault_first_touch_4k";
    size_t size = ITERATIONS * PAGE;
    volatile char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        skip(name, "mmap: %s", strerror(errno));
        return;
    }
    madvise((void *)p, size, MADV_NOHUGEPAGE);
    for (unsigned i = 0; i < ITERATIONS; i++) {
        uint64_t t0 = counter_read();
        p[i * PAGE] = 1;
        uint64_t t1 = counter_read();
        sample(i, t1 - t0);
    }
    munmap((void *)p, size);
    report(name);
}

void bench_vm(void)
{
    map_unmap("vm.mmap_munmap_4k", PAGE, 0);
    // Needs a reserved huge page: init.c sets vm.nr_hugepages.
    map_unmap("vm.mmap_munmap_2m", HUGE_PAGE, MFD_HUGETLB);
    first_touch();
}
