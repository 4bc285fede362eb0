// The tutorial's solutions (docs/tutorial/), run as the tutorial runs them:
// each from the shell's kind of CSpace (spawn_with_resources), the IPC
// server and client as two programs. tools/shell-test checks their output
// through the shell too.
#include "manifold.h"
#include "utest.h"
#include "../root/root.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT (MF_CAP_UNTYPED_BASE + 3)
#define UT_SERVER (MF_CAP_UNTYPED_BASE + 2)
#define CNODE 3996
#define CNODE_SERVER 3997

static long run(const char *name, uint64_t arg, struct mf_exit_status *st)
{
    long h = spawn_with_resources(name, arg, UT, CNODE);
    long r = h < 0 ? h : mf_wait(h, st);
    long v;
    while ((v = mf_cnode_revoke(ROOT, UT)) == -E_AGAIN)
        ;
    mf_cnode_delete(ROOT, CNODE);
    return r < 0 ? r : v;
}

static const char *expect_exit(const char *name, uint64_t arg, int code)
{
    struct mf_exit_status st;
    UCHECK(run(name, arg, &st) == 0);
    if (st.how != EXIT_NORMAL || st.code != code)
        printf("# %s %lu: how %d code %d\n", name, (unsigned long)arg, st.how, st.code);
    UCHECK(st.how == EXIT_NORMAL && st.code == code);
    return NULL;
}

UTEST(tutorial_1_hello) { return expect_exit("tut_hello", 7, 7); }
UTEST(tutorial_2_capabilities) { return expect_exit("tut_caps", 0, 0); }
UTEST(tutorial_4_programs)
{
    const char *r = expect_exit("tut_loader", 0, 0);
    return r ? r : expect_exit("tut_loader", 1, 0);
}

// The server runs as a job of its own; the client finds it by name.
UTEST(tutorial_3_ipc_server_and_client)
{
    struct mf_exit_status st;
    UCHECK(run("tut_client", 3, &st) == 0 && st.how == EXIT_NORMAL && st.code == 1);   // no server yet
    long server = spawn_with_resources("tut_server", 0, UT_SERVER, CNODE_SERVER);
    UCHECK(server > 0);
    // Wait until it has registered its name.
    long r = -E_NOENT;
    for (int i = 0; i < 1000 && r == -E_NOENT; i++) {
        r = mf_ns_lookup(NS_ENDPOINT, "tut-square", 3998);
        if (r == -E_NOENT)
            mf_sleep(1);
    }
    UCHECK(r == 0 && mf_cnode_delete(ROOT, 3998) == 0);
    for (uint64_t x = 2; x < 5; x++)
        UCHECK(run("tut_client", x, &st) == 0 && st.how == EXIT_NORMAL && st.code == 0);
    // Taking the server's untyped ends it (and its name).
    while ((r = mf_cnode_revoke(ROOT, UT_SERVER)) == -E_AGAIN)
        ;
    UCHECK(r == 0);
    UCHECK(mf_wait(server, &st) == -E_DEAD);        // taken away before it ended
    UCHECK(mf_wait(server, &st) == -E_NOENT);       // and its handle is free again
    mf_cnode_delete(ROOT, CNODE_SERVER);
    UCHECK(mf_ns_lookup(NS_ENDPOINT, "tut-square", 3998) == -E_NOENT);
    return NULL;
}
