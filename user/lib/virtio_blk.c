// The user-level virtio-blk driver (virtio_blk.h). The layout of the queue
// frame (4 KiB, the device reads and writes it by DMA):
//
//   0      descriptors          VIRTIO_BLK_QUEUE x 16 bytes
//   128    available ring       flags, idx, ring[QUEUE], used_event
//   256    used ring            flags, idx, ring[QUEUE] of {id, len}, avail_event
//   1024   request header       type, reserved, sector
//   1040   status byte          the device's answer
//
// and the data frame holds one request's sectors. A request is a chain of
// three descriptors: header (device reads), data (device writes for a
// read, reads for a write), status (device writes).
#include "virtio_blk.h"
#include "manifold.h"
#include "lib/string.h"
#include "lib/virtio.h"

#define VIRTIO_VENDOR 0x1af4
#define PAGE 4096ul

enum { T_IN = 0, T_OUT = 1, T_GET_ID = 8 };
struct request_header {
    uint32_t type, reserved;
    uint64_t sector;
};

#define OFF_AVAIL 128
#define OFF_USED 256
#define OFF_HEADER 1024
#define OFF_STATUS 1040

bool mf_pci_is_virtio_blk(long dev)
{
    long id = mf_pci_config_read(dev, MF_PCI_DEVICE_ID, 2);
    return mf_pci_config_read(dev, MF_PCI_VENDOR_ID, 2) == VIRTIO_VENDOR && (id == 0x1001 || id == 0x1042);
}

static void dma_barrier(void)
{
    // Our stores to the queue before the device may see the doorbell or
    // index; its writes before our reads of what it wrote.
#if defined(__aarch64__)
    __asm__ volatile("dsb sy" ::: "memory");
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

// Maps the structure of `type` (the virtio capability naming BAR + offset)
// at a fresh device-window address; *extra: the notify multiplier.
static long config_read(void *device, unsigned offset, unsigned size)
{
    return mf_pci_config_read((long)(uintptr_t)device, offset, size);
}

static volatile void *map_structure(struct virtio_blk *b, unsigned type, uint32_t *extra)
{
    struct virtio_cap cap;
    if (!virtio_find_cap(config_read, (void *)(uintptr_t)b->device, type, &cap))
        return NULL;
    if (extra)
        *extra = cap.extra;
    uint64_t offset = cap.offset, length = cap.length;
    uint64_t first = offset & ~(PAGE - 1), bytes = ((offset + length + PAGE - 1) & ~(PAGE - 1)) - first;
    uint64_t va = mf_device_va_alloc(bytes);
    if (!va)
        return NULL;
    if (mf_pci_map_bar(b->device, cap.bar, 0, first, bytes, va) < 0) {
        mf_device_va_free(va, bytes);
        return NULL;
    }
    b->map[b->maps].va = va, b->map[b->maps].bytes = bytes, b->map[b->maps].bar = cap.bar;
    b->maps++;
    return (volatile uint8_t *)va + (offset - first);
}

// One request: the header says what, `len` data bytes, then the status.
static bool reset(struct virtio_blk *b);

static long request(struct virtio_blk *b, uint32_t type, uint64_t sector, uint32_t len, bool device_writes)
{
    if (b->broken)
        return -E_DEAD;
    volatile struct vring_desc *desc = (volatile struct vring_desc *)b->queue;
    volatile uint16_t *avail = (volatile uint16_t *)(b->queue + OFF_AVAIL);
    volatile uint16_t *used_idx = (volatile uint16_t *)(b->queue + OFF_USED + 2);
    volatile struct request_header *h = (volatile struct request_header *)(b->queue + OFF_HEADER);
    h->type = type;
    h->reserved = 0;
    h->sector = sector;
    b->queue[OFF_STATUS] = 0xff;
    desc[0] = (struct vring_desc){b->queue_bus + OFF_HEADER, sizeof(struct request_header), VRING_DESC_NEXT, 1};
    desc[1] = (struct vring_desc){b->data_bus, len, (uint16_t)(VRING_DESC_NEXT | (device_writes ? VRING_DESC_WRITE : 0)), 2};
    desc[2] = (struct vring_desc){b->queue_bus + OFF_STATUS, 1, VRING_DESC_WRITE, 0};
    avail[2 + b->next_avail % VIRTIO_BLK_QUEUE] = 0;
    b->next_avail++;
    dma_barrier();
    avail[1] = b->next_avail;
    dma_barrier();
    *b->notify = 0;
    b->requests++;
    for (long end = mf_time() + 200; *used_idx != b->next_avail;) {
        long left = end - mf_time();
        if (left <= 0) {
            // The device may still finish it, into our pages, later: stop
            // it (a reset is synchronous: QEMU waits for requests in
            // flight) and refuse everything until the disk is opened again.
            reset(b);
            b->broken = true;
            b->errors++;
            return -E_DEAD;
        }
        if (b->notification) {
            // An interrupt that came before we wait has left its bit set:
            // the wait returns at once. The ack unmasks the vector.
            mf_notification_wait_timeout(b->notification, (uint64_t)left);
            mf_irq_ack(b->irq);
        } else {
            mf_yield();
        }
    }
    dma_barrier();
    b->last_used = b->next_avail;
    if (b->queue[OFF_STATUS] != 0) {
        b->errors++;
        return -E_DEAD;
    }
    return 0;
}

// True once the device reads back status 0: it no longer uses our memory.
static bool reset(struct virtio_blk *b)
{
    volatile struct virtio_common *c = b->common;
    c->device_status = 0;
    for (int i = 0; i < 1000; i++) {
        if (c->device_status == 0)
            return true;
        mf_yield();
    }
    return false;
}

static long setup(struct virtio_blk *b)
{
    uint32_t multiplier = 0;
    volatile struct virtio_common *c = map_structure(b, VIRTIO_CAP_COMMON, NULL);
    volatile uint8_t *notify_base = c ? map_structure(b, VIRTIO_CAP_NOTIFY, &multiplier) : NULL;
    b->device_cfg = notify_base ? map_structure(b, VIRTIO_CAP_DEVICE, NULL) : NULL;
    if (!c || !notify_base || !b->device_cfg)
        return -E_NOENT;        // not a virtio 1.0 device (or no room in the device window)
    b->common = c;
    // Reset before the device may master the bus: whatever a driver before
    // us left running stops first.
    long r = mf_pci_set_command(b->device, MF_PCI_COMMAND_MEMORY | MF_PCI_COMMAND_INTX_OFF);
    if (r < 0)
        return r;
    if (!reset(b))
        return -E_DEAD;
    if ((r = mf_pci_set_command(b->device, MF_PCI_COMMAND_MEMORY | MF_PCI_COMMAND_BUS_MASTER |
                                               MF_PCI_COMMAND_INTX_OFF)) < 0)
        return r;
    c->msix_config = VIRTIO_NO_VECTOR;
    c->device_status = VIRTIO_STATUS_ACKNOWLEDGE;
    c->device_status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
    c->device_feature_select = 1;
    if (!(c->device_feature & (uint32_t)(VIRTIO_F_VERSION_1 >> 32)))
        return -E_NOENT;
    c->driver_feature_select = 0;
    c->driver_feature = 0;          // nothing optional: read-write, no flush, one queue
    c->driver_feature_select = 1;
    c->driver_feature = (uint32_t)(VIRTIO_F_VERSION_1 >> 32);
    c->device_status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
    if (!(c->device_status & VIRTIO_STATUS_FEATURES_OK)) {
        c->device_status = VIRTIO_STATUS_FAILED;
        return -E_NOENT;
    }
    c->queue_select = 0;
    if (c->queue_size < VIRTIO_BLK_QUEUE) {
        c->device_status = VIRTIO_STATUS_FAILED;
        return -E_NOENT;
    }
    c->queue_size = VIRTIO_BLK_QUEUE;
    c->queue_msix_vector = VIRTIO_NO_VECTOR;
    // MSI-X vector 0 for the queue, if the device has MSI-X: binding the
    // IRQ cap has the kernel program and enable it. Otherwise polling.
    b->irq = mf_slot_alloc();
    if (b->irq > 0 && mf_pci_get_irq(b->device, MF_CAP_SELF_CNODE, b->irq) == 0 &&
        (mf_irq_info(b->irq) & MF_IRQ_INFO_MSI) && (b->notification = mf_new(MF_OBJ_NOTIFICATION, 0)) > 0 &&
        mf_irq_bind(b->irq, b->notification) == 0) {
        c->queue_msix_vector = 0;
        if (c->queue_msix_vector != 0)
            c->queue_msix_vector = VIRTIO_NO_VECTOR;    // the device refused it: poll
    }
    if (c->queue_msix_vector == VIRTIO_NO_VECTOR && b->irq > 0) {
        if (b->notification > 0)
            mf_slot_free(b->notification);          // unbinds the IRQ
        mf_slot_free(b->irq);
        b->irq = b->notification = 0;
    }
    c->queue_desc = b->queue_bus;
    c->queue_driver = b->queue_bus + OFF_AVAIL;
    c->queue_device = b->queue_bus + OFF_USED;
    b->notify = (volatile uint16_t *)(notify_base + (uint64_t)c->queue_notify_off * multiplier);
    c->queue_enable = 1;
    c->device_status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
    volatile uint32_t *capacity = (volatile uint32_t *)b->device_cfg;
    b->capacity = capacity[0] | (uint64_t)capacity[1] << 32;
    // The serial number, as a first request (QEMU answers an empty string
    // for a disk given none).
    memset(b->serial, 0, sizeof(b->serial));
    if (request(b, T_GET_ID, 0, VIRTIO_BLK_SERIAL, true) == 0)
        memcpy(b->serial, b->data, VIRTIO_BLK_SERIAL);
    return 0;
}

long virtio_blk_open(struct virtio_blk *b, long device, uint64_t base)
{
    memset(b, 0, sizeof(*b));
    b->device = device;
    if (!mf_pci_is_virtio_blk(device))
        return -E_TYPE;
    b->queue_frame = mf_new(MF_OBJ_FRAME, 12);
    b->data_frame = mf_new(MF_OBJ_FRAME, 12);
    b->vas = mf_new(MF_OBJ_VAS, 14);
    b->segment = mf_new(MF_OBJ_SEGMENT, 13);
    long r = b->queue_frame < 0 || b->data_frame < 0 || b->vas < 0 || b->segment < 0 ? -E_NOMEM : 0;
    if (!r)
        r = mf_vas_attach(b->vas, 0);
    if (!r)
        r = mf_segment_configure(b->segment, base, 2ul << 20);
    if (!r)
        r = mf_vas_attach_segment(b->vas, b->segment, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (!r)
        r = mf_frame_map(b->queue_frame, b->segment, base, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (!r)
        r = mf_frame_map(b->data_frame, b->segment, base + PAGE, MF_RIGHT_READ | MF_RIGHT_WRITE);
    long qbus = r ? r : mf_pci_dma_address(device, b->queue_frame);
    long dbus = qbus < 0 ? qbus : mf_pci_dma_address(device, b->data_frame);
    r = dbus < 0 ? dbus : mf_vas_switch(b->vas);
    if (r) {
        virtio_blk_close(b);
        return r;
    }
    b->queue_bus = (uint64_t)qbus;
    b->data_bus = (uint64_t)dbus;
    b->queue = (volatile uint8_t *)base;
    b->data = (uint8_t *)(base + PAGE);
    memset((void *)b->queue, 0, PAGE);
    r = setup(b);
    if (r)
        virtio_blk_close(b);
    return r;
}

static long check(const struct virtio_blk *b, uint64_t sector, unsigned count)
{
    if (count == 0 || count > VIRTIO_BLK_MAX_SECTORS || sector >= b->capacity || count > b->capacity - sector)
        return -E_RANGE;
    return 0;
}

long virtio_blk_read(struct virtio_blk *b, uint64_t sector, void *buf, unsigned count)
{
    long r = check(b, sector, count);
    if (!r)
        r = request(b, T_IN, sector, count * VIRTIO_BLK_SECTOR, true);
    if (!r)
        memcpy(buf, b->data, count * VIRTIO_BLK_SECTOR);
    return r;
}

long virtio_blk_write(struct virtio_blk *b, uint64_t sector, const void *buf, unsigned count)
{
    long r = check(b, sector, count);
    if (r)
        return r;
    memcpy(b->data, buf, count * VIRTIO_BLK_SECTOR);
    return request(b, T_OUT, sector, count * VIRTIO_BLK_SECTOR, false);
}

void virtio_blk_close(struct virtio_blk *b)
{
    // The device must let go of our frames before they may be reused: if
    // neither the reset nor turning bus mastering off is confirmed, the
    // frames are kept (a leak, not a device writing into freed memory).
    // The MSI-X line is unbound first: the kernel refuses to turn bus
    // mastering off under a bound one.
    bool was_reset = b->common ? reset(b) : true;
    if (b->irq > 0) {
        mf_irq_unbind(b->irq);
        mf_slot_free(b->irq);
    }
    if (b->notification > 0)
        mf_slot_free(b->notification);
    b->irq = b->notification = 0;
    bool stopped = true;
    if (b->common) {
        long cmd = mf_pci_set_command(b->device, MF_PCI_COMMAND_MEMORY);
        stopped = was_reset || (cmd >= 0 && !(cmd & MF_PCI_COMMAND_BUS_MASTER));
    }
    while (b->maps > 0) {
        b->maps--;
        mf_pci_unmap_bar(b->device, b->map[b->maps].bar, b->map[b->maps].va, b->map[b->maps].bytes);
        mf_device_va_free(b->map[b->maps].va, b->map[b->maps].bytes);
    }
    mf_vas_switch(0);
    long objects[] = {b->segment, b->vas, b->data_frame, b->queue_frame};
    for (unsigned i = 0; i < (stopped ? 4u : 2u); i++)
        if (objects[i] > 0)
            mf_slot_free(objects[i]);
    b->segment = b->vas = b->data_frame = b->queue_frame = 0;
    b->common = NULL;
}

long virtio_blk_find(const char *serial, unsigned index)
{
    struct mf_system_info si;
    if (mf_system_info(&si) < 0)
        return -E_NOENT;
    for (unsigned i = 0; i < si.device_count; i++) {
        long dev = MF_CAP_DEVICE_BASE + i;
        if (!mf_pci_is_virtio_blk(dev))
            continue;
        if (!serial) {
            if (index-- == 0)
                return dev;
            continue;
        }
        // Ask its serial: set it up at a scratch address, then let it go.
        struct virtio_blk b;
        if (virtio_blk_open(&b, dev, 0xa0000000ul) != 0)
            continue;
        bool match = strncmp(b.serial, serial, VIRTIO_BLK_SERIAL) == 0;
        virtio_blk_close(&b);
        if (match)
            return dev;
    }
    return -E_NOENT;
}
