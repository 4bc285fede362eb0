// Running the tutorial's solutions as the shell's `run` does: each from
// the shell's kind of CSpace (spawn_with_resources) and a 4 MiB untyped of
// its own, revoked afterwards. tools/shell-test checks their output
// through the shell; these check their exit status from the root task.
#pragma once
#include "manifold.h"
#include "utest.h"
#include "../root/root.h"

#define TUT_ROOT MF_CAP_SELF_CNODE
#define TUT_UT (MF_CAP_UNTYPED_BASE + 3)
#define TUT_UT_SERVER (MF_CAP_UNTYPED_BASE + 2)
#define TUT_CNODE 3996
#define TUT_CNODE_SERVER 3997

static inline long tutorial_run(const char *name, uint64_t arg, struct mf_exit_status *st)
{
    long h = spawn_with_resources(name, arg, TUT_UT, TUT_CNODE);
    long r = h < 0 ? h : mf_wait(h, st);
    if (r < 0)
        printf("# %s: %s: %s\n", name, h < 0 ? "spawn" : "wait", mf_strerror_detail(r));
    long v = mf_cnode_revoke(TUT_ROOT, TUT_UT);
    mf_cnode_delete(TUT_ROOT, TUT_CNODE);
    return r < 0 ? r : v;
}

// NULL when `name arg` exits normally with `code`.
static inline const char *tutorial_expect_exit(const char *name, uint64_t arg, int code)
{
    struct mf_exit_status st;
    UCHECK(tutorial_run(name, arg, &st) == 0);
    if (st.how != EXIT_NORMAL || st.code != code)
        printf("# %s %lu: how %d code %d\n", name, (unsigned long)arg, st.how, st.code);
    UCHECK(st.how == EXIT_NORMAL && st.code == code);
    return NULL;
}
