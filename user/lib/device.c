// PCI device and IRQ capabilities, and addresses for device mappings.
#include "manifold.h"

long mf_notification_wait_timeout(long n, uint64_t ticks)
{
    return mf_invoke(n, MF_NOTIFICATION_WAIT_TIMEOUT, (long)ticks, 0, 0, 0);
}

long mf_pci_config_read(long dev, unsigned offset, unsigned size)
{
    return mf_invoke(dev, MF_PCI_CONFIG_READ, offset, size, 0, 0);
}

long mf_pci_set_command(long dev, unsigned bits)
{
    return mf_invoke(dev, MF_PCI_SET_COMMAND, bits, 0, 0, 0);
}

long mf_pci_bar_info(long dev, unsigned bar, struct mf_pci_bar *out)
{
    return mf_invoke(dev, MF_PCI_BAR_INFO, bar, (long)out, 0, 0);
}

long mf_pci_map_bar(long dev, unsigned bar, unsigned flags, uint64_t offset, uint64_t size, uint64_t va)
{
    return mf_invoke(dev, MF_PCI_MAP_BAR, (long)(bar | flags), (long)offset, (long)size, (long)va);
}

long mf_pci_unmap_bar(long dev, unsigned bar, uint64_t va, uint64_t size)
{
    return mf_invoke(dev, MF_PCI_UNMAP_BAR, bar, (long)va, (long)size, 0);
}

long mf_pci_get_irq(long dev, long dst_cnode, long dst_index)
{
    return mf_invoke(dev, MF_PCI_GET_IRQ, dst_cnode, dst_index, 0, 0);
}

long mf_pci_dma_address(long dev, long frame)
{
    return mf_invoke(dev, MF_PCI_DMA_ADDRESS, frame, 0, 0, 0);
}

bool mf_pci_is_virtio_net(long dev)
{
    long id = mf_pci_config_read(dev, MF_PCI_DEVICE_ID, 2);
    return mf_pci_config_read(dev, MF_PCI_VENDOR_ID, 2) == 0x1af4 && (id == 0x1000 || id == 0x1041);
}

long mf_virtio_net_nic(unsigned n)
{
    struct mf_system_info si;
    if (mf_system_info(&si) < 0)
        return -E_NOENT;
    for (unsigned i = 0; i < si.device_count; i++)
        if (mf_pci_is_virtio_net(MF_CAP_DEVICE_BASE + i) && n-- == 0)
            return MF_CAP_DEVICE_BASE + i;
    return -E_NOENT;
}

long mf_irq_bind(long irq, long notification) { return mf_invoke(irq, MF_IRQ_BIND, notification, 0, 0, 0); }
long mf_irq_ack(long irq) { return mf_invoke(irq, MF_IRQ_ACK, 0, 0, 0, 0); }
long mf_irq_unbind(long irq) { return mf_invoke(irq, MF_IRQ_UNBIND, 0, 0, 0, 0); }
long mf_irq_info(long irq) { return mf_invoke(irq, MF_IRQ_INFO, 0, 0, 0, 0); }

static uint64_t device_va_next = MF_DEVICE_WINDOW_BASE;

uint64_t mf_device_va_alloc(uint64_t size)
{
    const uint64_t big = 2ul << 20;
    size = (size + 4095) & ~4095ul;
    uint64_t va = size >= big ? (device_va_next + big - 1) & ~(big - 1) : device_va_next;
    if (va >= MF_DEVICE_WINDOW_END || MF_DEVICE_WINDOW_END - va < size)
        return 0;
    device_va_next = va + size;
    return va;
}

void mf_device_va_free(uint64_t va, uint64_t size)
{
    size = (size + 4095) & ~4095ul;
    if (va + size == device_va_next)
        device_va_next = va;
}
