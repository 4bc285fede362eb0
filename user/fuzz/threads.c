// Threads: the worker's IPC partner (in a CSpace of its own, which it
// fuzzes and the worker repairs), sacrificial threads (made from storm
// memory, each on a stack of its own for the epoch: they run, block,
// fault, fuzz and are deleted or revoked under way), programs spawned and
// reaped, and the LRPC procedures.
#include "fuzz.h"
#include "lib/string.h"

extern void mf_thread_trampoline(void);

uint8_t fz_partner_stack[FZ_PARTNER_STACK_SIZE] __attribute__((aligned(16)));
static struct fz_ctx partner_ctx;
static volatile uint64_t sac_counter;

// ------------------------------------------------------------ the partner

enum { P_ECHO = 1, P_RETURN_CAP, P_CNODE_OP, P_SEND_BACK, P_SIGNAL, P_STEP, P_LABELS };
#define P_SEND_MAGIC 0x5e4dbac4ull

static long partner_recv_slot(struct fz_ctx *c)
{
    if (fz_chance(c, 900))
        return FZC_ARENA + (long)fz_below(c, (1u << FZ_CHILD_BITS) - FZC_ARENA);
    return (long)fz_below(c, 70);      // 0: none; 1..7: occupied; 64..: out of range
}

void fz_partner_main(uint64_t arg)
{
    struct fz_ctx *c = &partner_ctx;
    uint8_t local[FZ_LOCAL_SIZE];
    *c = (struct fz_ctx){.role = FZ_ROLE_PARTNER, .self = FZC_SELF, .local = local};
    fz_seed(&c->rng, fz.seed ^ 0x9a47e5ull ^ fz.repairs << 32);
    fz.partner_broken = 0;
    long slot = partner_recv_slot(c);
    struct mf_msg m = {.info = MF_INFO_RECV_SLOT(slot)};
    long badge = fz_ipc(c, SYS_RECV, FZC_EP, &m);
    for (;;) {
        if (badge < 0) {
            fz.partner_broken = 1;     // our endpoint is gone: the worker puts it back
            mf_sleep(1);
            slot = partner_recv_slot(c);
            m = (struct mf_msg){.info = MF_INFO_RECV_SLOT(slot)};
            badge = fz_ipc(c, SYS_RECV, FZC_EP, &m);
            continue;
        }
        fz.partner_broken = 0;
        fz.partner_served++;
        bool got = m.info & MF_INFO_CAP;
        uint64_t reply = MF_INFO(0, fz_below(c, 8));
        long sent = -1;
        c->local = local;
        switch (MF_INFO_LABEL(m.info)) {
        case P_ECHO:
            for (int i = 0; i < MF_MSG_MAX_REGS; i++)
                m.mr[i]++;
            break;
        case P_RETURN_CAP:
            sent = fz_send_slot(c, got ? slot : (long)fz_below(c, 1u << FZ_CHILD_BITS));
            reply |= MF_INFO_SEND_CAP(sent);
            break;
        case P_CNODE_OP:
            fz_cap_storm(c);
            break;
        case P_SEND_BACK:
            // Only when the worker asked (it then receives exactly these):
            // a send nobody receives would block us for good.
            for (uint64_t i = 0; m.mr[1] == P_SEND_MAGIC && i < (m.mr[0] & 3); i++) {
                long t = fz_send_slot(c, (long)fz_below(c, 1u << FZ_CHILD_BITS));
                struct mf_msg s = {.info = MF_INFO(7, 1) | MF_INFO_SEND_CAP(t), .mr = {i}};
                fz_ipc(c, SYS_SEND, FZC_SEND_EP, &s);
                fz_send_done(c, t);
            }
            break;
        case P_SIGNAL:
            fz_inv(c, FZC_NTFN, MF_NOTIFICATION_SIGNAL, 0, 0, 0, 0);
            break;
        case P_STEP:
            // Invocations only: IPC from here could wait on the worker,
            // which waits on us.
            fz_random_invoke(c);
            fz_invoke_type(c, 1 + (unsigned)fz_below(c, MF_OBJ_TYPE_COUNT - 1));
            break;
        default:
            break;
        }
        // Through the guard: our slot 1 may hold the worker's CNode by now
        // (the storms copy anything anywhere), whose protected slots
        // (its untypeds) must not go.
        if (got && fz_chance(c, 400))
            fz_cnode_op(c, FZC_SELF, MF_CNODE_DELETE, slot, 0, 0, 0);
        if (fz_chance(c, 50))
            fz_cnode_op(c, FZC_SELF, MF_CNODE_DELETE, FZC_ARENA + (long)fz_below(c, (1u << FZ_CHILD_BITS) - FZC_ARENA),
                        0, 0, 0);
        // The copy a reply sends stays in FZC_TRANSFER until the next send.
        (void)sent;
        slot = partner_recv_slot(c);
        m.info = reply | MF_INFO_RECV_SLOT(slot);
        badge = fz_ipc(c, SYS_REPLY_RECV, FZC_EP, &m);
    }
}

// The partner's CSpace holds what it runs on; put back what is missing (or
// everything, before a restart: a slot may hold another object of the
// right type). Restarting: suspend, fresh registers, resume.
void fz_partner_repair(struct fz_ctx *c, bool restart)
{
    bool upkeep = c->upkeep;
    c->upkeep = true;
    static const struct { long slot, src; unsigned type; } need[] = {
        {FZC_SELF, FZ_CHILD, MF_OBJ_CNODE},
        {FZC_EP, FZ_PARTNER_EP, MF_OBJ_ENDPOINT},
        {FZC_SEND_EP, FZ_SEND_EP, MF_OBJ_ENDPOINT},
        {FZC_NTFN, FZ_NTFN, MF_OBJ_NOTIFICATION},
    };
    if (restart) {
        fz_inv(c, FZ_PARTNER, MF_THREAD_SUSPEND, 0, 0, 0, 0);
        fz.repairs++;
    }
    for (unsigned i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        long id = fz_inv(c, FZ_CHILD, MF_CNODE_IDENTIFY, need[i].slot, 0, 0, 0);
        if (!restart && id >= 0 && (id & 0xff) == need[i].type)
            continue;
        fz_drain(c, FZ_CHILD, MF_CNODE_DELETE, need[i].slot);
        fz_inv(c, FZ_SELF, MF_CNODE_COPY_TO, need[i].src, FZ_CHILD, need[i].slot, MF_RIGHTS_ALL);
    }
    if (!restart && !fz.partner_broken) {
        c->upkeep = upkeep;
        return;
    }
    if (!restart) {
        fz_inv(c, FZ_PARTNER, MF_THREAD_SUSPEND, 0, 0, 0, 0);
        fz.repairs++;
    }
    uint8_t *top = fz_partner_stack + FZ_PARTNER_STACK_SIZE - 16;
    *(void (**)(uint64_t))top = fz_partner_main;
    long r;
    for (int tries = 0; (r = fz_inv(c, FZ_PARTNER, MF_THREAD_WRITE_REGS, (long)(uintptr_t)mf_thread_trampoline,
                                    (long)(uintptr_t)top, 0, 0)) == -E_BUSY && tries < 1000; tries++)
        mf_yield();
    fz_inv(c, FZ_PARTNER, MF_THREAD_SET_PRIORITY, 10, 0, 0, 0);
    fz_pin(c, FZ_PARTNER);
    fz_inv(c, FZ_PARTNER, MF_THREAD_RESUME, 0, 0, 0, 0);
    if (r)
        printf("fuzz: %u: the partner could not be restarted (%ld)\n", fz.seed, r);
    c->upkeep = upkeep;
}

// A call, send or signal to the partner, with long messages and any
// capability of ours (the threads we run on only as read-only copies).
void fz_partner_ipc(struct fz_ctx *c)
{
    static const unsigned weights[P_LABELS] = {0, 400, 250, 100, 100, 50, 20};
    unsigned w = (unsigned)fz_below(c, 1000), label = 0;
    for (unsigned i = 1, sum = 0; i < P_LABELS && !label; i++)
        if (w < (sum += weights[i]))
            label = i;
    if (fz_chance(c, 80))
        label = (unsigned)fz_value(c);
    uint64_t *buffer = (uint64_t *)(void *)&fz_scratch[12 * 4096];
    unsigned len = (unsigned)(fz_chance(c, 700) ? fz_below(c, 8) : fz_below(c, 128));
    for (unsigned i = 0; i + MF_MSG_MAX_REGS < len && i < MF_IPC_BUFFER_WORDS; i++)
        buffer[i] = fz_rand(c);
    long cap = fz_chance(c, 200) ? FZ_SELF : fz_cptr(c);
    if (cap == FZ_WORKER || cap == FZ_PARTNER)
        cap = FZ_PROTECTED_END;
    cap = fz_chance(c, 600) ? fz_send_slot(c, cap) : -1;
    long recv = fz_free_slot(c);
    struct mf_msg m = {.info = MF_INFO(label, len & 0x7f) | (cap >= 0 ? MF_INFO_SEND_CAP(cap) : 0) |
                               MF_INFO_RECV_SLOT(fz_chance(c, 900) ? recv : fz_cptr(c)),
                       .mr = {fz_value(c), fz_value(c), fz_value(c), fz_value(c)}};
    long r;
    if (label == P_SEND_BACK) {
        m.mr[1] = P_SEND_MAGIC;
        r = fz_ipc(c, SYS_SEND, FZ_PARTNER_EP, &m);
        for (uint64_t i = 0; r >= 0 && i < (m.mr[0] & 3); i++) {
            struct mf_msg in = {.info = MF_INFO_RECV_SLOT(fz_free_slot(c))};
            long slot = MF_INFO_RECV_INDEX(in.info);
            r = fz_ipc(c, SYS_RECV, FZ_SEND_EP, &in);
            if (r >= 0 && (in.info & MF_INFO_CAP))
                fz_identify(c, slot);
        }
    } else {
        r = fz_ipc(c, SYS_CALL, FZ_PARTNER_EP, &m);
        if (r >= 0 && (m.info & MF_INFO_CAP))
            fz_identify(c, recv);
    }
    if (cap >= 0)
        fz_send_done(c, cap);
    if (r >= 0)
        fz.ipc_ok++;
    else if (r == -E_AGAIN)       // the supervisor woke us: the partner is stuck
        fz_partner_repair(c, true);
    else if (fz.partner_broken)
        fz_partner_repair(c, false);
}

// ------------------------------------------------------------ sacrificial threads

// Runs now and then: yields a few times, sleeps (a thread that never
// blocks would keep a CPU from idling for the whole epoch).
static void sac_spin(uint64_t n)
{
    for (uint64_t i = 0;; i++) {
        sac_counter++;
        if ((n & 1) && i % 8)
            mf_yield();
        else
            mf_sleep(1 + (long)(n & 2));
    }
}

static void sac_recv(uint64_t ep)
{
    for (;;) {
        struct mf_msg m = {.info = MF_INFO_RECV_SLOT(ep >> 16)};
        if (mf_recv((long)(ep & 0xffff), &m) < 0)
            mf_sleep(1);
    }
}

static void sac_server(uint64_t ep)
{
    struct mf_msg m = {0};
    long r = mf_recv((long)ep, &m);
    for (;;) {
        if (r < 0) {
            mf_sleep(1);
            m = (struct mf_msg){0};
            r = mf_recv((long)ep, &m);
            continue;
        }
        m.info = MF_INFO(1, 2);
        r = mf_reply_recv((long)ep, &m);
    }
}

static void sac_sender(uint64_t ep)
{
    for (uint64_t i = 0;; i++) {
        bool cap = i & 1;       // perhaps a mapped frame: it arrives unmapped
        struct mf_msg m = {.info = MF_INFO(3, i & 7) | (cap ? MF_INFO_SEND_CAP(ep >> 16) : 0), .mr = {i}};
        if (mf_ipc(i & 2 ? SYS_CALL : SYS_SEND, (long)(ep & 0xffff), &m) < 0)
            mf_sleep(1);
    }
}

static void sac_ntfn(uint64_t n)
{
    // Waiting here may be suspended at any moment (thread_deactivate).
    bool wait = !(n >> 16 & 1);
    for (;;) {
        long r = n >> 16 & 1 ? mf_notification_signal((long)(n & 0xffff))
                 : wait      ? mf_notification_wait((long)(n & 0xffff))
                             : mf_notification_poll((long)(n & 0xffff));
        if (r <= 0 || !wait)
            mf_sleep(1);
    }
}

static void sac_exit(uint64_t arg) { (void)arg; }

static void sac_fault(uint64_t arg)
{
    volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(arg | 0x7000000000ul);
    *p = 1;
}

// Reads and writes a segment's first pages from inside a VAS: what is
// mapped there may be unmapped, protected or revoked under us (then we
// die, or the segment's pager serves us).
static void sac_touch(uint64_t base)
{
    for (uint64_t i = 0;; i++) {
        volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(base + (i & 3) * 4096);
        if (i & 1)
            *p = i;
        else
            (void)*p;
        mf_sleep(1);
    }
}

static void sac_getc(uint64_t arg)
{
    (void)arg;
    for (;;)
        mf_getc();     // blocks for good: the thread ends when its epoch does
}

// A second fuzzer, on its own generator, running the same steps as the
// worker (minus the worker's housekeeping) at the same time.
static void sac_mini(uint64_t seed)
{
    struct fz_ctx c = {.role = FZ_ROLE_MINI, .self = FZ_SELF};
    fz_seed(&c.rng, seed);
    for (int i = 0; i < 150 && fz.calls < fz.target && !fz.worker_done; i++)
        fz_step(&c);
}

void fz_sac_lrpc(uint64_t binding);
void fz_sac_lrpc(uint64_t binding)
{
    for (uint64_t i = 0;; i++) {
        mf_lrpc_call((long)binding, (unsigned)(i % 4), (unsigned)(i % 5));
        mf_sleep(1);
    }
}

typedef void (*sac_fn)(uint64_t);

bool fz_thread_regs(struct fz_ctx *c, uint64_t *pc, uint64_t *sp, uint64_t *arg)
{
    static const sac_fn bodies[] = {sac_spin, sac_recv, sac_server, sac_sender, sac_ntfn, sac_exit, sac_touch,
                                    sac_mini, fz_sac_lrpc, sac_fault, sac_getc};
    uint8_t *top = fz_chance(c, 950) ? fz_stack_alloc() : NULL;
    unsigned b = (unsigned)fz_below(c, 9);
    if (fz_chance(c, 20))
        b = 9 + (unsigned)fz_below(c, 2);        // faults at once / waits on the console
    *arg = fz_value(c);
    switch (b) {
    case 1:
    case 3:
        *arg = (uint64_t)fz_slot_of(c, MF_OBJ_ENDPOINT) | (uint64_t)fz_cptr(c) << 16;
        break;
    case 2:
        *arg = (uint64_t)fz_slot_of(c, MF_OBJ_ENDPOINT);
        break;
    case 4:
        *arg = (uint64_t)fz_slot_of(c, MF_OBJ_NOTIFICATION) | fz_below(c, 2) << 16;
        break;
    case 6:
        *arg = (4ul << 30) + (fz_below(c, 8) << 21);
        break;
    case 7:
        *arg = fz_rand(c);
        break;
    case 8:
        *arg = (uint64_t)fz_slot_of(c, MF_OBJ_BINDING);
        break;
    default:
        break;
    }
    if (top && fz_chance(c, 970)) {
        top -= 16;
        *(sac_fn *)(void *)top = bodies[b];
        *pc = (uint64_t)(uintptr_t)mf_thread_trampoline;
        *sp = (uint64_t)(uintptr_t)top;
        return bodies[b] == sac_mini;
    }
    // Nowhere to run: unmapped, not executable, the kernel's, misaligned.
    static const uint64_t bad_pc[] = {0, 0x7000000000, 0xffff800000000000, 0x800000000000};
    *pc = fz_chance(c, 300) ? (uint64_t)(uintptr_t)fz_scratch : bad_pc[fz_below(c, 4)];
    *sp = top ? (uint64_t)(uintptr_t)top : fz_chance(c, 500) ? 0x7000000000ul : fz_value(c);
    return false;
}

// A sacrificial thread's exception handler: it sees the record, and then
// ends the thread by one of three ways, each a path of the kernel's:
// returning with a record it spoiled (every flag bit set, pc and sp those
// of fz_exception_exit: the kernel must keep it a user context), with a
// random record pointer (refused: then it exits), or exiting at once. It
// never resumes the faulting instruction, so it cannot loop.
static _Noreturn void fz_exception_exit(void) { mf_exit(0); }

// Addresses no thread can run at or keep a stack at: none, unmapped,
// non-canonical, the kernel's, misaligned.
static const uint64_t bad_address[] = {0, 0x7000000000, 0xffff800000000000, 0x800000000000, 1};
#define BAD_ADDRESS(c) bad_address[fz_below(c, sizeof(bad_address) / sizeof(bad_address[0]))]

static void fz_exception_handler(struct mf_exception *e, uint64_t arg)
{
    switch (arg % 3) {
    case 0:
        e->context.flags = ~0ul;
        e->context.pc = (uint64_t)(uintptr_t)fz_exception_exit;
        e->context.sp = ((uint64_t)(uintptr_t)e - 64) & ~15ul;
        mf_exception_return(e);
        break;
    case 1:
        mf_exception_return((struct mf_exception *)(uintptr_t)(arg * 0x9e3779b97f4a7c15ul));
        break;
    default:
        break;
    }
    mf_exit(0);
}

void fz_exception_args(struct fz_ctx *c, long *pc, long *stack, long *arg, bool fresh_stack)
{
    // Never a random stack: the kernel writes the record there and the
    // handler runs on it, so it must be memory nobody else uses (a fresh
    // sacrificial stack), or none the kernel can write (then the fault
    // kills, as without a handler).
    uint8_t *top = fresh_stack && fz_chance(c, 700) ? fz_stack_alloc() : NULL;
    *pc = fz_chance(c, 600) ? (long)(uintptr_t)fz_exception_handler : (long)BAD_ADDRESS(c);
    *stack = top ? (long)(uintptr_t)top : (long)BAD_ADDRESS(c);
    *arg = (long)fz_value(c);
}

// A context for MF_THREAD_WRITE_CONTEXT: random registers and flags (the
// kernel must keep only the status bits), and a pc and sp that are either
// refused or harmless: fz_exception_exit on a fresh stack ends the thread.
// One buffer for every fuzzing thread: a race only mixes such values.
long fz_context_buffer(struct fz_ctx *c)
{
    static struct mf_regs regs;
    uint8_t *top = fz_chance(c, 150) ? fz_stack_alloc() : NULL;    // (stacks are few per epoch)
    for (unsigned i = 0; i < MF_CONTEXT_REGS; i++)
        regs.regs[i] = fz_value(c);
    regs.flags = fz_chance(c, 500) ? ~0ul : fz_value(c);
    regs.pc = fz_chance(c, 700) ? (uint64_t)(uintptr_t)fz_exception_exit : BAD_ADDRESS(c);
    regs.sp = top ? ((uint64_t)(uintptr_t)top & ~15ul) - 64 : BAD_ADDRESS(c);
    return (long)(uintptr_t)&regs;
}

// Make a thread from storm memory and start it, with a CSpace, IPC buffer,
// priority and placement of any kind; now and then delete it at once.
void fz_thread_scenario(struct fz_ctx *c)
{
    long slot = fz_free_slot(c);
    long ut = fz_chance(c, 800) ? FZ_UT_STORM_A + 2 * (long)fz_below(c, 2) : fz_slot_of(c, MF_OBJ_UNTYPED);
    if (ut == FZ_UT_ALL || ut == FZ_UT_INFRA)
        ut = FZ_UT_STORM_A;
    if (fz_inv(c, ut, MF_UNTYPED_RETYPE, MF_OBJ_THREAD | 1 << 16, FZ_SELF, slot, 0) != 0)
        return;
    fz.shadow[slot] = MF_OBJ_THREAD;
    fz.threads_made++;
    static const long cspaces[] = {FZ_SELF, FZ_SELF, FZ_SELF, FZ_CHILD, 0};
    long cspace = fz_chance(c, 900) ? cspaces[fz_below(c, 5)] : fz_slot_of(c, MF_OBJ_CNODE);
    long buffer = fz_chance(c, 700) ? (long)(uintptr_t)&fz_scratch[(14 + fz_below(c, 2)) * 4096] : 0;
    fz_inv(c, slot, MF_THREAD_CONFIGURE, cspace, buffer, 0, 0);
    if (fz_chance(c, 300))
        fz_inv(c, slot, MF_THREAD_SET_PRIORITY, (long)fz_below(c, 11), 0, 0, 0);
    uint64_t pc, sp, arg;
    bool mini = fz_thread_regs(c, &pc, &sp, &arg);
    fz_inv(c, slot, MF_THREAD_WRITE_REGS, (long)pc, (long)sp, (long)arg, 0);
    if (fz_chance(c, 300)) {
        long epc, estack, earg;
        fz_exception_args(c, &epc, &estack, &earg, true);
        fz_inv(c, slot, MF_THREAD_SET_EXCEPTION, epc, estack, earg, 0);
    }
    if (fz_chance(c, 100))
        fz_inv(c, slot, MF_THREAD_SET_SCHED, (long)fz_below(c, MF_SCHED_POLICIES), (long)fz_below(c, 4), 0, 0);
    else if (mini && fz.cpu >= 0)     // another fuzzer at the same time, on the next CPU
        fz_inv(c, slot, MF_THREAD_SET_SCHED, MF_SCHED_FIXED, (fz.cpu + 1) % fz.cpus, 0, 0);
    else
        fz_pin(c, slot);
    fz_inv(c, slot, MF_THREAD_RESUME, 0, 0, 0, 0);
    if (fz_chance(c, 200)) {
        fz_sys(c, SYS_YIELD, 0, 0, 0, 0, 0, 0);
        fz_cnode_op(c, FZ_SELF, fz_chance(c, 500) ? MF_CNODE_DELETE : MF_CNODE_REVOKE, slot, 0, 0, 0);
    } else if (fz_chance(c, 200)) {
        fz_inv(c, slot, MF_THREAD_SUSPEND, 0, 0, 0, 0);
        fz_inv(c, slot, MF_THREAD_RESUME, 0, 0, 0, 0);
    }
}

// ------------------------------------------------------------ programs

// Spawns a real program and reaps it (we never leave a child behind):
// with no CSpace, ours (only for programs that use no capabilities), or a
// storm CNode holding an untyped (`example` then runs all its steps, while
// our other threads may revoke its memory).
void fz_spawn_scenario(struct fz_ctx *c)
{
    static const char *const names[] = {"hello", "fault", "spin", "badelf", "example", "lrpc_server", "nope"};
    unsigned i = (unsigned)fz_below(c, 7);
    const char *name = names[i];
    uint64_t arg = i == 1 ? 1 + fz_below(c, 6) : fz_below(c, 3);
    long ut = fz_chance(c, 500) ? FZ_UT_STORM_A : FZ_UT_STORM_B;
    long cspace = 0;
    if (i == 4 || i == 5 || fz_chance(c, 300)) {
        long cn = fz_free_slot(c);
        if (fz_inv(c, ut, MF_UNTYPED_RETYPE, MF_OBJ_CNODE | 7 << 8 | 1 << 16, FZ_SELF, cn, 0) == 0) {
            fz.shadow[cn] = MF_OBJ_CNODE;
            fz_inv(c, ut, MF_UNTYPED_RETYPE, MF_OBJ_UNTYPED | 18 << 8 | 1 << 16, cn, MF_CAP_UNTYPED_BASE, 0);
            fz_inv(c, FZ_SELF, MF_CNODE_COPY_TO, cn, cn, FZ_SELF, MF_RIGHTS_ALL);
            cspace = cn;
        }
    } else if (fz_chance(c, 300)) {
        cspace = FZ_SELF;       // hello, fault, spin, badelf make no invocations
    }
    // Our loader slots; a program left there by an earlier scenario whose
    // untyped was revoked under it is cleared first.
    const long first = FZ_LOADER_SLOTS;
    for (long s = first; s < first + MF_PROGRAM_SLOTS; s++)
        mf_cnode_delete(FZ_SELF, s);
    struct mf_program p;
    struct mf_load_args a = {.name = name, .arg = arg, .cspace = cspace, .untyped = ut, .slots = first,
                             .images = fz_chance(c, 950) ? FZ_IMAGES : fz_cptr(c)};
    long r = mf_program_load(&p, &a);
    c->calls += 8;          // at least; the loader's calls are not counted one by one
    if (r < 0)
        return;
    for (long s = first; s < first + MF_PROGRAM_SLOTS; s++)
        fz.shadow[s] = (uint8_t)(fz_identify(c, s) & 0xff);
    fz.spawns++;
    struct mf_exit_status st;
    if (mf_program_start(&p) == 0)
        for (int tries = 0; tries < 5 && mf_thread_exit_status(p.thread, &st) == -E_BUSY; tries++)
            mf_notification_wait_timeout(p.exit, 5);
    // Ended or not (a server waits for clients forever), it goes now.
    mf_program_destroy(&p);
    for (long s = first; s < first + MF_PROGRAM_SLOTS; s++)
        fz.shadow[s] = MF_OBJ_NULL;
}

// ------------------------------------------------------------ LRPC procedures

static struct fz_ctx lrpc_ctx = {.role = FZ_ROLE_MINI, .self = FZ_SELF};

static int64_t proc_null(void *a) { (void)a; return 0; }
static int64_t proc_add(void *a) { volatile uint64_t *w = a; return (int64_t)(w[1] + w[2]); }
// A random call from inside the server, on the caller's thread.
static int64_t proc_call(void *a) { (void)a; fz_random_syscall(&lrpc_ctx); return 1; }
static int64_t proc_fault(void *a)
{
    (void)a;
    volatile uint64_t *p = (volatile uint64_t *)0x7000000010ul;
    return (int64_t)*p;
}
static int64_t proc_invoke(void *a) { (void)a; fz_random_invoke(&lrpc_ctx); return 2; }
static int64_t proc_storm(void *a) { (void)a; fz_cap_storm(&lrpc_ctx); return 3; }
static int64_t proc_return(void *a)
{
    mf_syscall(SYS_LRPC_RETURN, (long)(uintptr_t)a, 0, 0);    // out of the middle of the dispatcher
    return 4;
}
static int64_t proc_nested(void *a)
{
    volatile uint64_t *w = a;
    return mf_lrpc_call((long)(w[1] & 0xffff), (unsigned)(w[2] & 7), (unsigned)(w[3] & 15));
}

static const mf_lrpc_procedure procedures[] = {proc_null,   proc_add,   proc_call,   proc_fault,
                                               proc_invoke, proc_storm, proc_return, proc_nested};

void fz_lrpc_export(void)
{
    fz_seed(&lrpc_ctx.rng, fz.seed ^ 0x1a7cull);
    mf_lrpc_export(procedures, sizeof(procedures) / sizeof(procedures[0]));
}
