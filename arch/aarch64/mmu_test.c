// aarch64 self-test of tagged switching: the ASID really reaches TTBR0, and
// the by-ASID flushes leave other spaces' entries and data alone.
#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/mmu.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/ktest.h"
#include "kernel/vas.h"

#define TEST_VA 0x0000100000000000ul

static unsigned loaded_asid(void) { return read_sysreg(ttbr0_el1) >> 48; }
static paddr_t loaded_root(void) { return read_sysreg(ttbr0_el1) & PTE_ADDR_MASK; }

KTEST(tlb_tag_reaches_root)
{
    if (!arch_tlb_tag_count()) {
        KCHECK(!(arch_feature_bits() & ARCH_FEAT_TAGGED_TLB) && loaded_asid() == 0);
        kprintf("# aarch64 asid: off (%u-bit ASIDs), TTBR0 untagged\n", a64_feat.asid_bits);
        return NULL;
    }
    struct vas *caller = vas_active(), *a = vas_create(), *b = vas_create();
    KCHECK(a && b);
    const char *why = NULL;
    uint64_t one = 1, two = 2, got = 0;
    if (vas_map_anonymous(a, TEST_VA, PAGE_SIZE, VM_READ | VM_WRITE) ||
        vas_map_anonymous(b, TEST_VA, PAGE_SIZE, VM_READ | VM_WRITE))
        why = "out of memory";
    unsigned asid_a = 0, asid_b = 0;
    if (!why) {
        vas_activate(a);
        asid_a = loaded_asid();
        arch_copy_to_user((void *)TEST_VA, &one, sizeof(one));
        vas_activate(b);
        asid_b = loaded_asid();
        arch_copy_to_user((void *)TEST_VA, &two, sizeof(two));
        if (loaded_root() != b->root || asid_a == 0 || asid_b == 0 || asid_a == asid_b ||
            asid_a != vas_tlb_tag(a) || asid_b != vas_tlb_tag(b))
            why = "TTBR0 does not carry the space's own ASID";
    }
    if (!why) {
        // Drop a's entries by page and by ASID while b is loaded, then switch
        // back without a flush: a keeps its ASID and its data.
        arch_tlb_flush_page(TEST_VA, asid_a);
        arch_tlb_flush_tag(asid_a);
        vas_activate(a);
        if (loaded_asid() != asid_a)
            why = "a switch back changed the ASID";
        else if (arch_copy_from_user(&got, (const void *)TEST_VA, sizeof(got)) || got != 1)
            why = "space a lost its data";
        arch_tlb_flush_tag(asid_b);
        arch_tlb_flush_all();
    }
    if (!why)
        kprintf("# aarch64 asid: on (%u-bit ASIDs), TTBR0 carried ASIDs %u and %u\n",
                a64_feat.asid_bits, asid_a, asid_b);
    if (caller)
        vas_activate(caller);
    vas_release(a);
    vas_release(b);
    return why;
}
