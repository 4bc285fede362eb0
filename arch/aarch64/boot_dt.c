// The machine description from a flattened device tree: memory, the PL011,
// the GIC, PCIe ECAM, PSCI, CPUs and the initrd GRUB recorded in /chosen.
// Runs in the UEFI stub (physical addresses).
#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/fdt.h"
#include "kernel/boot.h"

#pragma GCC optimize("no-tree-loop-distribute-patterns")   // see fdt.c

uint64_t a64_cpu_mpidr[A64_MAX_CPUS];
unsigned a64_cpu_count;

static bool streq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

static void scan_chosen(const struct fdt_node *n, struct boot_extra *x)
{
    uint32_t ls, le;
    const void *s = fdt_prop(n, "linux,initrd-start", &ls);
    const void *e = fdt_prop(n, "linux,initrd-end", &le);
    if (s && e && (ls == 4 || ls == 8) && (le == 4 || le == 8)) {   // u32 or u64
        x->initrd_start = fdt_cells(s, ls / 4);
        x->initrd_end = fdt_cells(e, le / 4);
    }
}

static void scan_gic(const struct fdt_node *n, struct boot_info *bi, unsigned version)
{
    uint64_t base, size;
    if (bi->intc_version || !fdt_reg(n, 0, &base, &size))
        return;
    bi->intc_version = version;
    bi->intc_dist_base = base;
    // v3: reg[1] = first redistributor region; v2: reg[1] = CPU interface.
    if (fdt_reg(n, 1, &base, &size))
        bi->intc_cpu_base = base;
}

bool boot_dt_scan(const void *fdt, struct boot_info *bi, struct boot_extra *x)
{
    struct fdt_node n;
    uint64_t base, size;
    bool described = false;
    if (!fdt_size(fdt))
        return false;
    fdt_begin(&n, fdt);
    while (fdt_next(&n)) {
        if (n.depth == 1 && streq(n.name, "chosen")) {
            scan_chosen(&n, x);
            continue;
        }
        const char *type = fdt_prop(&n, "device_type", NULL);
        if (type && streq(type, "memory") && fdt_enabled(&n)) {
            for (unsigned i = 0; fdt_reg(&n, i, &base, &size) && x->mem_count < ARRAY_SIZE(x->mem); i++)
                if (size)
                    x->mem[x->mem_count++] = (struct phys_range){base, base + size};
            continue;
        }
        if (type && streq(type, "cpu") && fdt_parent_is(&n, "cpus") && fdt_enabled(&n)) {
            if (fdt_reg(&n, 0, &base, &size) && a64_cpu_count < A64_MAX_CPUS)
                a64_cpu_mpidr[a64_cpu_count++] = base & MPIDR_AFFINITY;
            bi->cpu_count++;
            continue;
        }
        if (!fdt_enabled(&n))
            continue;
        if (fdt_compatible(&n, "arm,pl011") && !bi->uart_base && fdt_reg(&n, 0, &base, &size)) {
            bi->uart_base = base;
            described = true;
        } else if (fdt_compatible(&n, "arm,gic-v3")) {
            scan_gic(&n, bi, 3);
            described = true;
        } else if (fdt_compatible(&n, "arm,cortex-a15-gic") || fdt_compatible(&n, "arm,gic-400") ||
                   fdt_compatible(&n, "arm,cortex-a9-gic")) {
            scan_gic(&n, bi, 2);
            described = true;
        } else if (fdt_compatible(&n, "pci-host-ecam-generic") && !bi->pcie_ecam_base &&
                   fdt_reg(&n, 0, &base, &size)) {
            bi->pcie_ecam_base = base;
            bi->pcie_ecam_size = size;
        } else if (fdt_compatible(&n, "arm,psci") || fdt_compatible(&n, "arm,psci-0.2") ||
                   fdt_compatible(&n, "arm,psci-1.0")) {
            const char *m = fdt_prop(&n, "method", NULL);
            if (m)
                a64_psci_conduit = streq(m, "smc") ? PSCI_SMC : streq(m, "hvc") ? PSCI_HVC : PSCI_NONE;
        }
    }
    return described;
}
