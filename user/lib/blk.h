// The block service's protocol and its client side (user/programs/blkd.c,
// docs/devices.md "virtio-blk"). blkd drives a virtio-blk disk and
// registers "blk" with the name service: a badged endpoint cap (the
// public badge) that only attaches. ATTACH passes a 4 KiB frame of the
// client's (with READ and WRITE) and is answered with a session cap of
// its own badge; requests name sectors and move their data through that
// frame (the server reads and writes it with MF_FRAME_READ/WRITE, so a
// client that revokes its frame only fails its own requests). Another
// client cannot use a session it was not given: the badge is the kernel's,
// and it carries a generation, so a call still queued from an ended
// session is refused. Limits: 16 sessions; a client that never detaches
// holds one until its frame goes (a denial of service by design of the
// limit, not a way into another's data). Every program the shell starts
// holds the PCI device caps too: blkd's protection is against programs
// without them.
#pragma once
#include <stdint.h>

#define MF_BLK_NAME "blk"
#define MF_BLK_PUBLIC_BADGE (1ull << 40)
#define MF_BLK_MAX_SECTORS 8u        // per request: the 4 KiB frame
#define MF_BLK_SECTOR 512u

enum mf_blk_op {
    MF_BLK_ATTACH = 1,  // public cap, frame cap passed -> mr0 = capacity in sectors; the session cap arrives
    MF_BLK_READ,        // session: (sector, count) -> 0, the data in the frame
    MF_BLK_WRITE,       // session: (sector, count), the data in the frame -> 0
    MF_BLK_DETACH,      // session: the session and the server's copy of the frame end
};

struct mf_blk {
    long session;       // our session cap
    long frame;         // the frame we lent it
    uint64_t capacity;  // sectors
};

// Attaches through `service` (the name service's "blk" cap): lends it
// `frame`, receives the session cap into our empty slot session_slot.
long mf_blk_attach(struct mf_blk *c, long service, long frame, long session_slot);
long mf_blk_read(struct mf_blk *c, uint64_t sector, void *buf, unsigned count);
long mf_blk_write(struct mf_blk *c, uint64_t sector, const void *buf, unsigned count);
long mf_blk_detach(struct mf_blk *c);
