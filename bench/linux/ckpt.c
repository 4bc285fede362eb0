// Checkpoint/restart on Linux: Debian's criu (bench/linux/fetch-criu puts it
// and its libraries in the initramfs) on /ckpt_victim (ckpt/victim.c), the
// counterpart of Manifold's ckpt.* figures (user/root/bench_ckpt.c,
// docs/checkpoint.md). For 1 MiB and 16 MiB of marked 4 KiB pages, three
// rounds each: the victim marks its pages, `criu dump --display-stats`
// freezes it, writes its image to /ckpt/img (the initramfs's tmpfs) and
// kills it; `criu restore -d --display-stats` brings it back with the same
// PID; a SIGUSR1 makes the restored process check every page's mark and
// exit 0, which makes the figures "verified":true. Figures:
//   ckpt.frozen_<n>mib     criu's "Frozen time": from the tasks seized to
//                          killed after the dump (its memory written
//                          meanwhile), like Manifold's first suspend to
//                          last resume
//   ckpt.restore_<n>mib    criu's "Restore time"
//   ckpt.save_pages_per_s, ckpt.restore_pages_per_s (16 MiB): "Memory
//                          pages written" over the frozen time, "Pages
//                          restored" over the restore time
// criu reports microseconds of the guest's clock; they are converted to the
// counter's unit (cycles; instructions under -icount, where the guest's
// clock is virtual time) with the counter's rate measured against that
// clock here, as Manifold's kernel measures its own against a timer.
// A criu that cannot run says why (`linux-bench: skip ckpt.*: ...`, criu's
// own error lines before it); nothing is printed in place of a figure.
// Besides the modules (bench/linux/fetch-kernel: the socket-diagnostics
// ones and nf_tables), criu needs the loopback interface up and /dev/null.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define CRIU "/usr/sbin/criu"
#define VICTIM "/ckpt_victim"
#define WORK "/ckpt"
#define IMAGES WORK "/img"
#define ROUNDS 3
#define TIMEOUT_S 300       // per criu command or wait; TCG is slow, a hang is not

static uint64_t counter_hz;

static uint64_t now_ns(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

// The counter's ticks per second of CLOCK_REALTIME (criu times with
// gettimeofday), over 100 ms.
static uint64_t measure_counter_hz(void)
{
    uint64_t t0 = now_ns(CLOCK_REALTIME), c0 = counter_read(), t1, c1;
    do {
        t1 = now_ns(CLOCK_REALTIME);
        c1 = counter_read();
    } while (t1 - t0 < 100000000u);
    return (uint64_t)((double)(c1 - c0) * 1e9 / (double)(t1 - t0) + 0.5);
}

// Waits for `pid` at most TIMEOUT_S seconds; its status, or -1 (then it is
// killed and reaped).
static int wait_for(pid_t pid)
{
    int status;
    for (uint64_t end = now_ns(CLOCK_MONOTONIC) + TIMEOUT_S * 1000000000ull; now_ns(CLOCK_MONOTONIC) < end;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        nanosleep(&(struct timespec){0, 2000000}, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

// Runs argv with its standard output and error into `out` (NUL-terminated,
// cut at `size`); its wait status, or -1 if it could not run or timed out.
static int run(char *const argv[], char *out, size_t size)
{
    static char *const env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/", NULL};
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        execve(argv[0], argv, env);
        _exit(127);
    }
    close(p[1]);
    size_t len = 0;
    bool timed_out = false;
    for (uint64_t end = now_ns(CLOCK_MONOTONIC) + TIMEOUT_S * 1000000000ull;;) {
        uint64_t t = now_ns(CLOCK_MONOTONIC);
        if (t >= end) {
            timed_out = true;
            break;
        }
        struct pollfd pfd = {p[0], POLLIN, 0};
        int n = poll(&pfd, 1, (int)((end - t) / 1000000 + 1));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue;
        char buf[512];
        ssize_t got = read(p[0], buf, sizeof(buf));
        if (got <= 0)
            break;
        size_t keep = (size_t)got < size - 1 - len ? (size_t)got : size - 1 - len;
        memcpy(out + len, buf, keep);
        len += keep;
    }
    out[len] = 0;
    close(p[0]);
    if (pid < 0)
        return -1;
    if (timed_out)
        kill(pid, SIGKILL);
    int status = wait_for(pid);
    return timed_out ? -1 : status;
}

// The number after `label` in criu's --display-stats output ("Frozen time:
// 123 us", "Pages restored: 4107 (0x100b)"), or -1.
static long long stat_value(const char *text, const char *label)
{
    const char *at = strstr(text, label);
    if (!at)
        return -1;
    char *end;
    long long v = strtoll(at + strlen(label), &end, 10);
    return end == at + strlen(label) ? -1 : v;
}

static void remove_images(void)
{
    DIR *d = opendir(IMAGES);
    if (d) {
        for (struct dirent *e; (e = readdir(d));) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char path[300];
                snprintf(path, sizeof(path), IMAGES "/%s", e->d_name);
                unlink(path);
            }
        }
        closedir(d);
    }
    rmdir(IMAGES);
}

// criu's error lines from its log in the image directory, printed; the
// last two (the failed step and what failed in it: criu logs some errors
// of optional checks and goes on) are the reason, or its output if it
// logged none.
static void criu_errors(const char *log, const char *output, char *why, size_t size)
{
    char path[128];
    snprintf(path, sizeof(path), IMAGES "/%s", log);
    FILE *f = fopen(path, "r");
    unsigned shown = 0;
    char line[512], last[2][512] = {"", ""};
    while (f && fgets(line, sizeof(line), f)) {
        if (!strstr(line, "Error"))
            continue;
        line[strcspn(line, "\n")] = 0;
        if (shown++ < 40)
            printf("linux-bench: ckpt: %s: %s\n", log, line);
        memcpy(last[0], last[1], sizeof(last[0]));
        snprintf(last[1], sizeof(last[1]), "%s", line);
    }
    if (f)
        fclose(f);
    size_t at = strlen(why);
    if (shown > 1)
        snprintf(why + at, size - at, ": %.150s / %.150s", last[0], last[1]);
    else if (shown)
        snprintf(why + at, size - at, ": %.300s", last[1]);
    else if (*output) {
        printf("linux-bench: ckpt: criu printed: %s\n", output);
        snprintf(why + at, size - at, ": %.300s", output);
    }
}

struct round {
    long long frozen_us, written, restore_us, restored;
    bool verified;
};

// One round: 0 with `r` filled in (r->verified says whether the restored
// process found every mark), or -1 with the reason in `why`.
static int one_round(unsigned mib, unsigned salt, struct round *r, char *why, size_t size)
{
    static char out[8192];
    *why = 0;
    int ready[2];
    if (pipe(ready) != 0) {
        snprintf(why, size, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        setsid();       // a session and process group of its own, as criu wants them
        close(ready[0]);
        if (ready[1] != 3) {
            dup2(ready[1], 3);
            close(ready[1]);
        }
        char mibs[16], salts[16];
        snprintf(mibs, sizeof(mibs), "%u", mib);
        snprintf(salts, sizeof(salts), "%u", salt);
        char *argv[] = {VICTIM, mibs, salts, "3", NULL};
        char *env[] = {NULL};
        execve(VICTIM, argv, env);
        _exit(127);
    }
    close(ready[1]);
    char c;
    struct pollfd pfd = {ready[0], POLLIN, 0};
    bool up = pid > 0 && poll(&pfd, 1, TIMEOUT_S * 1000) == 1 && read(ready[0], &c, 1) == 1;
    close(ready[0]);
    if (!up) {
        int status = pid > 0 ? wait_for(pid) : -1;
        snprintf(why, size, "%s did not get ready (wait status 0x%x)", VICTIM, status);
        return -1;
    }

    char pids[16];
    snprintf(pids, sizeof(pids), "%d", pid);
    remove_images();
    mkdir(IMAGES, 0700);
    char *dump[] = {CRIU, "dump", "-t", pids, "-D", IMAGES, "-o", "dump.log", "--display-stats", NULL};
    int status = run(dump, out, sizeof(out));
    r->frozen_us = stat_value(out, "Frozen time: ");
    r->written = stat_value(out, "Memory pages written: ");
    if (status != 0 || r->frozen_us <= 0 || r->written <= 0) {
        snprintf(why, size, "criu dump (wait status 0x%x)", status);
        criu_errors("dump.log", out, why, size);
        kill(pid, SIGKILL);
        wait_for(pid);
        return -1;
    }
    // criu kills the process it dumped.
    status = wait_for(pid);
    if (status == -1 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
        snprintf(why, size, "the dumped process ended with wait status 0x%x, not killed by criu", status);
        return -1;
    }

    // Detached: the restored process, criu's child, becomes ours (init's)
    // when criu exits.
    char *restore[] = {CRIU, "restore", "-d", "-D", IMAGES, "-o", "restore.log", "--display-stats", NULL};
    status = run(restore, out, sizeof(out));
    r->restore_us = stat_value(out, "Restore time: ");
    r->restored = stat_value(out, "Pages restored: ");
    if (status != 0 || r->restore_us <= 0 || r->restored <= 0) {
        snprintf(why, size, "criu restore (wait status 0x%x)", status);
        criu_errors("restore.log", out, why, size);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, WNOHANG);
        return -1;
    }
    r->verified = false;
    if (kill(pid, SIGUSR1) != 0) {
        printf("linux-bench: ckpt: %u MiB: no restored process %d: %s\n", mib, pid, strerror(errno));
    } else {
        status = wait_for(pid);
        r->verified = status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (!r->verified)
            printf("linux-bench: ckpt: %u MiB: the restored process ended with wait status 0x%x\n", mib, status);
    }
    remove_images();
    return 0;
}

static uint64_t cycles(long long us) { return ((uint64_t)us * counter_hz + 500000) / 1000000u; }

static int compare_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static void skip_size(unsigned mib, const char *why)
{
    char name[48];
    snprintf(name, sizeof(name), "ckpt.frozen_%umib", mib);
    skip(name, "%s", why);
    snprintf(name, sizeof(name), "ckpt.restore_%umib", mib);
    skip(name, "%s", why);
    if (mib >= 16) {
        skip("ckpt.save_pages_per_s", "%s", why);
        skip("ckpt.restore_pages_per_s", "%s", why);
    }
}

static void one_size(unsigned mib)
{
    struct round r[ROUNDS];
    char why[400];
    bool verified = true;
    for (unsigned i = 0; i < ROUNDS; i++) {
        if (one_round(mib, mib * 16 + i + 1, &r[i], why, sizeof(why)) != 0) {
            char reason[480];
            snprintf(reason, sizeof(reason), "%u MiB, round %u: %s", mib, i + 1, why);
            skip_size(mib, reason);
            return;
        }
        verified = verified && r[i].verified;
        if (i == 0)
            printf("linux-bench: ckpt %u MiB: %lld pages written, %lld restored; frozen %lld us, restore %lld us\n",
                   mib, r[i].written, r[i].restored, r[i].frozen_us, r[i].restore_us);
    }
    uint64_t frozen[ROUNDS], restore[ROUNDS], save_rate[ROUNDS], restore_rate[ROUNDS];
    long long frozen_us[ROUNDS], restore_us[ROUNDS];
    for (unsigned i = 0; i < ROUNDS; i++) {
        frozen[i] = cycles(r[i].frozen_us);
        restore[i] = cycles(r[i].restore_us);
        save_rate[i] = (uint64_t)(r[i].written * 1000000 / r[i].frozen_us);
        restore_rate[i] = (uint64_t)(r[i].restored * 1000000 / r[i].restore_us);
        frozen_us[i] = r[i].frozen_us;
        restore_us[i] = r[i].restore_us;
    }
    // The median round's microseconds, as criu printed them.
    qsort(frozen_us, ROUNDS, sizeof(frozen_us[0]), compare_ll);
    qsort(restore_us, ROUNDS, sizeof(restore_us[0]), compare_ll);
    char extra[200], name[48];
    const char *v = verified ? "\"verified\":true" : "\"verified\":false";
    snprintf(extra, sizeof(extra), "%s,\"counter_hz\":%llu,\"criu_us\":%lld,\"pages\":%lld", v,
             (unsigned long long)counter_hz, frozen_us[ROUNDS / 2], r[0].written);
    snprintf(name, sizeof(name), "ckpt.frozen_%umib", mib);
    report_values(name, "cycles", frozen, ROUNDS, extra);
    snprintf(extra, sizeof(extra), "%s,\"counter_hz\":%llu,\"criu_us\":%lld,\"pages\":%lld", v,
             (unsigned long long)counter_hz, restore_us[ROUNDS / 2], r[0].restored);
    snprintf(name, sizeof(name), "ckpt.restore_%umib", mib);
    report_values(name, "cycles", restore, ROUNDS, extra);
    if (mib >= 16) {
        report_values("ckpt.save_pages_per_s", "pages/s", save_rate, ROUNDS, v);
        report_values("ckpt.restore_pages_per_s", "pages/s", restore_rate, ROUNDS, v);
    }
}

// The modules criu needs (the socket-diagnostics ones and nf_tables: see
// bench/linux/fetch-kernel), loaded
// from /NAME for each NAME in /ckpt-modules; NULL or why not.
static const char *load_modules(char *why, size_t size)
{
    FILE *order = fopen("/ckpt-modules", "r");
    if (!order)
        return "no /ckpt-modules in the initramfs";
    char name[64], path[80];
    while (fscanf(order, "%63s", name) == 1) {
        snprintf(path, sizeof(path), "/%s", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
            snprintf(why, size, "cannot load %s: %s", path, strerror(errno));
            fclose(order);
            return why;
        }
        close(fd);
    }
    fclose(order);
    return NULL;
}

// The loopback interface up: criu checks TCP repair mode on a connection
// to itself before anything else (kerndat_tcp_repair).
static const char *loopback_up(char *why, size_t size)
{
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr = {0};
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
    bool ok = s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    ifr.ifr_flags |= IFF_UP;
    ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    if (!ok)
        snprintf(why, size, "cannot bring lo up: %s", strerror(errno));
    if (s >= 0)
        close(s);
    return ok ? NULL : why;
}

void bench_ckpt(void)
{
    if (access(CRIU, X_OK) != 0 || access(VICTIM, X_OK) != 0) {
        const char *why = "no " CRIU " or " VICTIM " in the initramfs (bench/linux/fetch-criu)";
        skip_size(1, why);
        skip_size(16, why);
        return;
    }
    char buf[200];
    const char *why = load_modules(buf, sizeof(buf));
    if (!why)
        why = loopback_up(buf, sizeof(buf));
    if (why) {
        skip_size(1, why);
        skip_size(16, why);
        return;
    }
    mkdir(WORK, 0700);
    mkdir("/tmp", 01777);
    mkdir("/run", 0755);
    counter_hz = measure_counter_hz();
    printf("linux-bench: ckpt: counter at %llu Hz\n", (unsigned long long)counter_hz);
    one_size(1);
    one_size(16);
}
