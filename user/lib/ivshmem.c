// The ivshmem driver (ivshmem.h): all of it runs in user space, with a PCI
// device capability for the configuration space and BARs, and the device's
// IRQ capability bound to a notification for the doorbell interrupt.
#include "ivshmem.h"
#include "manifold.h"
#include "lib/string.h"

static bool is_ivshmem(long slot)
{
    if ((mf_cnode_identify(MF_CAP_SELF_CNODE, slot) & 0xff) != MF_OBJ_PCI_DEVICE)
        return false;
    return mf_pci_config_read(slot, MF_PCI_VENDOR_ID, 2) == IVSHMEM_VENDOR &&
           mf_pci_config_read(slot, MF_PCI_DEVICE_ID, 2) == IVSHMEM_DEVICE;
}

unsigned ivshmem_count(void)
{
    unsigned n = 0;
    for (long s = MF_CAP_DEVICE_BASE; s < MF_CAP_DEVICE_BASE + MF_DEVICE_MAX; s++)
        n += is_ivshmem(s);
    return n;
}

static long find(unsigned index)
{
    for (long s = MF_CAP_DEVICE_BASE; s < MF_CAP_DEVICE_BASE + MF_DEVICE_MAX; s++)
        if (is_ivshmem(s) && index-- == 0)
            return s;
    return -E_NOENT;
}

// Maps a whole BAR at a fresh address of the device window.
static long map_bar(long device, unsigned bar, uint64_t *va, uint64_t *size)
{
    struct mf_pci_bar info;
    long r = mf_pci_bar_info(device, bar, &info);
    if (r < 0)
        return r;
    if (!info.size || !(info.flags & MF_PCI_BAR_MEM))
        return -E_NOENT;
    uint64_t bytes = (info.size + 4095) & ~4095ul;
    // BAR2 is the shared RAM: cacheable is right (QEMU keeps it coherent
    // with the host file); registers are always uncached.
    unsigned flags = info.flags & MF_PCI_BAR_PREFETCH ? MF_PCI_MAP_CACHED : 0;
    uint64_t at = mf_device_va_alloc(bytes);
    if (!at)
        return -E_NOMEM;
    r = mf_pci_map_bar(device, bar, flags, 0, bytes, at);
    if (r < 0) {
        mf_device_va_free(at, bytes);
        return r;
    }
    *va = at;
    *size = info.size;
    return 0;
}

static long setup_doorbell(struct ivshmem *dev)
{
    long irq = mf_slot_alloc();
    if (irq < 0)
        return irq;
    long r = mf_pci_get_irq(dev->device, MF_CAP_SELF_CNODE, irq);
    if (r < 0) {
        mf_slot_free(irq);
        return r == -E_NOENT ? 0 : r;    // no interrupt pin: ivshmem-plain
    }
    dev->irq = irq;
    long n = mf_new(MF_OBJ_NOTIFICATION, 0);
    if (n < 0)
        return n;
    dev->notification = n;
    dev->regs[IVSHMEM_INTR_MASK / 4] = 1;           // vector 0 raises INTx
    (void)dev->regs[IVSHMEM_INTR_STATUS / 4];       // forget anything before now
    if ((r = mf_irq_bind(irq, n)) < 0)
        return r;
    dev->msi = (mf_irq_info(irq) & MF_IRQ_INFO_MSI) != 0;
    dev->has_doorbell = true;
    dev->peer_id = (int)dev->regs[IVSHMEM_IV_POSITION / 4];
    return 0;
}

long ivshmem_open(struct ivshmem *dev, unsigned index)
{
    memset(dev, 0, sizeof(*dev));
    dev->peer_id = -1;
    long slot = find(index);
    if (slot < 0)
        return slot;
    dev->device = slot;
    long cmd = mf_pci_config_read(slot, MF_PCI_COMMAND, 2);
    if (cmd < 0)
        return cmd;
    // Firmware may leave decoding off (EDK2 on aarch64 virt does).
    long r = mf_pci_set_command(slot, ((unsigned)cmd & MF_PCI_COMMAND_SAFE) | MF_PCI_COMMAND_MEMORY);
    if (r < 0)
        return r;
    uint64_t regs_va, shm_va;
    if ((r = map_bar(slot, 0, &regs_va, &dev->regs_size)) < 0)
        return r;
    dev->regs = (volatile uint32_t *)regs_va;
    if ((r = map_bar(slot, 2, &shm_va, &dev->size)) < 0) {
        ivshmem_close(dev);
        return r;
    }
    dev->shm = (volatile void *)shm_va;
    if ((r = setup_doorbell(dev)) < 0) {
        ivshmem_close(dev);
        return r;
    }
    return 0;
}

long ivshmem_ring(struct ivshmem *dev, unsigned peer, unsigned vector)
{
    if (!dev->has_doorbell)
        return -E_INVAL;
    if (peer > 0xffff || vector > 0xff)
        return -E_RANGE;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);        // our stores to shm before the peer hears
    dev->regs[IVSHMEM_DOORBELL / 4] = peer << 16 | vector;
    return 0;
}

long ivshmem_wait(struct ivshmem *dev, uint64_t timeout_ticks)
{
    if (!dev->has_doorbell)
        return -E_INVAL;
    long deadline = timeout_ticks ? mf_time() + (long)timeout_ticks : 0;
    for (;;) {
        long r;
        if (!deadline) {
            r = mf_notification_wait(dev->notification);
        } else {
            long left = deadline - mf_time();
            if (left <= 0)
                return -E_AGAIN;
            r = mf_notification_wait_timeout(dev->notification, (uint64_t)left);
        }
        if (r < 0)
            return r;
        // MSI-X (ivshmem-doorbell in QEMU 7.2 always): the message was the
        // doorbell; the ack unmasks the vector, and a doorbell rung since
        // was held pending by the device and comes now. INTx: reading
        // IntrStatus lowers the line; a doorbell after the read raises it
        // again and signals anew once the ack unmasks it.
        uint32_t status = dev->msi ? 1 : dev->regs[IVSHMEM_INTR_STATUS / 4];
        mf_irq_ack(dev->irq);
        if (status) {
            __atomic_thread_fence(__ATOMIC_SEQ_CST);    // the ringer's stores after the ring
            dev->interrupts++;
            return 0;
        }
        // Another device on a shared line: keep waiting.
    }
}

void ivshmem_close(struct ivshmem *dev)
{
    if (dev->irq) {
        mf_slot_free(dev->irq);          // unbinds; the line stays masked
        if (dev->regs)
            dev->regs[IVSHMEM_INTR_MASK / 4] = 0;
    }
    if (dev->notification)
        mf_slot_free(dev->notification);
    uint64_t shm_bytes = (dev->size + 4095) & ~4095ul, reg_bytes = (dev->regs_size + 4095) & ~4095ul;
    if (dev->shm) {
        mf_pci_unmap_bar(dev->device, 2, (uint64_t)(uintptr_t)dev->shm, shm_bytes);
        mf_device_va_free((uint64_t)(uintptr_t)dev->shm, shm_bytes);
    }
    if (dev->regs) {
        mf_pci_unmap_bar(dev->device, 0, (uint64_t)(uintptr_t)dev->regs, reg_bytes);
        mf_device_va_free((uint64_t)(uintptr_t)dev->regs, reg_bytes);
    }
    memset(dev, 0, sizeof(*dev));
    dev->peer_id = -1;
}
