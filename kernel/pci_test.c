// Self-tests of what the PCI layer hands out: never RAM as device memory.
#include "kernel/ktest.h"
#include "kernel/pci.h"
#include "kernel/pmm.h"

KTEST(pci_device_ranges_are_never_ram)
{
    paddr_t page = pmm_alloc();
    KCHECK(page);
    bool ram_refused = !pci_range_is_device(page, PAGE_SIZE) && !pci_range_is_device(page - PAGE_SIZE, 2 * PAGE_SIZE);
    pmm_free(page);
    KCHECK(ram_refused);
    KCHECK(!pci_range_is_device(0xfd000000, 0));            // empty
    KCHECK(!pci_range_is_device(~0ull - PAGE_SIZE, 2 * PAGE_SIZE));   // wraps
    // Every memory BAR the firmware assigned lies outside RAM.
    for (unsigned i = 0; i < pci_device_count; i++)
        for (unsigned b = 0; b < MF_PCI_BAR_COUNT; b++) {
            const struct pci_bar *bar = &pci_devices[i].bar[b];
            if (bar->size && (bar->flags & MF_PCI_BAR_MEM) && bar->base)
                KCHECK(pci_range_is_device(bar->base, bar->size));
        }
    return NULL;
}
