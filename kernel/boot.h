// What the architecture's boot code hands to kmain(): a portable summary of
// the firmware's description of the machine (multiboot2 on x86_64, UEFI and
// the device tree on aarch64). All addresses are physical.
#pragma once

#include "kernel/types.h"

#define BOOT_MAX_REGIONS 64
#define BOOT_MAX_MODULES 32
#define BOOT_NAME_MAX    32
#define BOOT_CMDLINE_MAX 256

struct boot_region {
    paddr_t base;
    uint64_t size;          // usable RAM only; firmware/reserved is left out
};

struct boot_module {
    char name[BOOT_NAME_MAX];    // e.g. "root", "hello"
    paddr_t base;
    uint64_t size;
};

struct boot_info {
    char cmdline[BOOT_CMDLINE_MAX];     // kernel command line ("mode=test ...")
    struct boot_region regions[BOOT_MAX_REGIONS];
    unsigned region_count;
    struct boot_module modules[BOOT_MAX_MODULES];
    unsigned module_count;
    paddr_t kernel_start, kernel_end;   // physical extent of the loaded image
    paddr_t reserved_start, reserved_end; // module/initrd data to keep out of the allocator
    paddr_t dtb;                        // device tree blob (aarch64), or 0
    paddr_t acpi_rsdp;                  // ACPI RSDP (x86_64), or 0
    // Devices found by the boot code or device tree (0 = use arch default).
    paddr_t uart_base;
    paddr_t intc_dist_base, intc_cpu_base;  // GIC distributor / CPU or redistributor
    unsigned intc_version;
    paddr_t msi_frame_base;             // aarch64: GICv2m MSI frame (ACPI MADT), or 0
    unsigned msi_spi_base, msi_spi_count;   // its SPIs, as INTIDs
    paddr_t its_base;                   // aarch64: GICv3 ITS (ACPI MADT), or 0
    paddr_t pcie_ecam_base;
    uint64_t pcie_ecam_size;
    unsigned cpu_count;                 // CPUs described by firmware
};
