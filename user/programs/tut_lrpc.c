// Tutorial 7 (docs/tutorial/7-lrpc.md): LRPC in one program. We build a
// server's protection domain (a VAS with a private store, A-stacks, a
// binding), then, as a client in a VAS of our own, call its procedures:
// our thread runs them in the server's VAS and comes back with the result.
#include "manifold.h"

#define STORE_VA 0x80000000ul          // the server's store: in the server VAS only
#define ASTACK_VA 0x100000000ul        // the A-stacks: server and client VAS alike
#define ASTACKS 2
#define ASTACK_SIZE 1024

// What travels on an A-stack: arguments in, results out.
struct args {
    int64_t key, value;
    uint32_t thread;                   // who ran the procedure
};
struct store {
    int64_t count;
    struct { int64_t key, value; } entry[64];
};
#define STORE ((struct store *)STORE_VA)

static uint8_t estacks[ASTACKS][8192] __attribute__((aligned(16)));

// ---------------------------------------------------------------- server
static uint32_t my_thread(void)
{
    struct mf_thread_info me;
    return mf_thread_info(MF_THREAD_SELF, &me) == 0 ? me.id : 0;
}
static int64_t put(void *astack)
{
    struct args *a = astack;
    a->thread = my_thread();
    if (STORE->count == 64)
        return -E_NOMEM;
    STORE->entry[STORE->count].key = a->key;
    STORE->entry[STORE->count].value = a->value;
    return ++STORE->count;
}
static int64_t get(void *astack)
{
    struct args *a = astack;
    a->thread = my_thread();
    for (int64_t i = 0; i < STORE->count; i++)
        if (STORE->entry[i].key == a->key) {
            a->value = STORE->entry[i].value;
            return 0;
        }
    return -E_NOENT;                   // the procedure's own answer: no such key
}
static int64_t crash(void *astack)
{
    (void)astack;
    volatile uintptr_t nowhere = 8;
    return *(volatile int64_t *)nowhere;   // a page fault, in the server
}
enum { PUT, GET, CRASH, PROCEDURES };
static const mf_lrpc_procedure procedures[PROCEDURES] = {put, get, crash};

static long server(void)
{
    long vas = mf_new(MF_OBJ_VAS, 15), store = mf_new(MF_OBJ_SEGMENT, 13), astacks = mf_new(MF_OBJ_SEGMENT, 13);
    long f1 = mf_new(MF_OBJ_FRAME, 12), f2 = mf_new(MF_OBJ_FRAME, 12), binding = mf_new(MF_OBJ_BINDING, 0);
    const unsigned rw = MF_RIGHT_READ | MF_RIGHT_WRITE;
    if (binding < 0 || mf_vas_attach(vas, 0) ||              // our home: code, globals, E-stacks
        mf_segment_configure(store, STORE_VA, 2ul << 20) || mf_frame_map(f1, store, STORE_VA, rw) ||
        mf_vas_attach_segment(vas, store, rw) ||
        mf_segment_configure(astacks, ASTACK_VA, 2ul << 20) || mf_frame_map(f2, astacks, ASTACK_VA, rw) ||
        mf_vas_attach_segment(vas, astacks, rw) ||
        mf_binding_configure(binding, vas, astacks, PROCEDURES, mf_lrpc_entry))
        return -1;
    for (unsigned i = 0; i < ASTACKS; i++)          // A-stack i, and the E-stack its calls run on
        if (mf_binding_set_astack(binding, i, ASTACK_VA + i * ASTACK_SIZE, ASTACK_SIZE, &estacks[i][sizeof(estacks[i])]))
            return -1;
    mf_lrpc_export(procedures, PROCEDURES);
    return binding;
}

// ---------------------------------------------------------------- client
static struct mf_lrpc_client client;

// A client stub: take an A-stack, write the arguments, call, read the results.
static long call(unsigned procedure, struct args *a, int64_t *result)
{
    unsigned i;
    struct args *on = mf_lrpc_acquire(&client, &i);
    if (!on)
        return -E_BUSY;
    *on = *a;
    long r = mf_lrpc_invoke(client.binding, procedure, i, result);
    *a = *on;
    mf_lrpc_release(&client, i);
    return r;
}

int main(uint64_t arg)
{
    (void)arg;
    long binding = server(), vas = mf_new(MF_OBJ_VAS, 14);
    if (binding < 0 || mf_vas_attach(vas, 0) || mf_lrpc_bind(&client, binding, vas) || mf_vas_switch(vas))
        return 1;
    printf("tut_lrpc: bound: %u A-stacks, the first at %#lx in our VAS too\n", client.count,
           (unsigned long)client.astack[0]);
    int bad = 0;
    int64_t v = 0;
    struct args a = {.key = 7, .value = 49};
    long r = call(PUT, &a, &v);
    printf("tut_lrpc: put(7, 49): %s, the store holds %ld\n", mf_strerror(r), (long)v);
    bad += r != 0 || v != 1;
    a = (struct args){.key = 7};
    r = call(GET, &a, &v);
    printf("tut_lrpc: get(7): %s, returned %ld, value %ld, run by thread %u (we are %u)\n", mf_strerror(r), (long)v,
           (long)a.value, a.thread, my_thread());
    bad += r != 0 || v != 0 || a.value != 49 || a.thread != my_thread();
    // The store is not in our VAS: even the kernel cannot read it from here.
    long here = mf_write((const char *)STORE_VA, 1);
    printf("tut_lrpc: the store at %#lx from our VAS: %s\n", STORE_VA, mf_strerror(here));
    bad += here != -E_FAULT;

    // A procedure's own error, and the kernel's refusals: mf_lrpc_invoke says which.
    a = (struct args){.key = 8};
    r = call(GET, &a, &v);
    printf("tut_lrpc: get(8): the call %s, the procedure answered %s\n", r ? "failed" : "ran", mf_strerror(v));
    bad += r != 0 || v != -E_NOENT;
    r = mf_lrpc_invoke(binding, PROCEDURES, 0, &v);
    printf("tut_lrpc: procedure %d: refused by the kernel: %s\n", PROCEDURES, mf_strerror(r));
    bad += r != -E_RANGE;
    r = call(CRASH, &a, &v);
    printf("tut_lrpc: crash(): %s, and we are still here\n", mf_strerror(r));
    bad += r != -E_DEAD;
    mf_vas_switch(0);
    r = mf_lrpc_invoke(binding, GET, 0, &v);
    printf("tut_lrpc: from our home VAS, where no A-stack is mapped: %s\n", mf_strerror(r));
    bad += r != -E_PERM;
    return bad;
}
