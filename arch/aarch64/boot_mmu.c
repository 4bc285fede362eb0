// Boot page tables, built by the UEFI stub after ExitBootServices while it
// still runs at physical addresses on the firmware's identity map.
//
// TTBR1 (kernel half):
//   L0[256] PHYS_MAP: RAM as Normal in 1 GiB / 2 MiB blocks, device GiBs as Device-nGnRnE
//   L0[511] -> L1[510] KERNEL_BASE: the image in 4 KiB pages, text RX, rodata R, data RW+NX
// TTBR0: an identity map (1 GiB blocks) of the image, used only across the switch,
// then an all-invalid root. kernel/vm.c replaces all of this in vm_init().
#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/mmu.h"

#pragma GCC optimize("no-tree-loop-distribute-patterns")   // see fdt.c

#define ENTRIES 512
#define PHYS_L2_MAX  16     // GiBs of RAM not covered by whole 1 GiB blocks
#define IMAGE_L3_MAX 16     // 2 MiB of kernel image each: 32 MiB image+bss at most

typedef uint64_t table_t[ENTRIES] __attribute__((aligned(4096)));

static table_t kernel_l0, physmap_l1, physmap_l2[PHYS_L2_MAX];
static table_t image_l1, image_l2, image_l3[IMAGE_L3_MAX];
static table_t identity_l0, identity_l1, empty_l0;
static unsigned physmap_l2_used;

#define GIB (1ul << 30)
#define L0_INDEX(va) (((va) >> 39) & 511)
#define L1_INDEX(va) (((va) >> 30) & 511)
#define L2_INDEX(va) (((va) >> 21) & 511)
#define L3_INDEX(va) (((va) >> 12) & 511)

static uint64_t table_entry(void *table) { return (uint64_t)(uintptr_t)table | PTE_TABLE | PTE_VALID; }

static void fail(const char *what)
{
    a64_puts("manifold-efi: boot page tables: ");
    a64_puts(what);
    a64_puts("\n");
}

// Maps [base, end) of RAM at PHYS_MAP + pa, Normal, RW, no execute.
static int map_ram(uint64_t base, uint64_t end)
{
    base = ALIGN_DOWN(base, LARGE_PAGE_SIZE);
    end = ALIGN_UP(end, LARGE_PAGE_SIZE);
    for (uint64_t pa = base; pa < end;) {
        uint64_t gib = pa / GIB;
        if (gib >= ENTRIES) {
            fail("RAM above 512 GiB is not mapped");
            return 0;
        }
        uint64_t *l1e = &physmap_l1[gib];
        if (pa % GIB == 0 && end - pa >= GIB && !(*l1e & PTE_VALID)) {
            *l1e = pa | PTE_KERNEL_NORMAL | PTE_PXN;      // whole GiB: one block
            pa += GIB;
            continue;
        }
        if (*l1e & PTE_VALID && !(*l1e & PTE_TABLE)) {   // already a block
            pa = (gib + 1) * GIB;
            continue;
        }
        if (!(*l1e & PTE_VALID)) {
            if (physmap_l2_used == PHYS_L2_MAX) {
                fail("too many partially populated GiBs of RAM");
                return -1;
            }
            *l1e = table_entry(physmap_l2[physmap_l2_used++]);
        }
        uint64_t *l2 = (uint64_t *)(uintptr_t)(*l1e & PTE_ADDR_MASK);
        for (; pa < end && pa / GIB == gib; pa += LARGE_PAGE_SIZE)
            l2[L2_INDEX(pa)] = pa | PTE_KERNEL_NORMAL | PTE_PXN;
    }
    return 0;
}

// The kernel image at KERNEL_BASE in 4 KiB pages with per-section rights.
static int map_image(paddr_t image_pa)
{
    uint64_t size = (uint64_t)(__kernel_end - __kernel_start);
    uint64_t text = (uint64_t)(__text_end - __kernel_start);
    uint64_t rodata = (uint64_t)(__rodata_end - __kernel_start);
    if (size > IMAGE_L3_MAX * LARGE_PAGE_SIZE) {
        fail("kernel image larger than IMAGE_L3_MAX * 2 MiB");
        return -1;
    }
    kernel_l0[L0_INDEX(KERNEL_BASE)] = table_entry(image_l1);
    image_l1[L1_INDEX(KERNEL_BASE)] = table_entry(image_l2);
    for (uint64_t off = 0; off < size; off += PAGE_SIZE) {
        vaddr_t va = KERNEL_BASE + off;
        uint64_t *l2e = &image_l2[L2_INDEX(va)];
        if (!(*l2e & PTE_VALID))
            *l2e = table_entry(image_l3[off / LARGE_PAGE_SIZE]);
        uint64_t pte = (image_pa + off) | PTE_KERNEL_NORMAL | PTE_PAGE;
        if (off < text)
            pte |= PTE_AP_RO;                   // text (and the PE header): read + execute
        else if (off < rodata)
            pte |= PTE_AP_RO | PTE_PXN;         // rodata
        else
            pte |= PTE_PXN;                     // data, ksyms, bss: read/write
        image_l3[off / LARGE_PAGE_SIZE][L3_INDEX(va)] = pte;
    }
    return 0;
}

// TCR_EL1 from what the CPU supports.
static uint64_t tcr_value(void)
{
    uint64_t mmfr0 = read_sysreg(id_aa64mmfr0_el1);
    uint64_t parange = mmfr0 & 0xf;              // 0..5 = 32,36,40,42,44,48 bits; 6 = 52
    if (parange > 5)
        parange = 5;                             // 52-bit output needs LPA2 (TCR.DS): stay at 48
    uint64_t tcr = TCR_T0SZ(16) | TCR_T1SZ(16) | TCR_WALK0 | TCR_WALK1 |
                   TCR_TG0_4K | TCR_TG1_4K | TCR_IPS(parange);
    if (((mmfr0 >> 4) & 0xf) == 2)               // ASIDBits: 2 = 16 bits
        tcr |= TCR_AS;
    return tcr;
}

int boot_mmu_build(const struct phys_range *ram, unsigned ram_count,
                   const struct phys_range *dev, unsigned dev_count,
                   paddr_t image_pa, struct a64_boot_regs *regs)
{
    uint64_t mmfr0 = read_sysreg(id_aa64mmfr0_el1);
    if (((mmfr0 >> 28) & 0xf) == 0xf) {          // TGran4: 0xf = no 4 KiB granule
        fail("the CPU has no 4 KiB translation granule");
        return -1;
    }
    kernel_l0[L0_INDEX(PHYS_MAP)] = table_entry(physmap_l1);
    for (unsigned i = 0; i < ram_count; i++)
        if (map_ram(ram[i].base, ram[i].end))
            return -1;
    // Device GiBs: skipped where RAM already claimed the GiB.
    for (unsigned i = 0; i < dev_count; i++)
        for (uint64_t g = dev[i].base / GIB; g * GIB < dev[i].end && g < ENTRIES; g++)
            if (!(physmap_l1[g] & PTE_VALID))
                physmap_l1[g] = g * GIB | PTE_KERNEL_DEVICE;
    if (map_image(image_pa))
        return -1;

    // Identity map of the image for the instructions that turn the MMU on.
    uint64_t end = image_pa + (uint64_t)(__kernel_end - __kernel_start);
    if (L0_INDEX(image_pa) != L0_INDEX(end - 1)) {
        fail("kernel image straddles a 512 GiB boundary");
        return -1;
    }
    identity_l0[L0_INDEX(image_pa)] = table_entry(identity_l1);
    for (uint64_t g = image_pa / GIB; g * GIB < end; g++)
        identity_l1[g % ENTRIES] = g * GIB | PTE_KERNEL_NORMAL;

    regs->mair = MAIR_VALUE;
    regs->tcr = tcr_value();
    // As Linux: alignment checks off, EL0 cache/ZVA/WFx instructions allowed.
    regs->sctlr = SCTLR_RES1 | SCTLR_M | SCTLR_C | SCTLR_SA | SCTLR_SA0 | SCTLR_I |
                  SCTLR_DZE | SCTLR_UCT | SCTLR_nTWI | SCTLR_nTWE | SCTLR_UCI;
    regs->ttbr0_identity = (uint64_t)(uintptr_t)identity_l0;
    regs->ttbr1 = (uint64_t)(uintptr_t)kernel_l0;
    regs->ttbr0_empty = (uint64_t)(uintptr_t)empty_l0;
    return 0;
}
