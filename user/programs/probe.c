// Tries what a program must not be able to do, for the authority tests
// (user/tests/authority_tests.c). The argument picks the probe:
//   1  power off, run kernel self-tests and benchmarks through every slot
//      of its CSpace (it holds no System cap): exits 0 when all failed
//   2  spawns `arg >> 8` copies of `spin` and exits without waiting for
//      them: their resources must come back when they end (orphans)
#include "manifold.h"

static int probe_system(void)
{
    int wrong = 0;
    for (long slot = 0; slot < 256; slot++) {
        if (mf_system_poweroff(slot, 99) >= 0 || mf_ktest_count(slot) >= 0 || mf_kbench(slot) >= 0 ||
            mf_ktest_run(slot, 0, 1) >= 0) {
            printf("probe: slot %ld gave system authority\n", slot);
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
