// A virtio-blk disk driven from user space (docs/devices.md "virtio-blk"):
// the PCI device cap for configuration space, BARs and bus mastering, two
// frames of the caller's for the queue and the data, whose bus addresses
// MF_PCI_DMA_ADDRESS gives. virtio 1.0 PCI transport, one request queue of
// VIRTIO_BLK_QUEUE entries, one request at a time. Completion by the
// queue's MSI-X interrupt (the device's IRQ cap bound to a notification),
// or, where the device has no MSI-X, by polling the used ring. Any device QEMU calls
// virtio-blk-pci; tools/qemu gives tests one with serial "manifold-data".
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define VIRTIO_BLK_SECTOR 512u
#define VIRTIO_BLK_MAX_SECTORS 8u        // per request: one 4 KiB data frame
#define VIRTIO_BLK_QUEUE 8u
#define VIRTIO_BLK_SERIAL 20u            // bytes of GET_ID's answer

struct virtio_blk {
    long device;                        // the PCI device cap
    long vas, segment, queue_frame, data_frame;     // ours, from mf_new
    volatile void *common, *device_cfg; // mapped BAR structures
    volatile uint16_t *notify;          // the request queue's doorbell
    volatile uint8_t *queue;            // descriptors, rings, request header, status
    uint8_t *data;
    uint64_t queue_bus, data_bus;       // what the device is told
    uint64_t capacity;                  // in sectors
    uint16_t next_avail, last_used;
    bool broken;                        // a request timed out: the device was reset
    long irq, notification;             // MSI-X: the IRQ cap and what it signals (0: polling)
    uint64_t requests, errors;
    struct { uint64_t va, bytes; unsigned bar; } map[3];     // BAR windows, undone by close
    unsigned maps;
    char serial[VIRTIO_BLK_SERIAL + 1];
};

bool mf_pci_is_virtio_blk(long dev);
// The device cap of the virtio-blk disk whose serial is `serial` (NULL:
// the index-th disk), or -E_NOENT. Opens each candidate to ask.
long virtio_blk_find(const char *serial, unsigned index);
// Makes the driver's objects (mf_new), maps the queue and data frames at
// base, base + 4 KiB in a VAS of its own with our home attached, and moves
// the calling thread there (where it must stay while it uses the disk),
// resets and sets up the device. 0 or -E_*.
long virtio_blk_open(struct virtio_blk *b, long device, uint64_t base);
// count sectors from `sector` (count 1..VIRTIO_BLK_MAX_SECTORS, within the
// capacity, else -E_RANGE); -E_DEAD if the device reports an error, or
// does not answer within two seconds (then it is reset and every later
// request is -E_DEAD until the disk is opened again).
long virtio_blk_read(struct virtio_blk *b, uint64_t sector, void *buf, unsigned count);
long virtio_blk_write(struct virtio_blk *b, uint64_t sector, const void *buf, unsigned count);
// Resets the device (it stops using our frames), back home, objects deleted
// (the frames only if the device confirmed it stopped). A program that
// drives a device and is killed leaves it running: whoever holds the
// device cap next must open it (setup resets it first) or reset it.
void virtio_blk_close(struct virtio_blk *b);
