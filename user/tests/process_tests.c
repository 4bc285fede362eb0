// Programs: the user-level loader (user/lib/loader.c), exit status, faults
// that kill only the offending thread, the loader's rejection of bad
// images, and preemption.
#include "manifold.h"
#include "utest.h"

// Runs `name` with `arg` and waits for it.
static long run(const char *name, uint64_t arg, struct mf_exit_status *st)
{
    long tid = mf_spawn(name, arg);
    if (tid < 0)
        return tid;
    return mf_wait(tid, st);
}

UTEST(spawn_exit_status)
{
    struct mf_exit_status st;
    UCHECK(run("hello", 7, &st) == 0);
    UCHECK(st.how == EXIT_NORMAL && st.code == 7);
    return NULL;
}

UTEST(spawn_unknown_program)
{
    UCHECK(mf_spawn("no-such-program", 0) == -E_NOENT);
    return NULL;
}

UTEST(spawn_rejects_malformed_elf)
{
    UCHECK(mf_spawn("badelf", 0) == -E_NOEXEC);
    return NULL;
}

// Each fault kind kills only the faulting thread: we are still here, and
// the wait reports the right kind.
static const char *expect_fault(uint64_t mode, int kind)
{
    struct mf_exit_status st;
    UCHECK(run("fault", mode, &st) == 0);
    UCHECK(st.how == EXIT_FAULT);
    UCHECK(st.code == kind);
    return NULL;
}

UTEST_FAULTS(fault_null_read_kills_thread) { return expect_fault(1, MF_FAULT_PAGE); }
UTEST_FAULTS(fault_text_write_kills_thread) { return expect_fault(2, MF_FAULT_PAGE); }
UTEST_FAULTS(fault_undefined_kills_thread) { return expect_fault(3, MF_FAULT_UNDEFINED); }
UTEST_FAULTS(fault_privileged_kills_thread) { return expect_fault(4, MF_FAULT_PROTECTION); }
UTEST_FAULTS(fault_kernel_read_kills_thread) { return expect_fault(5, MF_FAULT_PAGE); }
UTEST_FAULTS(fault_exec_data_kills_thread) { return expect_fault(6, MF_FAULT_PAGE); }

UTEST_FAULTS(fault_reports_address)
{
    struct mf_exit_status st;
    UCHECK(run("fault", 1, &st) == 0);
    UCHECK(st.how == EXIT_FAULT && st.address == 0);
    return NULL;
}

UTEST(wait_only_own_children)
{
    // Handles are the pool's: nothing else can be waited for.
    struct mf_exit_status st;
    UCHECK(mf_wait(77, &st) == -E_NOENT);
    UCHECK(mf_wait(0, &st) == -E_NOENT);
    UCHECK(mf_wait(-3, &st) == -E_NOENT);
    long h = mf_spawn("hello", 0);
    UCHECK(h > 0);
    UCHECK(mf_wait(h, &st) == 0);
    UCHECK(mf_wait(h, &st) == -E_NOENT);   // only once
    return NULL;
}

UTEST(timer_ticks_advance)
{
    long t0 = mf_time();
    UCHECK(mf_sleep(3) == 0);
    UCHECK(mf_time() - t0 >= 3);
    return NULL;
}

UTEST(timer_preempts_busy_thread)
{
    // `spin` never yields for 40 ticks. Without preemption we would run
    // again only after it ends; with a 5-tick slice we run much sooner.
    long tid = mf_spawn("spin", 40);
    UCHECK(tid > 0);
    long t0 = mf_time();
    mf_yield();
    long waited = mf_time() - t0;
    struct mf_exit_status st;
    UCHECK(mf_wait(tid, &st) == 0 && st.how == EXIT_NORMAL);
    UCHECK(waited < 30);
    return NULL;
}

// After boot the kernel allocates no memory for programs: loading and
// running one changes the kernel's free memory not at all (everything is
// carved from our untyped), and the untyped comes back whole.
UTEST_FAULTS(kernel_allocates_nothing_for_programs)
{
    struct mf_system_info a, b;
    struct mf_exit_status st;
    UCHECK(mf_system_info(&a) == 0);
    long h = mf_spawn("spin", 5);
    UCHECK(h > 0);
    UCHECK(mf_system_info(&b) == 0);     // it is loaded and running now
    UCHECK(mf_wait(h, &st) == 0 && st.how == EXIT_NORMAL);
    UCHECK(a.memory_free == b.memory_free);
    for (int i = 0; i < 5; i++)
        UCHECK(run("fault", 1, &st) == 0);
    UCHECK(mf_system_info(&b) == 0);
    UCHECK(a.memory_free == b.memory_free);
    return NULL;
}

// A program given a CSpace of its own (as the shell's `run` does) uses it:
// the example program exits 0 only if all its steps worked.
UTEST(spawn_with_a_delegated_cspace)
{
    const long self = MF_CAP_SELF_CNODE, ut = MF_CAP_UNTYPED_BASE + 1, cnode = 3900;
    UCHECK(mf_untyped_retype(ut, MF_OBJ_CNODE, 8, 1, self, cnode) == 0);
    UCHECK(mf_cnode_copy_to(self, cnode, cnode, MF_CAP_SELF_CNODE, MF_RIGHTS_ALL) == 0);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_UNTYPED, 22, 1, cnode, MF_CAP_UNTYPED_BASE) == 0);
    UCHECK(mf_spawn_with("example", 0, 999) == -E_BADCAP);
    UCHECK(mf_spawn_with("example", 0, ut) == -E_TYPE);
    struct mf_exit_status st;
    long tid = mf_spawn_with("example", 0, cnode);
    UCHECK(tid > 0 && mf_wait(tid, &st) == 0);
    UCHECK(st.how == EXIT_NORMAL && st.code == 0);
    // Without a CSpace the same program fails at step 1.
    tid = mf_spawn("example", 0);
    UCHECK(tid > 0 && mf_wait(tid, &st) == 0 && st.how == EXIT_NORMAL && st.code == 1);
    UCHECK(mf_cnode_revoke(self, ut) == 0);
    return NULL;
}

// The loader's pieces, by hand: a program loaded but not started, its
// objects where mf_program says, the exit notification and status.
#define UT (MF_CAP_UNTYPED_BASE + 2)
#define SLOTS 3050
UTEST(program_load_start_wait)
{
    const long self = MF_CAP_SELF_CNODE;
    struct mf_program p;
    struct mf_load_args a = {.name = "hello", .arg = 9, .untyped = UT, .slots = SLOTS};
    UCHECK(mf_program_load(&p, &a) == 0);
    UCHECK(p.pages > 16);                      // text, data, stack, IPC buffer
    UCHECK((mf_cnode_identify(self, p.thread) & 0xff) == MF_OBJ_THREAD);
    UCHECK((mf_cnode_identify(p.objects, 1) & 0xff) == MF_OBJ_VAS);
    UCHECK((mf_cnode_identify(p.objects, 2) & 0xff) == MF_OBJ_SEGMENT);
    UCHECK((mf_cnode_identify(p.objects, 3) & 0xff) == MF_OBJ_FRAME);
    struct mf_exit_status st;
    UCHECK(mf_thread_exit_status(p.thread, &st) == -E_BUSY);     // has not run
    UCHECK(mf_notification_poll(p.exit) == 0);
    UCHECK(mf_program_start(&p) == 0);
    UCHECK(mf_program_wait(&p, &st) == 0);
    UCHECK(st.how == EXIT_NORMAL && st.code == 9);
    UCHECK(mf_thread_exit_status(p.thread, NULL) == -E_FAULT);
    UCHECK(mf_program_destroy(&p) == 0);
    UCHECK(mf_cnode_identify(self, SLOTS) == 0 && mf_cnode_identify(self, SLOTS + 1) == 0);
    // Slots in use are refused, and a failed load leaves them empty.
    UCHECK(mf_cnode_copy(self, MF_CAP_CONSOLE, SLOTS + 4, MF_RIGHT_READ) == 0);
    UCHECK(mf_program_load(&p, &a) == -E_BUSY);
    UCHECK(mf_cnode_delete(self, SLOTS + 4) == 0);
    a.name = "badelf";
    UCHECK(mf_program_load(&p, &a) == -E_NOEXEC);
    for (long s = 0; s < MF_PROGRAM_SLOTS; s++)
        UCHECK(mf_cnode_identify(self, SLOTS + s) == 0);
    UCHECK(mf_cnode_revoke(self, UT) == 0);
    return NULL;
}

// Destroying a program's VAS under it: its thread dies (EXIT_NO_SPACE),
// nothing else does, and its exit notification tells us.
UTEST_FAULTS(program_killed_when_its_vas_is_destroyed)
{
    const long self = MF_CAP_SELF_CNODE;
    struct mf_program p;
    struct mf_load_args a = {.name = "spin", .arg = 100000, .untyped = UT, .slots = SLOTS};
    UCHECK(mf_program_load(&p, &a) == 0);
    UCHECK(mf_program_start(&p) == 0);
    mf_sleep(2);
    UCHECK(mf_cnode_delete(p.objects, 1) == 0);          // its VAS
    struct mf_exit_status st;
    UCHECK(mf_program_wait(&p, &st) == 0);
    UCHECK(st.how == EXIT_NO_SPACE);
    UCHECK(mf_program_destroy(&p) == 0);
    UCHECK(mf_cnode_revoke(self, UT) == 0);
    return NULL;
}

// The name service forgets a name when its capability goes (its program
// ended and was revoked): 40 registrations in a row, each revoked, never
// run out of its 32 entries. Names too long and occupied receive slots are
// refused with their own errors.
#include "../root/root.h"
UTEST(names_disappear_with_their_owner)
{
    const long self = MF_CAP_SELF_CNODE, ep = SLOTS, got = SLOTS + 1;
    for (int i = 0; i < 40; i++) {
        char name[MF_NAME_MAX] = "test-name-00";
        name[10] = (char)('0' + i / 10);
        name[11] = (char)('0' + i % 10);
        UCHECK(mf_untyped_retype(UT, MF_OBJ_ENDPOINT, 0, 1, self, ep) == 0);
        UCHECK(mf_ns_register(NS_ENDPOINT, name, ep) == 0);
        UCHECK(mf_ns_lookup(NS_ENDPOINT, name, got) == 0);
        UCHECK(mf_ns_lookup(NS_ENDPOINT, name, got) == -E_BUSY);     // occupied
        UCHECK(mf_cnode_revoke(self, UT) == 0);                      // the owner's end
        UCHECK(mf_cnode_delete(self, got) == 0);
        UCHECK(mf_ns_lookup(NS_ENDPOINT, name, got) == -E_NOENT);
    }
    UCHECK(mf_untyped_retype(UT, MF_OBJ_ENDPOINT, 0, 1, self, ep) == 0);
    UCHECK(mf_ns_register(NS_ENDPOINT, "sixteen-chars-xx", ep) == -E_RANGE);
    UCHECK(mf_ns_lookup(NS_ENDPOINT, "sixteen-chars-xx", got) == -E_RANGE);
    UCHECK(mf_cnode_revoke(self, UT) == 0);
    return NULL;
}

// The kernel's counters (MF_SYSTEM_KSTATS): per-CPU representatives of a
// clustered object, summed by the call. A faulting program counts one
// user fault; a sleep, timer ticks; coming back from it, a switch.
UTEST_FAULTS(kernel_counters_count_what_happens)
{
    struct mf_system_info si;
    struct mf_kstats a, b;
    struct mf_exit_status st;
    UCHECK(mf_system_info(&si) == 0);
    UCHECK(mf_kstats(&a) == 0);
    UCHECK(run("fault", 1, &st) == 0 && st.how == EXIT_FAULT);
    UCHECK(mf_sleep(3) == 0);
    UCHECK(mf_kstats(&b) == 0);
    printf("# user faults +%lu, switches +%lu, ticks +%lu; %u CPUs counting; %lu KiB in page caches\n",
           (unsigned long)(b.count[MF_KSTAT_USER_FAULTS] - a.count[MF_KSTAT_USER_FAULTS]),
           (unsigned long)(b.count[MF_KSTAT_SWITCHES] - a.count[MF_KSTAT_SWITCHES]),
           (unsigned long)(b.count[MF_KSTAT_TIMER_TICKS] - a.count[MF_KSTAT_TIMER_TICKS]), b.cpus_counting,
           (unsigned long)(b.page_cache_bytes >> 10));
    UCHECK(b.count[MF_KSTAT_USER_FAULTS] - a.count[MF_KSTAT_USER_FAULTS] >= 1);
    UCHECK(b.count[MF_KSTAT_TIMER_TICKS] - a.count[MF_KSTAT_TIMER_TICKS] >= 3);
    UCHECK(b.count[MF_KSTAT_SWITCHES] > a.count[MF_KSTAT_SWITCHES]);
    UCHECK(b.cpus_counting == si.cpus);
    UCHECK(b.page_cache_bytes <= si.memory_free);
    for (unsigned i = MF_KSTAT_COUNT; i < MF_KSTAT_MAX; i++)
        UCHECK(b.count[i] == 0);
    // READ is needed; the buffer must be ours and writable.
    long slot = mf_slot_alloc();
    UCHECK(slot > 0 && mf_cnode_copy(MF_CAP_SELF_CNODE, MF_CAP_SYSTEM, slot, MF_RIGHT_WRITE) == 0);
    UCHECK(mf_invoke(slot, MF_SYSTEM_KSTATS, (long)&b, 0, 0, 0) == -E_PERM);
    UCHECK(mf_cnode_delete(MF_CAP_SELF_CNODE, slot) == 0);
    mf_slot_free(slot);
    UCHECK(mf_kstats((struct mf_kstats *)(uintptr_t)main) == -E_FAULT);
    UCHECK(mf_kstats(NULL) == -E_FAULT);
    return NULL;
}
