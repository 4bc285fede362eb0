// Object invocations: every operation of every type with boundary, random
// and type-aware arguments; copy/mint/move/delete/revoke and retype storms.
// Guards keep the fuzzer standing: the slots it runs on (fuzz.h) are never
// deleted, moved or revoked, threads it runs on are never rewritten, and
// copies of those threads carry no write right.
#include "fuzz.h"

static const uint32_t op_counts[MF_OBJ_TYPE_COUNT] = {
    [MF_OBJ_UNTYPED] = MF_UNTYPED_OP_COUNT, [MF_OBJ_CNODE] = MF_CNODE_OP_COUNT,
    [MF_OBJ_FRAME] = MF_FRAME_OP_COUNT,     [MF_OBJ_THREAD] = MF_THREAD_OP_COUNT,
    [MF_OBJ_ENDPOINT] = 1,                  [MF_OBJ_NOTIFICATION] = MF_NOTIFICATION_OP_COUNT,
    [MF_OBJ_VAS] = MF_VAS_OP_COUNT,         [MF_OBJ_SEGMENT] = MF_SEGMENT_OP_COUNT,
    [MF_OBJ_BINDING] = MF_BINDING_OP_COUNT, [MF_OBJ_PCI_DEVICE] = MF_PCI_OP_COUNT,
    [MF_OBJ_IRQ] = MF_IRQ_OP_COUNT,         [MF_OBJ_SYSTEM] = MF_SYSTEM_OP_COUNT,
    [MF_OBJ_CONSOLE] = MF_CONSOLE_OP_COUNT, [MF_OBJ_RECLAIM] = MF_RECLAIM_OP_COUNT,
    [MF_OBJ_PACKET_FILTER] = MF_FILTER_OP_COUNT, [MF_OBJ_SLOTS] = MF_SLOTS_OP_COUNT,
    [MF_OBJ_SNAPSHOT] = MF_SNAPSHOT_OP_COUNT,
};

static void snapshot_invoke(struct fz_ctx *c, long s, long op);

static long random_op(struct fz_ctx *c, unsigned type)
{
    if (fz_chance(c, 60))
        return (long)fz_value(c);
    unsigned n = type < MF_OBJ_TYPE_COUNT && op_counts[type] ? op_counts[type] : 8;
    return (long)fz_below(c, n + 1);        // one past the last: -E_NOSYS
}

// An untyped to retype storm objects from: never the ones our own threads
// and endpoints live in (their objects would outlive the epoch).
static long storm_untyped(struct fz_ctx *c)
{
    long s = fz_chance(c, 500) ? fz_slot_of(c, MF_OBJ_UNTYPED) : FZ_UT_STORM_A + 2 * (long)fz_below(c, 2);
    return s == FZ_UT_ALL || s == FZ_UT_INFRA ? FZ_UT_STORM_B : s;
}

// A CNode for destinations: ours mostly, the partner's, storm ones.
static long dst_cnode(struct fz_ctx *c)
{
    if (c->self != FZ_SELF)
        return fz_chance(c, 800) ? c->self : fz_cptr(c);
    unsigned r = (unsigned)fz_below(c, 10);
    return r < 6 ? FZ_SELF : r < 7 ? FZ_CHILD : r < 9 ? fz_slot_of(c, MF_OBJ_CNODE) : fz_cptr(c);
}

long fz_cnode_op(struct fz_ctx *c, long cnode, long op, long a0, long a1, long a2, long a3)
{
    long id = fz_identify(c, cnode);
    if (id < 0)
        return id;          // our own CNode cap is gone (the partner's, perhaps): no guard possible
    bool ours = (id & 0xff) == MF_OBJ_CNODE && (id >> 16 & 0xff) == FZ_CSPACE_BITS;
    switch (op) {
    case MF_CNODE_DELETE:
    case MF_CNODE_REVOKE:
    case MF_CNODE_MOVE:
    case MF_CNODE_MOVE_TO:
        // Protected indices are skipped in any CNode: another thread may
        // put a copy of ours into `cnode` between the identify and now.
        // Slot 1 too, in every CNode: "ours" is judged through the CNode
        // at our cptr 1, which for a thread whose CSpace is a storm CNode
        // need not be the one `cnode` names (the worker lost its slot 1
        // that way, and every later CNode operation with it).
        if ((a0 >= FZ_UT_ALL && a0 < FZ_PROTECTED_END) || a0 == FZ_SELF ||
            (a0 >= FZ_LOADER_SLOTS && a0 < FZ_LOADER_SLOTS + MF_PROGRAM_SLOTS))
            return 0;
        break;
    case MF_CNODE_COPY:
    case MF_CNODE_MINT:
        if (a0 == FZ_WORKER || a0 == FZ_PARTNER)
            a2 &= MF_RIGHT_READ;
        break;
    case MF_CNODE_COPY_TO:
        if (a0 == FZ_WORKER || a0 == FZ_PARTNER)
            a3 &= MF_RIGHT_READ;
        break;
    default:
        break;
    }
    long r = fz_inv(c, cnode, op, a0, a1, a2, a3);
    if (r == 0 && ours && c->self == FZ_SELF && cnode == FZ_SELF) {
        if (op == MF_CNODE_MOVE && a0 > 0 && a0 < FZ_SLOTS && a1 > 0 && a1 < FZ_SLOTS) {
            fz.shadow[a1] = fz.shadow[a0];
            fz.shadow[a0] = MF_OBJ_NULL;
        } else if ((op == MF_CNODE_COPY || op == MF_CNODE_MINT) && a1 > 0 && a1 < FZ_SLOTS) {
            fz.shadow[a1] = fz.shadow[a0 > 0 && a0 < FZ_SLOTS ? a0 : 0];
        } else if ((op == MF_CNODE_DELETE || op == MF_CNODE_MOVE_TO) && a0 > 0 && a0 < FZ_SLOTS) {
            fz.shadow[a0] = MF_OBJ_NULL;
        }
    }
    return r;
}

static void cnode_invoke(struct fz_ctx *c, long cnode, long op)
{
    long a0 = fz_chance(c, 800) ? fz_cptr(c) : (long)fz_value(c);
    long a1 = fz_chance(c, 700) ? fz_free_slot(c) : fz_cptr(c);
    long a2 = (long)fz_rights(c), a3 = fz_chance(c, 500) ? (long)fz_below(c, 1000) : (long)fz_value(c);
    if (op == MF_CNODE_DESCRIBE) {
        a1 = (long)fz_ptr_out(c);          // a struct mf_cap_info (464 bytes), or a bad address
        if (fz_chance(c, 100))
            a0 = fz_slot_of(c, MF_OBJ_BINDING);
    }
    if (op == MF_CNODE_MINT && fz_chance(c, 300))
        a3 = (long)fz_below(c, 4);         // a half (VAS and segment caps) or not
    if (op == MF_CNODE_COPY_TO || op == MF_CNODE_MOVE_TO) {
        a1 = dst_cnode(c);
        a2 = fz_chance(c, 700) ? fz_free_slot(c) : fz_cptr(c);
        a3 = (long)fz_rights(c);
    }
    fz_cnode_op(c, cnode, op, a0, a1, a2, a3);
}

// One retype with mostly valid arguments: the types we can make, their
// sizes (and wrong ones), counts up to past the limit of 64.
static void retype_one(struct fz_ctx *c, long ut)
{
    static const unsigned types[] = {MF_OBJ_UNTYPED, MF_OBJ_CNODE, MF_OBJ_FRAME, MF_OBJ_THREAD, MF_OBJ_ENDPOINT,
                                     MF_OBJ_NOTIFICATION, MF_OBJ_VAS, MF_OBJ_SEGMENT, MF_OBJ_BINDING,
                                     MF_OBJ_PCI_DEVICE, MF_OBJ_IRQ, MF_OBJ_RECLAIM, MF_OBJ_PACKET_FILTER, MF_OBJ_SLOTS, MF_OBJ_CPU_TIME, MF_OBJ_SNAPSHOT, MF_OBJ_NULL, 12, 255};
    unsigned type = types[fz_below(c, sizeof(types) / sizeof(types[0]))], bits;
    switch (type) {
    case MF_OBJ_UNTYPED:
        bits = 12 + (unsigned)fz_below(c, 11);
        break;
    case MF_OBJ_CNODE:
        bits = 2 + (unsigned)fz_below(c, 11);
        break;
    case MF_OBJ_FRAME:
        bits = fz_chance(c, 900) ? 12 : 21;
        break;
    case MF_OBJ_VAS:
    case MF_OBJ_SEGMENT:
        bits = 13 + (unsigned)fz_below(c, 4);
        break;
    case MF_OBJ_SNAPSHOT:
        bits = 13 + (unsigned)fz_below(c, 5);     // 13: too small
        break;
    default:
        bits = 0;
        break;
    }
    if (fz_chance(c, 50))
        bits = (unsigned)fz_below(c, 256);
    if (type == MF_OBJ_CNODE && bits == FZ_CSPACE_BITS)
        bits--;             // a CNode of our CSpace's size would look like ours to the guards
    unsigned count = fz_chance(c, 700) ? 1 + (unsigned)fz_below(c, 4) : (unsigned)fz_below(c, 70);
    uint64_t packed = type | bits << 8 | (uint64_t)count << 16;
    if (fz_chance(c, 30)) {
        packed = fz_value(c);
        if ((packed & 0xff) == MF_OBJ_CNODE && (packed >> 8 & 0xff) == FZ_CSPACE_BITS)
            packed ^= 1u << 8;
    }
    long cnode = dst_cnode(c), index = fz_chance(c, 800) ? fz_free_slot(c) : fz_cptr(c);
    long r = fz_inv(c, ut, MF_UNTYPED_RETYPE, (long)packed, cnode, index, (long)fz_value(c));
    if (r == 0) {
        fz.retypes_ok++;
        // r is 0 for other operations 0 too (a notification's signal,
        // when `ut` holds one): index may be anything, negative included.
        if (cnode == FZ_SELF && c->self == FZ_SELF && index > 0)
            for (unsigned i = 0; i < (packed >> 16) && (uint64_t)index + i < FZ_SLOTS; i++)
                fz.shadow[index + i] = (uint8_t)(packed & 0xff);
        // A snapshot is worth little unconfigured: arm a segment and a
        // frame of ours in it now and then (our writes then copy).
        if ((packed & 0xff) == MF_OBJ_SNAPSHOT && cnode == c->self && fz_chance(c, 600)) {
            fz_inv(c, index, MF_SNAPSHOT_CONFIGURE, (long)fz_below(c, 64), 0, 0, 0);
            snapshot_invoke(c, index, MF_SNAPSHOT_ADD_SEGMENT);
            snapshot_invoke(c, index, MF_SNAPSHOT_ADD_FRAME);
        }
    }
}

void fz_retype_storm(struct fz_ctx *c)
{
    unsigned n = 1 + (unsigned)fz_below(c, 12);
    for (unsigned i = 0; i < n; i++)
        retype_one(c, storm_untyped(c));
    // Memory runs out: the worker starts a new epoch now and then.
    if (c->role == FZ_ROLE_WORKER && fz_chance(c, 60))
        fz_epoch_reset(c);
}

// Copy, mint, move, delete and revoke in bursts, on whatever is there:
// caps in use (our CNode's copies, mapped frames, running threads) too.
void fz_cap_storm(struct fz_ctx *c)
{
    unsigned n = 2 + (unsigned)fz_below(c, 16);
    long cnode = fz_chance(c, 800) ? c->self : dst_cnode(c);
    for (unsigned i = 0; i < n; i++) {
        unsigned r = (unsigned)fz_below(c, 10);
        long src = fz_chance(c, 900) ? 1 + (long)fz_below(c, FZ_SLOTS - 1) : fz_cptr(c);
        if (r < 3) {
            fz_cnode_op(c, cnode, MF_CNODE_COPY, src, fz_free_slot(c), (long)fz_rights(c), 0);
        } else if (r < 4) {
            fz_cnode_op(c, cnode, MF_CNODE_MINT, src, fz_free_slot(c), (long)fz_rights(c),
                        fz_chance(c, 800) ? 1 + (long)fz_below(c, 1000) : (long)fz_value(c));
        } else if (r < 5) {
            fz_cnode_op(c, cnode, MF_CNODE_MOVE, src, fz_free_slot(c), 0, 0);
        } else if (r < 7) {
            fz_cnode_op(c, cnode, MF_CNODE_DELETE, src, 0, 0, 0);
        } else if (r < 8) {
            fz_cnode_op(c, cnode, MF_CNODE_REVOKE, src, 0, 0, 0);
        } else if (r < 9) {
            fz_cnode_op(c, cnode, MF_CNODE_COPY_TO, src, dst_cnode(c), fz_chance(c, 800) ? fz_free_slot(c) : fz_cptr(c),
                        (long)fz_rights(c));
        } else if (fz_chance(c, 500)) {
            fz_identify(c, src);
        } else {
            fz_inv(c, cnode, MF_CNODE_DESCRIBE, src, (long)fz_ptr_out(c), 0, 0);
        }
    }
}

// Thread invocations; the threads we run on (FZ_WORKER, FZ_PARTNER) are
// only suspended, re-prioritised or moved, and only by the worker.
static void thread_invoke(struct fz_ctx *c, long t, long op)
{
    bool mine = c->self == FZ_SELF && (t == FZ_WORKER || t == FZ_PARTNER);
    if (mine && (c->role != FZ_ROLE_WORKER ||
                 (op != MF_THREAD_SUSPEND && op != MF_THREAD_SET_PRIORITY && op != MF_THREAD_SET_SCHED &&
                  op != MF_THREAD_READ_REG)))
        op = MF_THREAD_READ_REG;
    if (mine && op == MF_THREAD_SUSPEND && t == FZ_WORKER && !fz_chance(c, 100))
        op = MF_THREAD_SET_SCHED;       // suspending ourselves costs the supervisor two ticks
    long a0 = (long)fz_value(c), a1 = (long)fz_value(c), a2 = (long)fz_value(c);
    switch (op) {
    case MF_THREAD_CONFIGURE: {
        static const long cspaces[] = {0, FZ_SELF, FZ_CHILD, 3, 999};
        a0 = fz_chance(c, 700) ? cspaces[fz_below(c, 5)] : fz_slot_of(c, MF_OBJ_CNODE);
        a1 = fz_chance(c, 500) ? (long)(uintptr_t)&fz_scratch[(14 + fz_below(c, 2)) * 4096]
                               : (long)(fz_ptr_out(c) & ~4095ul);
        a2 = fz_chance(c, 700) ? 0 : fz_chance(c, 900) ? fz_slot_of(c, MF_OBJ_VAS) : (long)fz_value(c);
        break;
    }
    case MF_THREAD_BIND_EXIT:
        a0 = fz_chance(c, 200) ? 0 : fz_chance(c, 900) ? fz_slot_of(c, MF_OBJ_NOTIFICATION) : fz_cptr(c);
        break;
    case MF_THREAD_EXIT_STATUS:
        a0 = (long)fz_ptr_out(c);
        break;
    case MF_THREAD_WRITE_REGS: {
        uint64_t pc, sp, arg;
        fz_thread_regs(c, &pc, &sp, &arg);
        a0 = (long)pc, a1 = (long)sp, a2 = (long)arg;
        break;
    }
    case MF_THREAD_READ_REG:
        a0 = (long)fz_below(c, 3);
        break;
    case MF_THREAD_SET_EXCEPTION:
        fz_exception_args(c, &a0, &a1, &a2, false);
        break;
    case MF_THREAD_READ_CONTEXT:
        a0 = (long)fz_ptr_out(c);
        break;
    case MF_THREAD_SET_VAS:
        a0 = fz_chance(c, 300) ? 0 : fz_chance(c, 800) ? fz_slot_of(c, MF_OBJ_VAS) : fz_cptr(c);
        break;
    case MF_THREAD_SET_TLS:
        // Which one (2 and up: -E_INVAL), and a value: an address of ours,
        // or anything (2^47 and up: -E_RANGE).
        a0 = fz_chance(c, 900) ? (long)fz_below(c, 3) : a0;
        a1 = fz_chance(c, 700) ? (long)fz_ptr_out(c) : a1;
        break;
    case MF_THREAD_WRITE_CONTEXT:
        // Never a context read from random memory: its pc could be code of
        // ours, run with random registers in our own address space.
        a0 = fz_chance(c, 900) ? fz_context_buffer(c) : (long)0xffff800000000000ul;
        break;
    case MF_THREAD_SET_PRIORITY:
        a0 = fz_chance(c, 700) ? (long)fz_below(c, 12) : a0;     // ours is 10: above it, -E_PERM
        if (mine)
            a0 = 1 + (long)fz_below(c, 10);                    // the supervisor puts it back
        break;
    case MF_THREAD_SET_SCHED:
        a0 = fz_chance(c, 800) ? (long)fz_below(c, MF_SCHED_POLICIES + 1) : a0;
        a1 = fz_chance(c, 800) ? (long)fz_below(c, 5) : a1;
        if (mine && fz.cpu >= 0)
            a0 = MF_SCHED_FIXED, a1 = fz.cpu;     // ours stay where they were put
        break;
    default:
        break;
    }
    long a3 = op == MF_THREAD_CONFIGURE && fz_chance(c, 500) ? (long)fz_ptr_in(c) : (long)fz_value(c);
    fz_inv(c, t, op, a0, a1, a2, a3);
}

static void notification_invoke(struct fz_ctx *c, long n, long op)
{
    long a0 = (long)fz_value(c);
    if (op == MF_NOTIFICATION_WAIT) {
        // Blocks until a signal: signal it first, or wait with a timeout.
        if (fz_chance(c, 500))
            fz_inv(c, n, MF_NOTIFICATION_SIGNAL, 0, 0, 0, 0);
        else
            op = MF_NOTIFICATION_WAIT_TIMEOUT;
    }
    if (op == MF_NOTIFICATION_WAIT_TIMEOUT)
        a0 = fz_chance(c, 900) ? (long)fz_below(c, 3) : a0;    // 0: -E_INVAL; huge: the supervisor wakes us
    // Only the worker waits without a time limit: the supervisor unsticks
    // it (suspend, resume); the partner and mini-fuzzers must stay live.
    if (op == MF_NOTIFICATION_WAIT && c->role != FZ_ROLE_WORKER)
        op = MF_NOTIFICATION_POLL;
    fz_inv(c, n, op, a0, (long)fz_value(c), 0, 0);
}

static void space_invoke(struct fz_ctx *c, unsigned type, long s, long op)
{
    long a0 = (long)fz_value(c), a1 = (long)fz_value(c), a2 = (long)fz_value(c);
    if (type == MF_OBJ_VAS) {
        if (op == MF_VAS_ATTACH || op == MF_VAS_DETACH)
            a0 = fz_chance(c, 500) ? 0 : fz_slot_of(c, MF_OBJ_THREAD);
        else
            a0 = fz_slot_of(c, MF_OBJ_SEGMENT);
        a1 = fz_chance(c, 800) ? (long)fz_below(c, 8) : a1;
    } else if (type == MF_OBJ_SEGMENT) {
        static const long sizes[] = {2l << 20, 4l << 20, 1l << 30, 0, 4096, (2l << 20) + 4096, 1l << 40};
        if (op == MF_SEGMENT_CONFIGURE) {
            a0 = (long)fz_user_va(c);
            a1 = fz_chance(c, 900) ? sizes[fz_below(c, 7)] : a1;
        } else if (op == MF_SEGMENT_SET_HALF) {
            // (half, base, size): mostly a half, ranges in and above the home.
            a0 = fz_chance(c, 900) ? (long)fz_below(c, 4) : a0;
            a1 = fz_chance(c, 300) ? (long)(fz_below(c, 256) << 22) : (long)fz_user_va(c);
            a2 = fz_chance(c, 900) ? sizes[fz_below(c, 7)] : a2;
        } else {
            a0 = fz_chance(c, 300) ? 0 : fz_slot_of(c, MF_OBJ_ENDPOINT);
        }
    } else {   // frame
        if (op == MF_FRAME_MAP) {
            a0 = fz_slot_of(c, MF_OBJ_SEGMENT);
            a1 = (long)fz_user_va(c) + (long)(fz_below(c, 512) << 12);
            a2 = (long)fz_rights(c) | (fz_chance(c, 200) ? MF_MAP_EXEC : 0);
        } else if (op == MF_FRAME_READ || op == MF_FRAME_WRITE) {
            // Out of the frame into a buffer of ours (at most half of
            // FZ_LOCAL_SIZE), or in from anything we may read.
            a0 = fz_chance(c, 800) ? (long)fz_below(c, 4097) : (long)fz_value(c);
            a1 = (long)(op == MF_FRAME_READ ? fz_ptr_out(c) : fz_ptr_in(c));
            a2 = fz_chance(c, 900) ? (long)fz_below(c, FZ_LOCAL_SIZE / 2) : (long)fz_value(c);
            if (op == MF_FRAME_READ && (uint64_t)a2 > FZ_LOCAL_SIZE / 2)
                a1 = (long)fz_value(c) | (1l << 47);   // a long read lands nowhere of ours
        } else {
            a0 = (long)fz_rights(c);
        }
    }
    fz_inv(c, s, op, a0, a1, a2, (long)fz_value(c));
}

// The server's CSpace for MF_BINDING_CONFIGURE (the third argument's high
// half): none (the caller's), ours, the partner's, a storm CNode, a cap of
// another type or an empty slot, a cptr past the CSpace.
long fz_binding_cspace(struct fz_ctx *c)
{
    switch (fz_below(c, 8)) {
    case 0:
    case 1:
    case 2: return 0;
    case 3: return FZ_SELF;
    case 4: return FZ_CHILD;
    case 5: return fz_slot_of(c, MF_OBJ_CNODE);
    case 6: return fz_cptr(c);
    default: return (long)(fz_value(c) & 0xffffffff);
    }
}

static void binding_invoke(struct fz_ctx *c, long b, long op)
{
    extern void mf_lrpc_entry(void);
    long a0 = (long)fz_value(c), a1 = (long)fz_value(c), a2 = (long)fz_value(c), a3 = (long)fz_value(c);
    switch (op) {
    case MF_BINDING_CONFIGURE:
        a0 = fz_slot_of(c, MF_OBJ_VAS);
        a1 = fz_slot_of(c, MF_OBJ_SEGMENT);
        if (fz_chance(c, 800))
            a2 = (long)MF_BINDING_PROCEDURES(fz_below(c, 12), (uint64_t)fz_binding_cspace(c));
        a3 = fz_chance(c, 800) ? (long)(uintptr_t)mf_lrpc_entry : (long)(fz_ptr_out(c) | 1);
        break;
    case MF_BINDING_SET_ASTACK:
        a0 = (long)fz_below(c, 18);
        a1 = (long)(fz_user_va(c) + fz_below(c, 8) * 1024);
        a2 = fz_chance(c, 800) ? 1024 : a2;
        a3 = (long)fz_estack(c);
        break;
    case MF_BINDING_ATTACH_CLIENT:
        a0 = fz_slot_of(c, MF_OBJ_VAS);
        break;
    case MF_BINDING_ASTACK:
        a0 = (long)fz_below(c, 18);
        break;
    default:
        break;
    }
    fz_inv(c, b, op, a0, a1, a2, a3);
}

// Reclaim: mostly well-formed grants of our frames into our CNodes, requests
// with short deadlines (so that collect takes by force), and collects.
static void reclaim_invoke(struct fz_ctx *c, long r, long op)
{
    long a0 = (long)fz_value(c), a1 = (long)fz_value(c), a2 = (long)fz_value(c), a3 = (long)fz_value(c);
    switch (op) {
    case MF_RECLAIM_CONFIGURE:
        a0 = fz_slot_of(c, MF_OBJ_FRAME);
        a1 = fz_slot_of(c, MF_OBJ_NOTIFICATION);
        break;
    case MF_RECLAIM_GRANT:
        // A frame; now and then a Slots object (ours are never configured:
        // the grant is refused).
        a0 = fz_slot_of(c, fz_chance(c, 100) ? MF_OBJ_SLOTS : MF_OBJ_FRAME);
        a1 = dst_cnode(c);
        a2 = fz_chance(c, 800) ? fz_free_slot(c) : fz_cptr(c);
        if (fz_chance(c, 850))
            a3 = (long)(fz_below(c, MF_RECLAIM_ENTRIES + 2) | fz_rights(c) << 8 |
                        (fz_chance(c, 200) ? MF_RECLAIM_GUARANTEED : 0));
        break;
    case MF_RECLAIM_REQUEST:
        a0 = fz_chance(c, 800) ? (long)fz_value(c) & 0xffffffffl : a0;
        a1 = fz_chance(c, 800) ? (long)fz_below(c, 4) : a1;
        break;
    default:
        break;
    }
    fz_inv(c, r, op, a0, a1, a2, a3);
}

// Packet filters: programs with random atoms (mostly well-formed), rings
// of both frame sizes, transmits of random lengths and offsets.
static void filter_invoke(struct fz_ctx *c, long f, long op)
{
    static struct mf_filter_program prog;
    long a0 = (long)fz_value(c), a1 = (long)fz_value(c), a2 = (long)fz_value(c), a3 = (long)fz_value(c);
    switch (op) {
    case MF_FILTER_CONFIGURE:
        a0 = fz_slot_of(c, MF_OBJ_PCI_DEVICE);
        prog.rx_count = fz_chance(c, 900) ? (uint32_t)fz_below(c, 5) : (uint32_t)fz_value(c);
        prog.tx_count = fz_chance(c, 900) ? (uint32_t)fz_below(c, 5) : (uint32_t)fz_value(c);
        for (unsigned i = 0; i < MF_FILTER_ATOMS; i++) {
            static const uint8_t sizes[] = {1, 2, 4, 3, 0};
            for (int k = 0; k < 2; k++) {
                struct mf_filter_atom *at = k ? &prog.tx[i] : &prog.rx[i];
                at->offset = (uint16_t)(fz_chance(c, 900) ? fz_below(c, 64) : fz_value(c));
                at->size = sizes[fz_below(c, fz_chance(c, 900) ? 3 : 5)];
                at->mask = fz_chance(c, 700) ? 0xffu : (uint32_t)fz_value(c);
                at->value = (uint32_t)fz_below(c, 256) & at->mask;
                at->reserved = fz_chance(c, 980) ? 0 : 1;
            }
        }
        a1 = fz_chance(c, 900) ? (long)(uintptr_t)&prog : (long)fz_ptr_out(c);
        a2 = fz_slot_of(c, MF_OBJ_FRAME);
        a3 = fz_slot_of(c, MF_OBJ_NOTIFICATION);
        break;
    case MF_FILTER_TRANSMIT:
        a0 = fz_chance(c, 800) ? (long)(MF_NET_TX_OFFSET + fz_below(c, 4096)) : a0;
        a1 = fz_chance(c, 800) ? (long)fz_below(c, 1600) : a1;
        break;
    case MF_FILTER_INFO:
        a0 = fz_chance(c, 800) ? (long)fz_ptr_out(c) : a0;
        break;
    default:
        break;
    }
    fz_inv(c, f, op, a0, a1, a2, a3);
}

// Slots: the fuzzer holds no CPU Time cap (it must not take CPUs from the
// tests beside it), so CONFIGURE is refused at its lookups; DONE from a
// thread that is not bound, INFO into our memory or anywhere.
static void slots_invoke(struct fz_ctx *c, long s, long op)
{
    long a0 = (long)fz_value(c), a1 = (long)fz_value(c), a2 = (long)fz_value(c), a3 = (long)fz_value(c);
    if (op == MF_SLOTS_CONFIGURE) {
        a0 = fz_chance(c, 500) ? MF_CAP_CPU_TIME : fz_cptr(c);
        a1 = fz_slot_of(c, MF_OBJ_THREAD);
        a2 = fz_chance(c, 800) ? (long)(fz_below(c, 5) | fz_below(c, 1u << 16) << 8) : a2;
        a3 = fz_slot_of(c, MF_OBJ_NOTIFICATION);
    } else if (op == MF_SLOTS_INFO) {
        a0 = fz_chance(c, 800) ? (long)fz_ptr_out(c) : a0;
    }
    fz_inv(c, s, op, a0, a1, a2, a3);
}

// Snapshots: tables of every size, our segments and frames armed (our own
// writes then copy, or find no copy page left: lost, never refused),
// reads into our memory or anywhere, releases, infos.
static void snapshot_invoke(struct fz_ctx *c, long s, long op)
{
    long a0 = (long)fz_value(c), a1 = (long)fz_value(c), a2 = (long)fz_value(c), a3 = (long)fz_value(c);
    switch (op) {
    case MF_SNAPSHOT_CONFIGURE:
        a0 = fz_chance(c, 800) ? (long)fz_below(c, 600) : a0;
        break;
    case MF_SNAPSHOT_ADD_SEGMENT:
        a0 = fz_slot_of(c, MF_OBJ_SEGMENT);
        break;
    case MF_SNAPSHOT_ADD_FRAME:
    case MF_SNAPSHOT_RELEASE:
        a0 = fz_slot_of(c, MF_OBJ_FRAME);
        break;
    case MF_SNAPSHOT_READ:
        a0 = fz_slot_of(c, MF_OBJ_FRAME);
        // Into a buffer of ours (at most half of FZ_LOCAL_SIZE), as
        // MF_FRAME_READ; a longer read lands nowhere of ours.
        a1 = fz_chance(c, 800) ? (long)fz_below(c, 4200) : a1;
        a2 = (long)fz_ptr_out(c);
        a3 = fz_chance(c, 900) ? (long)fz_below(c, FZ_LOCAL_SIZE / 2) : a3;
        if ((uint64_t)a3 > FZ_LOCAL_SIZE / 2)
            a2 = (long)fz_value(c) | (1l << 47);
        break;
    case MF_SNAPSHOT_INFO:
        a0 = fz_chance(c, 800) ? (long)fz_ptr_out(c) : a0;
        break;
    default:
        break;
    }
    fz_inv(c, s, op, a0, a1, a2, a3);
    // A frame just armed, written: a copy, or a copy lost.
    if (op == MF_SNAPSHOT_ADD_FRAME && fz_chance(c, 500))
        fz_inv(c, a0, MF_FRAME_WRITE, (long)fz_below(c, 4000), (long)fz_ptr_in(c), 8, 0);
}

// An invocation of the object in `slot` (of the type we believe it is).
static void invoke_as(struct fz_ctx *c, unsigned type, long slot, long op)
{
    switch (type) {
    case MF_OBJ_UNTYPED:
        if (slot == FZ_UT_ALL || slot == FZ_UT_INFRA)
            slot = FZ_UT_STORM_A;
        if (op == MF_UNTYPED_RETYPE)
            retype_one(c, slot);
        else
            fz_inv(c, slot, op, (long)fz_value(c), (long)fz_value(c), (long)fz_value(c), (long)fz_value(c));
        return;
    case MF_OBJ_CNODE:
        cnode_invoke(c, slot, op);
        return;
    case MF_OBJ_THREAD:
        thread_invoke(c, slot, op);
        return;
    case MF_OBJ_NOTIFICATION:
        notification_invoke(c, slot, op);
        return;
    case MF_OBJ_VAS:
    case MF_OBJ_SEGMENT:
    case MF_OBJ_FRAME:
        space_invoke(c, type, slot, op);
        return;
    case MF_OBJ_BINDING:
        binding_invoke(c, slot, op);
        return;
    case MF_OBJ_RECLAIM:
        reclaim_invoke(c, slot, op);
        return;
    case MF_OBJ_PACKET_FILTER:
        filter_invoke(c, slot, op);
        return;
    case MF_OBJ_SLOTS:
        slots_invoke(c, slot, op);
        return;
    case MF_OBJ_SNAPSHOT:
        snapshot_invoke(c, slot, op);
        return;
    case MF_OBJ_PCI_DEVICE:
    case MF_OBJ_IRQ:
        if (fz.flags & FZ_FLAG_NO_DEVICES)
            return;
        fz_device_ops(c);
        return;
    case MF_OBJ_CONSOLE:
        // Reading blocks until someone types: only the worker, whom the
        // supervisor unsticks. Writes stay short (the log is read by people).
        if (op == MF_CONSOLE_GETC && c->role != FZ_ROLE_WORKER)
            op = MF_CONSOLE_WRITE;
        if (op == MF_CONSOLE_WRITE) {
            fz_inv(c, slot, op, (long)fz_value(c), fz_chance(c, 900) ? (long)fz_below(c, 2) : (long)fz_value(c), 0, 0);
            return;
        }
        fz_inv(c, slot, op, (long)fz_value(c), (long)fz_value(c), (long)fz_value(c), (long)fz_value(c));
        return;
    default:
        fz_inv(c, slot, op, (long)fz_value(c), (long)fz_value(c), (long)fz_value(c), (long)fz_value(c));
        return;
    }
}

void fz_invoke_type(struct fz_ctx *c, unsigned type)
{
    long slot = fz_slot_of(c, type);
    invoke_as(c, type, slot, random_op(c, type));
}

// Any slot, any operation: what the slot holds decides which guard and
// which argument shapes apply; a fifth of the time the arguments are
// numbers only.
void fz_random_invoke(struct fz_ctx *c)
{
    long slot = fz_cptr(c);
    long id = fz_identify(c, slot);
    unsigned type = id > 0 ? (unsigned)(id & 0xff) : MF_OBJ_NULL;
    long op = random_op(c, type);
    bool numbers = fz_chance(c, 200);
    // id < 0: we cannot tell what the slot holds (a thread whose CSpace is a
    // storm CNode may have no CNode at its cptr 1): raw numbers there could
    // be a delete or revoke in a CNode of ours, unguarded.
    if (id < 0)
        return;
    if (numbers && (type == MF_OBJ_ENDPOINT || type == MF_OBJ_NULL)) {
        fz_inv(c, slot, op, (long)fz_value(c), (long)fz_value(c), (long)fz_value(c), (long)fz_value(c));
        return;
    }
    invoke_as(c, type, slot, op);
}
