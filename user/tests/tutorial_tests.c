// The tutorial's solutions (docs/tutorial/) of lessons 1, 2, 6 and 11, run
// as the tutorial runs them (tutorial.h); the IPC server and client as two
// programs. tools/shell-test checks their output through the shell too.
#include "tutorial.h"

UTEST(tutorial_1_hello) { return tutorial_expect_exit("tut_hello", 7, 7); }
UTEST(tutorial_2_capabilities) { return tutorial_expect_exit("tut_caps", 0, 0); }
UTEST_FAULTS(tutorial_11_programs)
{
    const char *r = tutorial_expect_exit("tut_loader", 0, 0);
    return r ? r : tutorial_expect_exit("tut_loader", 1, 0);
}

// The server runs as a job of its own; the client finds it by name.
UTEST(tutorial_6_ipc_server_and_client)
{
    struct mf_exit_status st;
    UCHECK(tutorial_run("tut_client", 3, &st) == 0 && st.how == EXIT_NORMAL && st.code == 1);   // no server yet
    long server = spawn_with_resources("tut_server", 0, TUT_UT_SERVER, TUT_CNODE_SERVER);
    UCHECK(server > 0);
    // Wait until it has registered its name.
    long r = -E_NOENT;
    for (int i = 0; i < 1000 && r == -E_NOENT; i++) {
        r = mf_ns_lookup(NS_ENDPOINT, "tut-square", 3998);
        if (r == -E_NOENT)
            mf_sleep(1);
    }
    UCHECK(r == 0 && mf_cnode_delete(TUT_ROOT, 3998) == 0);
    for (uint64_t x = 2; x < 5; x++)
        UCHECK(tutorial_run("tut_client", x, &st) == 0 && st.how == EXIT_NORMAL && st.code == 0);
    // Taking the server's untyped ends it (and its name).
    while ((r = mf_cnode_revoke(TUT_ROOT, TUT_UT_SERVER)) == -E_AGAIN)
        ;
    UCHECK(r == 0);
    UCHECK(mf_wait(server, &st) == -E_DEAD);        // taken away before it ended
    UCHECK(mf_wait(server, &st) == -E_NOENT);       // and its handle is free again
    mf_cnode_delete(TUT_ROOT, TUT_CNODE_SERVER);
    UCHECK(mf_ns_lookup(NS_ENDPOINT, "tut-square", 3998) == -E_NOENT);
    return NULL;
}
