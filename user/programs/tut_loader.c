// Tutorial 11 (docs/tutorial/11-programs.md): loading a program ourselves,
// from our own untyped memory, and learning how it ended.
#include "manifold.h"

#define SELF MF_CAP_SELF_CNODE
#define UNTYPED MF_CAP_UNTYPED_BASE
#define SLOTS 100          // MF_PROGRAM_SLOTS empty slots of ours from here

int main(uint64_t arg)
{
    const char *name = arg == 1 ? "fault" : "tut_hello";
    struct mf_program p;
    struct mf_load_args a = {.name = name, .arg = arg == 1 ? 1 : 42, .untyped = UNTYPED, .slots = SLOTS};
    long r = mf_program_load(&p, &a);
    if (r < 0) {
        printf("tut_loader: load %s: %s\n", name, mf_strerror(r));
        return 1;
    }
    printf("tut_loader: loaded %s: %u pages, all from our untyped\n", name, p.pages);
    struct mf_exit_status st;
    if (mf_program_start(&p) < 0 || mf_program_wait(&p, &st) < 0)
        return 2;
    if (st.how == EXIT_NORMAL)
        printf("tut_loader: %s exited with status %d\n", name, st.code);
    else
        printf("tut_loader: %s was killed (fault %d at %#lx)\n", name, st.code, (unsigned long)st.address);
    mf_program_destroy(&p);
    // Everything it was came from UNTYPED: one revoke and it is all back.
    r = mf_cnode_revoke(SELF, UNTYPED);
    printf("tut_loader: revoked: %s\n", mf_strerror(r));
    return r == 0 && st.how == (arg == 1 ? EXIT_FAULT : EXIT_NORMAL) ? 0 : 3;
}
