// A virtio-net NIC through the virtio 1.0 PCI transport (the "modern"
// interface: capabilities in configuration space pointing into memory
// BARs), driven by the kernel so that it can demultiplex received frames
// to library OSes (kernel/net.c, docs/exokernel.md). Two split
// virtqueues: 0 receives into buffers posted once and re-posted after
// each frame, 1 transmits from a ring of buffers reclaimed as the device
// uses them. No offloads, no merged receive buffers; MAC address from the
// device. Both architectures: QEMU's virtio-net-pci, MSI-X or INTx.
//
// Locking: the NIC's lock (struct nic, kernel/net.h) covers both queues.
#include "kernel/net.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/pci.h"
#include "kernel/pmm.h"
#include "kernel/vm.h"
#include "lib/string.h"
#include "lib/virtio.h"

#define FEATURE_MAC (1ull << 5)

// The virtio-net header in front of every frame (12 bytes with VERSION_1).
#define NET_HDR 12

// A mapping of structure `type`, or NULL.
static long config_read(void *device, unsigned offset, unsigned size)
{
    return (long)arch_pci_config_read(((const struct pci_device *)device)->bdf, offset, size);
}

static volatile void *find_structure(const struct pci_device *d, unsigned type, uint32_t *extra)
{
    struct virtio_cap cap;
    if (!virtio_find_cap(config_read, (void *)d, type, &cap))
        return NULL;
    if (cap.bar >= MF_PCI_BAR_COUNT || !(d->bar[cap.bar].flags & MF_PCI_BAR_MEM) || !d->bar[cap.bar].base ||
        (uint64_t)cap.offset + cap.length > d->bar[cap.bar].size)
        return NULL;
    if (extra)
        *extra = cap.extra;
    return vm_map_device(d->bar[cap.bar].base + cap.offset, cap.length);
}

// A queue's memory: descriptors, available ring, used ring, in one page.
static bool queue_setup(struct nic *n, struct virtq *q, unsigned index)
{
    volatile struct virtio_common *c = n->common;
    c->queue_select = (uint16_t)index;
    unsigned size = c->queue_size;
    if (size < NIC_QUEUE_SIZE)
        return false;
    c->queue_size = NIC_QUEUE_SIZE;
    paddr_t page = pmm_alloc();
    if (!page)
        return false;
    uint8_t *base = P2V(page);
    memset(base, 0, PAGE_SIZE);
    q->desc = (struct vring_desc *)base;
    q->avail = (volatile uint16_t *)(base + 16 * NIC_QUEUE_SIZE);      // flags, idx, ring[], used_event
    q->used = (volatile struct vring_used_head *)(base + ALIGN_UP(16 * NIC_QUEUE_SIZE + 6 + 2 * NIC_QUEUE_SIZE, 4));
    q->last_used = 0;
    q->next_avail = 0;
    c->queue_desc = page;
    c->queue_driver = page + 16 * NIC_QUEUE_SIZE;
    c->queue_device = V2P((void *)q->used);
    if (n->msix) {
        c->queue_msix_vector = 0;
        if (c->queue_msix_vector != 0)
            return false;
    }
    q->notify = (volatile uint16_t *)((volatile uint8_t *)n->notify_base + c->queue_notify_off * n->notify_multiplier);
    // Buffers: two per page.
    for (unsigned i = 0; i < NIC_QUEUE_SIZE; i += 2) {
        paddr_t buf = pmm_alloc();
        if (!buf)
            return false;
        for (unsigned k = 0; k < 2; k++) {
            q->buffer[i + k] = (uint8_t *)P2V(buf) + k * NIC_BUFFER_SIZE;
            q->desc[i + k] = (struct vring_desc){.addr = buf + k * NIC_BUFFER_SIZE, .len = NIC_BUFFER_SIZE};
        }
    }
    c->queue_enable = 1;
    return true;
}

static void avail_push(struct virtq *q, uint16_t desc)
{
    q->avail[2 + q->next_avail % NIC_QUEUE_SIZE] = desc;
    q->next_avail++;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);        // the ring entry before the index
    q->avail[1] = q->next_avail;
}

static void kick(struct virtq *q)
{
    arch_dma_wmb();         // the ring and its index before the doorbell (dsb st on aarch64)
    *q->notify = q->index;
}

bool virtio_net_init(struct nic *n, struct pci_device *d)
{
    uint32_t multiplier = 0;
    n->common = (volatile struct virtio_common *)find_structure(d, VIRTIO_CAP_COMMON, NULL);
    n->notify_base = find_structure(d, VIRTIO_CAP_NOTIFY, &multiplier);
    n->isr = (volatile uint8_t *)find_structure(d, VIRTIO_CAP_ISR, NULL);
    volatile uint8_t *config = (volatile uint8_t *)find_structure(d, VIRTIO_CAP_DEVICE, NULL);
    n->notify_multiplier = multiplier;
    if (!n->common || !n->notify_base || !n->isr || !config)
        return false;
    uint32_t cmd = arch_pci_config_read(d->bdf, MF_PCI_COMMAND, 2);
    arch_pci_config_write(d->bdf, MF_PCI_COMMAND, 2, cmd | MF_PCI_COMMAND_MEMORY | MF_PCI_COMMAND_BUS_MASTER);
    volatile struct virtio_common *c = n->common;
    c->device_status = 0;
    while (c->device_status != 0)
        cpu_relax();
    c->device_status = VIRTIO_STATUS_ACKNOWLEDGE;
    c->device_status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
    c->device_feature_select = 0;
    uint64_t offered = c->device_feature;
    c->device_feature_select = 1;
    offered |= (uint64_t)c->device_feature << 32;
    uint64_t wanted = VIRTIO_F_VERSION_1 | FEATURE_MAC;
    if ((offered & wanted) != wanted)
        goto failed;
    c->driver_feature_select = 0;
    c->driver_feature = (uint32_t)wanted;
    c->driver_feature_select = 1;
    c->driver_feature = (uint32_t)(wanted >> 32);
    c->device_status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
    if (!(c->device_status & VIRTIO_STATUS_FEATURES_OK))
        goto failed;
    c->msix_config = VIRTIO_NO_VECTOR;
    n->rx.index = 0;
    n->tx.index = 1;
    if (!queue_setup(n, &n->rx, 0) || !queue_setup(n, &n->tx, 1))
        goto failed;
    for (unsigned i = 0; i < 6; i++)
        n->mac[i] = config[i];
    for (unsigned i = 0; i < NIC_QUEUE_SIZE; i++) {
        n->rx.desc[i].flags = VRING_DESC_WRITE;
        avail_push(&n->rx, (uint16_t)i);
    }
    n->tx_free = NIC_QUEUE_SIZE;
    for (unsigned i = 0; i < NIC_QUEUE_SIZE; i++)
        n->tx_free_list[i] = (uint16_t)i;
    c->device_status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;
    kick(&n->rx);
    return true;
failed:
    c->device_status = VIRTIO_STATUS_FAILED;
    return false;
}

// Buffers the device finished transmitting go back to the free list.
static void tx_reclaim(struct nic *n)
{
    struct virtq *q = &n->tx;
    while (q->last_used != q->used->idx) {
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        uint32_t id = q->used->ring[q->last_used % NIC_QUEUE_SIZE].id;
        q->last_used++;
        if (id < NIC_QUEUE_SIZE)
            n->tx_free_list[n->tx_free++] = (uint16_t)id;
    }
}

bool virtio_net_transmit(struct nic *n, const void *frame, size_t len)
{
    tx_reclaim(n);
    if (!n->tx_free || len > NIC_BUFFER_SIZE - NET_HDR)
        return false;
    uint16_t id = n->tx_free_list[--n->tx_free];
    uint8_t *buf = n->tx.buffer[id];
    memset(buf, 0, NET_HDR);
    memcpy(buf + NET_HDR, frame, len);
    n->tx.desc[id].len = (uint32_t)(NET_HDR + len);
    n->tx.desc[id].flags = 0;
    avail_push(&n->tx, id);
    kick(&n->tx);
    return true;
}

unsigned virtio_net_receive(struct nic *n, void (*deliver)(struct nic *, const uint8_t *, size_t))
{
    struct virtq *q = &n->rx;
    unsigned count = 0;
    (void)*n->isr;          // reading it acknowledges an INTx interrupt
    while (q->last_used != q->used->idx) {
        __atomic_thread_fence(__ATOMIC_ACQUIRE);      // the index before the entry
        uint32_t id = q->used->ring[q->last_used % NIC_QUEUE_SIZE].id;
        uint32_t len = q->used->ring[q->last_used % NIC_QUEUE_SIZE].len;
        struct vring_used_elem e = {id, len};
        q->last_used++;
        if (e.id >= NIC_QUEUE_SIZE)
            continue;
        if (e.len > NET_HDR && e.len <= NIC_BUFFER_SIZE)
            deliver(n, q->buffer[e.id] + NET_HDR, e.len - NET_HDR);
        count++;
        avail_push(q, (uint16_t)e.id);
    }
    if (count)
        kick(q);
    tx_reclaim(n);
    return count;
}
