// The machine description from ACPI, for firmware that offers no device tree
// (EDK2 on QEMU virt exposes only ACPI unless QEMU runs with acpi=off).
// Reads MADT (GIC, CPUs), SPCR (console UART), MCFG (PCIe ECAM) and FADT
// (PSCI conduit). Runs in the UEFI stub (physical addresses). ACPI tables
// are little-endian and their fields are not naturally aligned.
#include "arch/aarch64/aarch64.h"
#include "kernel/boot.h"

#pragma GCC optimize("no-tree-loop-distribute-patterns")   // see fdt.c

#define SDT_HEADER 36   // signature[4] length u32 revision checksum oem... creator...

static uint64_t le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static bool sig(const uint8_t *p, const char *s)
{
    return p[0] == s[0] && p[1] == s[1] && p[2] == s[2] && p[3] == s[3];
}

static bool checksum_ok(const uint8_t *p, uint64_t len)
{
    uint8_t sum = 0;
    for (uint64_t i = 0; i < len; i++)
        sum += p[i];
    return sum == 0;
}

// MADT entry types (ACPI 6.x, 5.2.12).
enum { MADT_GICC = 0xb, MADT_GICD = 0xc, MADT_GICMSI = 0xd, MADT_GICR = 0xe, MADT_ITS = 0xf };

static void scan_madt(const uint8_t *t, uint64_t len, struct boot_info *bi)
{
    paddr_t gicc_base = 0, gicr_base = 0, gicr_range = 0;
    for (uint64_t off = SDT_HEADER + 8; off + 2 <= len && t[off + 1] >= 2; off += t[off + 1]) {
        const uint8_t *e = t + off;
        if (e[0] == MADT_GICC && e[1] >= 76) {
            if (le(e + 12, 4) & 1) {                     // flags bit 0: enabled
                bi->cpu_count++;
                if (a64_cpu_count < A64_MAX_CPUS)
                    a64_cpu_mpidr[a64_cpu_count++] = le(e + 68, 8) & MPIDR_AFFINITY;
                if (!gicc_base)
                    gicc_base = le(e + 32, 8);           // GICv2 CPU interface
                if (!gicr_base)
                    gicr_base = le(e + 60, 8);           // GICv3 per-CPU redistributor
            }
        } else if (e[0] == MADT_GICD && e[1] >= 24) {
            bi->intc_dist_base = le(e + 8, 8);
            bi->intc_version = e[20];                    // 0 = unknown: decided below
        } else if (e[0] == MADT_GICMSI && e[1] >= 24 && !bi->msi_frame_base && (le(e + 16, 4) & 1)) {
            // GICv2m frame: base at 8; flags bit 0: SPI count (20) and base (22) given here.
            bi->msi_frame_base = le(e + 8, 8);
            bi->msi_spi_count = (unsigned)le(e + 20, 2);
            bi->msi_spi_base = (unsigned)le(e + 22, 2);
        } else if (e[0] == MADT_ITS && e[1] >= 20 && !bi->its_base) {
            bi->its_base = le(e + 8, 8);                 // GIC ITS: base at 8
        } else if (e[0] == MADT_GICR && e[1] >= 16 && !gicr_range) {
            gicr_range = le(e + 4, 8);                   // redistributor discovery range
        }
    }
    if (!bi->intc_version)
        bi->intc_version = gicr_range || gicr_base ? 3 : 2;
    if (bi->intc_version >= 3)
        bi->intc_cpu_base = gicr_range ? gicr_range : gicr_base;
    else
        bi->intc_cpu_base = gicc_base;
}

static void scan_table(const uint8_t *t, uint64_t len, struct boot_info *bi)
{
    if (sig(t, "APIC")) {
        scan_madt(t, len, bi);
    } else if (sig(t, "SPCR") && len >= 56) {
        // Interface type at 36 (3 = PL011, 0xe = SBSA generic UART, PL011
        // compatible); base address: generic address structure at 40, address at +4.
        if ((t[36] == 3 || t[36] == 0xe) && t[40] == 0)   // address space 0 = memory
            bi->uart_base = le(t + 44, 8);
    } else if (sig(t, "MCFG") && len >= 60) {
        // Allocation entries from 44: base u64, segment u16, start bus, end bus.
        const uint8_t *e = t + 44;
        bi->pcie_ecam_base = le(e, 8);
        bi->pcie_ecam_size = (uint64_t)(e[11] - e[10] + 1) << 20;
    } else if (sig(t, "FACP") && len >= 131) {
        // ARM boot architecture flags at 129: bit 0 PSCI compliant, bit 1 use HVC.
        uint64_t arm_flags = le(t + 129, 2);
        if (arm_flags & 1)
            a64_psci_conduit = arm_flags & 2 ? PSCI_HVC : PSCI_SMC;
    }
}

bool boot_acpi_scan(paddr_t rsdp_pa, struct boot_info *bi)
{
    const uint8_t *rsdp = (const uint8_t *)(uintptr_t)rsdp_pa;
    // RSDP: "RSD PTR ", revision at 15 (2 = ACPI 2.0+), length at 20, XSDT at 24.
    if (!rsdp || !sig(rsdp, "RSD ") || rsdp[15] < 2 || !checksum_ok(rsdp, le(rsdp + 20, 4)))
        return false;
    const uint8_t *xsdt = (const uint8_t *)(uintptr_t)le(rsdp + 24, 8);
    uint64_t xlen = le(xsdt + 4, 4);
    if (!sig(xsdt, "XSDT") || !checksum_ok(xsdt, xlen))
        return false;
    bi->acpi_rsdp = rsdp_pa;
    for (uint64_t off = SDT_HEADER; off + 8 <= xlen; off += 8) {
        const uint8_t *t = (const uint8_t *)(uintptr_t)le(xsdt + off, 8);
        uint64_t len = t ? le(t + 4, 4) : 0;
        if (len >= SDT_HEADER && checksum_ok(t, len))
            scan_table(t, len, bi);
    }
    return bi->uart_base || bi->intc_version;
}
