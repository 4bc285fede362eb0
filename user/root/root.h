// The root task's parts.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The scheduling policies on a workload where affinity matters (affinity.c).
void run_affinity_benchmark(void);
// Runs kernel and user tests; prints TAP-style lines and the summary.
// Returns the number of failures. With a filter (the kernel option
// tests=A+B..., for a developer's run): only the user tests whose names
// start with one of the '+'-separated prefixes.
int run_tests(const char *filter);
void run_benchmarks(void);
void run_base_benchmarks(void);   // only the figures with a Linux counterpart (tools/bench/pairs.py)
void run_cluster(void);          // mode=cluster: one node of a DSM across instances (cluster.c)
void run_lrpc_benchmarks(void);   // LRPC's four calls vs the same by IPC
void run_http_benchmark(void);    // a library OS's HTTP server under the host's load (bench_http.c)
void run_split_benchmark(void);   // a call between the halves of a split process (split_upper)
void run_ckpt_benchmarks(void);   // checkpoint/restart of 1 and 16 MiB processes (bench_ckpt.c)
void shell(void);

// The name service (names.c): a thread of the root task on NS_ENDPOINT,
// keeping registered caps in slots NS_SLOTS..NS_SLOTS+31; its objects come
// from NS_UNTYPED, and so do the notifications of libmanifold's drivers
// (mf_alloc_init; slots ROOT_ALLOC_SLOTS..).
#define NS_UNTYPED (MF_CAP_UNTYPED_BASE + 8)
// GUPS (gups.c): the frames of up to 64 regions of 2 MiB from the 16
// untypeds from GUPS_UT_FIRST, its other objects from GUPS_UT_OBJECTS (the
// root task has 33, kernel/main.c), in slots 2400..2720.
#define GUPS_UT_FIRST (MF_CAP_UNTYPED_BASE + 16)
#define GUPS_UT_OBJECTS (MF_CAP_UNTYPED_BASE + 32)
#define ROOT_ALLOC_SLOTS 240
#define ROOT_ALLOC_SLOT_COUNT 16
#define NS_THREAD 3700
#define NS_ENDPOINT 3701
#define NS_SLOTS 3710
bool names_start(void);
// Spawns `name` as the shell's `run` does: libmanifold's mf_spawn_child
// with our name service. Returns an mf_wait handle.
long spawn_with_resources(const char *name, uint64_t arg, long untyped, long cnode_slot);

// The loader's pool (mf_spawn_pool): programs started with mf_spawn come
// from SPAWN_UT; every started program's caps are in SPAWN_SLOTS.. .
#define SPAWN_UT (MF_CAP_UNTYPED_BASE + 13)
#define SPAWN_SLOTS 4000
#define SPAWN_SLOT_COUNT (8 * MF_PROGRAM_SLOTS)

// The demonstration LRPC server (lrpc_setup.c): started with its own
// untyped, looked up through the name service, bound from a client VAS of
// ours (LRPC_CLIENT_VAS, with our home attached): switch into it to call.
#define LRPC_SERVER_UT (MF_CAP_UNTYPED_BASE + 9)
#define LRPC_CLIENT_UT (MF_CAP_UNTYPED_BASE + 10)
#define LRPC_SERVER_CNODE 3800
#define LRPC_BINDING 3810
#define LRPC_IPC_EP 3811
#define LRPC_CLIENT_VAS 3812
struct lrpc_demo {
    long server;                    // the server program's thread id
    struct mf_lrpc_client client;
};
bool lrpc_demo_setup(struct lrpc_demo *d);
void lrpc_demo_teardown(struct lrpc_demo *d);

// GUPS in three modes (gups.c): BENCH lines for 1..16 regions; the check
// runs every mode over `regions` regions and reports whether all verified.
void run_gups(void);
bool gups_verify_all(unsigned regions);
// Pointer-rich sharing through a segment vs IPC marshalling (share.c).
bool run_pointer_sharing(bool print);

// Distributed shared memory (user/dsm/, docs/dsm.md): each instance's
// root-side objects come from DSM_UT_OBJECTS and each node's memory (a
// 2 MiB untyped per node) from DSM_UT_MEMORY; dsm_stop revokes both.
// Slots: DSM_SLOT_DONE, the page-out disk thread's two, then 16 per node
// from DSM_SLOTS_NODE (2096..2223).
#define DSM_UT_OBJECTS (MF_CAP_UNTYPED_BASE + 11)
#define DSM_UT_MEMORY (MF_CAP_UNTYPED_BASE + 12)
#define DSM_SLOT_DONE 2080
#define DSM_SLOT_PAGEOUT_EP 2081        // the disk thread's endpoint (user/dsm/pageout.c)
#define DSM_SLOT_PAGEOUT_THREAD 2082
#define DSM_SLOTS_NODE 2096

// Benchmark helpers (bench.c, docs/benchmarks.md). A figure discards
// BENCH_WARMUP runs and keeps BENCH_RUNS samples; bench_report subtracts
// the counter's overhead (bench_counter_overhead) from each and prints them
// through mf_bench_report with `extra` (bench_verified(...), or NULL).
#define BENCH_WARMUP 100
#define BENCH_RUNS 1000
#define BENCH_ITERATIONS (BENCH_WARMUP + BENCH_RUNS)
uint64_t bench_counter_overhead(void);
void bench_report(const char *name, uint64_t *kept, uint64_t overhead, const char *extra);
static inline const char *bench_verified(bool ok) { return ok ? "\"verified\":true" : "\"verified\":false"; }
// A benchmark's objects come from BENCH_UT and its frames from
// BENCH_FRAMES_UT (shared with gups.c and share.c); it revokes both when it
// is done. Slots: BENCH_SLOTS..+99 (bench_vm.c, bench_sync.c; the first two
// are bench_run_pinned's).
#define BENCH_UT (MF_CAP_UNTYPED_BASE + 4)
#define BENCH_FRAMES_UT (MF_CAP_UNTYPED_BASE + 6)
#define BENCH_SLOTS 3300
#define BENCH_DRIVER BENCH_SLOTS
#define BENCH_DRIVER_EXIT (BENCH_SLOTS + 1)
// Starts `thread` (a Thread object of ours) running fn(arg) on [stack,
// stack+size), fixed to `cpu` (MF_SCHED_FIXED); exit (0: none) is signalled
// when it ends.
bool bench_start_pinned(long thread, long exit, unsigned cpu, void (*fn)(uint64_t), void *stack, size_t size,
                        uint64_t arg);
// Runs fn(arg) in a new thread (from BENCH_UT) fixed to the CPU we run on
// and waits until it has ended; false if it did not start or end normally.
// Two-thread benchmarks run in it and fix their partners to its CPU
// (mf_cpu_id()), as Linux's run on one CPU.
bool bench_run_pinned(void (*fn)(uint64_t), uint64_t arg);
// Pager round trip, zero fill, frame map + unmap (bench_vm.c).
void run_vm_benchmarks(uint64_t overhead);
// Thread create, notification ping-pong, barrier, yield ping-pong (bench_sync.c).
void run_sync_benchmarks(uint64_t overhead);
