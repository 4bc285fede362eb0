// The block service (user/lib/blk.h, docs/devices.md "virtio-blk"): drives
// the virtio-blk disk whose serial is "manifold-data" with the user-level
// driver and serves it to clients that attach through the name service's
// "blk". Up to BLK_SESSIONS at once; a session whose client revoked its
// frame (or ended: its CSpace revoked) is taken for a new one. A session's
// badge is its index and a generation, so a call queued with the badge of
// an ended session never reaches the next one's frame. Runs until killed;
// exits 1 if it finds no disk, 2 if it cannot register.
#include "manifold.h"
#include "blk.h"
#include "virtio_blk.h"

#define BLK_SESSIONS 16
#define DRIVER_BASE 0xa0000000ul

static struct virtio_blk disk;
static struct {
    long frame, cap;        // the client's frame; our copy of its session cap
    uint64_t generation;    // badge = generation << 8 | index + 1
} sessions[BLK_SESSIONS];

static uint64_t badge_of(unsigned i) { return sessions[i].generation << 8 | (i + 1); }
static uint8_t data[MF_BLK_MAX_SECTORS * MF_BLK_SECTOR];

static bool is_io_frame(long slot)
{
    long id = mf_cnode_identify(MF_CAP_SELF_CNODE, slot);
    unsigned rights = (unsigned)(id >> 8 & 0xff);
    return id >= 0 && (id & 0xff) == MF_OBJ_FRAME && (id >> 16 & 0xff) == 12 &&
           (rights & (MF_RIGHT_READ | MF_RIGHT_WRITE)) == (MF_RIGHT_READ | MF_RIGHT_WRITE);
}

static void end_session(unsigned i)
{
    mf_cnode_revoke(MF_CAP_SELF_CNODE, sessions[i].cap);     // the client's copy goes with it
    mf_slot_free(sessions[i].cap);
    mf_slot_free(sessions[i].frame);
    sessions[i].frame = sessions[i].cap = 0;
}

// ATTACH: the frame arrived in `received`; a session cap goes back in *send.
static long attach(long ep, struct mf_msg *m, long received, long *send)
{
    if (!(m->info & MF_INFO_CAP) || !is_io_frame(received))
        return -E_INVAL;
    for (unsigned i = 0; i < BLK_SESSIONS; i++) {
        // A session whose frame is gone (revoked by its client, or its
        // client's CSpace revoked) can serve nobody: it ends here.
        if (sessions[i].frame && mf_cnode_identify(MF_CAP_SELF_CNODE, sessions[i].frame) == MF_OBJ_NULL)
            end_session(i);
        if (sessions[i].frame)
            continue;
        sessions[i].generation++;
        long cap = mf_mint(ep, MF_RIGHT_WRITE, badge_of(i));
        if (cap < 0)
            return cap;
        sessions[i].frame = received;
        sessions[i].cap = cap;
        *send = cap;
        return (long)disk.capacity;
    }
    return -E_NOMEM;
}

static long io(unsigned i, unsigned op, uint64_t sector, uint64_t count)
{
    if (count == 0 || count > MF_BLK_MAX_SECTORS)
        return -E_RANGE;
    uint64_t bytes = count * MF_BLK_SECTOR;
    long r;
    if (op == MF_BLK_READ) {
        r = virtio_blk_read(&disk, sector, data, (unsigned)count);
        return r ? r : mf_frame_write(sessions[i].frame, 0, data, bytes);
    }
    r = mf_frame_read(sessions[i].frame, 0, data, bytes);
    return r ? r : virtio_blk_write(&disk, sector, data, (unsigned)count);
}

int main(uint64_t arg)
{
    (void)arg;
    long dev = virtio_blk_find("manifold-data", 0);
    long ep = mf_new(MF_OBJ_ENDPOINT, 0);
    if (dev < 0 || ep < 0 || virtio_blk_open(&disk, dev, DRIVER_BASE) != 0) {
        printf("blkd: no virtio-blk disk with serial manifold-data\n");
        return 1;
    }
    long public = mf_mint(ep, MF_RIGHT_WRITE | MF_RIGHT_GRANT, MF_BLK_PUBLIC_BADGE);
    if (public < 0 || mf_ns_register(MF_CAP_NAMESERVER, MF_BLK_NAME, public) != 0) {
        printf("blkd: cannot register \"" MF_BLK_NAME "\"\n");
        return 2;
    }
    printf("blkd: serving %s, %llu sectors, as \"" MF_BLK_NAME "\"\n", disk.serial,
           (unsigned long long)disk.capacity);
    long received = mf_slot_alloc();
    struct mf_msg m = {.info = MF_INFO_RECV_SLOT(received)};
    long badge = mf_recv(ep, &m);
    for (;;) {
        unsigned op = MF_INFO_LABEL(m.info);
        long result = -E_NOSYS, send = 0;
        if (badge < 0) {
            m.info = MF_INFO_RECV_SLOT(received);
            badge = mf_recv(ep, &m);
            continue;
        }
        if ((uint64_t)badge == MF_BLK_PUBLIC_BADGE) {
            result = op == MF_BLK_ATTACH ? attach(ep, &m, received, &send) : -E_PERM;
            if (send) {
                received = mf_slot_alloc();         // that one is the session's frame now
            } else if (m.info & MF_INFO_CAP) {
                mf_cnode_delete(MF_CAP_SELF_CNODE, received);       // not a frame we take
            }
        } else if ((badge & 0xff) >= 1 && (badge & 0xff) <= BLK_SESSIONS &&
                   sessions[(badge & 0xff) - 1].frame && (uint64_t)badge == badge_of((badge & 0xff) - 1)) {
            unsigned i = (unsigned)(badge & 0xff) - 1;
            if (m.info & MF_INFO_CAP)
                mf_cnode_delete(MF_CAP_SELF_CNODE, received);
            if (op == MF_BLK_READ || op == MF_BLK_WRITE)
                result = io(i, op, m.mr[0], m.mr[1]);
            else if (op == MF_BLK_DETACH) {
                end_session(i);
                result = 0;
            }
        } else {
            if (m.info & MF_INFO_CAP)
                mf_cnode_delete(MF_CAP_SELF_CNODE, received);
            result = -E_PERM;       // an ended session's badge
        }
        m.info = MF_INFO(0, 1) | MF_INFO_RECV_SLOT(received) | (send ? MF_INFO_SEND_CAP(send) : 0);
        m.mr[0] = (uint64_t)result;
        badge = mf_reply_recv(ep, &m);
    }
}
