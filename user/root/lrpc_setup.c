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
    // The server registers once it has built its domain.
    long r = -E_NOENT;
    for (int i = 0; i < 200 && r == -E_NOENT; i++) {
        r = mf_ns_lookup(NS_ENDPOINT, DEMO_BINDING_NAME, LRPC_BINDING);
        if (r == -E_NOENT)
            mf_sleep(1);
    }
    if (r || mf_ns_lookup(NS_ENDPOINT, DEMO_IPC_NAME, LRPC_IPC_EP))
        return false;
    return mf_untyped_retype(LRPC_CLIENT_UT, MF_OBJ_VAS, 14, 1, self, LRPC_CLIENT_VAS) == 0 &&
           mf_vas_attach(LRPC_CLIENT_VAS, 0) == 0 &&
           mf_lrpc_bind(&d->client, LRPC_BINDING, LRPC_CLIENT_VAS) == 0;
}

void lrpc_demo_teardown(struct lrpc_demo *d)
{
    mf_vas_switch(0);
    mf_cnode_revoke(MF_CAP_SELF_CNODE, LRPC_SERVER_UT);   // the server's whole domain
    mf_cnode_revoke(MF_CAP_SELF_CNODE, LRPC_CLIENT_UT);
    if (d->server > 0) {
        struct mf_exit_status st;
        mf_wait(d->server, &st);    // it was parked on an endpoint that is gone
        d->server = 0;
    }
}
