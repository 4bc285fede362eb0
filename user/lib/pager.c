// The default pager: zero-fill on demand for segments. Each fault arrives as
// a call whose badge names the faulting segment (mf_pager_attach mints it
// so); the pager retypes a 4 KiB frame — retype zeroes it — maps it at the
// faulting page and replies, and the faulting thread retries. Anything it
// cannot serve (not a fault, no slots, no memory, a page already mapped:
// a protection fault) is answered with MF_FAULT_KILL.
#include "manifold.h"

long mf_pager_attach(struct mf_pager *p, long segment, long badge_slot)
{
    long r = mf_cnode_mint(MF_CAP_SELF_CNODE, p->endpoint, badge_slot, MF_RIGHT_WRITE, (uint64_t)segment);
    return r < 0 ? r : mf_segment_set_pager(segment, badge_slot);
}

static bool serve(struct mf_pager *p, long segment, const struct mf_msg *m)
{
    if (MF_INFO_LABEL(m->info) != MF_FAULT_LABEL || p->used >= p->slot_count)
        return false;
    long slot = p->first_slot + p->used;
    if (mf_untyped_retype(p->untyped, MF_OBJ_FRAME, 12, 1, p->cnode, slot) < 0)
        return false;
    p->used++;
    return mf_frame_map(slot, segment, m->mr[0] & ~4095ul, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0;
}

void mf_pager_thread(uint64_t pager)
{
    struct mf_pager *p = (struct mf_pager *)(uintptr_t)pager;
    struct mf_msg m = {0};
    long badge = mf_recv(p->endpoint, &m);
    for (;;) {
        bool ok = badge > 0 && serve(p, badge, &m);
        if (ok)
            p->faults++;
        else
            p->refused++;
        m.info = MF_INFO(ok ? 0 : MF_FAULT_KILL, 0);
        badge = mf_reply_recv(p->endpoint, &m);
    }
}
