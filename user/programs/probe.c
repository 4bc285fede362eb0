// Tries what a program must not be able to do, for the authority tests
// (user/tests/authority_tests.c). The argument picks the probe:
//   1  looks for a System cap in its CSpace and tries power-off, kernel
//      self-tests and benchmarks through it (a read-only one may be
//      there) and through every empty slot: exits 0 when all were refused
//   2  loads `arg >> 8` copies of `probe 3` from its own untyped and exits
//      without waiting for them: revoking what its parent gave it must
//      take them back too (no orphans)
//   3  sleeps (as long as the kernel lets it)
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
            // Only to read (mf_system_info): nothing that acts may pass.
            long rights = (id >> 8) & 0xff;
            long r[3] = {mf_system_poweroff(slot, 99), mf_kbench(slot), mf_ktest_run(slot, 0, 1)};
            for (int i = 0; i < 3; i++)
                if (r[i] != -E_PERM) {
                    printf("probe: System cap in slot %ld (rights %ld): operation %d returned %ld\n", slot,
                           rights, i, r[i]);
                    wrong++;
                }
            continue;
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

#define POOL_SLOTS 128      // free in the CSpace spawn_with_resources gives

static int probe_orphans(unsigned children)
{
    mf_spawn_pool(MF_CAP_UNTYPED_BASE, POOL_SLOTS, 8 * MF_PROGRAM_SLOTS);
    for (unsigned i = 0; i < children; i++) {
        long h = mf_spawn("probe", 3);
        if (h < 0) {
            printf("probe: spawn: %s\n", mf_strerror(h));
            return 1;
        }
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
    case 3:
        for (;;)
            mf_sleep(1000000);
    default:
        return 100;
    }
}
