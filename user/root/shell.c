// The serial shell: a line editor and a table of commands.
#include "manifold.h"
#include "root.h"
#include "user/dsm/dsm.h"
#include "lib/string.h"

#define LINE_MAX 128
#define ARGS_MAX 8

struct command {
    const char *name, *usage, *help;
    void (*fn)(int argc, char **argv);
};
static const struct command commands[];

// Reads a line with echo and backspace; returns its length.
static size_t read_line(char *buf, size_t size)
{
    size_t n = 0;
    for (;;) {
        int c = mf_getc();
        if (c < 0)
            continue;
        if (c == '\r' || c == '\n') {
            mf_write("\n", 1);
            buf[n] = 0;
            return n;
        }
        if ((c == 8 || c == 127) && n) {
            n--;
            mf_write("\b \b", 3);
        } else if (c >= ' ' && c < 127 && n + 1 < size) {
            buf[n++] = (char)c;
            char ch = (char)c;
            mf_write(&ch, 1);
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

static uint64_t parse_number(const char *s)
{
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    return v;
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

#define SHELL_SCRATCH 3902      // an empty slot for reading the boot images' directory

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

static const char *fault_name(int kind)
{
    static const char *const names[] = {
        [MF_FAULT_PAGE] = "page fault", [MF_FAULT_UNDEFINED] = "undefined instruction",
        [MF_FAULT_PROTECTION] = "protection fault", [MF_FAULT_ARITHMETIC] = "arithmetic fault",
        [MF_FAULT_OTHER] = "exception",
    };
    return kind > 0 && kind <= MF_FAULT_OTHER ? names[kind] : "unknown fault";
}

// Programs get a CSpace of their own (spawn_with_resources): a 256-slot
// CNode with itself in slot 1, the name service in slot 2 and a 4 MiB
// untyped in slot 16, all carved from one untyped of ours that is revoked
// when they end.
#define CHILD_UNTYPED (MF_CAP_UNTYPED_BASE + 1)
#define CHILD_CNODE 3900


static long run_with_cspace(const char *name, uint64_t arg)
{
    return spawn_with_resources(name, arg, CHILD_UNTYPED, CHILD_CNODE);
}

static void cmd_run(int argc, char **argv)
{
    if (argc < 2) {
        printf("usage: run NAME [NUMBER]\n");
        return;
    }
    long tid = run_with_cspace(argv[1], argc > 2 ? parse_number(argv[2]) : 0);
    if (tid < 0) {
        printf("run: %s: %s\n", argv[1], mf_strerror(tid));
        mf_cnode_revoke(MF_CAP_SELF_CNODE, CHILD_UNTYPED);
        return;
    }
    struct mf_exit_status st;
    long r = mf_wait(tid, &st);
    if (r < 0)
        printf("run: wait: %s\n", mf_strerror(r));
    else if (st.how == EXIT_NORMAL)
        printf("%s exited with status %d\n", argv[1], st.code);
    else if (st.how == EXIT_FAULT)
        printf("%s was killed: %s at %#lx\n", argv[1], fault_name(st.code), (unsigned long)st.address);
    else
        printf("%s was killed: its address space was destroyed\n", argv[1]);
    // Take back everything the program had.
    mf_cnode_revoke(MF_CAP_SELF_CNODE, CHILD_UNTYPED);
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
    else if (argc > 1)
        printf("usage: bench [gups|share|lrpc|dsm|affinity]\n");
    else
        run_benchmarks();
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
    {"devices", "devices", "list the PCI devices (device caps from slot 224)", cmd_devices},
    {"programs", "programs", "list programs carried as boot modules", cmd_programs},
    {"run", "run NAME [NUMBER]", "start a program and wait for it", cmd_run},
    {"test", "test", "run the kernel and user test suite", cmd_test},
    {"bench", "bench [gups|share|lrpc|dsm]", "run the benchmarks (BENCH lines)", cmd_bench},
    {"halt", "halt", "power off", cmd_halt},
    {0, 0, 0, 0},
};

void shell(void)
{
    char line[LINE_MAX];
    char *argv[ARGS_MAX];
    printf("Type 'help' for commands.\n");
    for (;;) {
        printf("manifold> ");
        read_line(line, sizeof(line));
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
