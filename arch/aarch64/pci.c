// PCI configuration space through ECAM (PCIe enhanced configuration
// access): function bdf's 4 KiB are at base + (bdf << 12). The window comes
// from ACPI MCFG or the device tree's pci-host-ecam-generic node
// (boot_acpi.c, boot_dt.c) and is mapped as device memory.
//
// INTx on QEMU's virt machine (hw/arm/virt.c, create_pcie_irq_map; the
// ACPI _PRT and the DT interrupt-map say the same): the host bridge wires
// INTA..INTD of slot s on bus 0 to GIC SPIs 3..6 swizzled, SPI 3 +
// (s + pin - 1) % 4, i.e. INTID 35..38, level-sensitive, active high.
#include "arch/aarch64/aarch64.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/vm.h"

#define ECAM_BUSES_MAPPED 8          // 1 MiB of ECAM per bus
#define VIRT_ECAM_HIGH 0x4010000000ul  // virt's ECAM (highmem) ...
#define VIRT_ECAM_LOW  0x3f000000ul    // ... and without highmem
#define VIRT_PCIE_SPI_INTID 35         // SPI 3

static uintptr_t ecam;
static unsigned ecam_buses;
static bool virt_machine;

unsigned arch_pci_init(const struct boot_info *bi)
{
    if (!bi->pcie_ecam_size)
        return 0;
    ecam_buses = (unsigned)(bi->pcie_ecam_size >> 20);
    if (ecam_buses > ECAM_BUSES_MAPPED)
        ecam_buses = ECAM_BUSES_MAPPED;
    ecam = (uintptr_t)vm_map_device(bi->pcie_ecam_base, (size_t)ecam_buses << 20);
    virt_machine = bi->pcie_ecam_base == VIRT_ECAM_HIGH || bi->pcie_ecam_base == VIRT_ECAM_LOW;
    gic_msi_init(bi);
    return ecam_buses;
}

uint32_t arch_pci_config_read(uint32_t bdf, unsigned offset, unsigned size)
{
    if (bdf >> 8 >= ecam_buses)
        return size == 4 ? ~0u : (1u << 8 * size) - 1;
    uintptr_t a = ecam + ((uintptr_t)bdf << 12) + offset;
    if (size == 1)
        return *(volatile uint8_t *)a;
    if (size == 2)
        return *(volatile uint16_t *)a;
    return *(volatile uint32_t *)a;
}

void arch_pci_config_write(uint32_t bdf, unsigned offset, unsigned size, uint32_t value)
{
    if (bdf >> 8 >= ecam_buses)
        return;
    uintptr_t a = ecam + ((uintptr_t)bdf << 12) + offset;
    if (size == 1)
        *(volatile uint8_t *)a = (uint8_t)value;
    else if (size == 2)
        *(volatile uint16_t *)a = (uint16_t)value;
    else
        *(volatile uint32_t *)a = value;
    dsb(sy);                        // the write reaches the device before what follows
}

int arch_pci_intx_line(uint32_t bdf, unsigned pin, unsigned line)
{
    (void)line;                     // firmware's guess for a PC; meaningless here
    if (!virt_machine || bdf >> 8 != 0)
        return -1;                  // behind a bridge the swizzle continues: not done
    unsigned slot = bdf >> 3 & 31;
    return (int)(VIRT_PCIE_SPI_INTID + (slot + pin - 1) % 4);
}
