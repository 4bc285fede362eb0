// The virtio PCI capability walk (lib/virtio.h), shared by the kernel's
// virtio-net driver and the user-level virtio-blk driver: each reads
// configuration space its own way.
#include "lib/virtio.h"

bool virtio_find_cap(virtio_config_read read, void *ctx, unsigned type, struct virtio_cap *out)
{
    if (!(read(ctx, 0x06, 2) & 0x10))
        return false;                       // no capability list
    unsigned p = (unsigned)read(ctx, 0x34, 1) & 0xfc;
    for (unsigned n = 0; p >= 0x40 && n < 48; n++, p = (unsigned)read(ctx, p + 1, 1) & 0xfc) {
        if (read(ctx, p, 1) != 0x09 || read(ctx, p + 3, 1) != (long)type)
            continue;
        out->bar = (unsigned)read(ctx, p + 4, 1);
        out->offset = (uint32_t)read(ctx, p + 8, 4);
        out->length = (uint32_t)read(ctx, p + 12, 4);
        out->extra = (uint32_t)read(ctx, p + 16, 4);    // notify: the offset multiplier
        return true;
    }
    return false;
}
