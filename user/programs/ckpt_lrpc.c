// A process that is an LRPC server and its own clients, for the checkpoint
// tests (user/tests/ckpt_lrpc_tests.c, docs/checkpoint.md, "LRPC bindings"):
//
//   - the server: a VAS with our home, the A-stack segment (4 GiB) and a
//     state segment (4 GiB + 2 MiB) that only it maps: the server's running sums
//     live there, out of the clients' reach; a binding with 4 procedures
//     and CLIENTS + 1 A-stacks, their E-stacks in our home;
//   - CLIENTS client threads, each in a client VAS of its own (our home and
//     the A-stacks, mapped there by ATTACH_CLIENT), calling ADD(k, i * (k +
//     1)) for i = 1..CALLS; each result must be the running sum the client
//     keeps itself; a nap of a tick every NAP calls;
//   - a holder thread in one more client VAS, calling HOLD: the procedure
//     stays in the server for HOLD_TICKS, then returns how many holds the
//     server has seen; the first one signals the test's notification in
//     slot 6 from inside the server, through the server's CSpace, so a
//     checkpoint then finds a thread inside an LRPC call;
//   - main, which waits for them all and checks, through the binding from
//     a client VAS: every client's sum in the server, the number of ADD
//     calls and of holds the server counted, and that a procedure runs in
//     our CSpace (the name of slot 1 seen inside the server is ours).
//
// With an argument N, the holder makes one hold of N ticks instead: a
// call longer than a checkpoint waits for (the test's refused save).
//
// Exit 0, or the number of the check that failed (printed).
#include "manifold.h"

#define CLIENTS 3
#define CALLS 3000
#define NAP 100
#define HOLDS 3
#define HOLD_TICKS 10
#define READY_CAP 6
#define ASTACK_BASE 0x100000000ul
#define STATE_BASE 0x100200000ul
#define ASTACK_SIZE 1024

enum { P_ADD, P_GET, P_HOLD, P_WHERE, PROCEDURES };

struct astack {
    int64_t client, value;
    uint64_t out;
};

// In the state segment: only the server VAS maps it.
struct server_state {
    int64_t sum[CLIENTS];
    uint64_t adds, holds, signalled;
};
#define STATE ((struct server_state *)STATE_BASE)

static uint8_t estacks[CLIENTS + 1][8192] __attribute__((aligned(16)));
static uint8_t stacks[CLIENTS + 1][8192] __attribute__((aligned(16)));
static long binding, client_vas[CLIENTS + 1];
static struct mf_lrpc_client bound[CLIENTS + 1];
static volatile int64_t failed_at[CLIENTS + 1], failed_with[CLIENTS + 1];
static int64_t holds = HOLDS, hold_ticks = HOLD_TICKS;

// ---------------------------------------------------------------- server

static int64_t p_add(void *astack)
{
    struct astack *a = astack;
    if (a->client < 0 || a->client >= CLIENTS)
        return -E_RANGE;
    __atomic_add_fetch(&STATE->adds, 1, __ATOMIC_RELAXED);
    return STATE->sum[a->client] += a->value;
}

// client 0..CLIENTS - 1: that sum; CLIENTS: the ADD calls; CLIENTS + 1: the holds.
static int64_t p_get(void *astack)
{
    struct astack *a = astack;
    if (a->client >= 0 && a->client < CLIENTS)
        return STATE->sum[a->client];
    return a->client == CLIENTS ? (int64_t)STATE->adds : a->client == CLIENTS + 1 ? (int64_t)STATE->holds : -E_RANGE;
}

static int64_t p_hold(void *astack)
{
    struct astack *a = astack;
    if (!STATE->signalled) {
        STATE->signalled = 1;
        mf_notification_signal(READY_CAP);     // in the server's CSpace: ours
    }
    for (long end = mf_time() + (long)a->value; mf_time() < end;)
        __asm__ volatile("" ::: "memory");
    return (int64_t)++STATE->holds;
}

// The name of the CNode in slot 1 of the CSpace this procedure runs in.
static int64_t p_where(void *astack)
{
    struct mf_cap_info info;
    long r = mf_cnode_describe(MF_CAP_SELF_CNODE, 1, &info);
    ((struct astack *)astack)->out = r == 0 ? info.object : 0;
    return r;
}

static const mf_lrpc_procedure procedures[PROCEDURES] = {p_add, p_get, p_hold, p_where};

// ---------------------------------------------------------------- clients

static void client(uint64_t k)
{
    if (mf_vas_switch(client_vas[k]) < 0) {
        failed_at[k] = -1;
        return;
    }
    struct astack *a = (struct astack *)bound[k].astack[k];
    int64_t expect = 0;
    for (int64_t i = 1; i <= CALLS; i++) {
        a->client = (int64_t)k;
        a->value = i * (int64_t)(k + 1);
        long r = mf_lrpc_call(binding, P_ADD, (unsigned)k);
        expect += i * (int64_t)(k + 1);
        if (r != expect) {
            failed_at[k] = i;
            failed_with[k] = r;
            break;
        }
        if (i % NAP == 0)
            mf_sleep(1);
    }
    mf_vas_switch(0);
}

static void holder(uint64_t k)
{
    if (mf_vas_switch(client_vas[k]) < 0) {
        failed_at[k] = -1;
        return;
    }
    struct astack *a = (struct astack *)bound[k].astack[k];
    for (int64_t h = 1; h <= holds; h++) {
        a->value = hold_ticks;
        long r = mf_lrpc_call(binding, P_HOLD, (unsigned)k);
        if (r != h) {
            failed_at[k] = h;
            failed_with[k] = r;
            break;
        }
        mf_sleep((uint64_t)hold_ticks);
    }
    mf_vas_switch(0);
}

// ---------------------------------------------------------------- set-up

static int build(void)
{
    long server = mf_new(MF_OBJ_VAS, 14), astacks = mf_new(MF_OBJ_SEGMENT, 13), state = mf_new(MF_OBJ_SEGMENT, 13);
    long astack_frame = mf_new(MF_OBJ_FRAME, 12), state_frame = mf_new(MF_OBJ_FRAME, 12);
    binding = mf_new(MF_OBJ_BINDING, 0);
    if (server < 0 || astacks < 0 || state < 0 || astack_frame < 0 || state_frame < 0 || binding < 0)
        return 90;
    const unsigned rw = MF_RIGHT_READ | MF_RIGHT_WRITE;
    if (mf_segment_configure(astacks, ASTACK_BASE, 2ul << 20) || mf_segment_configure(state, STATE_BASE, 2ul << 20) ||
        mf_frame_map(astack_frame, astacks, ASTACK_BASE, rw) || mf_frame_map(state_frame, state, STATE_BASE, rw) ||
        mf_vas_attach(server, 0) || mf_vas_attach_segment(server, astacks, rw) ||
        mf_vas_attach_segment(server, state, rw))
        return 91;
    // Configured the usual way: our own CSpace is the server's.
    if (mf_binding_configure(binding, server, astacks, PROCEDURES, mf_lrpc_entry))
        return 92;
    for (unsigned i = 0; i <= CLIENTS; i++)
        if (mf_binding_set_astack(binding, i, ASTACK_BASE + i * ASTACK_SIZE, ASTACK_SIZE, estacks[i] + sizeof(estacks[i])))
            return 93;
    mf_lrpc_export(procedures, PROCEDURES);
    for (unsigned k = 0; k <= CLIENTS; k++) {
        client_vas[k] = mf_new(MF_OBJ_VAS, 14);
        if (client_vas[k] < 0 || mf_vas_attach(client_vas[k], 0) || mf_lrpc_bind(&bound[k], binding, client_vas[k]))
            return 94;
    }
    return 0;
}

// A call from client VAS 0 (the clients have ended: its A-stack is free).
static long call(unsigned procedure, int64_t client, uint64_t *out)
{
    struct astack *a = (struct astack *)bound[0].astack[0];     // mapped in the client VAS only
    long r = mf_vas_switch(client_vas[0]);
    if (r < 0)
        return r;
    a->client = client;
    r = mf_lrpc_call(binding, procedure, 0);
    if (out)
        *out = a->out;
    mf_vas_switch(0);
    return r;
}

int main(uint64_t arg)
{
    if (arg) {
        holds = 1;
        hold_ticks = (int64_t)arg;
    }
    int e = build();
    if (e) {
        printf("ckpt_lrpc: set-up failed (%d)\n", e);
        return e;
    }
    long done = mf_new(MF_OBJ_NOTIFICATION, 0);
    if (done < 0)
        return 95;
    for (unsigned k = 0; k <= CLIENTS; k++) {
        long t = mf_new(MF_OBJ_THREAD, 0), exit = mf_mint(done, MF_RIGHT_WRITE, 1ul << k);
        if (t < 0 || exit < 0 || mf_thread_bind_exit(t, exit) < 0 ||
            mf_thread_start_named(t, k < CLIENTS ? "client" : "holder", k < CLIENTS ? client : holder, stacks[k],
                                  sizeof(stacks[k]), k) < 0)
            return 96;
    }
    for (uint64_t bits = 0; bits != (1ul << (CLIENTS + 1)) - 1;) {
        long w = mf_notification_wait(done);
        if (w < 0)
            return 97;
        bits |= (uint64_t)w;
    }
    for (unsigned k = 0; k <= CLIENTS; k++)
        if (failed_at[k]) {
            printf("ckpt_lrpc: %s %u: call %ld returned %ld\n", k < CLIENTS ? "client" : "holder", k,
                   (long)failed_at[k], (long)failed_with[k]);
            return k < CLIENTS ? 1 : 2;
        }
    for (int64_t k = 0; k < CLIENTS; k++) {
        long sum = call(P_GET, k, NULL);
        if (sum != (k + 1) * CALLS * (CALLS + 1) / 2) {
            printf("ckpt_lrpc: the server's sum for client %ld is %ld\n", (long)k, sum);
            return 3;
        }
    }
    long adds = call(P_GET, CLIENTS, NULL), held = call(P_GET, CLIENTS + 1, NULL);
    if (adds != CLIENTS * CALLS || held != holds) {
        printf("ckpt_lrpc: the server counted %ld adds and %ld holds\n", adds, held);
        return 4;
    }
    static struct mf_cap_info ours;
    uint64_t inside = 0;
    long where = call(P_WHERE, 0, &inside);
    if (where != 0 || mf_cnode_describe(MF_CAP_SELF_CNODE, 1, &ours) != 0 || inside != ours.object || !inside) {
        printf("ckpt_lrpc: procedures run in CNode %#lx (%ld), ours is %#lx\n", (unsigned long)inside, where,
               (unsigned long)ours.object);
        return 5;
    }
    return 0;
}
