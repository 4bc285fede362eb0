// Network interfaces the kernel drives, and packet-filter bindings that
// demultiplex their frames to library OSes (kernel/net.c, docs/exokernel.md).
#pragma once
#include "kernel/cap.h"
#include "lib/spinlock.h"
#include "include/manifold/net.h"

struct pci_device;
struct packet_filter;
struct virtio_common;
struct vring_desc;

#define NIC_MAX 4
#define NIC_QUEUE_SIZE 64
#define NIC_BUFFER_SIZE 2048
#define NIC_FILTERS 16      // bindings per NIC

struct vring_used_head {
    uint16_t flags, idx;
    struct { uint32_t id, len; } ring[NIC_QUEUE_SIZE];
};

struct virtq {
    unsigned index;
    struct vring_desc *desc;
    volatile uint16_t *avail;                   // flags, idx, ring[NIC_QUEUE_SIZE]
    volatile struct vring_used_head *used;
    volatile uint16_t *notify;
    uint16_t last_used, next_avail;
    uint8_t *buffer[NIC_QUEUE_SIZE];            // kernel addresses of the descriptors' buffers
};

struct nic {
    struct pci_device *device;
    uint8_t mac[6];
    bool msix;
    // lock: the queues, the filter table and every binding's ring and
    // notification pointers. Taken in the interrupt handler (which holds
    // irq_lock) and under cap_lock by invocations; then a notification's
    // lock (signals). Order: cap_lock, irq_lock, NIC, notification.
    struct mcs_lock lock;
    struct packet_filter *filters[NIC_FILTERS];
    uint64_t unclaimed;         // frames no binding's filter matched
    volatile struct virtio_common *common;
    volatile void *notify_base;
    uint32_t notify_multiplier;
    volatile uint8_t *isr;
    struct virtq rx, tx;
    uint16_t tx_free_list[NIC_QUEUE_SIZE];
    unsigned tx_free;
};

// kernel/virtio_net.c: the device (n->device set; n->msix when its
// interrupt is MSI-X). The NIC lock is held for the last two.
bool virtio_net_init(struct nic *n, struct pci_device *d);
bool virtio_net_transmit(struct nic *n, const void *frame, size_t len);
unsigned virtio_net_receive(struct nic *n, void (*deliver)(struct nic *, const uint8_t *, size_t));

// pci_init: a virtio-net function the kernel will drive; true when it does
// (its device cap then refuses BAR mappings, the IRQ and command changes).
bool net_attach(struct pci_device *d);
// kbench (kernel/smp_bench.c): the cycles to find a frame's owner among
// `count` bindings whose filters are tried in turn, the owner last; false
// if the owner found was ever wrong.
bool net_demux_bench(unsigned count, uint64_t *out, unsigned samples, unsigned warmup, uint64_t overhead);
// The frame type's cap_deleted hook and the notification type's: a
// binding's own ring or notification copy is going.
void net_frame_deleted(const struct slot *s);
void net_notification_deleted(const struct slot *s);
