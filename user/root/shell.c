// The serial shell: a line editor with history, a table of commands, and
// jobs. A reader thread takes bytes off the console into a ring and
// signals the shell's event notification; each job's thread signals the
// same notification (its own badge bit) when it ends. So the shell waits
// for one thing, and hears at once of a finished background job, of input,
// and of Ctrl-C (which ends the foreground job).
#include "manifold.h"
#include "root.h"
#include "user/dsm/dsm.h"
#include "lib/string.h"

#define LINE_MAX 128
#define ARGS_MAX 8
#define HISTORY 8

struct command {
    const char *name, *usage, *help;
    void (*fn)(int argc, char **argv);
};
static const struct command commands[];

// ------------------------------------------------------------------ events
// Slots of the shell's own; its objects come from NS_UNTYPED, never revoked.
#define SHELL_SCRATCH 3902          // an empty slot (reading the boot images' directory)
#define SHELL_EVENTS 3920           // notification: bit j = job j ended, EV_INPUT = input
#define SHELL_INPUT 3921            // SHELL_EVENTS minted with EV_INPUT, for the reader
#define SHELL_READER 3922           // the console reader thread
#define SHELL_JOB_EXIT 3923         // 3923..: SHELL_EVENTS minted with job j's bit
#define EV_INPUT (1ul << 8)
#define CTRL_C 3

static volatile uint8_t ring[256];
static volatile uint32_t ring_head, ring_tail;  // the reader moves head, the shell tail
static volatile bool interrupted;               // Ctrl-C seen, not yet handled
static uint8_t reader_stack[4096] __attribute__((aligned(16)));
static bool events_ok;

static void reader(uint64_t arg)
{
    (void)arg;
    for (;;) {
        int c = mf_getc();
        if (c < 0)
            continue;
        if (c == CTRL_C) {
            interrupted = true;
        } else if (ring_head - ring_tail < sizeof(ring)) {
            ring[ring_head % sizeof(ring)] = (uint8_t)c;
            __atomic_store_n(&ring_head, ring_head + 1, __ATOMIC_RELEASE);
        }
        mf_notification_signal(SHELL_INPUT);
    }
}

static bool events_start(void)
{
    const long self = MF_CAP_SELF_CNODE;
    return mf_untyped_retype(NS_UNTYPED, MF_OBJ_NOTIFICATION, 0, 1, self, SHELL_EVENTS) == 0 &&
           mf_cnode_mint(self, SHELL_EVENTS, SHELL_INPUT, MF_RIGHTS_ALL, EV_INPUT) == 0 &&
           mf_untyped_retype(NS_UNTYPED, MF_OBJ_THREAD, 0, 1, self, SHELL_READER) == 0 &&
           mf_thread_start(SHELL_READER, reader, reader_stack, sizeof(reader_stack), 0) == 0;
}

// ------------------------------------------------------------------- jobs
// Each job has an untyped of its own (revoked when it ends), a CSpace
// (mf_child_cspace) and the loader's slots.
#define JOBS 3
static const long job_untyped[JOBS] = {MF_CAP_UNTYPED_BASE + 1, MF_CAP_UNTYPED_BASE + 14,
                                       MF_CAP_UNTYPED_BASE + 15};
struct job {
    bool used, background;
    char name[32];
    struct mf_program program;
};
static struct job jobs[JOBS];

static long job_cnode(int j) { return 3910 + j; }
static long job_slots(int j) { return 3930 + j * MF_PROGRAM_SLOTS; }

static const char *fault_name(int kind)
{
    static const char *const names[] = {
        [MF_FAULT_PAGE] = "page fault", [MF_FAULT_UNDEFINED] = "undefined instruction",
        [MF_FAULT_PROTECTION] = "protection fault", [MF_FAULT_ARITHMETIC] = "arithmetic fault",
        [MF_FAULT_OTHER] = "exception",
    };
    return kind > 0 && kind <= MF_FAULT_OTHER ? names[kind] : "unknown fault";
}

// The job's end: what happened, then everything it had goes back.
static void job_end(int j, const char *how_killed)
{
    struct job *jb = &jobs[j];
    struct mf_exit_status st;
    if (jb->background)
        printf("[%d] ", j + 1);
    if (how_killed)
        printf("%s: %s\n", jb->name, how_killed);
    else if (mf_thread_exit_status(jb->program.thread, &st) < 0)
        printf("%s: ended, status unknown\n", jb->name);
    else if (st.how == EXIT_NORMAL)
        printf("%s exited with status %d\n", jb->name, st.code);
    else if (st.how == EXIT_FAULT)
        printf("%s was killed: %s at %#lx\n", jb->name, fault_name(st.code), (unsigned long)st.address);
    else
        printf("%s was killed: its address space was destroyed\n", jb->name);
    const long self = MF_CAP_SELF_CNODE;
    mf_program_destroy(&jb->program);
    mf_cnode_delete(self, SHELL_JOB_EXIT + j);
    while (mf_cnode_revoke(self, job_untyped[j]) == -E_AGAIN)
        ;
    mf_cnode_delete(self, job_cnode(j));
    *jb = (struct job){0};
}

static bool job_ended(int j)
{
    struct mf_exit_status st;
    return jobs[j].used && mf_thread_exit_status(jobs[j].program.thread, &st) == 0;
}

// Reports (and reaps) background jobs that ended.
static void reap_background(bool newline)
{
    for (int j = 0; j < JOBS; j++)
        if (jobs[j].used && jobs[j].background && job_ended(j)) {
            if (newline)
                printf("\n");
            newline = false;
            job_end(j, NULL);
        }
}

// `lower`: a split process, with that image as the lower half (docs/split.md).
static int job_start(const char *name, uint64_t arg, bool background, const char *lower)
{
    int j = 0;
    while (j < JOBS && jobs[j].used)
        j++;
    if (j == JOBS) {
        printf("run: %d jobs run already (see 'jobs'; 'kill N' ends one)\n", JOBS);
        return -1;
    }
    const long self = MF_CAP_SELF_CNODE;
    long r = mf_child_cspace(job_untyped[j], job_cnode(j), NS_ENDPOINT);
    struct mf_load_args a = {.name = name, .arg = arg, .cspace = job_cnode(j), .untyped = job_untyped[j],
                             .slots = job_slots(j), .lower = lower};
    if (r == 0)
        r = mf_program_load(&jobs[j].program, &a);
    // Its end is one bit of our event word.
    if (r == 0 && events_ok && (r = mf_cnode_mint(self, SHELL_EVENTS, SHELL_JOB_EXIT + j, MF_RIGHTS_ALL, 1ul << j)) == 0)
        r = mf_thread_bind_exit(jobs[j].program.thread, SHELL_JOB_EXIT + j);
    if (r == 0)
        r = mf_program_start(&jobs[j].program);
    if (r < 0) {
        printf("run: %s: %s\n", name, mf_strerror_detail(r));
        if (jobs[j].program.thread)
            mf_program_destroy(&jobs[j].program);
        mf_cnode_delete(self, SHELL_JOB_EXIT + j);
        while (mf_cnode_revoke(self, job_untyped[j]) == -E_AGAIN)
            ;
        mf_cnode_delete(self, job_cnode(j));
        jobs[j] = (struct job){0};
        return -1;
    }
    jobs[j].used = true;
    jobs[j].background = background;
    strlcpy(jobs[j].name, name, sizeof(jobs[j].name));
    if (background)
        printf("[%d] %s\n", j + 1, name);
    return j;
}

// Waits for the foreground job j; Ctrl-C ends it.
static void job_wait(int j)
{
    while (!job_ended(j)) {
        if (interrupted) {
            interrupted = false;
            printf("^C\n");
            job_end(j, "interrupted (Ctrl-C)");
            return;
        }
        if (events_ok)
            mf_notification_wait(SHELL_EVENTS);
        else
            mf_program_wait(&jobs[j].program, NULL);   // no events: no Ctrl-C either
        reap_background(false);
    }
    job_end(j, NULL);
}

// --------------------------------------------------------------- line input

static char history[HISTORY][LINE_MAX];
static unsigned history_count;
static const char *line_so_far;     // for the redraw after a job's report
static size_t line_len;

static void redraw(const char *buf, size_t n, size_t cursor)
{
    mf_write("\r\x1b[K", 4);
    printf("manifold> ");
    mf_write(buf, n);
    for (size_t i = cursor; i < n; i++)
        mf_write("\b", 1);
}

// The next byte typed; meanwhile reports background jobs that end. -1
// when Ctrl-C was pressed.
static int next_byte(void)
{
    if (!events_ok)
        return mf_getc();
    for (;;) {
        if (interrupted) {
            interrupted = false;
            return -1;
        }
        if (ring_tail != __atomic_load_n(&ring_head, __ATOMIC_ACQUIRE)) {
            int c = ring[ring_tail % sizeof(ring)];
            ring_tail++;
            return c;
        }
        mf_notification_wait(SHELL_EVENTS);
        bool any = false;
        for (int j = 0; j < JOBS; j++)
            any |= jobs[j].used && jobs[j].background && job_ended(j);
        if (any) {
            reap_background(true);
            redraw(line_so_far, line_len, line_len);
        }
    }
}

// Reads a line with echo, backspace, left/right arrows and up/down
// history; returns its length, or -1 when it is too long (the rest of it
// was dropped) or was interrupted with Ctrl-C.
static long read_line(char *buf, size_t size)
{
    size_t n = 0, cursor = 0;
    bool too_long = false;
    unsigned back = 0;          // how far up the history we are
    line_so_far = buf;
    for (;;) {
        line_len = n;
        int c = next_byte();
        if (c < 0) {
            printf("^C\n");
            return -1;
        }
        if (c == '\r' || c == '\n') {
            mf_write("\n", 1);
            buf[n] = 0;
            if (too_long) {
                printf("line too long (at most %zu characters)\n", size - 1);
                return -1;
            }
            return (long)n;
        }
        if (c == 0x1b) {        // ESC [ A/B/C/D: the arrows
            int c1 = next_byte(), c2 = c1 == '[' ? next_byte() : -1;
            if (c2 == 'A' && back < history_count && back < HISTORY) {
                back++;
                strlcpy(buf, history[(history_count - back) % HISTORY], size);
                n = cursor = strlen(buf);
            } else if (c2 == 'B' && back > 0) {
                back--;
                if (back)
                    strlcpy(buf, history[(history_count - back) % HISTORY], size);
                else
                    buf[0] = 0;
                n = cursor = strlen(buf);
            } else if (c2 == 'D' && cursor > 0) {
                cursor--;
                mf_write("\b", 1);
                continue;
            } else if (c2 == 'C' && cursor < n) {
                mf_write(&buf[cursor], 1);
                cursor++;
                continue;
            } else {
                continue;       // other escapes are ignored, never inserted
            }
            redraw(buf, n, cursor);
            continue;
        }
        if ((c == 8 || c == 127) && cursor) {
            memmove(&buf[cursor - 1], &buf[cursor], n - cursor);
            n--, cursor--;
            redraw(buf, n, cursor);
        } else if (c >= ' ' && c < 127) {
            if (n + 1 >= size) {
                too_long = true;
                mf_write("\a", 1);
                continue;
            }
            memmove(&buf[cursor + 1], &buf[cursor], n - cursor);
            buf[cursor] = (char)c;
            n++, cursor++;
            if (cursor == n)
                mf_write(&buf[cursor - 1], 1);
            else
                redraw(buf, n, cursor);
        }
    }
}

static int split(char *line, char **argv)
{
    int argc = 0;
    for (char *p = line; *p && argc < ARGS_MAX;) {
        while (*p == ' ')
            *p++ = 0;
        if (!*p)
            break;
        argv[argc++] = p;
        while (*p && *p != ' ')
            p++;
    }
    return argc;
}

// A number: decimal or 0x hex, perhaps negative; false (with a message)
// for anything else or a value that does not fit in 64 bits.
static bool parse_number(const char *s, uint64_t *out)
{
    const char *p = s;
    bool negative = *p == '-';
    if (negative)
        p++;
    unsigned base = 10;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        base = 16, p += 2;
    if (!*p) {
        printf("%s: not a number\n", s);
        return false;
    }
    uint64_t v = 0;
    for (; *p; p++) {
        unsigned d = *p >= '0' && *p <= '9' ? (unsigned)(*p - '0')
                   : *p >= 'a' && *p <= 'f' ? (unsigned)(*p - 'a' + 10)
                   : *p >= 'A' && *p <= 'F' ? (unsigned)(*p - 'A' + 10) : 99;
        if (d >= base) {
            printf("%s: not a number\n", s);
            return false;
        }
        if (v > (UINT64_MAX - d) / base) {
            printf("%s: does not fit in 64 bits\n", s);
            return false;
        }
        v = v * base + d;
    }
    if (negative && v > (uint64_t)INT64_MAX + 1) {
        printf("%s: does not fit in 64 bits\n", s);
        return false;
    }
    *out = negative ? 0 - v : v;
    return true;
}

static void cmd_help(int argc, char **argv)
{
    (void)argc, (void)argv;
    for (const struct command *c = commands; c->name; c++)
        printf("  %-18s %s\n", c->usage, c->help);
}

static void cmd_ps(int argc, char **argv)
{
    (void)argc, (void)argv;
    static const char *const states[] = {"runnable", "blocked", "dead", "inactive"};
    printf("  %4s %-10s %4s %4s  %s\n", "ID", "STATE", "CPU", "PRIO", "NAME");
    struct mf_thread_info ti;
    for (unsigned i = 0; mf_thread_info(i, &ti) == 0; i++)
        printf("  %4u %-10s %4u %4u  %s\n", ti.id, states[ti.state % 4], ti.cpu, ti.priority, ti.name);
}

static void cmd_stats(int argc, char **argv)
{
    (void)argc, (void)argv;
    static const char *const names[MF_KSTAT_COUNT] = {
        [MF_KSTAT_USER_FAULTS] = "user faults", [MF_KSTAT_PAGER_FAULTS] = "pager faults",
        [MF_KSTAT_GRACE_PERIODS] = "grace periods", [MF_KSTAT_SWITCHES] = "thread switches",
        [MF_KSTAT_TIMER_TICKS] = "timer ticks", [MF_KSTAT_PAGE_CACHE_REFILLS] = "page cache refills",
        [MF_KSTAT_PAGE_CACHE_FLUSHES] = "page cache flushes",
    };
    struct mf_kstats k;
    long r = mf_kstats(&k);
    if (r < 0) {
        printf("stats: %s\n", mf_strerror(r));
        return;
    }
    for (unsigned i = 0; i < MF_KSTAT_COUNT; i++)
        printf("  %-20s %12lu\n", names[i], (unsigned long)k.count[i]);
    printf("  %-20s %9lu KiB (%u CPUs)\n", "in page caches", (unsigned long)(k.page_cache_bytes >> 10),
           k.cpus_counting);
}

static void cmd_programs(int argc, char **argv)
{
    (void)argc, (void)argv;
    static uint64_t page[512];
    struct mf_boot_dir *dir = (struct mf_boot_dir *)page;
    long r = mf_boot_dir_read(MF_CAP_BOOT_IMAGES, SHELL_SCRATCH, dir);
    if (r < 0) {
        printf("programs: %s\n", mf_strerror(r));
        return;
    }
    for (uint32_t i = 0; i < dir->count; i++)
        printf("  %-16s %6lu bytes\n", dir->image[i].name, (unsigned long)dir->image[i].size);
}

// run NAME [NUMBER] [&], split UPPER LOWER [NUMBER] [&]: `names` image
// names first (a split process's lower half second), then the rest.
static void start_job(int argc, char **argv, int names, const char *usage)
{
    bool background = argc > 1 && strcmp(argv[argc - 1], "&") == 0;
    if (background)
        argc--;
    if (argc < 1 + names || argc > 2 + names) {
        printf("usage: %s\n", usage);
        return;
    }
    uint64_t arg = 0;
    if (argc > 1 + names && !parse_number(argv[1 + names], &arg))
        return;
    int j = job_start(argv[1], arg, background, names == 2 ? argv[2] : NULL);
    if (j >= 0 && !background)
        job_wait(j);
}

static void cmd_run(int argc, char **argv) { start_job(argc, argv, 1, "run NAME [NUMBER] [&]"); }

static void cmd_split(int argc, char **argv) { start_job(argc, argv, 2, "split UPPER LOWER [NUMBER] [&]"); }

static void cmd_jobs(int argc, char **argv)
{
    (void)argc, (void)argv;
    for (int j = 0; j < JOBS; j++)
        if (jobs[j].used)
            printf("[%d] %s %s\n", j + 1, job_ended(j) ? "done   " : "running", jobs[j].name);
}

static void cmd_kill(int argc, char **argv)
{
    uint64_t n;
    if (argc != 2) {
        printf("usage: kill N (a job number from 'jobs')\n");
        return;
    }
    if (!parse_number(argv[1], &n))
        return;
    if (n < 1 || n > JOBS || !jobs[n - 1].used) {
        printf("kill: %s: no such job\n", argv[1]);
        return;
    }
    job_end((int)n - 1, "killed");
}

static void cmd_info(int argc, char **argv)
{
    (void)argc, (void)argv;
    struct mf_system_info si;
    mf_system_info(&si);
    printf("Manifold %s, %s, %u CPU(s), %lu/%lu MiB free, uptime %ld ticks\n", si.version, si.arch,
           si.cpus, (unsigned long)(si.memory_free >> 20), (unsigned long)(si.memory_total >> 20),
           mf_time());
    printf("features: %s\ncmdline: %s\n", si.features, si.cmdline);
}

static void cmd_test(int argc, char **argv)
{
    (void)argc, (void)argv;
    run_tests(NULL);
}

static void cmd_bench(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "gups") == 0)
        run_gups();
    else if (argc > 1 && strcmp(argv[1], "share") == 0)
        run_pointer_sharing(true);
    else if (argc > 1 && strcmp(argv[1], "lrpc") == 0)
        run_lrpc_benchmarks();
    else if (argc > 1 && strcmp(argv[1], "dsm") == 0)
        run_dsm_benchmarks();
    else if (argc > 1 && strcmp(argv[1], "affinity") == 0)
        run_affinity_benchmark();
    else if (argc > 1 && strcmp(argv[1], "vm") == 0)
        run_vm_benchmarks(bench_counter_overhead());
    else if (argc > 1 && strcmp(argv[1], "sync") == 0)
        run_sync_benchmarks(bench_counter_overhead());
    else if (argc > 1 && strcmp(argv[1], "base") == 0)
        run_base_benchmarks();
    else if (argc > 1 && strcmp(argv[1], "ckpt") == 0)
        run_ckpt_benchmarks();
    else if (argc > 1 && strcmp(argv[1], "split") == 0)
        run_split_benchmark();      // takes untypeds jobs use: with no job running
    else if (argc > 1 && strcmp(argv[1], "kernel") == 0) {
        if (mf_kbench(MF_CAP_SYSTEM) < 0)
            printf("bench: the kernel's SMP benchmarks did not finish\n");
        return;                 // their lines are the kernel's, not in the table
    } else if (argc > 1) {
        printf("usage: bench [gups|share|lrpc|dsm|affinity|vm|sync|base|ckpt|split|kernel]\n");
        return;
    } else {
        run_benchmarks();
        printf("(the kernel's figures, `BENCH` lines named lock.*, barrier.*, counter.* and page_alloc_free.* "
               "with .cpusN, are printed by the kernel above, not in this table)\n");
    }
    mf_bench_summary();
}

static void cmd_halt(int argc, char **argv)
{
    (void)argc, (void)argv;
    mf_poweroff(0);
}

// The PCI devices we hold caps for, as user space sees them.
static void cmd_devices(int argc, char **argv)
{
    (void)argc, (void)argv;
    struct mf_system_info si;
    if (mf_system_info(&si))
        return;
    for (uint32_t i = 0; i < si.device_count; i++) {
        long d = MF_CAP_DEVICE_BASE + i;
        long id = mf_pci_config_read(d, MF_PCI_VENDOR_ID, 4), class = mf_pci_config_read(d, MF_PCI_CLASS, 4);
        printf("slot %ld: %04lx:%04lx class %06lx", d, id & 0xffff, (id >> 16) & 0xffff, (class >> 8) & 0xffffff);
        struct mf_pci_bar bar;
        for (unsigned b = 0; b < MF_PCI_BAR_COUNT; b++)
            if (mf_pci_bar_info(d, b, &bar) == 0 && bar.size)
                printf(" bar%u %s %#lx+%#lx", b, bar.flags & MF_PCI_BAR_MEM ? "mem" : "io",
                       (unsigned long)bar.base, (unsigned long)bar.size);
        printf("\n");
    }
}

static const struct command commands[] = {
    {"help", "help", "list commands", cmd_help},
    {"info", "info", "version, CPUs, memory, features", cmd_info},
    {"ps", "ps", "list threads", cmd_ps},
    {"stats", "stats", "the kernel's event counters, summed over CPUs", cmd_stats},
    {"devices", "devices", "list the PCI devices (device caps from slot 224)", cmd_devices},
    {"programs", "programs", "list programs carried as boot modules", cmd_programs},
    {"run", "run NAME [NUMBER] [&]", "start a program; wait for it (Ctrl-C ends it) unless &", cmd_run},
    {"split", "split UPPER LOWER [NUMBER] [&]", "run a split process: LOWER as UPPER's lower half (docs/split.md)",
     cmd_split},
    {"jobs", "jobs", "list the programs started with &", cmd_jobs},
    {"kill", "kill N", "end job N and take back all it had", cmd_kill},
    {"test", "test", "run the kernel and user test suite", cmd_test},
    {"bench", "bench [gups|share|lrpc|dsm|affinity|vm|sync|base|ckpt|split|kernel]",
     "run the benchmarks (BENCH lines, then a table); base: those with a Linux counterpart; kernel: locks, "
     "barriers, clustered objects on 1..N CPUs", cmd_bench},
    {"halt", "halt", "power off", cmd_halt},
    {0, 0, 0, 0},
};

void shell(void)
{
    char line[LINE_MAX];
    char *argv[ARGS_MAX];
    events_ok = events_start();
    if (!events_ok)
        printf("shell: no console reader (no background jobs, no Ctrl-C)\n");
    printf("Type 'help' for commands.\n");
    for (;;) {
        reap_background(false);
        printf("manifold> ");
        long n = read_line(line, sizeof(line));
        if (n <= 0)
            continue;
        strlcpy(history[history_count++ % HISTORY], line, LINE_MAX);
        int argc = split(line, argv);
        if (argc == 0)
            continue;
        const struct command *c = commands;
        while (c->name && strcmp(c->name, argv[0]) != 0)
            c++;
        if (c->name)
            c->fn(argc, argv);
        else
            printf("%s: unknown command (try 'help')\n", argv[0]);
    }
}
