// No ambient authority (docs/capabilities.md, "Authority"): power-off, the
// kernel's self-tests and benchmarks, and the console are capabilities.
#include "manifold.h"
#include "utest.h"

#include "../root/root.h"

#define SCRATCH 3990        // a free slot of the root task's CSpace
#define PROBE_UT (MF_CAP_UNTYPED_BASE + 3)
#define PROBE_CNODE 3991

UTEST(system_cap_rights_are_checked)
{
    const long self = MF_CAP_SELF_CNODE;
    UCHECK(mf_ktest_count(MF_CAP_SYSTEM) > 0);
    UCHECK(mf_cnode_copy(self, MF_CAP_SYSTEM, SCRATCH, MF_RIGHT_READ) == 0);
    UCHECK(mf_ktest_count(SCRATCH) > 0);                    // READ: count
    UCHECK(mf_system_poweroff(SCRATCH, 3) == -E_PERM);      // WRITE: act
    UCHECK(mf_kbench(SCRATCH) == -E_PERM);
    UCHECK(mf_ktest_run(SCRATCH, 0, 1) == -E_PERM);
    UCHECK(mf_cnode_delete(self, SCRATCH) == 0);
    UCHECK(mf_system_poweroff(SCRATCH, 3) == -E_BADCAP);
    UCHECK(mf_invoke(MF_CAP_SYSTEM, MF_SYSTEM_OP_COUNT, 0, 0, 0, 0) == -E_NOSYS);
    return NULL;
}

// A program holds only what its parent gave it: no System cap, so it can
// neither stop the machine nor take every CPU with kernel benchmarks;
// with no CSpace, or with the one the shell gives (console, name service,
// untyped, devices).
UTEST(program_without_system_cap_cannot_power_off)
{
    struct mf_exit_status st;
    long tid = mf_spawn("probe", 1);        // no CSpace at all
    UCHECK(tid > 0 && mf_wait(tid, &st) == 0);
    UCHECK(st.how == EXIT_NORMAL && st.code == 0);
    tid = spawn_with_resources("probe", 1, PROBE_UT, PROBE_CNODE);
    UCHECK(tid > 0 && mf_wait(tid, &st) == 0);
    UCHECK(mf_cnode_revoke(MF_CAP_SELF_CNODE, PROBE_UT) == 0);
    UCHECK(st.how == EXIT_NORMAL && st.code == 0);
    return NULL;
}

// The console is a capability too: a copy without WRITE cannot print.
UTEST(console_cap_rights_are_checked)
{
    const long self = MF_CAP_SELF_CNODE;
    UCHECK(mf_cnode_copy(self, MF_CAP_CONSOLE, SCRATCH, MF_RIGHT_READ) == 0);
    UCHECK(mf_invoke(SCRATCH, MF_CONSOLE_WRITE, (long)"x\n", 2, 0, 0) == -E_PERM);
    UCHECK(mf_invoke(MF_CAP_CONSOLE, MF_CONSOLE_WRITE, (long)"# console\n", 10, 0, 0) == 10);
    UCHECK(mf_invoke(MF_CAP_CONSOLE, MF_CONSOLE_WRITE, 0, 1l << 21, 0, 0) == -E_RANGE);
    UCHECK(mf_cnode_delete(self, SCRATCH) == 0);
    UCHECK(mf_invoke(SCRATCH, MF_CONSOLE_WRITE, (long)"x\n", 2, 0, 0) == -E_BADCAP);
    return NULL;
}
