// Tries what a program must not be able to do, for the authority tests
// (user/tests/authority_tests.c). The argument picks the probe:
//   1  looks for a System cap in its CSpace and tries power-off, kernel
//      self-tests and benchmarks through every empty slot: exits 0 when
//      it found none and all were refused
//   2  spawns `arg >> 8` copies of `spin` and exits without waiting for
//      them: their resources must come back when they end (orphans)
#include "manifold.h"

// The kernel dispatches an invocation by the type of the cap invoked, so
// the System operations are reachable only through a System cap: there
// must be none in our CSpace, and every empty slot must refuse them.
static int probe_system(void)
{
    int wrong = 0;
    for (long slot = 0; slot < 256; slot++) {
        long id = mf_cnode_identify(MF_CAP_SELF_CNODE, slot);
        if (id > 0 && (id & 0xff) == MF_OBJ_SYSTEM) {
            printf("probe: slot %ld holds a System cap\n", slot);
            wrong++;
        }
        if (id > 0)
            continue;       // another object: its own operations, not these
        long r[4] = {mf_system_poweroff(slot, 99), mf_ktest_count(slot), mf_kbench(slot), mf_ktest_run(slot, 0, 1)};
        for (int i = 0; i < 4; i++)
            if (r[i] != -E_BADCAP) {
                printf("probe: empty slot %ld: system operation %d returned %ld\n", slot, i, r[i]);
                wrong++;
            }
    }
    return wrong;
}

static int probe_orphans(unsigned children)
{
    for (unsigned i = 0; i < children; i++) {
        long tid = mf_spawn("spin", 2);
        if (tid < 0)
            return (int)-tid;
    }
    return 0;           // exits with them still running
}

int main(uint64_t arg)
{
    switch (arg & 0xff) {
    case 1:
        return probe_system();
    case 2:
        return probe_orphans((unsigned)(arg >> 8));
    default:
        return 100;
    }
}
