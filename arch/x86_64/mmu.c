// x86_64 page-table entry format and address-space switching.
//
// Entry bits: 0 P(resent), 1 W(ritable), 2 U(ser), 3 PWT, 4 PCD, 7 PS (large
// leaf at levels 1-2), 8 G(lobal), 12-51 address, 63 NX (only with EFER.NXE).
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/version.h"
#include "kernel/vm.h"
#include "lib/string.h"

#define PTE_P   (1ull << 0)
#define PTE_W   (1ull << 1)
#define PTE_U   (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS  (1ull << 7)
#define PTE_G   (1ull << 8)
#define PTE_COW (1ull << 9)     // available to software: VM_COW
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
    else if (flags & VM_COW)
        e |= PTE_COW;
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
    else if (pte & PTE_COW)
        f |= VM_COW;
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

unsigned arch_pte_table_rights(pte_t e)
{
    unsigned f = 0;
    if (e & PTE_W)
        f |= VM_WRITE;
    if (e & PTE_U)
        f |= VM_USER;
    if (!(e & PTE_NX))
        f |= VM_EXEC;
    return f;
}

static pte_t *kernel_top;

// ---------------------------------------------------------------- PCID
//
// With CR4.PCIDE set, CR3[11:0] holds the PCID of the tables loaded, TLB
// entries are tagged with it, and a CR3 write with bit 63 set keeps the new
// PCID's entries (without it, they are dropped). Global entries (the kernel
// half, G bit) match every PCID and survive CR3 writes either way.
//
// The portable allocator (kernel/tag.c) hands out PCIDs 1..X86_PCID_POOL
// per CPU; PCID 0 is the kernel's root and the untagged path. 4096 PCIDs
// exist, but a small pool is the point: recycling is cheap and the TLB holds
// only a few address spaces' entries anyway.
#define CR4_PGE         (1ull << 7)
#define CR4_PCIDE       (1ull << 17)
#define CR3_PCID        0xfffull
#define CR3_NOFLUSH     (1ull << 63)
#define X86_PCID_POOL   64

enum { INVPCID_ADDRESS = 0, INVPCID_CONTEXT = 1 };

bool x86_pcid_enabled;

static inline void invpcid(uint64_t type, unsigned pcid, vaddr_t va)
{
    struct { uint64_t pcid, va; } desc = {pcid, va};
    __asm__ volatile("invpcid %0, %1" ::"m"(desc), "r"(type) : "memory");
}

static inline unsigned current_pcid(void) { return read_cr3() & CR3_PCID; }

void arch_vm_install_kernel_root(paddr_t root)
{
    kernel_top = P2V(root);
    write_cr3(root);
    // Global kernel mappings survive CR3 writes from now on.
    uint64_t cr4 = read_cr4() | CR4_PGE;
    // PCIDE may only be set while CR3[11:0] = 0 (else #GP): true here, the
    // page-aligned root was just loaded. `tlbtags=off` leaves it clear.
    char value[8];
    bool off = cmdline_option("tlbtags", value, sizeof(value)) && strcmp(value, "off") == 0;
    if (x86_cpu.pcid && !off) {
        cr4 |= CR4_PCIDE;
        x86_pcid_enabled = true;
    }
    write_cr4(cr4);
}

void x86_mmu_init_secondary(void)
{
    write_cr3(V2P(kernel_top));
    write_cr4(read_cr4() | CR4_PGE | (x86_pcid_enabled ? CR4_PCIDE : 0));
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

// Without PCID every CR3 write flushes the non-global entries and tag is 0.
// With PCID: flush = false keeps the entries already tagged `tag` (bit 63);
// flush = true drops them, and only them.
void arch_vm_switch(paddr_t root, unsigned tag, bool flush)
{
    if (likely(x86_pcid_enabled)) {
        write_cr3(root | (tag & CR3_PCID) | (flush ? 0 : CR3_NOFLUSH));
        return;
    }
    write_cr3(root);   // never bit 63 here: without PCIDE it is reserved
}

// Tag 0 or the loaded PCID: invlpg, which drops va for the current PCID and
// any global entry for va. Another PCID: INVPCID type 0. A CPU with PCID but
// no INVPCID (Sandy/Ivy Bridge) cannot reach another PCID's entry for one
// address, so it drops everything instead: a rare CPU, on a path used only
// when a non-current address space is changed.
void arch_tlb_flush_page(vaddr_t va, unsigned tag)
{
    if (!x86_pcid_enabled || tag == 0 || tag == current_pcid())
        __asm__ volatile("invlpg (%0)" ::"r"(va) : "memory");
    else if (x86_cpu.invpcid)
        invpcid(INVPCID_ADDRESS, tag, va);
    else
        arch_tlb_flush_all();
}

// Drops the non-global entries tagged `tag`: INVPCID type 1; without it, a
// CR3 reload for the loaded PCID (bit 63 clear), else everything.
void arch_tlb_flush_tag(unsigned tag)
{
    if (!x86_pcid_enabled)
        write_cr3(read_cr3());
    else if (x86_cpu.invpcid)
        invpcid(INVPCID_CONTEXT, tag, 0);
    else if (tag == current_pcid())
        write_cr3(read_cr3());          // reads never return bit 63
    else
        arch_tlb_flush_all();
}

// x86 keeps instruction fetch coherent with stores (kernel/arch.h).
void arch_sync_icache(const void *kva, size_t len) { (void)kva, (void)len; }

// Toggling CR4.PGE drops every entry, global ones and those of every PCID.
void arch_tlb_flush_all(void)
{
    uint64_t cr4 = read_cr4();
    write_cr4(cr4 & ~CR4_PGE);
    write_cr4(cr4);
}

// x86 has no broadcast invalidation: other CPUs flush in an IPI.
bool arch_tlb_flush_remote(unsigned cpu, unsigned tag, vaddr_t va, size_t len)
{
    return false;
}

// Tags offered besides 0: PCIDs 1..64.
unsigned arch_tlb_tag_count(void) { return x86_pcid_enabled ? X86_PCID_POOL : 0; }
