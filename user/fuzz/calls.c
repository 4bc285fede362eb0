// One fuzzing step, and the plain system calls: every number from 0 to
// SYS_COUNT + 4 (and wild ones) with boundary, random and pointer
// arguments. SYS_EXIT is made once, at the end (it ends the fuzzer); calls
// that block by design are bounded. Power-off, kernel tests and benchmarks
// are System-cap operations that need WRITE, and the fuzzer holds a
// read-only System cap: it tries them on every kind of slot, and they must
// fail.
#include "fuzz.h"
#include "lib/string.h"


static void random_write(struct fz_ctx *c)
{
    static const char dots[] = "fuzz............\n";
    uint64_t p, len;
    switch (fz_below(c, 5)) {
    case 0: {
        uint64_t k = fz_below(c, 16);
        p = (uint64_t)(uintptr_t)&dots[k];
        len = fz_chance(c, 900) ? 0 : sizeof(dots) - 1 - k;   // mostly empty: keep the log clean
        break;
    }
    case 1:
        p = (uint64_t)(uintptr_t)dots;
        len = (1u << 20) + 1 + fz_below(c, 100);             // too long: refused before reading
        break;
    case 2:
        p = fz_value(c);
        len = fz_chance(c, 500) ? (uint64_t)-1 : fz_value(c) | (1u << 21);
        break;
    default: {
        // Unmapped or the kernel's: refused at the first byte.
        static const uint64_t bad[] = {0, 8, 0xffff800000000000, 0xffffffff80100000, 0x7000000000,
                                       0x7ffffffffff0, 0xfffffffffffffff0, 0x800000000000};
        p = bad[fz_below(c, sizeof(bad) / sizeof(bad[0]))];
        len = 1 + fz_below(c, 4096);
        break;
    }
    }
    // Through the console cap (slot 3), or whatever a random slot holds.
    long cap = fz_chance(c, 900) ? MF_CAP_CONSOLE : (long)fz_cptr(c);
    long id = fz_identify(c, cap);
    if (id > 0 && (id & 0xff) != MF_OBJ_CONSOLE)
        return;     // operation 0 of another type, with these arguments: not ours to make
    fz_sys(c, SYS_INVOKE, cap, MF_CONSOLE_WRITE, (long)p, (long)len, (long)fz_value(c), 0);
}

// The System cap's operations through any slot: we hold no System cap,
// so the kernel must refuse every one (or run the slot's own operation
// of that number, with the fuzzer's arguments).
static void system_ops(struct fz_ctx *c)
{
    long slot = fz_chance(c, 500) ? (long)fz_cptr(c) : (long)fz_below(c, 8);
    long op = (long)fz_below(c, MF_SYSTEM_OP_COUNT);
    // The kernel dispatches by what the slot holds: on a CNode these
    // numbers are CNode operations (delete, revoke...) with unguarded
    // arguments, which took the fuzzer's own slots. System caps and empty
    // slots only; other objects get their own operations elsewhere.
    long id = fz_identify(c, slot);
    if (id > 0 && (id & 0xff) != MF_OBJ_SYSTEM)
        return;
    if (id > 0 && (id >> 8 & MF_RIGHT_WRITE) &&
        (op == MF_SYSTEM_POWEROFF || op == MF_SYSTEM_KBENCH || op == MF_SYSTEM_KTEST_RUN)) {
        printf("fuzz: seed %u: slot %ld holds a System cap with WRITE\n", fz.seed, slot);
        return;
    }
    // INFO, KSTATS and THREAD_INFO write where they are told: a buffer of ours.
    long a0 = (long)fz_value(c), a1 = (long)fz_value(c);
    if (op == MF_SYSTEM_INFO || op == MF_SYSTEM_KSTATS)
        a0 = (long)fz_ptr_out(c);
    else if (op == MF_SYSTEM_THREAD_INFO)
        a0 = (long)(fz_chance(c, 700) ? fz_below(c, 80) : fz_value(c)), a1 = (long)fz_ptr_out(c);
    fz_sys(c, SYS_INVOKE, slot, op, a0, a1, 0, 0);
}

static void random_sleep(struct fz_ctx *c)
{
    static const long ticks[] = {0, 1, 2, 1000001, -1, 1l << 40, 0x7fffffffffffffff};
    long t = ticks[fz_below(c, sizeof(ticks) / sizeof(ticks[0]))];
    fz_sys(c, SYS_SLEEP, t, (long)fz_value(c), 0, 0, 0, 0);
}

// Our own thread's info (others' are refused: they need the System cap).
static void random_info(struct fz_ctx *c, long n)
{
    long a0 = (long)(fz_chance(c, 300) ? fz_value(c) : fz_below(c, 40));
    if (fz_chance(c, 500))
        a0 = MF_THREAD_SELF;
    fz_sys(c, n, a0, (long)fz_ptr_out(c), (long)fz_value(c), 0, 0, 0);
}

// IPC on a random capability. On an endpoint nobody serves these block:
// mostly we send only where the slot holds no endpoint (an error comes
// back), and now and then on any endpoint, which a sacrificial thread may
// be serving; if not, the supervisor suspends and resumes us (-E_AGAIN).
static void random_ipc(struct fz_ctx *c, long n)
{
    long cptr = fz_chance(c, 300) ? fz_slot_of(c, MF_OBJ_ENDPOINT) : fz_cptr(c);
    long type = fz_identify(c, cptr) & 0xff;
    if (type == MF_OBJ_ENDPOINT && !fz_chance(c, 30))
        return;
    struct mf_msg m = {.info = fz_rand(c)};
    long sent = (m.info & MF_INFO_CAP) ? (long)MF_INFO_SEND_CPTR(m.info) : -1;
    if (fz_chance(c, 700)) {
        sent = fz_chance(c, 500) ? fz_cptr(c) : -1;
        m.info = MF_INFO(fz_below(c, 8), fz_below(c, 80)) |
                 MF_INFO_RECV_SLOT(fz_chance(c, 500) ? fz_free_slot(c) : fz_cptr(c));
    }
    if (sent == FZ_WORKER || sent == FZ_PARTNER)
        sent = FZ_PROTECTED_END;         // never a writable cap to the threads we run on
    if (sent >= 0) {
        sent = fz_send_slot(c, sent);
        m.info = (m.info & ~(0xffffull << 32)) | MF_INFO_SEND_CAP(sent);
    }
    for (int i = 0; i < MF_MSG_MAX_REGS; i++)
        m.mr[i] = fz_value(c);
    fz_ipc(c, n, cptr, &m);
    if (sent >= 0)
        fz_send_done(c, sent);
}

// LRPC calls on random bindings, procedures and A-stacks, from home or
// from a VAS of ours (a bound client's, perhaps).
static void random_lrpc(struct fz_ctx *c, long n)
{
    if (n == SYS_LRPC_RETURN) {
        fz_sys(c, n, (long)fz_value(c), (long)fz_value(c), 0, 0, 0, 0);
        return;
    }
    long binding = fz_chance(c, 700) ? fz_slot_of(c, MF_OBJ_BINDING) : fz_cptr(c);
    long proc = (long)(fz_chance(c, 700) ? fz_below(c, 10) : fz_value(c));
    long astack = (long)(fz_chance(c, 700) ? fz_below(c, 18) : fz_value(c));
    if (fz_chance(c, 600))
        fz_sys(c, SYS_VAS_SWITCH, fz_slot_of(c, MF_OBJ_VAS), 0, 0, 0, 0, 0);
    fz_sys(c, n, binding, proc, astack, (long)fz_value(c), 0, 0);
    if (fz_chance(c, 700))
        fz_sys(c, SYS_VAS_SWITCH, 0, 0, 0, 0, 0, 0);
}

void fz_random_syscall(struct fz_ctx *c)
{
    long n;
    if (fz_chance(c, 30)) {
        static const long wild[] = {-1, 1l << 32, 9999, 0x7fffffff, SYS_COUNT, (long)(1ul << 63), 255, 256};
        n = wild[fz_below(c, sizeof(wild) / sizeof(wild[0]))];
    } else {
        n = (long)fz_below(c, SYS_COUNT + 5);
    }
    switch (n) {
    case SYS_EXIT:            // ends us: made once, at the end
        n = SYS_YIELD;
        break;
    case SYS_THREAD_INFO:
        random_info(c, n);
        return;
    case SYS_SLEEP:
        random_sleep(c);
        return;
    case SYS_INVOKE:
        switch (fz_below(c, 8)) {
        case 0:
            random_write(c);
            break;
        case 1:
            system_ops(c);
            break;
        default:
            fz_random_invoke(c);
            break;
        }
        return;
    case SYS_SEND:
    case SYS_RECV:
    case SYS_CALL:
    case SYS_REPLY_RECV:
        random_ipc(c, n);
        return;
    case SYS_VAS_SWITCH:
        fz_sys(c, n, fz_chance(c, 300) ? 0 : fz_slot_of(c, MF_OBJ_VAS), (long)fz_value(c), 0, 0, 0, 0);
        return;
    case SYS_LRPC_CALL:
    case SYS_LRPC_RETURN:
        random_lrpc(c, n);
        return;
    default:
        break;
    }
    fz_sys(c, n, (long)fz_value(c), (long)fz_value(c), (long)fz_value(c), (long)fz_value(c), (long)fz_value(c),
           (long)fz_value(c));
}

// One random action. The worker also keeps the world in shape (epochs,
// the partner); mini-fuzzers (sacrificial threads) and the partner only
// make calls.
void fz_step(struct fz_ctx *c)
{
    uint8_t local[FZ_LOCAL_SIZE];
    c->local = local;
    unsigned r = (unsigned)fz_below(c, 1000);
    if (r < 280)
        fz_random_syscall(c);
    else if (r < 430)
        fz_random_invoke(c);
    else if (r < 620)
        fz_invoke_type(c, 1 + (unsigned)fz_below(c, MF_OBJ_TYPE_COUNT - 1));
    else if (r < 720)
        fz_cap_storm(c);
    else if (r < 790)
        fz_retype_storm(c);
    else if (r < 860 && c->role == FZ_ROLE_WORKER)
        fz_partner_ipc(c);
    else if (r < 900)
        fz_thread_scenario(c);
    else if (r < 940)
        fz_space_scenario(c);
    else if (r < 958)
        fz_lrpc_scenario(c);
    else if (r < 965)
        fz_reclaim_scenario(c);
    else if (r < 985 && !(fz.flags & FZ_FLAG_NO_DEVICES))
        fz_device_ops(c);
    else if (r < 989 && c->role == FZ_ROLE_WORKER && !(fz.flags & FZ_FLAG_NO_SPAWN))
        fz_spawn_scenario(c);       // the user-level loader: no system call of its own
    else
        fz_identify(c, fz_cptr(c));
    c->local = NULL;
}
