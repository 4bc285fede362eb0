// The demonstration LRPC server (lrpc_demo.h). It builds its protection
// domain from the untyped memory it is given — an address space holding its
// code and data, a segment of A-stacks, a Binding — registers the binding
// with the name service, and serves the same four procedures by endpoint
// IPC too, for comparison. The root task starts it with argument 1 for the
// tests and benchmarks (it then waits to be taken down); from the shell,
// `run lrpc_server` (argument 0) also binds to itself as a client, makes a
// few calls, prints them and exits.
#include "lrpc_demo.h"

#define SELF MF_CAP_SELF_CNODE
#define UNTYPED MF_CAP_UNTYPED_BASE
enum { VAS = 20, SEGMENT, BINDING, IPC_THREAD, IPC_EP, PARK_EP, CLIENT_VAS, FRAMES = 32 };

#define ASTACK_BASE 0x100000000ul             // 4 GiB, in server and clients alike
#define ASTACK_SIZE 1024
#define ASTACKS MF_LRPC_MAX_ASTACKS
#define FRAME_COUNT (ASTACKS * ASTACK_SIZE / 4096)

static uint8_t estacks[ASTACKS][8192] __attribute__((aligned(16)));
static uint8_t ipc_stack[8192] __attribute__((aligned(16)));
static uint64_t ipc_buffer[512] __attribute__((aligned(4096)));

static int64_t sum(const uint8_t *p)
{
    int64_t s = 0;
    for (int i = 0; i < DEMO_BIG; i++)
        s += p[i];
    return s;
}

static int64_t proc_null(void *a) { (void)a; return 0; }
static int64_t proc_add(void *a) { struct demo_astack *s = a; return s->a + s->b; }
static int64_t proc_bigin(void *a) { return sum(((struct demo_astack *)a)->in); }
static int64_t proc_biginout(void *a)
{
    struct demo_astack *s = a;
    for (int i = 0; i < DEMO_BIG; i++)
        s->out[i] = s->in[DEMO_BIG - 1 - i];
    return sum(s->in);
}
static int64_t proc_fault(void *a)
{
    (void)a;
    volatile uintptr_t bad = 8;
    return *(volatile int64_t *)bad;
}
static int64_t proc_destroy(void *a)
{
    (void)a;
    // The calling thread is here, in our VAS, using our CSpace: revoking
    // our untyped takes our VAS and binding away under it.
    return mf_cnode_revoke(SELF, UNTYPED);
}

// Stays in the server until the client (or anyone mapping the A-stack)
// writes a: a call that is surely inside when the server is taken away.
static int64_t proc_spin(void *a)
{
    volatile struct demo_astack *s = a;
    s->b = 1;
    for (uint64_t n = 0; !s->a && n < (1ull << 32); n++)
        __asm__ volatile("" ::: "memory");
    return s->a;
}

// The thread pointer a procedure starts on (the kernel gives it 0s, not
// the client's), then one of its own, which the client must not get back.
static int64_t proc_tls(void *a)
{
    struct demo_astack *s = a;
    if (!s->a)
        return 0;
    uint64_t tp, mine = DEMO_TLS_SERVER;
#if defined(__x86_64__)
    __asm__ volatile("rdfsbase %0; wrfsbase %1" : "=&r"(tp) : "r"(mine) : "memory");
#else
    __asm__ volatile("mrs %0, tpidr_el0; msr tpidr_el0, %1" : "=&r"(tp) : "r"(mine) : "memory");
#endif
    return (int64_t)tp;
}

static const mf_lrpc_procedure procedures[DEMO_PROCEDURES] = {
    proc_null, proc_add, proc_bigin, proc_biginout, proc_fault, proc_destroy, proc_spin, proc_tls,
};

// The same procedures over endpoint IPC: arguments copied in the message
// (4 registers + the IPC buffer), results copied back.
static void ipc_server(uint64_t ep)
{
    struct mf_msg m = {0};
    mf_recv((long)ep, &m);
    for (;;) {
        int64_t r = 0;
        unsigned len = 0;
        uint8_t in[DEMO_BIG], out[DEMO_BIG];
        switch (MF_INFO_LABEL(m.info)) {
        case DEMO_ADD:
            r = (int64_t)(m.mr[0] + m.mr[1]);
            break;
        case DEMO_BIGIN:
        case DEMO_BIGINOUT:
            // 200 bytes = 25 words: mr0..mr3 and buffer words 0..20.
            __builtin_memcpy(in, m.mr, 32);
            __builtin_memcpy(in + 32, ipc_buffer, DEMO_BIG - 32);
            r = sum(in);
            if (MF_INFO_LABEL(m.info) == DEMO_BIGINOUT) {
                for (int i = 0; i < DEMO_BIG; i++)
                    out[i] = in[DEMO_BIG - 1 - i];
                __builtin_memcpy(m.mr, out, 32);
                __builtin_memcpy(ipc_buffer, out + 32, DEMO_BIG - 32);
                len = DEMO_BIG / 8;
            }
            break;
        default:
            break;
        }
        // The result: in mr0, or after the 25 words of output (buffer word 21).
        if (len) {
            ipc_buffer[DEMO_BIG / 8 - MF_MSG_MAX_REGS] = (uint64_t)r;
            len++;
        } else {
            m.mr[0] = (uint64_t)r;
            len = 1;
        }
        m.info = MF_INFO(0, len);
        mf_reply_recv((long)ep, &m);
    }
}

static bool build(void)
{
    if (mf_untyped_retype(UNTYPED, MF_OBJ_VAS, 14, 1, SELF, VAS) || mf_vas_attach(VAS, 0) ||
        mf_untyped_retype(UNTYPED, MF_OBJ_SEGMENT, 13, 1, SELF, SEGMENT) ||
        mf_segment_configure(SEGMENT, ASTACK_BASE, 2ul << 20) ||
        mf_untyped_retype(UNTYPED, MF_OBJ_FRAME, 12, FRAME_COUNT, SELF, FRAMES))
        return false;
    for (unsigned i = 0; i < FRAME_COUNT; i++)
        if (mf_frame_map(FRAMES + i, SEGMENT, ASTACK_BASE + i * 4096ul, MF_RIGHT_READ | MF_RIGHT_WRITE))
            return false;
    if (mf_vas_attach_segment(VAS, SEGMENT, MF_RIGHT_READ | MF_RIGHT_WRITE) ||
        mf_untyped_retype(UNTYPED, MF_OBJ_BINDING, 0, 1, SELF, BINDING) ||
        mf_binding_configure(BINDING, VAS, SEGMENT, DEMO_PROCEDURES, mf_lrpc_entry))
        return false;
    for (unsigned i = 0; i < ASTACKS; i++)
        if (mf_binding_set_astack(BINDING, i, ASTACK_BASE + i * ASTACK_SIZE, ASTACK_SIZE,
                                  &estacks[i][sizeof(estacks[i])]))
            return false;
    mf_lrpc_export(procedures, DEMO_PROCEDURES);
    return mf_untyped_retype(UNTYPED, MF_OBJ_THREAD, 0, 1, SELF, IPC_THREAD) == 0 &&
           mf_untyped_retype(UNTYPED, MF_OBJ_ENDPOINT, 0, 1, SELF, IPC_EP) == 0 &&
           mf_thread_start_buffer(IPC_THREAD, ipc_server, ipc_stack, sizeof(ipc_stack), IPC_EP, ipc_buffer) == 0;
}

// The demonstration: a client VAS of our own (our home, the A-stacks) and
// four calls through the binding, as any client would make them.
static int demo(void)
{
    static struct mf_lrpc_client client;
    if (mf_untyped_retype(UNTYPED, MF_OBJ_VAS, 14, 1, SELF, CLIENT_VAS) || mf_vas_attach(CLIENT_VAS, 0) ||
        mf_lrpc_bind(&client, BINDING, CLIENT_VAS) || mf_vas_switch(CLIENT_VAS)) {
        mf_vas_switch(0);
        printf("lrpc_server: cannot bind to myself\n");
        return 3;
    }
    uint8_t in[DEMO_BIG], out[DEMO_BIG];
    for (int i = 0; i < DEMO_BIG; i++)
        in[i] = (uint8_t)i;
    long null = demo_null(&client);
    long add = demo_add(&client, 40, 2);
    long big = demo_biginout(&client, in, out);
    long fault = demo_call(&client, DEMO_FAULT);
    mf_vas_switch(0);
    printf("lrpc_server: null() = %ld, add(40, 2) = %ld, biginout() = %ld with out[0] = %u,\n"
           "lrpc_server: and a faulting procedure returned %ld (%s) to its caller\n",
           null, add, big, out[0], fault, mf_strerror(fault));
    return null == 0 && add == 42 && big == 19900 && out[0] == 199 && fault == -E_DEAD ? 0 : 4;
}

int main(uint64_t arg)
{
    if (!build()) {
        printf("lrpc_server: cannot build the server (no CSpace or memory?)\n");
        return 1;
    }
    long r = mf_ns_register(MF_CAP_NAMESERVER, DEMO_BINDING_NAME, BINDING);
    if (!r)
        r = mf_ns_register(MF_CAP_NAMESERVER, DEMO_IPC_NAME, IPC_EP);
    if (r) {
        printf("lrpc_server: cannot register with the name service: %s\n", mf_strerror(r));
        return 2;
    }
    if (arg == 0)
        return demo();
    // Park until our memory is taken back (the endpoint dies with it).
    if (mf_untyped_retype(UNTYPED, MF_OBJ_ENDPOINT, 0, 1, SELF, PARK_EP) == 0) {
        struct mf_msg m = {0};
        mf_recv(PARK_EP, &m);
    }
    return 0;
}
