// System call wrappers and console output for user programs.
#include "manifold.h"
#include "lib/fmt.h"
#include "lib/string.h"

long mf_console_cap = MF_CAP_CONSOLE;
long mf_write(const char *buf, size_t len) { return mf_invoke(mf_console_cap, MF_CONSOLE_WRITE, (long)buf, (long)len, 0, 0); }
int mf_getc(void) { return (int)mf_invoke(mf_console_cap, MF_CONSOLE_GETC, 0, 0, 0, 0); }
long mf_yield(void) { return mf_syscall(SYS_YIELD, 0, 0, 0); }
long mf_thread_info(unsigned index, struct mf_thread_info *info)
{
    if (index == MF_THREAD_SELF)
        return mf_syscall(SYS_THREAD_INFO, index, (long)info, 0);
    return mf_invoke(MF_CAP_SYSTEM, MF_SYSTEM_THREAD_INFO, index, (long)info, 0, 0);
}
long mf_cpu_id(void)
{
    struct mf_thread_info info;
    long r = mf_thread_info(MF_THREAD_SELF, &info);
    return r < 0 ? r : (long)info.cpu;
}
long mf_system_info(struct mf_system_info *info) { return mf_invoke(MF_CAP_SYSTEM, MF_SYSTEM_INFO, (long)info, 0, 0, 0); }
long mf_kstats(struct mf_kstats *out) { return mf_invoke(MF_CAP_SYSTEM, MF_SYSTEM_KSTATS, (long)out, 0, 0, 0); }
long mf_time(void) { return mf_syscall(SYS_TIME, 0, 0, 0); }
long mf_sleep(long ticks) { return mf_syscall(SYS_SLEEP, ticks, 0, 0); }
long mf_system_poweroff(long system, int status) { return mf_invoke(system, MF_SYSTEM_POWEROFF, status, 0, 0, 0); }
long mf_ktest_count(long system) { return mf_invoke(system, MF_SYSTEM_KTEST_COUNT, 0, 0, 0, 0); }
long mf_ktest_run(long system, long index, long number)
{
    return mf_invoke(system, MF_SYSTEM_KTEST_RUN, index, number, 0, 0);
}
long mf_kbench(long system) { return mf_invoke(system, MF_SYSTEM_KBENCH, 0, 0, 0, 0); }

_Noreturn void mf_exit(int code)
{
    mf_syscall(SYS_EXIT, code, 0, 0);
    for (;;)
        ;
}

_Noreturn void mf_poweroff(int status)
{
    long r = mf_system_poweroff(MF_CAP_SYSTEM, status);
    printf("mf_poweroff: no System cap in slot %d (%ld): exiting instead\n", MF_CAP_SYSTEM, r);
    mf_exit(status);
}

// printf buffers a line so one write reaches the console in one piece.
struct line_buf {
    char buf[256];
    size_t n;
};

static void flush(struct line_buf *b)
{
    if (b->n)
        mf_write(b->buf, b->n);
    b->n = 0;
}

static void line_sink(void *ctx, char c)
{
    struct line_buf *b = ctx;
    b->buf[b->n++] = c;
    if (b->n == sizeof(b->buf) || c == '\n')
        flush(b);
}

int vprintf(const char *fmt, va_list ap)
{
    struct line_buf b = {.n = 0};
    int n = fmt_format(line_sink, &b, fmt, ap);
    flush(&b);
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int puts(const char *s)
{
    return printf("%s\n", s);
}

_Noreturn void mf_start(uint64_t arg);
_Noreturn void mf_start(uint64_t arg)
{
    mf_exit(main(arg));
}

// ------------------------------------------------------------ errors

static const char *const type_names[MF_OBJ_TYPE_COUNT] = {
    [MF_OBJ_NULL] = "empty slot", [MF_OBJ_UNTYPED] = "untyped", [MF_OBJ_CNODE] = "cnode",
    [MF_OBJ_FRAME] = "frame", [MF_OBJ_THREAD] = "thread", [MF_OBJ_ENDPOINT] = "endpoint",
    [MF_OBJ_NOTIFICATION] = "notification", [MF_OBJ_VAS] = "vas", [MF_OBJ_SEGMENT] = "segment",
    [MF_OBJ_BINDING] = "binding", [MF_OBJ_PCI_DEVICE] = "pci device", [MF_OBJ_IRQ] = "irq",
    [MF_OBJ_SYSTEM] = "system", [MF_OBJ_CONSOLE] = "console", [MF_OBJ_RECLAIM] = "reclaim",
    [MF_OBJ_PACKET_FILTER] = "packet filter",
    [MF_OBJ_CPU_TIME] = "cpu time", [MF_OBJ_SLOTS] = "slots", [MF_OBJ_SNAPSHOT] = "snapshot",
};

const char *mf_type_name(unsigned type) { return type < MF_OBJ_TYPE_COUNT ? type_names[type] : "?"; }

static void rights_text(char *out, size_t size, unsigned rights)
{
    snprintf(out, size, "%s%s%s", rights & MF_RIGHT_READ ? "READ " : "", rights & MF_RIGHT_WRITE ? "WRITE " : "",
             rights & MF_RIGHT_GRANT ? "GRANT " : "");
    size_t n = strlen(out);
    if (n)
        out[n - 1] = 0;
}

const char *mf_strerror_detail(long err)
{
    static char text[160];
    struct mf_thread_info me;
    if (err >= 0 || mf_thread_info(MF_THREAD_SELF, &me) < 0 || me.refused_error != err)
        return mf_strerror(err);
    char what[96];
    const char *found = mf_type_name(me.refused_found), *expected = mf_type_name(me.refused_expected);
    if (me.refused_why[0])
        snprintf(what, sizeof(what), "%s", me.refused_why);
    else if (err == -E_TYPE)
        snprintf(what, sizeof(what), "holds %s, needs %s", found, expected);
    else if (err == -E_PERM && me.refused_rights) {
        char r[24];
        rights_text(r, sizeof(r), me.refused_rights);
        snprintf(what, sizeof(what), "the %s cap lacks %s", found, r);
    } else
        snprintf(what, sizeof(what), "%s operation %u refused", expected, me.refused_op);
    if (me.refused_index)
        snprintf(text, sizeof(text), "%s (entry %u of the batch, cptr %u, %s: %s)", mf_strerror(err),
                 me.refused_index - 1, me.refused_cptr, found, what);
    else
        snprintf(text, sizeof(text), "%s (cptr %u, %s: %s)", mf_strerror(err), me.refused_cptr, found, what);
    return text;
}
