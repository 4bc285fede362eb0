// Sequences that get deep into the kernel before the chaos starts: an
// address space with a segment, frames, a pager and a thread touching it;
// an LRPC binding with a client and calls; PCI device and IRQ operations.
// Each builds with mostly valid arguments, then undoes things in a random
// order (unmap, protect, delete, revoke, detach) while they are in use.
#include "fuzz.h"

#define FZ_PAGERS 4
static struct mf_pager pagers[FZ_PAGERS];
static volatile uint32_t pager_next;
static uint64_t pager_epoch;

static long storm(struct fz_ctx *c) { return fz_chance(c, 600) ? FZ_UT_STORM_A : FZ_UT_STORM_B; }

// One object of `type` into a free slot of ours; the slot or -1.
static long make(struct fz_ctx *c, unsigned type, unsigned bits)
{
    long slot = fz_free_slot(c);
    if (fz_inv(c, storm(c), MF_UNTYPED_RETYPE, (long)(type | bits << 8 | 1u << 16), FZ_SELF, slot, 0) != 0)
        return -1;
    fz.shadow[slot] = (uint8_t)type;
    return slot;
}

// A thread running body-of-choice in the VAS we are in now.
static void start_in(struct fz_ctx *c, void (*body)(uint64_t), uint64_t arg)
{
    extern void mf_thread_trampoline(void);
    uint8_t *top = fz_stack_alloc();
    long t = top ? make(c, MF_OBJ_THREAD, 0) : -1;
    if (t < 0)
        return;
    top -= 16;
    *(void (**)(uint64_t))(void *)top = body;
    fz_inv(c, t, MF_THREAD_CONFIGURE, FZ_SELF, 0, 0, 0);
    fz_pin(c, t);
    fz_inv(c, t, MF_THREAD_WRITE_REGS, (long)(uintptr_t)mf_thread_trampoline, (long)(uintptr_t)top, (long)arg, 0);
    fz_inv(c, t, MF_THREAD_RESUME, 0, 0, 0, 0);
}

static void toucher(uint64_t base)
{
    for (uint64_t i = 0; i < 200; i++) {
        volatile uint64_t *p = (volatile uint64_t *)(uintptr_t)(base + (i & 1) * 4096);
        if (i & 2)
            *p = i;
        else
            (void)*p;
        mf_sleep(1);
    }
}

static void undo_some(struct fz_ctx *c, long vas, long seg, const long *frames, unsigned n)
{
    unsigned k = (unsigned)fz_below(c, 6);
    for (unsigned i = 0; i < k; i++) {
        long f = n ? frames[fz_below(c, n)] : fz_slot_of(c, MF_OBJ_FRAME);
        switch (fz_below(c, 9)) {
        case 0:
            fz_inv(c, f, MF_FRAME_UNMAP, 0, 0, 0, 0);
            break;
        case 1:
            fz_inv(c, f, MF_FRAME_PROTECT, (long)fz_rights(c), 0, 0, 0);
            break;
        case 2:
            fz_cnode_op(c, FZ_SELF, MF_CNODE_DELETE, f, 0, 0, 0);
            break;
        case 3:
            fz_inv(c, vas, MF_VAS_DETACH_SEGMENT, seg, 0, 0, 0);
            break;
        case 4:
            fz_inv(c, vas, MF_VAS_DETACH, 0, 0, 0, 0);
            break;
        case 5:
            fz_cnode_op(c, FZ_SELF, fz_chance(c, 500) ? MF_CNODE_DELETE : MF_CNODE_REVOKE, fz_chance(c, 500) ? seg : vas,
                        0, 0, 0);
            break;
        case 6: {
            long copy = fz_free_slot(c);
            if (fz_cnode_op(c, FZ_SELF, MF_CNODE_COPY, f, copy, (long)fz_rights(c), 0) == 0)
                fz_inv(c, copy, MF_FRAME_MAP, seg, (long)fz_user_va(c), (long)fz_rights(c), 0);
            break;
        }
        case 7:
            fz_sys(c, SYS_VAS_SWITCH, fz_chance(c, 500) ? vas : 0, 0, 0, 0, 0, 0);
            break;
        default:
            fz_inv(c, vas, MF_VAS_ATTACH_SEGMENT, seg, (long)fz_rights(c), 0, 0);
            break;
        }
    }
}

void fz_space_scenario(struct fz_ctx *c)
{
    long vas = make(c, MF_OBJ_VAS, 13 + (unsigned)fz_below(c, 3));
    long seg = make(c, MF_OBJ_SEGMENT, 13 + (unsigned)fz_below(c, 2));
    if (vas < 0 || seg < 0)
        return;
    bool big = fz_chance(c, 100);
    uint64_t base = big ? (8ul << 30) : fz_chance(c, 900) ? (4ul << 30) + (fz_below(c, 8) << 21) : fz_user_va(c);
    uint64_t size = big ? 1ul << 30 : fz_chance(c, 900) ? 2ul << 20 : fz_value(c);
    fz_inv(c, seg, MF_SEGMENT_CONFIGURE, (long)base, (long)size, 0, 0);
    fz_inv(c, vas, MF_VAS_ATTACH, fz_chance(c, 900) ? 0 : fz_slot_of(c, MF_OBJ_THREAD), 0, 0, 0);
    fz_inv(c, vas, MF_VAS_ATTACH_SEGMENT, seg, fz_chance(c, 800) ? MF_RIGHT_READ | MF_RIGHT_WRITE : (long)fz_rights(c), 0, 0);
    long frames[5];
    unsigned n = 0;
    for (unsigned i = 0, want = 1 + (unsigned)fz_below(c, 4); i < want; i++) {
        long f = make(c, MF_OBJ_FRAME, 12);
        if (f < 0)
            break;
        frames[n++] = f;
        fz_inv(c, f, MF_FRAME_MAP, seg, (long)(base + i * 4096), fz_chance(c, 800) ? 3 : (long)fz_rights(c), 0);
    }
    if (big) {
        long f = make(c, MF_OBJ_FRAME, 21);
        if (f >= 0) {
            frames[n++] = f;
            fz_inv(c, f, MF_FRAME_MAP, seg, (long)(base + (2ul << 20)), 3, 0);
        }
    }
    // A zero-fill pager for the rest of the segment, now and then.
    if (fz_chance(c, 300)) {
        if (pager_epoch != fz.epochs) {
            pager_epoch = fz.epochs;
            pager_next = 0;
        }
        uint32_t k = __atomic_fetch_add(&pager_next, 1, __ATOMIC_RELAXED);
        long ep = k < FZ_PAGERS ? make(c, MF_OBJ_ENDPOINT, 0) : -1;
        long badged = fz_free_slot(c);
        if (ep >= 0 && fz_inv(c, FZ_SELF, MF_CNODE_MINT, ep, badged, MF_RIGHT_WRITE, seg) == 0) {
            fz.shadow[badged] = MF_OBJ_ENDPOINT;
            pagers[k] = (struct mf_pager){.endpoint = ep, .untyped = storm(c), .cnode = FZ_SELF,
                                          .first_slot = 200 + 4 * k, .slot_count = 4};
            fz_inv(c, seg, MF_SEGMENT_SET_PAGER, badged, 0, 0, 0);
            start_in(c, mf_pager_thread, (uint64_t)(uintptr_t)&pagers[k]);
        }
    }
    // A thread inside the VAS, touching the segment.
    if (fz_chance(c, 200) && fz_sys(c, SYS_VAS_SWITCH, vas, 0, 0, 0, 0, 0) == 0) {
        start_in(c, toucher, base);
        fz_sys(c, SYS_VAS_SWITCH, 0, 0, 0, 0, 0, 0);
    }
    // Batched bindings: the frames again (some mapped already), repeats,
    // stray addresses and rights now and then; then unbound in a batch.
    if (fz_chance(c, 300)) {
        struct mf_map_entry e[6];
        uint64_t unmap[6];
        unsigned k = 0;
        for (unsigned i = 0; i < n && k < 6; i++, k++) {
            e[k] = (struct mf_map_entry){(uint64_t)frames[fz_chance(c, 900) ? i : fz_below(c, n)],
                                         base + (fz_chance(c, 900) ? 16 + i : fz_below(c, 600)) * 4096ul,
                                         fz_chance(c, 900) ? 3 : fz_rights(c)};
            unmap[k] = e[k].frame;
        }
        fz_inv(c, seg, MF_SEGMENT_MAP_BATCH, fz_chance(c, 950) ? (long)(uintptr_t)e : (long)fz_value(c),
               fz_chance(c, 950) ? (long)k : (long)fz_below(c, 70), 0, 0);
        fz_inv(c, seg, MF_SEGMENT_UNMAP_BATCH, (long)(uintptr_t)unmap, fz_chance(c, 900) ? (long)k : (long)fz_below(c, 70),
               0, 0);
    }
    undo_some(c, vas, seg, frames, n);
    if (fz_chance(c, 700))
        fz_sys(c, SYS_VAS_SWITCH, 0, 0, 0, 0, 0, 0);
}

// ------------------------------------------------------------------ LRPC

// MF_CNODE_DESCRIBE of a binding: mostly into our scratch, where its state
// (configured or not, A-stacks set and busy) is counted; sometimes into a
// bad buffer, or through a copy without READ.
static void describe_binding(struct fz_ctx *c, long binding)
{
    struct mf_cap_info *info = (struct mf_cap_info *)(uintptr_t)&fz_scratch[fz_below(c, 8) * 4096];
    if (fz_chance(c, 150)) {
        fz_inv(c, FZ_SELF, MF_CNODE_DESCRIBE, binding, (long)fz_ptr_out(c), fz_below(c, 2), 0);
        return;
    }
    if (fz_inv(c, FZ_SELF, MF_CNODE_DESCRIBE, binding, (long)(uintptr_t)info, fz_below(c, 2), 0) == 0 &&
        info->type == MF_OBJ_BINDING && info->binding.procedures)
        fz.bindings_described++;
}

void fz_lrpc_scenario(struct fz_ctx *c)
{
    extern void mf_lrpc_entry(void);
    long server = make(c, MF_OBJ_VAS, 14), client = make(c, MF_OBJ_VAS, 14);
    long seg = make(c, MF_OBJ_SEGMENT, 13), binding = make(c, MF_OBJ_BINDING, 0);
    if (server < 0 || client < 0 || seg < 0 || binding < 0)
        return;
    uint64_t base = (16ul << 30) + (fz_below(c, 8) << 21);
    fz_inv(c, seg, MF_SEGMENT_CONFIGURE, (long)base, 2l << 20, 0, 0);
    fz_inv(c, server, MF_VAS_ATTACH, 0, 0, 0, 0);
    long frames[2];
    unsigned n = 0;
    for (unsigned i = 0; i < 1 + fz_below(c, 2); i++) {
        long f = make(c, MF_OBJ_FRAME, 12);
        if (f < 0)
            break;
        frames[n++] = f;
        fz_inv(c, f, MF_FRAME_MAP, seg, (long)(base + i * 4096), 3, 0);
    }
    fz_inv(c, server, MF_VAS_ATTACH_SEGMENT, seg, 3, 0, 0);
    long procs = fz_chance(c, 900) ? 8 : (long)fz_value(c);
    // A bad entry: data (not executable), unmapped or kernel addresses.
    // Never our own text at a random place: that would be the worker
    // running the fuzzer's code from the middle (it once returned through
    // a stale link register into the worker's loop and ended the worker).
    long entry = (long)(uintptr_t)mf_lrpc_entry;
    if (!fz_chance(c, 950))
        entry = fz_chance(c, 300) ? (long)(uintptr_t)&fz_scratch[fz_below(c, 12 * 4096)] : (long)fz_foreign(c);
    // The server's CSpace: the caller's, or one named (fz_binding_cspace).
    long cspace = fz_chance(c, 500) ? 0 : fz_binding_cspace(c);
    if (fz_inv(c, binding, MF_BINDING_CONFIGURE, server, seg, (long)MF_BINDING_PROCEDURES(procs, (uint64_t)cspace),
               entry) == 0 && cspace)
        fz.binding_cspaces++;
    unsigned astacks = 1 + (unsigned)fz_below(c, 4);
    for (unsigned i = 0; i < astacks; i++)
        fz_inv(c, binding, MF_BINDING_SET_ASTACK, i, (long)(base + i * 1024), fz_chance(c, 900) ? 1024 : (long)fz_value(c),
               (long)fz_estack(c));
    fz_inv(c, client, MF_VAS_ATTACH, 0, 0, 0, 0);
    fz_inv(c, binding, MF_BINDING_ATTACH_CLIENT, client, 0, 0, 0);
    for (unsigned i = 0; i < 3; i++)
        fz_inv(c, binding, MF_BINDING_ASTACK, (long)fz_below(c, 18), 0, 0, 0);
    describe_binding(c, binding);
    if (fz_sys(c, SYS_VAS_SWITCH, client, 0, 0, 0, 0, 0) == 0) {
        if (fz_chance(c, 150)) {
            extern void fz_sac_lrpc(uint64_t);
            start_in(c, fz_sac_lrpc, (uint64_t)binding);
        }
        for (unsigned k = 0, calls = 1 + (unsigned)fz_below(c, 6); k < calls; k++) {
            long r = fz_sys(c, SYS_LRPC_CALL, binding, (long)fz_below(c, 9), (long)fz_below(c, astacks + 1), 0, 0, 0);
            if (r >= 0)
                fz.lrpc_ok++;
            if (fz_chance(c, 200))
                describe_binding(c, binding);      // a sacrificial caller may be inside
            if (fz_chance(c, 100))
                undo_some(c, server, seg, frames, n);
        }
        if (fz_chance(c, 900))
            fz_sys(c, SYS_VAS_SWITCH, 0, 0, 0, 0, 0, 0);
    }
    if (fz_chance(c, 300))
        fz_cnode_op(c, FZ_SELF, fz_chance(c, 500) ? MF_CNODE_DELETE : MF_CNODE_REVOKE,
                    fz_chance(c, 500) ? binding : server, 0, 0, 0);
}

// ------------------------------------------------------------ visible revocation

// A Reclaim object lending mapped frames into our CNode, a request with a
// deadline of a tick or two, releases, copies and revocations of the lent
// caps and of the frames they came from, collects past the deadline.
void fz_reclaim_scenario(struct fz_ctx *c)
{
    long r = make(c, MF_OBJ_RECLAIM, 0), page = make(c, MF_OBJ_FRAME, 12), ntfn = make(c, MF_OBJ_NOTIFICATION, 0);
    if (r < 0 || page < 0 || ntfn < 0)
        return;
    fz_inv(c, r, MF_RECLAIM_CONFIGURE, fz_chance(c, 950) ? page : fz_slot_of(c, MF_OBJ_FRAME), ntfn, 0, 0);
    long lent[6];
    unsigned n = 0;
    for (unsigned i = 0, want = 1 + (unsigned)fz_below(c, 6); i < want; i++) {
        long f = make(c, MF_OBJ_FRAME, 12), dst = fz_free_slot(c);
        if (f < 0)
            break;
        unsigned flags = fz_chance(c, 150) ? MF_RECLAIM_GUARANTEED : 0;
        if (fz_inv(c, r, MF_RECLAIM_GRANT, f, FZ_SELF, dst, (long)(i | 3u << 8 | flags)) == 0) {
            fz.shadow[dst] = MF_OBJ_FRAME;
            lent[n++] = dst;
        }
        if (fz_chance(c, 300))
            fz_inv(c, dst, MF_FRAME_MAP, fz_slot_of(c, MF_OBJ_SEGMENT), (long)fz_user_va(c), 3, 0);
        if (fz_chance(c, 100))
            fz_cnode_op(c, FZ_SELF, MF_CNODE_REVOKE, f, 0, 0, 0);   // taken from above
    }
    fz_inv(c, r, MF_RECLAIM_REQUEST, fz_chance(c, 900) ? (long)fz_below(c, 1u << 6) : (long)fz_value(c),
           1 + (long)fz_below(c, 2), 0, 0);
    for (unsigned i = 0; i < n; i++) {
        if (fz_chance(c, 400))
            fz_cnode_op(c, FZ_SELF, MF_CNODE_DELETE, lent[i], 0, 0, 0);        // released
        else if (fz_chance(c, 200))
            fz_cnode_op(c, FZ_SELF, MF_CNODE_COPY, lent[i], fz_free_slot(c), 3, 0);
    }
    for (unsigned k = 0, calls = 1 + (unsigned)fz_below(c, 3); k < calls; k++) {
        fz_inv(c, r, MF_RECLAIM_COLLECT, 0, 0, 0, 0);
        if (fz_chance(c, 500))
            fz_sys(c, SYS_SLEEP, 1, 0, 0, 0, 0, 0);
    }
    fz_inv(c, ntfn, MF_NOTIFICATION_POLL, 0, 0, 0, 0);
    if (fz_chance(c, 300))
        fz_cnode_op(c, FZ_SELF, fz_chance(c, 500) ? MF_CNODE_DELETE : MF_CNODE_REVOKE, fz_chance(c, 500) ? r : page, 0,
                    0, 0);
}

// ------------------------------------------------------------------ devices

static struct { long dev, bar; uint64_t va, size; } mapped[8];

void fz_device_ops(struct fz_ctx *c)
{
    long dev = MF_CAP_DEVICE_BASE + (long)fz_below(c, fz.device_count + 1);
    long irq = fz_slot_of(c, MF_OBJ_IRQ);
    long a0 = (long)fz_value(c), a1 = (long)fz_value(c), a2 = (long)fz_value(c), a3 = (long)fz_value(c);
    unsigned m = (unsigned)fz_below(c, 8);
    switch (fz_below(c, 12)) {
    case 0:
    case 1: {
        static const long sizes[] = {1, 2, 4, 3, 8, 0};
        long size = sizes[fz_below(c, 6)];
        long off = fz_chance(c, 800) ? (long)fz_below(c, 260) & ~(size - 1) : a0;
        fz_inv(c, dev, MF_PCI_CONFIG_READ, off, size, 0, 0);
        break;
    }
    case 2: {
        // Current bits, some flipped; the root task puts them back after the run.
        long cmd = fz_inv(c, dev, MF_PCI_CONFIG_READ, MF_PCI_COMMAND, 2, 0, 0);
        long bits = cmd >= 0 ? (cmd ^ (long)(fz_rand(c) & fz_rand(c))) & MF_PCI_COMMAND_SAFE : a0;
        fz_inv(c, dev, MF_PCI_SET_COMMAND, fz_chance(c, 900) ? bits : a0, 0, 0, 0);
        break;
    }
    case 3:
        fz_inv(c, dev, MF_PCI_BAR_INFO, (long)fz_below(c, 8), (long)fz_ptr_out(c), 0, 0);
        break;
    case 4: {
        long bar = (long)fz_below(c, 7);
        if (fz_chance(c, 300))
            bar |= MF_PCI_MAP_READONLY;
        if (fz_chance(c, 300))
            bar |= MF_PCI_MAP_CACHED;
        uint64_t off = fz_chance(c, 800) ? fz_below(c, 4) * 4096 : (uint64_t)a1;
        uint64_t size = fz_chance(c, 800) ? (1 + fz_below(c, 4)) * 4096 : (uint64_t)a2;
        uint64_t va = fz_chance(c, 800) ? MF_DEVICE_WINDOW_BASE + (fz_below(c, 64) << 21) : fz_user_va(c);
        if (fz_inv(c, dev, MF_PCI_MAP_BAR, bar, (long)off, (long)size, (long)va) == 0)
            mapped[m] = (typeof(mapped[0])){dev, bar & 7, va, size};
        break;
    }
    case 5:
        if (mapped[m].size && fz_chance(c, 800))
            fz_inv(c, mapped[m].dev, MF_PCI_UNMAP_BAR, mapped[m].bar, (long)mapped[m].va, (long)mapped[m].size, 0);
        else
            fz_inv(c, dev, MF_PCI_UNMAP_BAR, (long)fz_below(c, 7), (long)fz_user_va(c), a2, 0);
        break;
    case 6: {
        long slot = fz_free_slot(c);
        if (fz_inv(c, dev, MF_PCI_GET_IRQ, fz_chance(c, 900) ? FZ_SELF : fz_cptr(c), slot, 0, 0) == 0)
            fz.shadow[slot] = MF_OBJ_IRQ;
        break;
    }
    case 7:
        fz_inv(c, irq, MF_IRQ_BIND, fz_chance(c, 800) ? fz_slot_of(c, MF_OBJ_NOTIFICATION) : a0, 0, 0, 0);
        break;
    case 8:
        fz_inv(c, irq, fz_chance(c, 500) ? MF_IRQ_ACK : MF_IRQ_UNBIND, a0, 0, 0, 0);
        break;
    case 9:
        fz_inv(c, irq, MF_IRQ_INFO, a0, 0, 0, 0);
        break;
    case 10:    // a frame's bus address: only through a device cap that may act
        fz_inv(c, dev, MF_PCI_DMA_ADDRESS, fz_chance(c, 800) ? fz_slot_of(c, MF_OBJ_FRAME) : a0, a1, 0, 0);
        break;
    default:
        fz_inv(c, fz_chance(c, 500) ? dev : irq, (long)fz_below(c, 10), a0, a1, a2, a3);
        break;
    }
}
