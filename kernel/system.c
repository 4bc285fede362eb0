// The System and Console objects: authority over the machine that used to
// be ambient (power-off, the kernel's self-tests and benchmarks, the serial
// console). One object of each exists; the root task gets a capability to
// each at boot (MF_CAP_SYSTEM, MF_CAP_CONSOLE) and passes copies, perhaps
// with fewer rights, to whom it chooses.
#include "kernel/arch.h"
#include "kernel/clustered.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/ktest.h"
#include "kernel/locks.h"
#include "kernel/object.h"
#include "kernel/smp_bench.h"
#include "kernel/thread.h"
#include "kernel/usercopy.h"
#include "kernel/boot.h"
#include "kernel/pci.h"
#include "kernel/pmm.h"
#include "kernel/version.h"
#include "lib/string.h"
#include "include/manifold/errors.h"

// The objects carry no state; a capability names them by these addresses.
static struct { uint64_t unused; } system_object, console_object;

// Self-tests and benchmarks take over every CPU: one runs at a time.
static bool system_busy;

void system_grant_root(struct slot *system_slot, struct slot *console_slot)
{
    struct cap sys = {.obj = (uintptr_t)&system_object, .type = MF_OBJ_SYSTEM, .rights = MF_RIGHTS_ALL};
    struct cap con = {.obj = (uintptr_t)&console_object, .type = MF_OBJ_CONSOLE, .rights = MF_RIGHTS_ALL};
    cap_insert(system_slot, &sys, NULL);
    cap_insert(console_slot, &con, NULL);
}

// ------------------------------------------------------------------ system

struct poweroff_args {
    int status;
};

static int decode_poweroff(const struct invocation *inv, struct decoded *d)
{
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    DECODED(struct poweroff_args, d)->status = (int)inv->arg[0];
    return 0;
}

static int64_t invoke_poweroff(const struct decoded *d)
{
    int status = DECODED(struct poweroff_args, d)->status;
    cap_unlock();
    kprintf("manifold: powering off (status %d)\n", status);
    arch_poweroff(status);
}

static int decode_ktest_count(const struct invocation *inv, struct decoded *d)
{
    return inv->target->cap.rights & MF_RIGHT_READ ? 0 : -E_PERM;
}

static int64_t invoke_ktest_count(const struct decoded *d) { return ktest_count(); }

// KTEST_RUN (test `index`, numbered `number`) and KBENCH.
struct exclusive_args {
    uint64_t op;
    unsigned index, number;
};

static int decode_exclusive(const struct invocation *inv, struct decoded *d)
{
    struct exclusive_args *a = DECODED(struct exclusive_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (inv->op == MF_SYSTEM_KTEST_RUN && (inv->arg[0] >= ktest_count() || inv->arg[1] > 0xffffffffu))
        return -E_RANGE;
    a->op = inv->op;
    a->index = (unsigned)inv->arg[0];
    a->number = (unsigned)inv->arg[1];
    return 0;
}

// Tests and benchmarks take the kernel's locks themselves: drop cap_lock.
static int64_t invoke_exclusive(const struct decoded *d)
{
    const struct exclusive_args *a = DECODED(struct exclusive_args, d);
    cap_unlock();
    if (__atomic_exchange_n(&system_busy, true, __ATOMIC_ACQUIRE))
        return -E_BUSY;     // another thread runs a test or benchmark
    int64_t r;
    if (a->op == MF_SYSTEM_KTEST_RUN)
        r = ktest_run(a->index, a->number);
    else
        r = kbench_run() ? -E_AGAIN : 0;
    __atomic_store_n(&system_busy, false, __ATOMIC_RELEASE);
    return r;
}

// INFO, THREAD_INFO: what the machine is, and its threads (`ps`).
struct info_args {
    uint64_t index, buffer;
};

static int decode_info(const struct invocation *inv, struct decoded *d)
{
    struct info_args *a = DECODED(struct info_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    if (inv->op == MF_SYSTEM_INFO) {
        a->buffer = inv->arg[0];
    } else {
        if (inv->arg[0] >= MF_THREAD_SELF)
            return -E_NOENT;
        a->index = inv->arg[0];
        a->buffer = inv->arg[1];
    }
    return 0;
}

static int64_t invoke_info(const struct decoded *d)
{
    const struct info_args *a = DECODED(struct info_args, d);
    struct mf_system_info info = {0};
    strlcpy(info.version, MANIFOLD_VERSION, sizeof(info.version));
    strlcpy(info.arch, arch_name, sizeof(info.arch));
    arch_cpu_features(info.features, sizeof(info.features));
    strlcpy(info.cmdline, kernel_cmdline(), sizeof(info.cmdline));
    info.cpus = cpu_count;
    info.timer_hz = TIMER_HZ;
    info.memory_total = pmm_total_bytes();
    info.memory_free = pmm_free_bytes();
    info.cycles_per_second = arch_cycles_per_second();
    info.counter_hz = arch_user_counter_hz();
    root_untyped_info(&info.untyped_count, &info.untyped_size_bits);
    info.device_count = pci_device_count;
    info.flags = arch_feature_bits() & ARCH_FEAT_USER_TLS ? MF_SYSTEM_USER_TLS : 0;
    return copy_to_user(a->buffer, &info, sizeof(info));
}

static int64_t invoke_thread_info(const struct decoded *d)
{
    const struct info_args *a = DECODED(struct info_args, d);
    struct mf_thread_info info;
    if (!thread_info_at((unsigned)a->index, &info))
        return -E_NOENT;
    return copy_to_user(a->buffer, &info, sizeof(info));
}

static int decode_kstats(const struct invocation *inv, struct decoded *d)
{
    struct info_args *a = DECODED(struct info_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_READ))
        return -E_PERM;
    a->buffer = inv->arg[0];
    return 0;
}

static int64_t invoke_kstats(const struct decoded *d)
{
    const struct info_args *a = DECODED(struct info_args, d);
    struct mf_kstats k = {0};
    for (unsigned i = 0; i < MF_KSTAT_COUNT; i++)
        k.count[i] = kstat_read(i);
    k.page_cache_bytes = pmm_cached_bytes();
    k.cpus_counting = kstats.reps;
    return copy_to_user(a->buffer, &k, sizeof(k));
}

static const struct op_handler system_ops[MAX_OPS] = {
    [MF_SYSTEM_POWEROFF] = {decode_poweroff, invoke_poweroff},
    [MF_SYSTEM_KTEST_COUNT] = {decode_ktest_count, invoke_ktest_count},
    [MF_SYSTEM_KTEST_RUN] = {decode_exclusive, invoke_exclusive},
    [MF_SYSTEM_KBENCH] = {decode_exclusive, invoke_exclusive},
    [MF_SYSTEM_INFO] = {decode_info, invoke_info},
    [MF_SYSTEM_THREAD_INFO] = {decode_info, invoke_thread_info},
    [MF_SYSTEM_KSTATS] = {decode_kstats, invoke_kstats},
};

const struct object_type system_object_type = {
    .name = "system",
    .ops = system_ops,
    .op_count = MF_SYSTEM_OP_COUNT,
};

// ----------------------------------------------------------------- console

#define CONSOLE_WRITE_MAX (1u << 20)

// WRITE: length bytes from user_buffer.
struct console_write_args {
    uint64_t user_buffer, length;
};

static int decode_write(const struct invocation *inv, struct decoded *d)
{
    struct console_write_args *a = DECODED(struct console_write_args, d);
    if (!(inv->target->cap.rights & MF_RIGHT_WRITE))
        return -E_PERM;
    if (inv->arg[1] > CONSOLE_WRITE_MAX)
        return -E_RANGE;
    a->user_buffer = inv->arg[0];
    a->length = inv->arg[1];
    return 0;
}

// Copies from user memory, which may fault into the pager path: not under
// cap_lock. A bad buffer is -E_FAULT, with what came before it written.
static int64_t invoke_write(const struct decoded *d)
{
    const struct console_write_args *a = DECODED(struct console_write_args, d);
    cap_unlock();
    uint64_t ubuf = a->user_buffer, len = a->length;
    char chunk[256];        // a line of user printf (256) reaches the console whole
    for (uint64_t done = 0; done < len;) {
        size_t n = len - done < sizeof(chunk) ? len - done : sizeof(chunk);
        if (copy_from_user(chunk, ubuf + done, n))
            return -E_FAULT;
        console_write(chunk, n);
        done += n;
    }
    return (int64_t)len;
}

static int decode_getc(const struct invocation *inv, struct decoded *d)
{
    return inv->target->cap.rights & MF_RIGHT_READ ? 0 : -E_PERM;
}

static int64_t invoke_getc(const struct decoded *d)
{
    cap_unlock();
    for (;;) {
        int c = arch_console_getc();
        if (c >= 0)
            return c;
        if (!thread_block(BLOCK_CONSOLE))  // the timer tick wakes us to look again
            return -E_AGAIN;
    }
}

static const struct op_handler console_ops[MAX_OPS] = {
    [MF_CONSOLE_WRITE] = {decode_write, invoke_write},
    [MF_CONSOLE_GETC] = {decode_getc, invoke_getc},
};

const struct object_type console_object_type = {
    .name = "console",
    .ops = console_ops,
    .op_count = MF_CONSOLE_OP_COUNT,
};
_Static_assert(MF_SYSTEM_OP_COUNT <= MAX_OPS && MF_CONSOLE_OP_COUNT <= MAX_OPS, "operation tables");
