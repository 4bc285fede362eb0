// http.requests_per_s, Manifold's side (tools/bench/pairs.py): a library
// OS (user/programs/libos_net.c: lwIP over packet-filter bindings on the
// kernel's virtio-net driver) serves its page at 10.0.2.15:80 on the NIC on
// QEMU's user network; the host's client (tools/bench/boot.py, HttpLoad)
// sees our marker line, sends the requests through QEMU's hostfwd port and
// times them itself. Linux serves the same page the same way
// (bench/linux/http.c). Under -icount the host sends nothing: the server
// is stopped when it has not finished after IDLE_TICKS.
#include "manifold.h"
#include "root.h"
#include "lib/fmt.h"

#define HTTP_WARMUP 20
#define HTTP_RUNS 200
#define HTTP_UT (MF_CAP_UNTYPED_BASE + 3)
#define HTTP_CNODE 650
#define HTTP_EXIT (BENCH_SLOTS + 60)
#define IDLE_TICKS 12000        // 120 s
#define ROOT MF_CAP_SELF_CNODE

void run_http_benchmark(void)
{
    const char *name = "http.requests_per_s";
    if (mf_virtio_net_nic(2) < 0) {
        printf("bench: skip %s: no virtio-net NIC on QEMU's user network (tools/qemu gives one)\n", name);
        return;
    }
    const uint64_t total = HTTP_WARMUP + HTTP_RUNS;
    // A server, NIC 2, 10.0.2.15, exiting after `total` requests.
    long server = spawn_with_resources("libos_net", 1 | 2 << 8 | 15 << 16 | total << 32, HTTP_UT, HTTP_CNODE);
    if (server <= 0 || mf_untyped_retype(BENCH_UT, MF_OBJ_NOTIFICATION, 0, 1, ROOT, HTTP_EXIT) != 0 ||
        mf_thread_bind_exit(mf_spawned_thread(server), HTTP_EXIT) != 0) {
        printf("bench: cannot start the library OS's HTTP server for %s\n", name);
        if (server > 0)
            mf_kill(server);
        mf_cnode_revoke(ROOT, BENCH_UT);
        mf_cnode_revoke(ROOT, HTTP_UT);
        return;
    }
    printf("http-bench: serving %u requests (%u warm-up) at 10.0.2.15:80\n", (unsigned)total, HTTP_WARMUP);
    // The requests take a few seconds on the wall clock; without them the
    // server idles until the host's silence is plain.
    long waited = mf_notification_wait_timeout(HTTP_EXIT, IDLE_TICKS);
    struct mf_exit_status st = {0};
    if (waited > 0) {
        mf_wait(server, &st);
        if (st.how != EXIT_NORMAL || st.code != 0)
            printf("bench: %s: the library OS's server ended with %d\n", name, (int)st.code);
    } else {
        mf_kill(server);
        printf("bench: skip %s: the host did not send its requests within %u s (it does on the wall clock "
               "only)\n", name, IDLE_TICKS / 100);
    }
    mf_cnode_revoke(ROOT, BENCH_UT);
    mf_cnode_revoke(ROOT, HTTP_UT);
}
