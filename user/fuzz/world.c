// The fuzzer's world: counted system calls (and the trace), the set-up of
// its own objects from the untyped it is given, and epochs: every so often
// the storm untypeds are revoked, which takes back every object the fuzzed
// calls made (threads included), so their stacks can be handed out again.
#include "fuzz.h"

struct fz_world fz;
struct fz_ctx fz_worker_ctx;

static void trace(const struct fz_ctx *c, uint64_t n, long number, const long *a)
{
    static const char roles[] = "wmp";
    printf("fuzz: %u #%lu %c sys %ld (%#lx %#lx %#lx %#lx %#lx %#lx)\n", fz.seed, (unsigned long)n,
           roles[c->role], number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

// The last line of defence for the slots the fuzzer runs on: whatever a
// caller believed the cap to be (the shadow lags behind the storms, and a
// thread whose CSpace is a storm CNode cannot identify through its cptr 1),
// an operation whose number is a CNode's move, delete, revoke or move-to,
// on a protected index (or 1), is made only when the target is surely not
// a CNode — or by the fuzzer's own upkeep (c->upkeep).
static bool endangers_us(struct fz_ctx *c, long n, long cptr, long op, long index)
{
    if (n != SYS_INVOKE || c->upkeep)
        return false;
    if (op != MF_CNODE_MOVE && op != MF_CNODE_DELETE && op != MF_CNODE_REVOKE && op != MF_CNODE_MOVE_TO)
        return false;
    if (!fz_protected((uint64_t)index) && index != FZ_SELF)
        return false;
    long id = mf_invoke(c->self, MF_CNODE_IDENTIFY, cptr, 0, 0, 0);
    return id < 0 || (id & 0xff) == MF_OBJ_CNODE;
}

long fz_sys(struct fz_ctx *c, long n, long a0, long a1, long a2, long a3, long a4, long a5)
{
    if (endangers_us(c, n, a0, a1, a2))
        return -E_PERM;     // (not made; counted as refused)
    uint64_t number = __atomic_add_fetch(&fz.calls, 1, __ATOMIC_RELAXED);
    c->calls++;
    if (c->role == FZ_ROLE_WORKER)
        fz.worker_calls = c->calls;
    if (fz.trace_from && number >= fz.trace_from) {
        long a[6] = {a0, a1, a2, a3, a4, a5};
        trace(c, number, n, a);
    }
    return mf_syscall6(n, a0, a1, a2, a3, a4, a5);
}

long fz_ipc(struct fz_ctx *c, long n, long cptr, struct mf_msg *m)
{
    uint64_t number = __atomic_add_fetch(&fz.calls, 1, __ATOMIC_RELAXED);
    c->calls++;
    if (c->role == FZ_ROLE_WORKER)
        fz.worker_calls = c->calls;
    if (fz.trace_from && number >= fz.trace_from) {
        long a[6] = {cptr, (long)m->info, (long)m->mr[0], (long)m->mr[1], (long)m->mr[2], (long)m->mr[3]};
        trace(c, number, n, a);
    }
    return mf_ipc(n, cptr, m);
}

long fz_drain(struct fz_ctx *c, long cnode, long op, long slot)
{
    long r;
    int rounds = 0;
    do
        r = fz_inv(c, cnode, op, slot, 0, 0, 0);
    while (r == -E_AGAIN && ++rounds < 4096);
    return r;
}

long fz_identify(struct fz_ctx *c, long slot)
{
    long r = fz_inv(c, c->self, MF_CNODE_IDENTIFY, slot, 0, 0, 0);
    if (c->self == FZ_SELF && c->role != FZ_ROLE_PARTNER && slot > 0 && slot < FZ_SLOTS)
        fz.shadow[slot] = r < 0 ? MF_OBJ_NULL : (uint8_t)(r & 0xff);
    return r;
}

void fz_pin(struct fz_ctx *c, long thread)
{
    if (fz.cpu >= 0)
        fz_inv(c, thread, MF_THREAD_SET_SCHED, MF_SCHED_FIXED, fz.cpu, 0, 0);
}

long fz_send_slot(struct fz_ctx *c, long cptr)
{
    if (fz_chance(c, 500))
        return cptr;        // the cap itself, mapped frames included
    // A copy starts unmapped; the transfer slot is never mapped (fz_sys)
    // nor moved into (fz_cnode_op).
    long t = fz_transfer_slot(c);
    bool upkeep = c->upkeep;
    c->upkeep = true;       // the transfer slot is protected: ours to empty
    fz_drain(c, c->self, MF_CNODE_DELETE, t);
    c->upkeep = upkeep;
    long rights = cptr == FZ_WORKER || cptr == FZ_PARTNER ? MF_RIGHT_READ : MF_RIGHTS_ALL;
    fz_inv(c, c->self, MF_CNODE_COPY, cptr, t, rights, 0);
    return t;
}

void fz_send_done(struct fz_ctx *c, long slot)
{
    if (slot == fz_transfer_slot(c)) {
        bool upkeep = c->upkeep;
        c->upkeep = true;
        fz_drain(c, c->self, MF_CNODE_DELETE, slot);
        c->upkeep = upkeep;
    }
}

void fz_rescan(struct fz_ctx *c)
{
    for (long s = 1; s < FZ_SLOTS; s++)
        if (fz.shadow[s] != MF_OBJ_NULL || fz_chance(c, 50))
            fz_identify(c, s);
}

// A new epoch: every storm object goes (threads running or blocked, VASes
// we may be in, frames mapped, bindings being called), so the stacks they
// used may be handed out again.
void fz_epoch_reset(struct fz_ctx *c)
{
    c->upkeep = true;
    if (fz_chance(c, 500))
        fz_sys(c, SYS_VAS_SWITCH, 0, 0, 0, 0, 0, 0);
    long a = fz_drain(c, FZ_SELF, MF_CNODE_REVOKE, FZ_UT_STORM_A);
    long b = fz_drain(c, FZ_SELF, MF_CNODE_REVOKE, FZ_UT_STORM_B);
    if (a || b)
        printf("fuzz: %u: revoking the storm untypeds failed (%ld, %ld): %s\n", fz.seed, a, b,
               mf_strerror_detail(a ? a : b));
    fz.stack_next = 0;
    fz.estack_next = 0;
    fz.epochs++;
    fz_rescan(c);
    fz_partner_repair(c, false);
    c->upkeep = false;
}

// Our objects, from the 4 MiB untyped in slot 16 (see fuzz.h). Calls made
// here are not fuzzed ones; they go straight to libmanifold.
bool fz_setup(struct fz_ctx *c)
{
    const long self = FZ_SELF;
    long id = mf_cnode_identify(self, FZ_UT_ALL);
    if (id < 0 || (id & 0xff) != MF_OBJ_UNTYPED || (id >> 16 & 0xff) != 22) {
        printf("fuzz: %u: slot %d holds no 4 MiB untyped (%#lx)\n", fz.seed, FZ_UT_ALL, id);
        return false;
    }
    id = mf_cnode_identify(self, self);
    if (id < 0 || (id & 0xff) != MF_OBJ_CNODE || (id >> 16 & 0xff) != FZ_CSPACE_BITS) {
        printf("fuzz: %u: slot 1 is not a 2^%d-slot CNode (%#lx)\n", fz.seed, FZ_CSPACE_BITS, id);
        return false;
    }
    for (long s = FZ_UT_STORM_A; s < FZ_PROTECTED_END; s++)
        if (s != FZ_CONSOLE && s != FZ_SYSTEM && s != FZ_IMAGES && mf_cnode_identify(self, s) != 0) {
            // (main() put the console, System and images caps there)
            printf("fuzz: %u: slot %ld is not empty\n", fz.seed, s);
            return false;
        }
    // The name service is not ours to fill: one lookup, then let it go.
    long r = mf_ns_lookup(2, "fuzz-nobody", 3);
    if (r != -E_NOENT && r != -E_BADCAP && r != -E_TYPE && r != -E_BUSY)
        printf("fuzz: %u: name service lookup of nobody: %ld\n", fz.seed, r);
    mf_cnode_delete(self, 3);
    mf_cnode_delete(self, 2);
    bool ok = mf_untyped_retype(FZ_UT_ALL, MF_OBJ_UNTYPED, 21, 1, self, FZ_UT_STORM_A) == 0 &&
              mf_untyped_retype(FZ_UT_ALL, MF_OBJ_UNTYPED, 20, 1, self, FZ_UT_INFRA) == 0 &&
              mf_untyped_retype(FZ_UT_ALL, MF_OBJ_UNTYPED, 20, 1, self, FZ_UT_STORM_B) == 0 &&
              mf_untyped_retype(FZ_UT_INFRA, MF_OBJ_THREAD, 0, 2, self, FZ_WORKER) == 0 &&
              mf_untyped_retype(FZ_UT_INFRA, MF_OBJ_ENDPOINT, 0, 1, self, FZ_PARTNER_EP) == 0 &&
              mf_untyped_retype(FZ_UT_INFRA, MF_OBJ_NOTIFICATION, 0, 1, self, FZ_NTFN) == 0 &&
              mf_untyped_retype(FZ_UT_INFRA, MF_OBJ_CNODE, FZ_CHILD_BITS, 1, self, FZ_CHILD) == 0 &&
              mf_untyped_retype(FZ_UT_INFRA, MF_OBJ_ENDPOINT, 0, 1, self, FZ_SEND_EP) == 0;
    if (!ok) {
        printf("fuzz: %u: cannot make the fuzzer's own objects\n", fz.seed);
        return false;
    }
    fz_partner_repair(c, false);        // fills the partner's CSpace
    // Copies of running threads, without the write right, for the storms.
    mf_cnode_copy(self, FZ_WORKER, FZ_PROTECTED_END, MF_RIGHT_READ);
    mf_cnode_copy(self, FZ_PARTNER, FZ_PROTECTED_END + 1, MF_RIGHT_READ);
    mf_cnode_copy(self, FZ_PARTNER_EP, FZ_PROTECTED_END + 2, MF_RIGHTS_ALL);
    mf_cnode_mint(self, FZ_NTFN, FZ_PROTECTED_END + 3, MF_RIGHTS_ALL, 0x10);
    struct mf_system_info si;
    if (mf_invoke(FZ_SYSTEM, MF_SYSTEM_INFO, (long)&si, 0, 0, 0) == 0) {
        fz.device_count = si.device_count;
        fz.cpus = si.cpus ? si.cpus : 1;
    }
    for (long s = 1; s < FZ_SLOTS; s++) {
        long t = mf_cnode_identify(self, s);
        fz.shadow[s] = t < 0 ? MF_OBJ_NULL : (uint8_t)(t & 0xff);
    }
    fz_lrpc_export();
    if (fz.cpu >= 0)
        mf_thread_set_sched(FZ_PARTNER, MF_SCHED_FIXED, (unsigned)fz.cpu);
    return mf_thread_start_cspace(FZ_PARTNER, FZ_CHILD, fz_partner_main, fz_partner_stack, FZ_PARTNER_STACK_SIZE,
                                  0, &fz_scratch[13 * 4096]) == 0;
}
