// Benchmarks run by the root task. Each prints one `BENCH {json}` line with
// n, min, median and max after discarding warm-up runs and subtracting the
// measured cost of reading the counter (the sel4bench method; see
// docs/benchmarks.md).
#include "manifold.h"
#include "root.h"
#include "lrpc_demo.h"
#include "user/dsm/dsm.h"
#include "lib/fmt.h"
#include "lib/string.h"

#define WARMUP BENCH_WARMUP
#define RUNS BENCH_RUNS

static uint64_t samples[RUNS];

static void report(const char *name, uint64_t overhead);

// Cost of two back-to-back counter reads: its minimum is subtracted from
// every other sample.
static uint64_t counter_overhead(void)
{
    for (unsigned i = 0; i < WARMUP + RUNS; i++) {
        uint64_t a = mf_arch_cycles();
        uint64_t b = mf_arch_cycles();
        if (i >= WARMUP)
            samples[i - WARMUP] = b - a;
    }
    report("counter.overhead", 0);
    return samples[0];
}

void bench_report(const char *name, uint64_t *kept, uint64_t overhead, const char *extra)
{
    for (unsigned i = 0; i < RUNS; i++)
        kept[i] = kept[i] > overhead ? kept[i] - overhead : 0;
    mf_bench_report(name, "cycles", kept, RUNS, extra);
}

static void report(const char *name, uint64_t overhead)
{
    bench_report(name, samples, overhead, NULL);
}

bool bench_start_pinned(long thread, long exit, unsigned cpu, void (*fn)(uint64_t), void *stack, size_t size,
                        uint64_t arg)
{
    return mf_thread_set_sched(thread, MF_SCHED_FIXED, cpu) == 0 &&
           (!exit || mf_thread_bind_exit(thread, exit) == 0) &&
           mf_thread_start(thread, fn, stack, size, arg) == 0;
}

// The driver: a thread of ours fixed to the CPU we run on, its objects from
// BENCH_UT in the two reserved slots. We wait for it, so the CPU has only
// the benchmark's threads to run.
static uint8_t driver_stack[16384] __attribute__((aligned(16)));

bool bench_run_pinned(void (*fn)(uint64_t), uint64_t arg)
{
    struct mf_exit_status st;
    if (mf_untyped_retype(BENCH_UT, MF_OBJ_THREAD, 0, 1, MF_CAP_SELF_CNODE, BENCH_DRIVER) ||
        mf_untyped_retype(BENCH_UT, MF_OBJ_NOTIFICATION, 0, 1, MF_CAP_SELF_CNODE, BENCH_DRIVER_EXIT) ||
        !bench_start_pinned(BENCH_DRIVER, BENCH_DRIVER_EXIT, (unsigned)mf_cpu_id(), fn, driver_stack,
                            sizeof(driver_stack), arg))
        return false;
    mf_notification_wait(BENCH_DRIVER_EXIT);
    return mf_thread_exit_status(BENCH_DRIVER, &st) == 0 && st.how == EXIT_NORMAL;
}

static void bench_null_syscall(uint64_t overhead)
{
    for (unsigned i = 0; i < WARMUP + RUNS; i++) {
        uint64_t t0 = mf_arch_cycles();
        mf_syscall(SYS_COUNT, 0, 0, 0);   // unknown number: the shortest kernel path
        uint64_t t1 = mf_arch_cycles();
        if (i >= WARMUP)
            samples[i - WARMUP] = t1 - t0;
    }
    report("syscall.null", overhead);
}

static void bench_yield(uint64_t overhead)
{
    for (unsigned i = 0; i < WARMUP + RUNS; i++) {
        uint64_t t0 = mf_arch_cycles();
        mf_yield();
        uint64_t t1 = mf_arch_cycles();
        if (i >= WARMUP)
            samples[i - WARMUP] = t1 - t0;
    }
    report("syscall.yield_alone", overhead);
}

// Endpoint call + reply between two threads of one address space: a server
// thread (retyped from untyped) answers with reply_recv.
#define BENCH_THREAD 3000
#define BENCH_EP 3001
static uint8_t server_stack[8192] __attribute__((aligned(16)));

static void echo_server(uint64_t ep)
{
    struct mf_msg m = {0};
    mf_recv((long)ep, &m);
    for (;;)
        mf_reply_recv((long)ep, &m);
}

static void bench_ipc_call(uint64_t overhead)
{
    if (mf_untyped_retype(BENCH_UT, MF_OBJ_THREAD, 0, 1, MF_CAP_SELF_CNODE, BENCH_THREAD) ||
        mf_untyped_retype(BENCH_UT, MF_OBJ_ENDPOINT, 0, 1, MF_CAP_SELF_CNODE, BENCH_EP) ||
        mf_thread_start(BENCH_THREAD, echo_server, server_stack, sizeof(server_stack), BENCH_EP)) {
        printf("bench: cannot set up the IPC server\n");
        return;
    }
    for (unsigned i = 0; i < WARMUP + RUNS; i++) {
        struct mf_msg m = {.info = MF_INFO(1, 2), .mr = {i, i}};
        uint64_t t0 = mf_arch_cycles();
        mf_call(BENCH_EP, &m);
        uint64_t t1 = mf_arch_cycles();
        if (i >= WARMUP)
            samples[i - WARMUP] = t1 - t0;
    }
    report("ipc.call_reply_same_vas", overhead);
    mf_cnode_revoke(MF_CAP_SELF_CNODE, BENCH_UT);
}

// The LRPC paper's four calls, by LRPC and by endpoint IPC with copying,
// against the demonstration server (lrpc_server.c), from our client VAS.
static void bench_lrpc(uint64_t overhead)
{
    static struct lrpc_demo demo;
    if (!lrpc_demo_setup(&demo) || mf_vas_switch(LRPC_CLIENT_VAS)) {
        printf("bench: cannot set up the LRPC server\n");
        lrpc_demo_teardown(&demo);
        return;
    }
    static const char *const names[4] = {"null", "add", "bigin", "biginout"};
    uint8_t in[DEMO_BIG], out[DEMO_BIG];
    for (int i = 0; i < DEMO_BIG; i++)
        in[i] = (uint8_t)i;
    uint64_t *buf = mf_ipc_buffer();
    char name[48];
    for (int p = 0; p < 4; p++) {
        for (unsigned i = 0; i < WARMUP + RUNS; i++) {
            uint64_t t0 = mf_arch_cycles();
            switch (p) {
            case 0: demo_null(&demo.client); break;
            case 1: demo_add(&demo.client, i, 2); break;
            case 2: demo_bigin(&demo.client, in); break;
            default: demo_biginout(&demo.client, in, out); break;
            }
            uint64_t t1 = mf_arch_cycles();
            if (i >= WARMUP)
                samples[i - WARMUP] = t1 - t0;
        }
        snprintf(name, sizeof(name), "lrpc.%s", names[p]);
        report(name, overhead);
        // The same call as IPC: arguments and results copied in messages.
        for (unsigned i = 0; i < WARMUP + RUNS; i++) {
            uint64_t t0 = mf_arch_cycles();
            struct mf_msg m = {.info = MF_INFO(p, 0)};
            if (p == 1) {
                m.mr[0] = i;
                m.mr[1] = 2;
                m.info = MF_INFO(p, 2);
            } else if (p >= 2) {
                memcpy(m.mr, in, 32);
                memcpy(buf, in + 32, DEMO_BIG - 32);
                m.info = MF_INFO(p, DEMO_BIG / 8);
            }
            mf_call(LRPC_IPC_EP, &m);
            if (p == 3) {
                memcpy(out, m.mr, 32);
                memcpy(out + 32, buf, DEMO_BIG - 32);
            }
            uint64_t t1 = mf_arch_cycles();
            if (i >= WARMUP)
                samples[i - WARMUP] = t1 - t0;
        }
        snprintf(name, sizeof(name), "ipc.%s", names[p]);
        report(name, overhead);
    }
    mf_vas_switch(0);
    lrpc_demo_teardown(&demo);
}

uint64_t bench_counter_overhead(void)
{
    return counter_overhead();
}

// Every figure with a Linux counterpart (tools/bench/pairs.py).
static void run_paired(uint64_t overhead)
{
    bench_null_syscall(overhead);
    bench_yield(overhead);
    run_sync_benchmarks(overhead);
    bench_ipc_call(overhead);
    bench_lrpc(overhead);
    run_vm_benchmarks(overhead);
}

// A split process (docs/split.md): split_upper, in its bench mode, times a
// call into its lower half and back (thread pointer switched in user mode,
// then by MF_THREAD_SET_TLS) beside a null system call, and prints them
// (split.*); its exit status says whether every call reached the lower half.
#define SPLIT_CNODE 3640
#define SPLIT_SLOTS 3641            // MF_PROGRAM_SLOTS of them
void run_split_benchmark(void)
{
    const long self = MF_CAP_SELF_CNODE;
    struct mf_program p = {0};
    struct mf_load_args a = {.name = "split_upper", .lower = "split_lower", .arg = 1, .cspace = SPLIT_CNODE,
                             .untyped = BENCH_UT, .slots = SPLIT_SLOTS};
    struct mf_exit_status st = {0};
    long r = mf_child_cspace(BENCH_UT, SPLIT_CNODE, 0);
    if (r == 0)
        r = mf_program_load(&p, &a);
    if (r == 0)
        r = mf_thread_set_sched(p.thread, MF_SCHED_FIXED, (unsigned)mf_cpu_id());
    if (r == 0)
        r = mf_program_start(&p);
    if (r == 0)
        r = mf_program_wait(&p, &st);
    if (r < 0 || st.how != EXIT_NORMAL || st.code != 0)
        printf("bench: the split process failed: %s\n", r < 0 ? mf_strerror(r) : "a call missed the lower half");
    if (p.thread)
        mf_program_destroy(&p);
    mf_cnode_delete(self, SPLIT_CNODE);
    mf_cnode_revoke(self, BENCH_UT);
}

void run_base_benchmarks(void)
{
    run_paired(counter_overhead());
}

void run_benchmarks(void)
{
    uint64_t overhead = counter_overhead();
    // Locks and barriers on 1..N CPUs, measured inside the kernel
    // (kernel/smp_bench.c), in the same counter unit.
    if (mf_kbench(MF_CAP_SYSTEM) < 0)
        printf("bench: the kernel's SMP benchmarks did not finish\n");
    run_paired(overhead);
    run_split_benchmark();
    run_affinity_benchmark();
    run_gups();
    run_pointer_sharing(true);
    run_dsm_benchmarks();
    run_http_benchmark();
    run_ckpt_benchmarks();      // last: it takes untypeds the others used
}

void run_lrpc_benchmarks(void)
{
    bench_lrpc(counter_overhead());
}
