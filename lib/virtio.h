// The virtio 1.0 PCI transport's structures (the virtio specification,
// sections 2.6 and 4.1), for both drivers of the project: the kernel's
// virtio-net (kernel/virtio_net.c) and the user-level virtio-blk
// (user/lib/virtio_blk.c).
#pragma once
#include <stdbool.h>
#include <stdint.h>

// Configuration-space capability (vendor-specific, id 9): which structure
// it locates, as BAR + offset.
enum { VIRTIO_CAP_COMMON = 1, VIRTIO_CAP_NOTIFY = 2, VIRTIO_CAP_ISR = 3, VIRTIO_CAP_DEVICE = 4 };

// The common configuration structure.
struct virtio_common {
    uint32_t device_feature_select, device_feature;
    uint32_t driver_feature_select, driver_feature;
    uint16_t msix_config, num_queues;
    uint8_t device_status, config_generation;
    uint16_t queue_select, queue_size, queue_msix_vector, queue_enable, queue_notify_off;
    uint64_t queue_desc, queue_driver, queue_device;
} __attribute__((packed));

enum {
    VIRTIO_STATUS_ACKNOWLEDGE = 1, VIRTIO_STATUS_DRIVER = 2, VIRTIO_STATUS_DRIVER_OK = 4,
    VIRTIO_STATUS_FEATURES_OK = 8, VIRTIO_STATUS_FAILED = 128,
};
#define VIRTIO_F_VERSION_1 (1ull << 32)
#define VIRTIO_NO_VECTOR 0xffff

// A split virtqueue's descriptor and used-ring element.
struct vring_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};
#define VRING_DESC_NEXT 1
#define VRING_DESC_WRITE 2      // the device writes the buffer

struct vring_used_elem {
    uint32_t id, len;
};

// Where a structure of `type` (VIRTIO_CAP_*) is: the vendor-specific
// capability (id 9) naming it in configuration space.
struct virtio_cap {
    unsigned bar;
    uint32_t offset, length;
    uint32_t extra;         // VIRTIO_CAP_NOTIFY: the notify offset multiplier
};
// Reads `size` bytes (1, 2, 4) at `offset` of the device's configuration
// space: the kernel through the arch's accessors, a driver through its
// device cap.
typedef long (*virtio_config_read)(void *ctx, unsigned offset, unsigned size);
// The first capability of `type` (lib/virtio.c): true and *out, or false.
bool virtio_find_cap(virtio_config_read read, void *ctx, unsigned type, struct virtio_cap *out);
