// x86_64 page-table entry format and address-space switching.
//
// Entry bits: 0 P(resent), 1 W(ritable), 2 U(ser), 3 PWT, 4 PCD, 7 PS (large
// leaf at levels 1-2), 8 G(lobal), 12-51 address, 63 NX (only with EFER.NXE).
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/vm.h"
#include "lib/string.h"

#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_U   (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS  (1ull << 7)
#define PTE_G   (1ull << 8)
#define PTE_NX  (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

pte_t arch_pte_table(paddr_t next)
{
    // Rights are decided at the leaf: tables allow everything.
    return (next & PTE_ADDR) | PTE_P | PTE_W | PTE_U;
}

// x86 ANDs the W bits of every level: clearing it here makes the subtree
// read-only through this entry only.
pte_t arch_pte_table_readonly(paddr_t next)
{
    return arch_pte_table(next) & ~PTE_W;
}

pte_t arch_pte_leaf(paddr_t pa, unsigned flags, int level)
{
    pte_t e = (pa & PTE_ADDR) | PTE_P;
    if (flags & VM_WRITE)
        e |= PTE_W;
    if (flags & VM_USER)
        e |= PTE_U;
    if (!(flags & VM_EXEC) && x86_cpu.nx)
        e |= PTE_NX;
    if (flags & VM_DEVICE)
        e |= PTE_PCD | PTE_PWT;
    if (flags & VM_GLOBAL)
        e |= PTE_G;
    if (level > 0)
        e |= PTE_PS;
    return e;
}

bool arch_pte_valid(pte_t pte) { return pte & PTE_P; }
bool arch_pte_is_leaf(pte_t pte, int level) { return level == 0 || (pte & PTE_PS); }
paddr_t arch_pte_addr(pte_t pte) { return pte & PTE_ADDR & ~(pte & PTE_PS ? 0x1000ull : 0); }

unsigned arch_pte_flags(pte_t pte, int level)
{
    (void)level;
    unsigned f = VM_READ;
    if (pte & PTE_W)
        f |= VM_WRITE;
    if (pte & PTE_U)
        f |= VM_USER;
    if (!(pte & PTE_NX))
        f |= VM_EXEC;
    if (pte & PTE_PCD)
        f |= VM_DEVICE;
    if (pte & PTE_G)
        f |= VM_GLOBAL;
    return f;
}

static pte_t *kernel_top;

void arch_vm_install_kernel_root(paddr_t root)
{
    kernel_top = P2V(root);
    write_cr3(root);
    // Global kernel mappings survive CR3 writes from now on.
    write_cr4(read_cr4() | (1 << 7));
}

void arch_vm_init_user_root(pte_t *root)
{
    // Share the kernel half: its second-level tables never change identity.
    memcpy(root + 256, kernel_top + 256, 256 * sizeof(pte_t));
}

void arch_vm_init_devices(const struct boot_info *bi)
{
    (void)bi;
    vm_map_device(rdmsr(MSR_APIC_BASE) & ~0xfffull, PAGE_SIZE);
}

void arch_vm_switch(paddr_t root, unsigned tag, bool flush)
{
    (void)tag, (void)flush;   // untagged: every CR3 write flushes non-global entries
    write_cr3(root);
}

void arch_tlb_flush_page(vaddr_t va, unsigned tag)
{
    (void)tag;
    __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
}

void arch_tlb_flush_tag(unsigned tag)
{
    (void)tag;
    write_cr3(read_cr3());
}

void arch_tlb_flush_all(void)
{
    uint64_t cr4 = read_cr4();
    write_cr4(cr4 & ~(1ull << 7));   // toggling PGE drops global entries too
    write_cr4(cr4);
}

unsigned arch_tlb_tag_count(void) { return 0; }
