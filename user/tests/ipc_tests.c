// Thread objects, endpoint IPC and notifications, with worker threads that
// run in the root task's address space on their own stacks.
#include "manifold.h"
#include "utest.h"
#include "lib/string.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT (MF_CAP_UNTYPED_BASE + 3)
// Slots used by these tests.
#define T1 500
#define T2 501
#define EP 502
#define EP_BADGED 503
#define NTFN 504
#define NTFN_BADGED 505
#define EP_NOGRANT 506
#define FRAME 507
#define RECV_SLOT 508
#define EP_RO 509
#define SERVER_RECV_SLOT 510

static uint8_t stack1[8192] __attribute__((aligned(16)));
static uint8_t stack2[8192] __attribute__((aligned(16)));
static volatile long shared[8];

static long type_of(long slot) { return mf_cnode_identify(ROOT, slot) & 0xff; }

static bool make(unsigned type, long slot)
{
    return mf_untyped_retype(UT, type, 0, 1, ROOT, slot) == 0;
}

static bool cleanup(void)
{
    return mf_cnode_revoke(ROOT, UT) == 0;
}

// Server: replies to each call with label+1, the caller's badge, mr0+mr1,
// and (if a capability came) its type.
static void adder_server(uint64_t ep)
{
    struct mf_msg m = {.info = MF_INFO_RECV_SLOT(SERVER_RECV_SLOT)};
    long badge = mf_recv((long)ep, &m);
    for (;;) {
        uint64_t got_cap = m.info & MF_INFO_CAP ? (uint64_t)type_of(SERVER_RECV_SLOT) : 0;
        if (got_cap)
            mf_cnode_delete(ROOT, SERVER_RECV_SLOT);
        uint64_t sum = m.mr[0] + m.mr[1];
        m.info = MF_INFO(MF_INFO_LABEL(m.info) + 1, 3) | MF_INFO_RECV_SLOT(SERVER_RECV_SLOT);
        m.mr[0] = sum;
        m.mr[1] = (uint64_t)badge;
        m.mr[2] = got_cap;
        badge = mf_reply_recv((long)ep, &m);
    }
}

UTEST(ipc_call_reply_with_badge)
{
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_ENDPOINT, EP));
    UCHECK(mf_cnode_mint(ROOT, EP, EP_BADGED, MF_RIGHTS_ALL, 42) == 0);
    UCHECK(mf_thread_start(T1, adder_server, stack1, sizeof(stack1), EP) == 0);
    for (uint64_t i = 0; i < 100; i++) {
        struct mf_msg m = {.info = MF_INFO(7, 2), .mr = {i, 1000}};
        UCHECK(mf_call(EP_BADGED, &m) == 0);
        UCHECK(MF_INFO_LABEL(m.info) == 8 && MF_INFO_LENGTH(m.info) == 3);
        UCHECK(m.mr[0] == i + 1000 && m.mr[1] == 42 && m.mr[2] == 0 && m.mr[3] == 0);
    }
    struct mf_msg m = {.info = MF_INFO(1, 2), .mr = {1, 2}};
    UCHECK(mf_call(EP, &m) == 0 && m.mr[1] == 0);   // the unbadged cap
    UCHECK(cleanup());
    return NULL;
}

UTEST(ipc_capability_transfer_needs_grant)
{
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_ENDPOINT, EP));
    UCHECK(mf_untyped_retype(UT, MF_OBJ_FRAME, 12, 1, ROOT, FRAME) == 0);
    UCHECK(mf_cnode_copy(ROOT, EP, EP_NOGRANT, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_thread_start(T1, adder_server, stack1, sizeof(stack1), EP) == 0);
    struct mf_msg m = {.info = MF_INFO(0, 2) | MF_INFO_SEND_CAP(FRAME)};
    UCHECK(mf_call(EP, &m) == 0);
    UCHECK(m.mr[2] == MF_OBJ_FRAME);              // the server received a frame cap
    m = (struct mf_msg){.info = MF_INFO(0, 2) | MF_INFO_SEND_CAP(FRAME)};
    UCHECK(mf_call(EP_NOGRANT, &m) == 0);
    UCHECK(m.mr[2] == 0);                          // message went, the cap did not
    UCHECK(type_of(FRAME) == MF_OBJ_FRAME);        // and we still hold ours
    UCHECK(cleanup());
    return NULL;
}

static void sender(uint64_t ep)
{
    for (uint64_t i = 1; i <= 3; i++) {
        struct mf_msg m = {.info = MF_INFO(i, 1), .mr = {i * 11}};
        shared[i] = mf_send((long)ep, &m);
    }
}

UTEST(ipc_send_waits_for_a_receiver_in_order)
{
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_ENDPOINT, EP));
    UCHECK(mf_cnode_mint(ROOT, EP, EP_BADGED, MF_RIGHTS_ALL, 9) == 0);
    shared[1] = shared[2] = shared[3] = -1;
    UCHECK(mf_thread_start(T1, sender, stack1, sizeof(stack1), EP_BADGED) == 0);
    mf_sleep(2);   // the sender is now blocked: nobody receives yet
    UCHECK(shared[1] == -1);
    for (uint64_t i = 1; i <= 3; i++) {
        struct mf_msg m = {0};
        UCHECK(mf_recv(EP, &m) == 9);
        UCHECK(MF_INFO_LABEL(m.info) == i && MF_INFO_LENGTH(m.info) == 1 && m.mr[0] == i * 11);
        UCHECK(m.mr[1] == 0);                      // only `length` registers travel
    }
    // The sender may run on another CPU: give it up to a second to finish.
    for (int tick = 0; tick < 100 && !(shared[1] == 0 && shared[2] == 0 && shared[3] == 0); tick++)
        mf_sleep(1);
    UCHECK(shared[1] == 0 && shared[2] == 0 && shared[3] == 0);
    UCHECK(cleanup());
    return NULL;
}

UTEST(ipc_checks_caps_and_rights)
{
    UCHECK(make(MF_OBJ_ENDPOINT, EP) && make(MF_OBJ_NOTIFICATION, NTFN));
    struct mf_msg m = {0};
    UCHECK(mf_send(999, &m) == -E_BADCAP);
    UCHECK(mf_send(0, &m) == -E_BADCAP);
    UCHECK(mf_send(NTFN, &m) == -E_TYPE);
    UCHECK(mf_cnode_copy(ROOT, EP, EP_RO, MF_RIGHT_READ) == 0);
    UCHECK(mf_send(EP_RO, &m) == -E_PERM);
    UCHECK(mf_call(EP_RO, &m) == -E_PERM);
    UCHECK(mf_cnode_copy(ROOT, EP, EP_NOGRANT, MF_RIGHT_WRITE) == 0);
    UCHECK(mf_recv(EP_NOGRANT, &m) == -E_PERM);
    UCHECK(mf_invoke(EP, 0, 0, 0, 0, 0) == -E_NOSYS);   // endpoints are not invoked
    UCHECK(mf_cnode_mint(ROOT, EP_BADGED, 511, MF_RIGHTS_ALL, 1) == -E_BADCAP);
    UCHECK(mf_cnode_mint(ROOT, EP, EP_BADGED, MF_RIGHTS_ALL, 1ull << 63) == -E_INVAL);
    UCHECK(mf_cnode_mint(ROOT, EP, EP_BADGED, MF_RIGHTS_ALL, 5) == 0);
    UCHECK(mf_cnode_mint(ROOT, EP_BADGED, 511, MF_RIGHTS_ALL, 6) == -E_INVAL);  // badge set once
    UCHECK(cleanup());
    return NULL;
}

static void receiver(uint64_t ep)
{
    struct mf_msg m = {0};
    shared[0] = mf_recv((long)ep, &m);
}

UTEST(ipc_deleted_endpoint_wakes_waiters)
{
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_ENDPOINT, EP));
    shared[0] = 1;
    UCHECK(mf_thread_start(T1, receiver, stack1, sizeof(stack1), EP) == 0);
    mf_sleep(2);
    UCHECK(shared[0] == 1);                         // blocked in recv
    UCHECK(mf_cnode_delete(ROOT, EP) == 0);         // the final cap
    UWAIT(shared[0] == -E_DEAD, 100);
    UCHECK(shared[0] == -E_DEAD);
    UCHECK(cleanup());
    return NULL;
}

static void dying_server(uint64_t ep)
{
    struct mf_msg m = {0};
    mf_recv((long)ep, &m);
    volatile uintptr_t bad = 8;
    *(volatile int *)bad = 1;   // fault while the caller waits for our reply
}

UTEST_FAULTS(ipc_server_fault_fails_the_call)
{
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_ENDPOINT, EP));
    UCHECK(mf_thread_start(T1, dying_server, stack1, sizeof(stack1), EP) == 0);
    struct mf_msg m = {.info = MF_INFO(1, 1), .mr = {5}};
    UCHECK(mf_call(EP, &m) == -E_DEAD);             // and we are still here
    UCHECK(cleanup());
    return NULL;
}

static void waiter(uint64_t n)
{
    shared[0] = mf_notification_wait((long)n);
}

UTEST(notification_signal_wait_poll)
{
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_NOTIFICATION, NTFN));
    UCHECK(mf_cnode_mint(ROOT, NTFN, NTFN_BADGED, MF_RIGHTS_ALL, 0x50) == 0);
    shared[0] = 0;
    UCHECK(mf_thread_start(T1, waiter, stack1, sizeof(stack1), NTFN) == 0);
    mf_sleep(2);
    UCHECK(shared[0] == 0);
    UCHECK(mf_notification_signal(NTFN_BADGED) == 0);
    UWAIT(shared[0] == 0x50, 100);
    UCHECK(shared[0] == 0x50);
    UCHECK(mf_notification_poll(NTFN) == 0);
    UCHECK(mf_notification_signal(NTFN) == 0);           // unbadged: bit 0
    UCHECK(mf_notification_signal(NTFN_BADGED) == 0);
    UCHECK(mf_notification_wait(NTFN) == 0x51);          // no blocking: bits are set
    UCHECK(mf_notification_poll(NTFN) == 0);
    UCHECK(cleanup());
    return NULL;
}

static void counter(uint64_t slot)
{
    for (;;) {
        shared[slot]++;
        mf_yield();
    }
}

UTEST(thread_suspend_resume_and_delete)
{
    UCHECK(make(MF_OBJ_THREAD, T1));
    UCHECK(mf_thread_read_reg(T1, MF_REG_PC) == -E_BUSY);      // no registers yet
    UCHECK(mf_thread_resume(T1) == -E_INVAL);                  // not configured
    shared[4] = 0;
    UCHECK(mf_thread_start(T1, counter, stack1, sizeof(stack1), 4) == 0);
    UCHECK(mf_thread_resume(T1) == -E_BUSY);                   // already running
    UWAIT(shared[4] > 0, 100);
    UCHECK(shared[4] > 0);
    UCHECK(mf_thread_suspend(T1) == 0);
    long frozen = shared[4];
    mf_sleep(2);
    UCHECK(shared[4] == frozen);
    long pc = mf_thread_read_reg(T1, MF_REG_PC);
    UCHECK(pc >= 0x400000 && pc < 0x800000);                   // in our text
    UCHECK(mf_thread_read_reg(T1, 7) == -E_INVAL);
    UCHECK(mf_thread_write_regs(T1, 0, 0x1000, 0) == -E_RANGE);
    UCHECK(mf_thread_resume(T1) == 0);
    UWAIT(shared[4] > frozen, 100);
    UCHECK(shared[4] > frozen);
    // Deleting the final cap stops the thread for good.
    UCHECK(mf_cnode_delete(ROOT, T1) == 0);
    frozen = shared[4];
    mf_sleep(2);
    UCHECK(shared[4] == frozen);
    UCHECK(cleanup());
    return NULL;
}

UTEST(thread_priority_rules)
{
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_THREAD, T2));
    UCHECK(mf_thread_set_priority(T1, 256) == -E_RANGE);
    UCHECK(mf_thread_set_priority(T1, 200) == -E_PERM);        // above our own
    // Priorities order the threads of one CPU: keep both on ours.
    long cpu = mf_cpu_id();
    UCHECK(cpu >= 0);
    UCHECK(mf_thread_set_sched(T1, MF_SCHED_FIXED, cpu) == 0 && mf_thread_set_sched(T2, MF_SCHED_FIXED, cpu) == 0);
    // A lower-priority thread runs only when we block.
    UCHECK(mf_thread_set_priority(T1, 5) == 0);
    shared[5] = 0;
    UCHECK(mf_thread_start(T1, counter, stack1, sizeof(stack1), 5) == 0);
    mf_yield();
    UCHECK(shared[5] == 0);
    UWAIT(shared[5] > 0, 100);
    UCHECK(shared[5] > 0);
    // An equal-priority thread shares the CPU at yields.
    shared[6] = 0;
    UCHECK(mf_thread_start(T2, counter, stack2, sizeof(stack2), 6) == 0);
    mf_yield();
    UCHECK(shared[6] > 0);
    UCHECK(cleanup());
    return NULL;
}

// Server with its own IPC buffer: replies with the sum of every word it
// got and echoes the long message back, each word + 1.
static uint64_t server_buffer[512] __attribute__((aligned(4096)));
static void summing_server(uint64_t ep)
{
    struct mf_msg m = {0};
    mf_recv((long)ep, &m);
    for (;;) {
        unsigned n = MF_INFO_LENGTH(m.info);
        uint64_t sum = 0;
        for (unsigned i = 0; i < n; i++)
            sum += i < MF_MSG_MAX_REGS ? m.mr[i] : server_buffer[i - MF_MSG_MAX_REGS];
        for (unsigned i = MF_MSG_MAX_REGS; i < n; i++)
            server_buffer[i - MF_MSG_MAX_REGS] += 1;
        m.mr[0] = sum;
        m.info = MF_INFO(0, n);
        mf_reply_recv((long)ep, &m);
    }
}

UTEST(ipc_long_messages_use_the_buffers)
{
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_ENDPOINT, EP));
    UCHECK(mf_thread_start_buffer(T1, summing_server, stack1, sizeof(stack1), EP, server_buffer) == 0);
    uint64_t *buf = mf_ipc_buffer();
    struct mf_msg m = {.info = MF_INFO(0, MF_MSG_MAX_WORDS), .mr = {1, 2, 3, 4}};
    uint64_t expect = 10;
    for (unsigned i = 0; i < MF_IPC_BUFFER_WORDS; i++) {
        buf[i] = 100 + i;
        expect += 100 + i;
    }
    UCHECK(mf_call(EP, &m) == 0);
    UCHECK(MF_INFO_LENGTH(m.info) == MF_MSG_MAX_WORDS && m.mr[0] == expect);
    bool echoed = true;
    for (unsigned i = 0; i < MF_IPC_BUFFER_WORDS; i++)
        echoed &= buf[i] == 101 + i;
    UCHECK(echoed);
    // A receiver without a buffer gets the first four words only.
    UCHECK(mf_cnode_delete(ROOT, T1) == 0 && make(MF_OBJ_THREAD, T2));
    UCHECK(mf_thread_start(T2, summing_server, stack2, sizeof(stack2), EP) == 0);
    m = (struct mf_msg){.info = MF_INFO(0, 10), .mr = {1, 2, 3, 4}};
    UCHECK(mf_call(EP, &m) == 0);
    UCHECK(MF_INFO_LENGTH(m.info) == MF_MSG_MAX_REGS && m.mr[0] == 10);
    UCHECK(cleanup());
    return NULL;
}

// The IPC fast path (docs/ipc.md, "Fast path"): each condition taken and
// not taken. A client and the adder server, both Thread objects, fixed to
// one CPU; the client records, after each call, which path its call took
// and which path the server's previous reply_recv took (each thread keeps
// its own in mf_thread_info).
#define FP_CLIENT 511
#define FP_SPINNER 512
#define FP_DONE 513
enum { FP_FAST, FP_LONG, FP_CAP, FP_PRIORITY, FP_QUEUED, FP_CPU, FP_BACK, FP_LOOKUP, FP_CASES };
static volatile uint32_t fp_call_path[FP_CASES], fp_server_path[FP_CASES];
static volatile long fp_ok[FP_CASES], fp_spin_stop, fp_cpus;
static uint8_t stack3[8192] __attribute__((aligned(16)));

static uint32_t last_path(void)
{
    struct mf_thread_info me;
    return mf_thread_info(MF_THREAD_SELF, &me) == 0 ? me.ipc_last_path : 99;
}

static void fp_spinner(uint64_t arg)
{
    (void)arg;
    while (!fp_spin_stop)
        ;
}

// One call of case k: the sum must come back whatever the path.
static void fp_call(long k, uint64_t info)
{
    struct mf_msg m = {.info = info, .mr = {40, (uint64_t)k}};
    long r = mf_call(EP, &m);
    fp_call_path[k] = last_path();
    fp_ok[k] = r == 0 && m.mr[0] == 40 + (uint64_t)k;
}

static void fp_client(uint64_t server_thread)
{
    long server = (long)server_thread;
    // FAST: twice, so that the server's reply_recv of the first is seen
    // fast too (the server is waiting in recv by then).
    fp_call(FP_FAST, MF_INFO(0, 2));
    fp_call(FP_FAST, MF_INFO(0, 2));
    fp_call(FP_LONG, MF_INFO(0, 6));                          // 6 words: the buffers
    fp_call(FP_CAP, MF_INFO(0, 2) | MF_INFO_SEND_CAP(NTFN));   // a capability
    // LOOKUP: a copy without WRITE is not found by the lock-free lookup;
    // the slow path looks again and refuses it.
    if (mf_cnode_copy(ROOT, EP, EP_RO, MF_RIGHT_READ) == 0) {
        struct mf_msg m = {.info = MF_INFO(0, 2), .mr = {40, FP_LOOKUP}};
        long r = mf_call(EP_RO, &m);
        fp_call_path[FP_LOOKUP] = last_path();
        fp_ok[FP_LOOKUP] = r == -E_PERM;
        mf_cnode_delete(ROOT, EP_RO);
    }
    mf_thread_set_priority(server, 9);
    fp_call(FP_PRIORITY, MF_INFO(0, 2));
    mf_thread_set_priority(server, 10);
    if (fp_cpus > 1) {
        mf_thread_set_sched(server, MF_SCHED_FIXED, 1);        // it belongs to CPU 1 now
        fp_call(FP_CPU, MF_INFO(0, 2));
        mf_thread_set_sched(server, MF_SCHED_FIXED, 0);
        fp_call(FP_BACK, MF_INFO(0, 2));                       // it moves back meanwhile (any path)
    }
    fp_spin_stop = 0;
    if (mf_thread_start(FP_SPINNER, fp_spinner, stack3, sizeof(stack3), 0) == 0) {
        mf_yield();                                             // it runs, then waits its turn
        fp_call(FP_QUEUED, MF_INFO(0, 2));
        fp_spin_stop = 1;
    }
    mf_notification_signal(FP_DONE);
    for (;;)
        mf_notification_wait(NTFN);                             // never signalled: parks here
}

UTEST(ipc_fast_path_conditions)
{
    unsigned cpu = 0;
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_ENDPOINT, EP) && make(MF_OBJ_THREAD, FP_CLIENT) &&
           make(MF_OBJ_THREAD, FP_SPINNER) && make(MF_OBJ_NOTIFICATION, FP_DONE) && make(MF_OBJ_NOTIFICATION, NTFN));
    UCHECK(mf_thread_set_sched(T1, MF_SCHED_FIXED, cpu) == 0 && mf_thread_set_sched(FP_CLIENT, MF_SCHED_FIXED, cpu) == 0 &&
           mf_thread_set_sched(FP_SPINNER, MF_SCHED_FIXED, cpu) == 0);
    for (int k = 0; k < FP_CASES; k++)
        fp_call_path[k] = fp_server_path[k] = 99, fp_ok[k] = 0;
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0);
    fp_cpus = si.cpus;
    UCHECK(mf_thread_start_named(T1, "fp-server", adder_server, stack1, sizeof(stack1), EP) == 0);
    UCHECK(mf_thread_start_named(FP_CLIENT, "fp-client", fp_client, stack2, sizeof(stack2), T1) == 0);
    long woke = mf_notification_wait_timeout(FP_DONE, 1000);
    struct mf_thread_info server;
    bool server_fast = false;
    for (unsigned i = 0; mf_thread_info(i, &server) == 0; i++)
        if (strcmp(server.name, "fp-server") == 0 && server.ipc_fast > 0)
            server_fast = true;         // its reply_recvs went fast too
    UCHECK(cleanup());
    UCHECK(woke > 0);
    for (int k = 0; k < FP_CASES; k++)
        if (!fp_ok[k] && ((k != FP_CPU && k != FP_BACK) || fp_cpus > 1))
            printf("# case %d: the call failed (path %u)\n", k, fp_call_path[k]);
    UCHECK(fp_ok[FP_FAST] && fp_ok[FP_LONG] && fp_ok[FP_CAP] && fp_ok[FP_PRIORITY] && fp_ok[FP_QUEUED] &&
           fp_ok[FP_LOOKUP]);
    printf("# paths: fast %u, long %u, cap %u, priority %u, queued %u, cpu %u\n", fp_call_path[FP_FAST],
           fp_call_path[FP_LONG], fp_call_path[FP_CAP], fp_call_path[FP_PRIORITY], fp_call_path[FP_QUEUED],
           fp_call_path[FP_CPU]);
    UCHECK(fp_call_path[FP_FAST] == MF_IPC_FAST);
    UCHECK(fp_call_path[FP_LONG] == MF_IPC_SLOW_LONG);
    UCHECK(fp_call_path[FP_CAP] == MF_IPC_SLOW_LONG);
    UCHECK(fp_call_path[FP_PRIORITY] == MF_IPC_SLOW_PRIORITY);
    UCHECK(fp_call_path[FP_QUEUED] == MF_IPC_SLOW_QUEUED);
    UCHECK(fp_call_path[FP_LOOKUP] == MF_IPC_SLOW_LOOKUP);
    UCHECK(fp_cpus < 2 || fp_call_path[FP_CPU] == MF_IPC_SLOW_CPU);
    UCHECK(server_fast);
    return NULL;
}

// The fast path's lock-free lookup (kernel/locks.h, cap_read_*) racing
// capability changes on another CPU: the client calls through slot RACE_SLOT
// while the churner fills it with a copy of the endpoint, empties it, fills
// it with a notification and empties it again, without pause. Every call
// must end as the slot was at some instant: the right sum, -E_BADCAP or
// -E_TYPE, never a wrong result or a kernel fault. The client calls until
// it has seen both outcomes race_want times (or RACE_TICKS pass): how the
// two CPUs interleave is the host's choice (a loaded host runs one vCPU
// for long stretches while the other waits), so a fixed number of calls
// could all fall while the slot held one thing. On one CPU (Bochs) the
// churner runs between the client's calls instead (a call that reaches the
// server lets the queued churner run before the client again), so far
// fewer calls succeed in the time: it wants fewer.
#define RACE_SLOT 514
#define RACE_CHURNER 515
#define RACE_WANT 300
#define RACE_WANT_ONE_CPU 20
#define RACE_TICKS 3000
static volatile long race_stop, race_churns, race_counts[4], race_want;

// A racing client's end: the churner stops, the test wakes, the client parks.
static void race_done(void)
{
    race_stop = 1;
    mf_notification_signal(FP_DONE);
    for (;;)
        mf_notification_wait(NTFN);
}

// Runs `client` on CPU 0 against `churner` on CPU 1 (0 with one CPU) until
// the client is done or RACE_TICKS + 10 s pass; their objects from UT (the
// caller's too, made first). The number of CPUs in *cpus; 0 on failure.
static long race_run(void (*churner)(uint64_t), void (*client)(uint64_t), unsigned *cpus)
{
    struct mf_system_info si;
    if (mf_system_info(&si))
        return 0;
    *cpus = si.cpus;
    race_want = si.cpus > 1 ? RACE_WANT : RACE_WANT_ONE_CPU;
    race_stop = race_churns = 0;
    for (int i = 0; i < 4; i++)
        race_counts[i] = 0;
    if (!make(MF_OBJ_THREAD, FP_CLIENT) || !make(MF_OBJ_THREAD, RACE_CHURNER) ||
        !make(MF_OBJ_NOTIFICATION, FP_DONE) || !make(MF_OBJ_NOTIFICATION, NTFN) ||
        mf_thread_set_sched(FP_CLIENT, MF_SCHED_FIXED, 0) ||
        mf_thread_set_sched(RACE_CHURNER, MF_SCHED_FIXED, si.cpus > 1 ? 1 : 0) ||
        mf_thread_start(RACE_CHURNER, churner, stack3, sizeof(stack3), 0) ||
        mf_thread_start(FP_CLIENT, client, stack2, sizeof(stack2), 0))
        return 0;
    long woke = mf_notification_wait_timeout(FP_DONE, RACE_TICKS + 1000);
    race_stop = 1;
    return woke;
}

static void race_churner(uint64_t arg)
{
    (void)arg;
    while (!race_stop) {
        mf_cnode_copy(ROOT, EP, RACE_SLOT, MF_RIGHTS_ALL);
        mf_cnode_delete(ROOT, RACE_SLOT);
        mf_cnode_copy(ROOT, NTFN, RACE_SLOT, MF_RIGHTS_ALL);
        mf_cnode_delete(ROOT, RACE_SLOT);
        race_churns++;
    }
}

static void race_client(uint64_t arg)
{
    (void)arg;
    long deadline = mf_time() + RACE_TICKS;
    for (uint64_t i = 0; (race_counts[0] + race_counts[1] < race_want || race_counts[2] < race_want) &&
                         mf_time() < deadline;
         i++) {
        struct mf_msg m = {.info = MF_INFO(0, 2), .mr = {i, 7}};
        long r = mf_call(RACE_SLOT, &m);
        uint32_t path = last_path();
        if (r == 0 && m.mr[0] == i + 7)
            race_counts[path == MF_IPC_FAST ? 0 : 1]++;
        else if (r == -E_BADCAP || r == -E_TYPE)
            race_counts[2]++;
        else
            race_counts[3]++;           // wrong
    }
    race_done();
}

UTEST(ipc_fast_lookup_races_capability_changes)
{
    unsigned cpus = 0;
    UCHECK(make(MF_OBJ_THREAD, T1) && make(MF_OBJ_ENDPOINT, EP) && mf_thread_set_sched(T1, MF_SCHED_FIXED, 0) == 0 &&
           mf_thread_start(T1, adder_server, stack1, sizeof(stack1), EP) == 0);
    long woke = race_run(race_churner, race_client, &cpus);
    UCHECK(cleanup());
    printf("# %u CPUs: %ld fast, %ld slow, %ld refused, %ld wrong; %ld churns\n", cpus, race_counts[0],
           race_counts[1], race_counts[2], race_counts[3], race_churns);
    UCHECK(woke > 0);
    UCHECK(race_counts[3] == 0);
    UCHECK(race_counts[0] + race_counts[1] >= race_want && race_counts[2] >= race_want && race_churns > 0);
    return NULL;
}

// notification_fast racing the destruction of the notification it finds
// and the reuse of its memory: the churner retypes a notification into
// RACE_SLOT from an untyped of its own and revokes the untyped at once (the
// final cap goes, the finalizer waits for lock-free readers, and the next
// retype puts a new notification in the same memory), while the client
// signals and polls through the slot on another CPU. Every signal ends 0
// or -E_BADCAP, every poll with the word 0 or 1 (the unbadged signal's
// bit) or -E_BADCAP; the kernel neither faults nor hangs.
#define NRACE_UT (MF_CAP_UNTYPED_BASE + 5)

static void nrace_churner(uint64_t arg)
{
    (void)arg;
    while (!race_stop) {
        mf_untyped_retype(NRACE_UT, MF_OBJ_NOTIFICATION, 0, 1, ROOT, RACE_SLOT);
        // On one CPU the client sees the notification only if the tick
        // lands between these two calls; the loop's period can lock to
        // the tick's so that it never does (Bochs is deterministic: one
        // test more before this one once made it 0 signals in 3,000
        // ticks). So there the client gets the CPU after each call.
        if (race_want == RACE_WANT_ONE_CPU)
            mf_yield();
        mf_cnode_revoke(ROOT, NRACE_UT);
        if (race_want == RACE_WANT_ONE_CPU)
            mf_yield();
        race_churns++;
    }
}

static void nrace_client(uint64_t arg)
{
    (void)arg;
    long deadline = mf_time() + RACE_TICKS;
    while ((race_counts[0] < race_want || race_counts[2] < race_want) && mf_time() < deadline) {
        long s = mf_notification_signal(RACE_SLOT);
        long p = mf_notification_poll(RACE_SLOT);
        if (s == 0)
            race_counts[0]++;
        else if (s == -E_BADCAP)
            race_counts[2]++;
        else
            race_counts[3]++;
        if (p == -E_BADCAP || p == 0 || p == 1)
            race_counts[1]++;
        else
            race_counts[3]++;
    }
    race_done();
}

UTEST(notification_fast_races_its_destruction)
{
    unsigned cpus = 0;
    long woke = race_run(nrace_churner, nrace_client, &cpus);
    UCHECK(cleanup());
    long revoked = mf_cnode_revoke(ROOT, NRACE_UT);
    printf("# %u CPUs: %ld signals, %ld polls answered, %ld refused, %ld wrong; %ld notifications made and destroyed\n",
           cpus, race_counts[0], race_counts[1], race_counts[2], race_counts[3], race_churns);
    UCHECK(woke > 0 && revoked == 0);
    UCHECK(race_counts[3] == 0);
    UCHECK(race_counts[0] >= race_want && race_counts[2] >= race_want && race_churns > 0);
    return NULL;
}
