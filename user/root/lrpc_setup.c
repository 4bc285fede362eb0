// Starting the demonstration LRPC server and binding to it, for the tests
// and the benchmarks.
#include "manifold.h"
#include "root.h"
#include "lrpc_demo.h"

bool lrpc_demo_setup(struct lrpc_demo *d)
{
    const long self = MF_CAP_SELF_CNODE;
    lrpc_demo_teardown(d);
    d->server = spawn_with_resources("lrpc_server", 1, LRPC_SERVER_UT, LRPC_SERVER_CNODE);
    if (d->server < 0)
        return false;
    // The server registers its two names once it has built its domain; it
    // may be preempted between them, so wait for the second one too.
    long r = -E_NOENT;
    for (int i = 0; i < 1000 && r == -E_NOENT; i++) {     // 10 s: Bochs is slow
        r = mf_ns_lookup(NS_ENDPOINT, DEMO_IPC_NAME, LRPC_IPC_EP);
        if (r == -E_NOENT)
            mf_sleep(1);
    }
    if (!r)
        r = mf_ns_lookup(NS_ENDPOINT, DEMO_BINDING_NAME, LRPC_BINDING);
    if (!r)
        r = mf_untyped_retype(LRPC_CLIENT_UT, MF_OBJ_VAS, 14, 1, self, LRPC_CLIENT_VAS);
    if (!r)
        r = mf_vas_attach(LRPC_CLIENT_VAS, 0);
    if (!r)
        r = mf_lrpc_bind(&d->client, LRPC_BINDING, LRPC_CLIENT_VAS);
    if (r)
        printf("# lrpc setup: %s\n", mf_strerror(r));
    return r == 0;
}

void lrpc_demo_teardown(struct lrpc_demo *d)
{
    mf_vas_switch(0);
    // The server's whole domain, then the client's; a revocation that runs
    // out of its budget (-E_AGAIN) is called again.
    long r;
    while ((r = mf_cnode_revoke(MF_CAP_SELF_CNODE, LRPC_SERVER_UT)) == -E_AGAIN)
        ;
    if (r)
        printf("# lrpc teardown: revoking the server: %s\n", mf_strerror(r));
    while ((r = mf_cnode_revoke(MF_CAP_SELF_CNODE, LRPC_CLIENT_UT)) == -E_AGAIN)
        ;
    if (r)
        printf("# lrpc teardown: revoking the client: %s\n", mf_strerror(r));
    if (d->server > 0) {
        struct mf_exit_status st;
        long w = mf_wait(d->server, &st);    // gone with its untyped: -E_DEAD
        if (w && w != -E_DEAD)
            printf("# lrpc teardown: wait for the server: %s\n", mf_strerror(w));
        d->server = 0;
    }
}
