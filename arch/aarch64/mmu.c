// aarch64 page-table entry format (VMSAv8-64, 4 KiB granule) and address
// space switching. The kernel half lives in TTBR1 and never changes after
// vm_init(); user roots go in TTBR0 together with their ASID (TCR_EL1.A1 = 0).
//
// Entry bits (mmu.h): 0 valid, 1 table (levels 3-1) or page (level 0; clear
// = block at levels 1-2), 4:2 AttrIndx (MAIR byte), 6 AP[1] EL0 access,
// 7 AP[2] read-only, 9:8 shareability, 10 access flag, 11 nG (tagged with
// the ASID), 47:12 address, 53 PXN, 54 UXN.
#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/mmu.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/vm.h"

#define TLBI_VA(va) (((va) >> PAGE_SHIFT) & ((1ul << 44) - 1))   // VA[55:12] in bits 43:0
#define TLBI_ASID(tag) ((uint64_t)(tag) << 48)

static paddr_t kernel_root, empty_root;

pte_t arch_pte_table(paddr_t next)
{
    // Rights are decided at the leaf: APTable/XNTable (63:59) stay 0.
    return (next & PTE_ADDR_MASK) | PTE_TABLE | PTE_VALID;
}

// APTable[1] (bit 62): no write access at any EL through this table,
// whatever the leaves below say.
pte_t arch_pte_table_readonly(paddr_t next)
{
    return arch_pte_table(next) | 1ull << 62;
}

pte_t arch_pte_leaf(paddr_t pa, unsigned flags, int level)
{
    pte_t e = (pa & PTE_ADDR_MASK) | PTE_VALID | PTE_AF;   // AF set: no access-flag faults
    if (level == 0)
        e |= PTE_PAGE;
    if (flags & VM_DEVICE)
        e |= PTE_ATTR(MAIR_DEVICE) | PTE_PXN | PTE_UXN;      // never execute from MMIO
    else
        e |= PTE_ATTR(MAIR_NORMAL) | PTE_SH_INNER;
    if (!(flags & VM_WRITE))
        e |= PTE_AP_RO | (flags & VM_COW ? PTE_COW : 0);
    if (flags & VM_USER) {
        e |= PTE_AP_EL0 | PTE_PXN;                          // the kernel never runs user code
        if (!(flags & VM_EXEC))
            e |= PTE_UXN;
    } else {
        e |= PTE_UXN;
        if (!(flags & VM_EXEC))
            e |= PTE_PXN;
    }
    if (!(flags & VM_GLOBAL))
        e |= PTE_NG;
    return e;
}

bool arch_pte_valid(pte_t pte) { return pte & PTE_VALID; }
bool arch_pte_is_leaf(pte_t pte, int level) { return level == 0 || !(pte & PTE_TABLE); }
paddr_t arch_pte_addr(pte_t pte) { return pte & PTE_ADDR_MASK; }

// APTable (62: no write, 61: no EL0 access), UXNTable (60), PXNTable (59).
unsigned arch_pte_table_rights(pte_t e)
{
    unsigned f = 0;
    if (!(e & 1ull << 62))
        f |= VM_WRITE;
    if (!(e & 1ull << 61))
        f |= VM_USER;
    if (!(e & 3ull << 59))
        f |= VM_EXEC;
    return f;
}

unsigned arch_pte_flags(pte_t pte, int level)
{
    (void)level;
    unsigned f = VM_READ;
    if (!(pte & PTE_AP_RO))
        f |= VM_WRITE;
    else if (pte & PTE_COW)
        f |= VM_COW;
    if (pte & PTE_AP_EL0) {
        f |= VM_USER;
        if (!(pte & PTE_UXN))
            f |= VM_EXEC;
    } else if (!(pte & PTE_PXN)) {
        f |= VM_EXEC;
    }
    if ((pte >> 2 & 7) == MAIR_DEVICE)
        f |= VM_DEVICE;
    if (!(pte & PTE_NG))
        f |= VM_GLOBAL;
    return f;
}

void arch_vm_init_devices(const struct boot_info *bi)
{
    vm_map_device(bi->uart_base ? bi->uart_base : UART_FALLBACK, PAGE_SIZE);
    gic_map(bi);
}

void arch_vm_install_kernel_root(paddr_t root)
{
    kernel_root = root;
    empty_root = a64_boot_regs.ttbr0_empty;   // the boot's all-invalid table (image .bss)
    // The image keeps its physical pages and 4 KiB mappings across the
    // switch, so no break-before-make is needed for the code running here.
    __asm__ volatile(
        "dsb ishst\n"                   // table writes reach the walker
        "msr ttbr1_el1, %0\n"
        "isb\n"
        "tlbi vmalle1\n"                // drop the boot tables' entries and walks
        "dsb nsh\n"
        "isb" ::"r"(root) : "memory");
}

// A secondary CPU arrives on the boot TTBR1 (head.S): the kernel's tables
// replace them as on the boot CPU.
void a64_mmu_init_secondary(void)
{
    __asm__ volatile(
        "dsb ishst\n"
        "msr ttbr1_el1, %0\n"
        "isb\n"
        "tlbi vmalle1\n"
        "dsb nsh\n"
        "isb" ::"r"(kernel_root) : "memory");
}

// Nothing to copy: the kernel half is TTBR1's.
void arch_vm_init_user_root(pte_t *root) { (void)root; }

// TTBR0 = root with ASID `tag` in bits 63:48, one register write. With
// flush, the ASID's old entries go afterwards: invalidating first would let
// speculative walks of the old root refill them. Tag 0 is shared by every
// untagged space, so switching to it always flushes (vas.c passes flush).
void arch_vm_switch(paddr_t root, unsigned tag, bool flush)
{
    if (root == kernel_root)
        root = empty_root;              // "no user space": TTBR0 maps nothing
    __asm__ volatile("dsb ishst\n msr ttbr0_el1, %0\n isb" ::"r"(root | TTBR_ASID(tag)) : "memory");
    if (flush)
        arch_tlb_flush_tag(tag);
}

// VAE1 drops the ASID's entry for va and any global one: kernel pages too.
void arch_tlb_flush_page(vaddr_t va, unsigned tag)
{
    __asm__ volatile("dsb ishst\n tlbi vae1, %0\n dsb nsh\n isb"
                     ::"r"(TLBI_VA(va) | TLBI_ASID(tag)) : "memory");
}

// ASIDE1 drops the ASID's non-global entries; the kernel's stay.
void arch_tlb_flush_tag(unsigned tag)
{
    __asm__ volatile("dsb ishst\n tlbi aside1, %0\n dsb nsh\n isb" ::"r"(TLBI_ASID(tag)) : "memory");
}

void arch_sync_icache(const void *kva, size_t len)
{
    uint64_t ctr;
    __asm__ volatile("mrs %0, ctr_el0" : "=r"(ctr));
    size_t dline = 4ul << ((ctr >> 16) & 0xf);
    uintptr_t start = (uintptr_t)kva, end = start + len;
    for (uintptr_t p = start & ~(dline - 1); p < end; p += dline)
        __asm__ volatile("dc cvau, %0" ::"r"(p) : "memory");
    // The user's address differs from ours: an instruction cache indexed
    // by virtual address may hold the page under either, so all of it goes
    // (on every CPU), not just our alias's lines.
    __asm__ volatile("dsb ish\n ic ialluis\n dsb ish\n isb" ::: "memory");
}

void arch_tlb_flush_all(void)
{
    __asm__ volatile("dsb ishst\n tlbi vmalle1\n dsb nsh\n isb" ::: "memory");
}

// The inner-shareable forms reach every CPU: for CPU `cpu`'s ASID `tag`,
// drop [va, va + len) page by page, or the whole ASID beyond 64 pages.
// Other CPUs lose their entries of the same ASID number too (their ASID
// pools are their own), which costs them refills, never correctness.
bool arch_tlb_flush_remote(unsigned cpu, unsigned tag, vaddr_t va, size_t len)
{
    (void)cpu;
    if (len > 64 * PAGE_SIZE) {
        __asm__ volatile("dsb ishst\n tlbi aside1is, %0\n dsb ish\n isb" ::"r"(TLBI_ASID(tag)) : "memory");
        return true;
    }
    __asm__ volatile("dsb ishst" ::: "memory");
    for (vaddr_t a = ALIGN_DOWN(va, PAGE_SIZE); a < va + len; a += PAGE_SIZE)
        __asm__ volatile("tlbi vae1is, %0" ::"r"(TLBI_VA(a) | TLBI_ASID(tag)) : "memory");
    __asm__ volatile("dsb ish\n isb" ::: "memory");
    return true;
}

// Tags are ASIDs 1..n (0 is the shared untagged ASID), handed out by the
// per-CPU pools of kernel/tag.c. A small pool, as on x86_64: recycling is
// part of what is exercised. (`tlbtags=off` turns them off in tag.c.)
#define A64_ASID_POOL 64
unsigned arch_tlb_tag_count(void)
{
    unsigned max = (1u << a64_feat.asid_bits) - 1;
    return max < A64_ASID_POOL ? max : A64_ASID_POOL;
}
