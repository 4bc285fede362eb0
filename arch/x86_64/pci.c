// PCI configuration space through the legacy ports (configuration
// mechanism #1): the address goes to 0xCF8 (enable bit 31, bus 23:16,
// device 15:11, function 10:8, register 7:2), the data is at 0xCFC + the
// offset's low two bits. It reaches the first 256 bytes of every function
// on i440FX (QEMU -M pc, Bochs) and on q35 alike, so no MCFG is needed.
//
// SMP: selecting a register and moving the data are two port accesses, so
// each access holds a leaf ticket lock (callers already serialize on
// cap_lock; this keeps the mechanism safe on its own).
#include "arch/x86_64/x86.h"
#include "kernel/lockdep.h"
#include "kernel/arch.h"
#include "lib/spinlock.h"

static struct ticket_lock config_lock = {.lock_class = LOCK_CLASS_PCI_CONFIG};

#define PCI_ADDRESS 0xcf8
#define PCI_DATA    0xcfc

unsigned arch_pci_init(const struct boot_info *bi)
{
    (void)bi;
    outl(PCI_ADDRESS, 0x80000000u);
    return inl(PCI_ADDRESS) == 0x80000000u ? 256 : 0;   // the mechanism is there
}

static void select_register(uint32_t bdf, unsigned offset)
{
    outl(PCI_ADDRESS, 0x80000000u | bdf << 8 | (offset & 0xfc));
}

uint32_t arch_pci_config_read(uint32_t bdf, unsigned offset, unsigned size)
{
    ticket_lock(&config_lock);
    select_register(bdf, offset);
    uint32_t v = size == 1 ? inb((uint16_t)(PCI_DATA + (offset & 3)))
               : size == 2 ? inw((uint16_t)(PCI_DATA + (offset & 2)))
                           : inl(PCI_DATA);
    ticket_unlock(&config_lock);
    return v;
}

void arch_pci_config_write(uint32_t bdf, unsigned offset, unsigned size, uint32_t value)
{
    ticket_lock(&config_lock);
    select_register(bdf, offset);
    if (size == 1)
        outb((uint16_t)(PCI_DATA + (offset & 3)), (uint8_t)value);
    else if (size == 2)
        outw((uint16_t)(PCI_DATA + (offset & 2)), (uint16_t)value);
    else
        outl(PCI_DATA, value);
    ticket_unlock(&config_lock);
}
