// A seeded system-call fuzzer (docs/testing.md, "Fuzzing"). Its argument
// packs the seed (bits 0..31), the number of calls in thousands (32..51;
// 0 means 10,000), a CPU to keep its threads on plus one (52..55; 0: any)
// and flags (56..63): FZ_ARG(seed, kcalls, cpu + 1, flags), see
// user/fuzz/fuzz.h. It needs the CSpace spawn_with_resources gives a
// program (a 256-slot CNode with 4 MiB of untyped in slot 16).
//
// The main thread only supervises. A worker thread makes the calls: every
// system call number (but exit) with boundary, random and pointer
// arguments, console writes and System operations through any slot (it
// holds no System cap: power-off and the kernel tests must fail), every operation on every object it can make, storms of
// retypes and of copy/mint/move/delete/revoke, IPC with capability
// transfer to a partner thread in another CSpace, address spaces,
// segments, frames and pagers, LRPC bindings (configured with any server
// CSpace, described), threads made, started,
// suspended and deleted while they run (some of which fuzz too), programs
// spawned and reaped, and PCI devices and IRQs. Each run of the same seed
// makes the same choices; threads on other CPUs make the interleaving
// vary. With `fuzz_trace=N` on the kernel command line every call from
// the Nth on is printed before it is made.
//
// A call that blocks for good (a receive nobody answers, a wait without
// time-out) stops the worker's heartbeat: the supervisor then suspends
// and resumes it (the call returns -E_AGAIN). Lines: `fuzz: seed S calls
// N` every 10,000 calls, `fuzz: seed S done N calls (...)` at the end;
// exit status 0, or 2 (no resources), 3 (the worker died), 4 (the kernel
// wrote into our read-only text), 5 (the worker made no call for 60 s).
#include "user/fuzz/fuzz.h"
#include "lib/string.h"

static uint8_t worker_stack[32768] __attribute__((aligned(16)));
extern const char __program_start[];    // where our text begins (linker script)
extern const char __utests_start[];     // the end of text and read-only data

static uint64_t text_checksum(void)
{
    uint64_t h = 1469598103934665603ull;
    for (const uint8_t *p = (const uint8_t *)__program_start; p < (const uint8_t *)__utests_start; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

static uint64_t cmdline_number(const char *key)
{
    struct mf_system_info si;
    if (mf_system_info(&si))
        return 0;
    size_t n = strlen(key);
    for (const char *p = si.cmdline; *p; p++)
        if ((p == si.cmdline || p[-1] == ' ') && strncmp(p, key, n) == 0) {
            uint64_t v = 0;
            for (p += n; *p >= '0' && *p <= '9'; p++)
                v = v * 10 + (uint64_t)(*p - '0');
            return v;
        }
    return 0;
}

static void worker(uint64_t arg)
{
    (void)arg;
    struct fz_ctx *c = &fz_worker_ctx;
    struct mf_thread_info ti;
    if (mf_thread_info(MF_THREAD_SELF, &ti) == 0)
        fz.worker_tid = ti.id;
    uint64_t next_epoch = 2000 + fz_below(c, 2000);
    while (fz.calls < fz.target) {
        fz_step(c);
        if (c->calls >= next_epoch) {
            fz_epoch_reset(c);
            next_epoch = c->calls + 2000 + fz_below(c, 3000);
        }
        if (fz.partner_broken && fz_chance(c, 100))
            fz_partner_repair(c, false);
    }
    fz_sys(c, SYS_VAS_SWITCH, 0, 0, 0, 0, 0, 0);
    fz.worker_done = 1;
}

// The worker's entry in the thread table; false if it has none.
static bool worker_info(struct mf_thread_info *ti)
{
    for (unsigned i = 0; mf_invoke(FZ_SYSTEM, MF_SYSTEM_THREAD_INFO, i, (long)ti, 0, 0) == 0; i++)
        if (ti->id && (long)ti->id == fz.worker_tid)
            return true;
    return false;
}

// Ticks without a call after which the worker is judged wedged: a blocked
// call returns -E_AGAIN when kicked, and a runnable worker gets a CPU
// within a few slices (aging lifts it over threads of its priority that
// ran), so this long without a call is a bug (reported, with its state).
#define STUCK_TICKS 6000

// Watches the worker's heartbeat until it is done; 0, 3 if it died, 5 if
// it made no call for STUCK_TICKS.
static int supervise(void)
{
    uint64_t last = 0, printed = 0;
    int still = 0, inactive = 0;
    long quiet_since = mf_time();
    while (!fz.worker_done) {
        mf_sleep(1);
        uint64_t calls = fz.calls;
        if (!(fz.flags & FZ_FLAG_QUIET) && calls / 10000 > printed) {
            printed = calls / 10000;
            printf("fuzz: seed %u calls %lu\n", fz.seed, (unsigned long)(printed * 10000));
        }
        if (fz.worker_calls != last) {
            last = fz.worker_calls;
            still = inactive = 0;
            quiet_since = mf_time();
            continue;
        }
        if (++still < 3 || fz.worker_done)
            continue;
        // Blocked where nobody answers, or suspended by itself: suspend and
        // resume it. Starved after lowering its own priority: give it back.
        still = 0;
        struct mf_thread_info ti;
        long state = worker_info(&ti) ? (long)ti.state : -1;
        if (state == MF_THREAD_INACTIVE && ++inactive >= 3) {
            // Its pc if it is stopped; how it ended if it did (the pc read
            // then says -E_BUSY).
            struct mf_exit_status st = {0};
            long ended = mf_thread_exit_status(FZ_WORKER, &st);
            printf("fuzz: seed %u: the worker stopped for good after %lu calls (pc %#lx; exit status %ld: how %d, "
                   "code %d, address %#lx)\n", fz.seed, (unsigned long)fz.worker_calls,
                   mf_thread_read_reg(FZ_WORKER, MF_REG_PC), ended, st.how, st.code, (unsigned long)st.address);
            return 3;
        }
        if (mf_time() - quiet_since > STUCK_TICKS) {
            printf("fuzz: seed %u: the worker made no call in %d ticks, after %lu calls (state %u, blocked on %u, "
                   "cpu %u, priority %u, switches %lu)\n", fz.seed, STUCK_TICKS, (unsigned long)fz.worker_calls,
                   ti.state, ti.blocked_on, ti.cpu, ti.priority, (unsigned long)ti.switches_in);
            // Where it is (addr2line on fuzz.elf), and in which call.
            struct mf_regs regs = {0};
            mf_thread_suspend(FZ_WORKER);
            long in = mf_thread_read_context(FZ_WORKER, &regs);
            printf("fuzz: seed %u: the worker's context: %ld, pc %#lx, sp %#lx, r0 %#lx, r5/x8 %#lx\n", fz.seed, in,
                   (unsigned long)regs.pc, (unsigned long)regs.sp, (unsigned long)regs.regs[0],
                   (unsigned long)regs.regs[sizeof(void *) == 8 && MF_SYSCALL_INSN_BYTES == 4 ? 8 : 5]);
            return 5;
        }
        if (state >= 0 && ti.priority != 10)
            mf_thread_set_priority(FZ_WORKER, 10);
        // A runnable worker only waits for its CPU: moving, suspending or
        // resuming it would queue it again behind the threads it waits for,
        // its age lost (kicked every third tick, it once starved for
        // seconds behind threads it had made spin at its priority).
        if (state != MF_THREAD_RUNNABLE) {
            if (fz.cpu >= 0)
                mf_thread_set_sched(FZ_WORKER, MF_SCHED_FIXED, (unsigned)fz.cpu);
            // Stopped in a wait, it would make the call again once resumed
            // (the kernel's "Restart"): make that call return -E_AGAIN.
            mf_thread_suspend(FZ_WORKER);
            mf_thread_abort_call(FZ_WORKER, -E_AGAIN);
            mf_thread_resume(FZ_WORKER);
        }
        fz.stalls++;
    }
    return 0;
}

int main(uint64_t arg)
{
    fz.seed = FZ_ARG_SEED(arg);
    fz.flags = FZ_ARG_FLAGS(arg);
    fz.cpu = FZ_ARG_CPU(arg);
    fz.target = FZ_ARG_KCALLS(arg) ? FZ_ARG_KCALLS(arg) * 1000ull : 10000;
    fz.trace_from = cmdline_number("fuzz_trace=");
    uint64_t text = text_checksum();
    // Our lines go through a copy of the console cap in a protected slot:
    // slot 3 itself is fuzzed like any other.
    if (mf_cnode_copy(FZ_SELF, MF_CAP_CONSOLE, FZ_CONSOLE, MF_RIGHT_WRITE) == 0)
        mf_console_cap = FZ_CONSOLE;
    // The System and images caps move to protected slots, and 4 and 5 get
    // copies derived from them: revoking a fuzzed slot then takes nothing
    // we rely on.
    if (mf_cnode_move(FZ_SELF, MF_CAP_SYSTEM, FZ_SYSTEM) == 0)
        mf_cnode_copy(FZ_SELF, FZ_SYSTEM, MF_CAP_SYSTEM, MF_RIGHT_READ);
    if (mf_cnode_move(FZ_SELF, MF_CAP_BOOT_IMAGES, FZ_IMAGES) == 0)
        mf_cnode_copy(FZ_SELF, FZ_IMAGES, MF_CAP_BOOT_IMAGES, MF_RIGHT_READ);
    printf("fuzz: seed %u calls %lu cpu %d flags %#x: start\n", fz.seed, (unsigned long)fz.target, fz.cpu,
           fz.flags);
    struct fz_ctx *c = &fz_worker_ctx;
    *c = (struct fz_ctx){.role = FZ_ROLE_WORKER, .self = FZ_SELF};
    fz_seed(&c->rng, fz.seed);
    if (!fz_setup(c))
        return 2;
    if (fz.cpu >= 0)
        mf_thread_set_sched(FZ_WORKER, MF_SCHED_FIXED, (unsigned)fz.cpu);
    if (mf_thread_start_buffer(FZ_WORKER, worker, worker_stack, sizeof(worker_stack), 0, &fz_scratch[12 * 4096])) {
        printf("fuzz: seed %u: cannot start the worker\n", fz.seed);
        return 2;
    }
    int status = supervise();
    // Take back everything: storm objects, then our own threads and endpoints.
    mf_cnode_revoke(FZ_SELF, FZ_UT_STORM_A);
    mf_cnode_revoke(FZ_SELF, FZ_UT_STORM_B);
    mf_cnode_revoke(FZ_SELF, FZ_UT_INFRA);
    mf_cnode_revoke(FZ_SELF, FZ_UT_ALL);
    if (text_checksum() != text) {
        printf("fuzz: seed %u: our read-only text changed\n", fz.seed);
        status = status ? status : 4;
    }
    printf("fuzz: seed %u done %lu calls (%lu epochs, %lu stalls, %lu repairs, %lu threads, %lu retypes, %lu ipc, "
           "%lu lrpc, %lu bindings with a CSpace named, %lu described, %lu spawns)\n",
           fz.seed, (unsigned long)fz.calls, (unsigned long)fz.epochs, (unsigned long)fz.stalls,
           (unsigned long)fz.repairs, (unsigned long)fz.threads_made, (unsigned long)fz.retypes_ok,
           (unsigned long)fz.ipc_ok, (unsigned long)fz.lrpc_ok, (unsigned long)fz.binding_cspaces,
           (unsigned long)fz.bindings_described, (unsigned long)fz.spawns);
    return status;
}
