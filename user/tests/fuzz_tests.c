// The system-call fuzzer (user/programs/fuzz.c) in the suite: four
// programs at once, each with its own CSpace and untyped, then a check
// that they left nothing behind. Kernel command-line options (all
// optional): fuzz_seed=S (the first program's seed; the others S+1..),
// fuzz_calls=N (all programs together), fuzz_programs=P (1..4),
// fuzz_cpus=C (program i keeps its threads on CPU i mod C; 0: anywhere),
// fuzz_flags=F (FZ_FLAG_*). `make fuzz` sets them (docs/testing.md).
#include "manifold.h"
#include "utest.h"
#include "../root/root.h"
#include "user/fuzz/fuzz.h"
#include "lib/string.h"

#define ROOT MF_CAP_SELF_CNODE
#define FUZZERS 4
#define FUZZ_CNODE 3920
#define DEFAULT_SEED 1
#define DEFAULT_CALLS 100000
#define DEFAULT_CPUS 2

// Untypeds the tests of other files use and give back: ours for the run.
static const long untypeds[FUZZERS] = {MF_CAP_UNTYPED_BASE + 0, MF_CAP_UNTYPED_BASE + 1, MF_CAP_UNTYPED_BASE + 2,
                                       MF_CAP_UNTYPED_BASE + 3};

static uint64_t option(const char *key, uint64_t otherwise)
{
    struct mf_system_info si;
    if (mf_system_info(&si))
        return otherwise;
    size_t n = strlen(key);
    for (const char *p = si.cmdline; *p; p++)
        if ((p == si.cmdline || p[-1] == ' ') && strncmp(p, key, n) == 0 && p[n] >= '0' && p[n] <= '9') {
            uint64_t v = 0;
            for (p += n; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (uint64_t)(*p - '0');
            return v;
        }
    return otherwise;
}

static unsigned thread_count(void)
{
    struct mf_thread_info ti;
    unsigned n = 0;
    for (unsigned i = 0; mf_thread_info(i, &ti) == 0; i++)
        n += ti.id != 0;
    return n;
}

static uint64_t memory_free(void)
{
    struct mf_system_info si;
    return mf_system_info(&si) == 0 ? si.memory_free : 0;
}

#define HANG_TICKS 3000

UTEST_FAULTS(fuzz_programs_at_once_leave_nothing_behind)
{
    uint32_t seed = (uint32_t)option("fuzz_seed=", DEFAULT_SEED);
    uint64_t calls = option("fuzz_calls=", DEFAULT_CALLS);
    unsigned programs = (unsigned)option("fuzz_programs=", FUZZERS);
    unsigned flags = (unsigned)option("fuzz_flags=", 0);
    unsigned cpus = (unsigned)option("fuzz_cpus=", DEFAULT_CPUS);
    if (programs < 1 || programs > FUZZERS)
        programs = FUZZERS;
    uint64_t kcalls = calls / programs / 1000 ? calls / programs / 1000 : 1;
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0);
    if (cpus > si.cpus)
        cpus = si.cpus;
    // The fuzzers may flip command-register bits of the devices: put them back after.
    long command[MF_DEVICE_MAX];
    for (uint32_t i = 0; i < si.device_count && i < MF_DEVICE_MAX; i++)
        command[i] = mf_pci_config_read(MF_CAP_DEVICE_BASE + i, MF_PCI_COMMAND, 2);
    for (unsigned i = 0; i < programs; i++)
        UCHECK(mf_cnode_revoke(ROOT, untypeds[i]) == 0);
    unsigned threads = thread_count();
    uint64_t memory = memory_free();
    printf("# fuzz: %u program(s), seeds %u..%u, %lu calls each, on %u CPU(s), flags %#x\n", programs, seed,
           seed + programs - 1, (unsigned long)(kcalls * 1000), cpus ? cpus : si.cpus, flags);
    long start = mf_time(), tid[FUZZERS];
    for (unsigned i = 0; i < programs; i++)
        tid[i] = spawn_with_resources("fuzz", FZ_ARG(seed + i, kcalls, cpus ? i % cpus + 1 : 0, flags), untypeds[i], FUZZ_CNODE + i);
    struct mf_exit_status st[FUZZERS];
    long waited[FUZZERS];
    for (unsigned i = 0; i < programs; i++)
        waited[i] = tid[i] > 0 ? 1 : tid[i];        // 1: still running
    // Wait for all, watching that something runs: when no thread has been
    // switched in for HANG_TICKS, print every thread and give up.
    uint64_t switches = 0;
    long still_since = mf_time(), first_done = 0;
    for (unsigned left = programs; left;) {
        left = 0;
        for (unsigned i = 0; i < programs; i++) {
            struct mf_exit_status done;
            long t = waited[i] == 1 ? mf_spawned_thread(tid[i]) : -1;
            if (t >= 0 && mf_thread_exit_status(t, &done) != -E_BUSY) {
                waited[i] = mf_wait(tid[i], &st[i]);
                printf("# fuzz: seed %u ended after %ld ticks\n", seed + i, mf_time() - start);
            }
            left += waited[i] == 1;
        }
        uint64_t now = 0;
        struct mf_thread_info ti;
        for (unsigned i = 0; mf_thread_info(i, &ti) == 0; i++)
            if (strcmp(ti.name, "idle") != 0 && strcmp(ti.name, "root") != 0)
                now += ti.switches_in;
        // Stuck: nothing ran for HANG_TICKS, or one runs ten times as long
        // as the first that finished took (they make the same number of
        // calls; a fuzzer's own supervisor reports a worker that makes no
        // progress, so this only backs it up: runs of the same seed vary
        // by three times and more with the interleaving and the host).
        if (!first_done && left < programs)
            first_done = mf_time() - start;
        bool laggard = first_done && mf_time() - start > 10 * first_done + HANG_TICKS;
        if (now != switches && !laggard) {
            switches = now;
            still_since = mf_time();
        } else if (laggard || mf_time() - still_since > HANG_TICKS) {
            printf("# fuzz: %s; the threads:\n", laggard ? "one fuzzer runs on and on" : "nothing ran");
            for (unsigned i = 0; mf_thread_info(i, &ti) == 0; i++)
                printf("#   %u %s state %u (blocked on %u) cpu %u prio %u switches %lu refused %d\n", ti.id,
                       ti.name, ti.state, ti.blocked_on, ti.cpu, ti.priority, (unsigned long)ti.switches_in,
                       ti.refused_error);
            for (unsigned i = 0; i < programs; i++)
                if (waited[i] == 1) {
                    printf("# fuzz: seed %u still running after %ld ticks\n", seed + i, mf_time() - start);
                    mf_kill(tid[i]);
                }
            UCHECK(!laggard || !"a fuzzer ran ten times as long as the first to finish");
            UCHECK(!"nothing ran for HANG_TICKS");
        }
        if (left)
            mf_sleep(10);
    }
    long ticks = mf_time() - start;
    for (unsigned i = 0; i < programs; i++) {
        // The CNode, the untyped, all they made; then all of it is free.
        long r;
        while ((r = mf_cnode_revoke(ROOT, untypeds[i])) == -E_AGAIN)
            ;
        UCHECK(r == 0);
        UCHECK(mf_untyped_retype(untypeds[i], MF_OBJ_UNTYPED, 23, 1, ROOT, FUZZ_CNODE + FUZZERS) == 0);
        UCHECK(mf_cnode_revoke(ROOT, untypeds[i]) == 0);
    }
    for (uint32_t i = 0; i < si.device_count && i < MF_DEVICE_MAX; i++)
        if (command[i] >= 0)
            mf_pci_set_command(MF_CAP_DEVICE_BASE + i, (unsigned)command[i] & MF_PCI_COMMAND_SAFE);
    printf("# fuzz: %lu calls in %ld ticks (%u Hz)\n", (unsigned long)(kcalls * 1000 * programs), ticks, si.timer_hz);
    for (unsigned i = 0; i < programs; i++) {
        if (waited[i] < 0 || st[i].how != EXIT_NORMAL || st[i].code != 0)
            printf("# fuzz: seed %u: spawn/wait %ld, how %d, code %d, address %#lx\n", seed + i, waited[i],
                   waited[i] < 0 ? 0 : st[i].how, waited[i] < 0 ? 0 : st[i].code,
                   waited[i] < 0 ? 0ul : (unsigned long)st[i].address);
        UCHECK(waited[i] == 0);
        UCHECK(st[i].how == EXIT_NORMAL && st[i].code == 0);
    }
    // Threads and memory come back (reaping may lag a little).
    UWAIT(thread_count() == threads && memory_free() == memory, 200);
    if (thread_count() != threads || memory_free() != memory)
        printf("# fuzz: %u threads (%u before), %lu bytes free (%lu before)\n", thread_count(), threads,
               (unsigned long)memory_free(), (unsigned long)memory);
    UCHECK(thread_count() == threads);
    UCHECK(memory_free() == memory);
    return NULL;
}
