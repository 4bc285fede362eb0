// PCI device and IRQ capabilities, and the resources drivers draw on.
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

long mf_irq_bind(long irq, long notification) { return mf_invoke(irq, MF_IRQ_BIND, notification, 0, 0, 0); }
long mf_irq_ack(long irq) { return mf_invoke(irq, MF_IRQ_ACK, 0, 0, 0, 0); }
long mf_irq_unbind(long irq) { return mf_invoke(irq, MF_IRQ_UNBIND, 0, 0, 0, 0); }
long mf_irq_info(long irq) { return mf_invoke(irq, MF_IRQ_INFO, 0, 0, 0, 0); }

static long driver_untyped = MF_CAP_UNTYPED_BASE;
static long driver_first = MF_CAP_DRIVER_SLOTS, driver_count = MF_DRIVER_SLOT_COUNT;

void mf_driver_set_resources(long untyped, long first_slot, long slot_count)
{
    driver_untyped = untyped;
    driver_first = first_slot;
    driver_count = slot_count;
}

long mf_driver_untyped(void) { return driver_untyped; }

long mf_driver_alloc_slot(void)
{
    for (long s = driver_first; s < driver_first + driver_count; s++)
        if (mf_cnode_identify(MF_CAP_SELF_CNODE, s) == 0)
            return s;
    return -E_NOMEM;
}

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
