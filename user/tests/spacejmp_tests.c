// The SpaceJMP workloads as correctness tests: GUPS in all three modes must
// leave the table equal to the reference, and a pointer-rich tree must read
// the same through a shared segment as after marshalling over IPC.
#include "manifold.h"
#include "utest.h"
#include "../root/root.h"

UTEST(gups_three_modes_verified)
{
    UCHECK(gups_verify_all(2));
    UCHECK(gups_verify_all(3));
    return NULL;
}

UTEST(pointer_tree_shared_equals_marshalled)
{
    UCHECK(run_pointer_sharing(false));
    return NULL;
}
