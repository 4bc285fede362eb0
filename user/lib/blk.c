// The block service's client side (blk.h).
#include "blk.h"
#include "manifold.h"

static long request(struct mf_blk *c, unsigned op, uint64_t sector, unsigned count)
{
    struct mf_msg m = {.info = MF_INFO(op, 2), .mr = {sector, count}};
    long r = mf_call(c->session, &m);
    return r < 0 ? r : (long)m.mr[0];
}

long mf_blk_attach(struct mf_blk *c, long service, long frame, long session_slot)
{
    struct mf_msg m = {.info = MF_INFO(MF_BLK_ATTACH, 0) | MF_INFO_SEND_CAP(frame) | MF_INFO_RECV_SLOT(session_slot)};
    long r = mf_call(service, &m);
    if (r < 0)
        return r;
    if ((long)m.mr[0] < 0)
        return (long)m.mr[0];
    if (!(m.info & MF_INFO_CAP))
        return -E_INVAL;        // no session cap came (session_slot not empty, or past our CSpace)
    c->session = session_slot;
    c->frame = frame;
    c->capacity = m.mr[0];
    return 0;
}

long mf_blk_read(struct mf_blk *c, uint64_t sector, void *buf, unsigned count)
{
    long r = request(c, MF_BLK_READ, sector, count);
    return r < 0 ? r : mf_frame_read(c->frame, 0, buf, (uint64_t)count * MF_BLK_SECTOR);
}

long mf_blk_write(struct mf_blk *c, uint64_t sector, const void *buf, unsigned count)
{
    if (count == 0 || count > MF_BLK_MAX_SECTORS)
        return -E_RANGE;
    long r = mf_frame_write(c->frame, 0, buf, (uint64_t)count * MF_BLK_SECTOR);
    return r < 0 ? r : request(c, MF_BLK_WRITE, sector, count);
}

long mf_blk_detach(struct mf_blk *c)
{
    long r = request(c, MF_BLK_DETACH, 0, 0);
    mf_cnode_delete(MF_CAP_SELF_CNODE, c->session);
    return r;
}
