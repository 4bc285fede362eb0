// /init of the Linux benchmark initramfs (PID 1). It prepares the machine,
// runs every benchmark, prints `linux-bench: done` and powers off; a
// failure to prepare is printed as `linux-bench: error: ...` and nothing
// is measured. tools/bench reads these lines from the serial console.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/random.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "bench.h"

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0 || write(fd, text, strlen(text)) < 0)
        printf("linux-bench: cannot write %s: %s\n", path, strerror(errno));
    if (fd >= 0)
        close(fd);
}

static _Noreturn void power_off(void)
{
    fflush(stdout);
    sync();
    reboot(RB_POWER_OFF);
    for (;;)
        pause();
}

// tools/bench takes away the guest's host randomness (RDRAND, the device
// tree's rng-seed) so that runs repeat exactly; the kernel's generator would
// then stay unseeded and every get_random_*() would run ChaCha in full.
// Credit it a fixed seed instead, as a seeded machine would be.
static void seed_random(void)
{
    struct {
        struct rand_pool_info info;
        uint32_t words[8];
    } seed = {.info = {.entropy_count = 256, .buf_size = sizeof(seed.words)}};
    for (unsigned i = 0; i < 8; i++)
        seed.words[i] = 0x9e3779b9u * (i + 1);
    int fd = open("/dev/random", O_WRONLY);
    if (fd < 0 || ioctl(fd, RNDADDENTROPY, &seed) != 0)
        printf("linux-bench: cannot seed the random generator: %s\n", strerror(errno));
    if (fd >= 0)
        close(fd);
}

#if defined(__aarch64__)
// PMCCNTR_EL0 is EL1-only until PMUSERENR_EL0 allows EL0 reads; Linux
// clears it. pmu_el0.ko sets the PMU up on every CPU as Manifold's kernel
// does (arch/aarch64/cpu.c); then a read must not trap and must advance.
static bool counter_setup(void)
{
    int fd = open("/pmu_el0.ko", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0) {
        printf("linux-bench: error: cannot load pmu_el0.ko: %s\n", strerror(errno));
        return false;
    }
    close(fd);
    return true;
}
#define COUNTER_NAME "pmccntr_el0"
#else
static bool counter_setup(void) { return true; }
#define COUNTER_NAME "rdtsc"
#endif

// The counter must advance over a short loop, or every figure would be 0.
static bool counter_works(void)
{
    uint64_t a = counter_read();
    for (volatile int i = 0; i < 1000; i++)
        ;
    uint64_t b = counter_read();
    if (b <= a) {
        printf("linux-bench: error: the counter does not advance (%llu then %llu)\n",
               (unsigned long long)a, (unsigned long long)b);
        return false;
    }
    return true;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    struct utsname u;
    uname(&u);
    // Everything runs on CPU 0, as Manifold's benchmarks do on its boot CPU
    // (and tools/bench boots Linux with maxcpus=1 in any case).
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    CPU_SET(0, &cpus);
    sched_setaffinity(0, sizeof(cpus), &cpus);
    seed_random();
    // Two 2 MiB pages for vm.mmap_munmap_2m.
    write_file("/proc/sys/vm/nr_hugepages", "2");
    printf("linux-bench: Linux %s %s, %ld CPU(s) online, counter %s\n", u.release, u.machine,
           sysconf(_SC_NPROCESSORS_ONLN), COUNTER_NAME);
    if (!counter_setup() || !counter_works())
        power_off();
    measure_counter_overhead();
    bench_syscall();
    bench_ipc();
    bench_sync();
    bench_vm();
    bench_uffd();
    bench_segv();
    bench_ckpt();
    bench_http();
    printf("linux-bench: done\n");
    power_off();
}
