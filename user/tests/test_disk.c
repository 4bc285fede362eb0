// The data disk through blkd, for tests whose images outlive the boot
// (test_disk.h).
#include "test_disk.h"
#include "blk.h"
#include "virtio_blk.h"
#include "lib/string.h"
#include "user/root/root.h"

#define ROOT MF_CAP_SELF_CNODE
#define DISK_BLKD_UT (MF_CAP_UNTYPED_BASE + 1)
#define DISK_BLKD_CNODE 3902
#define DISK_BLK_SERVICE 3966
#define DISK_BLK_SESSION 3967
#define DISK_BLK_BASE 0xa0000000ul       // where test_disk_close maps the device to stop it

static struct mf_blk blk;
static struct mf_ckpt_blk where;
static long blk_server, blk_frame;

const char *test_disk_open(uint64_t first, uint64_t end, struct mf_ckpt_store *st)
{
    if (virtio_blk_find("manifold-data", 0) < 0)
        return "SKIP no virtio-blk disk with serial manifold-data (tools/qemu gives one)";
    blk_server = spawn_with_resources("blkd", 0, DISK_BLKD_UT, DISK_BLKD_CNODE);
    if (blk_server <= 0)
        return "could not start blkd";
    long found = -E_NOENT;
    for (long stop = mf_time() + 500; found == -E_NOENT && mf_time() < stop; mf_sleep(1))
        found = mf_ns_lookup(NS_ENDPOINT, MF_BLK_NAME, DISK_BLK_SERVICE);
    blk_frame = mf_new(MF_OBJ_FRAME, 12);
    if (found != 0 || blk_frame < 0 || mf_blk_attach(&blk, DISK_BLK_SERVICE, blk_frame, DISK_BLK_SESSION) != 0)
        return "could not attach to blkd";
    if (end > blk.capacity || first >= end)
        return "the data disk is smaller than its layout (test_disk.h)";
    where = (struct mf_ckpt_blk){&blk, first};
    mf_ckpt_blk_store(st, &where);
    st->capacity = (end - first) * MF_BLK_SECTOR;
    return NULL;
}

void test_disk_close(void)
{
    if (!blk_server)
        return;             // nothing was started
    mf_blk_detach(&blk);
    if (blk_server > 0) {
        struct mf_exit_status es;
        mf_kill(blk_server);
        mf_wait(blk_server, &es);
    }
    test_disk_stop_device(DISK_BLK_BASE);
    mf_cnode_delete(ROOT, DISK_BLK_SERVICE);
    mf_cnode_delete(ROOT, DISK_BLK_SESSION);
    if (blk_frame > 0)
        mf_slot_free(blk_frame);
    blk_server = blk_frame = 0;
    mf_cnode_revoke(ROOT, DISK_BLKD_UT);
}

bool test_disk_second_boot(void)
{
    struct mf_system_info si;
    if (mf_system_info(&si) != 0)
        return false;
    const char *word = "ckpt-reboot";
    size_t n = strlen(word);
    for (const char *p = si.cmdline; *p; p++)
        if ((p == si.cmdline || p[-1] == ' ') && strncmp(p, word, n) == 0 && (p[n] == ' ' || !p[n]))
            return true;
    return false;
}

void test_disk_stop_device(uint64_t base)
{
    static struct virtio_blk stop;
    long dev = virtio_blk_find("manifold-data", 0);
    if (dev >= 0 && virtio_blk_open(&stop, dev, base) == 0)
        virtio_blk_close(&stop);
}
