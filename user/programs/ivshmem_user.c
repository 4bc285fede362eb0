// The ivshmem driver in a program of its own, as the shell's `run` starts
// one: it finds the devices through the PCI device caps its spawner copied
// into its CSpace (slots MF_CAP_DEVICE_BASE..) and takes its IRQ and
// notification caps from its own untyped (slot 16) into slots 240.. .
// For each device it checks the host's magic word, stores `arg` XOR the
// host's nonce at offset 24 (the spawner checks it) and, with a doorbell,
// rings itself and waits for the interrupt. With bit 0 of `arg` set the
// last device stays open (mapped, bound) when the program ends: the kernel
// must tear that down. Exit status 0, or the step that failed.
#include "manifold.h"
#include "ivshmem.h"

#define HOST_MAGIC 0x4d414e49464f4c44ul

int main(uint64_t arg)
{
    unsigned n = ivshmem_count();
    if (n == 0)
        return 1;
    for (unsigned i = 0; i < n; i++) {
        struct ivshmem dev;
        if (ivshmem_open(&dev, i) != 0)
            return 2;
        volatile uint64_t *w = (volatile uint64_t *)dev.shm;
        if (w[0] != HOST_MAGIC)
            return 3;
        w[3] = w[1] ^ arg;
        if (dev.has_doorbell) {
            if (ivshmem_ring(&dev, (unsigned)dev.peer_id, 0) != 0)
                return 4;
            if (ivshmem_wait(&dev, 200) != 0)
                return 5;
        }
        if (!(arg & 1) || i + 1 < n)
            ivshmem_close(&dev);
    }
    printf("ivshmem_user: %u device(s) used\n", n);
    return 0;
}
