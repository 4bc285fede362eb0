// x86_64 self-test of tagged switching: the PCID really reaches CR3, and the
// INVPCID-based flushes run (and fault if mis-encoded) on a CPU that has them.
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/ktest.h"
#include "kernel/vas.h"

#define CR4_PCIDE (1ull << 17)
#define TEST_VA 0x0000100000000000ul

KTEST(tlb_tag_reaches_root)
{
    if (!x86_pcid_enabled) {
        KCHECK(!(read_cr4() & CR4_PCIDE) && (read_cr3() & 0xfff) == 0);
        KCHECK(arch_tlb_tag_count() == 0 && !(arch_feature_bits() & ARCH_FEAT_TAGGED_TLB));
        kprintf("# x86 pcid: off (cpu pcid=%d), CR3 untagged\n", x86_cpu.pcid);
        return NULL;
    }
    KCHECK(read_cr4() & CR4_PCIDE);
    struct vas *caller = vas_active(), *a = vas_create(), *b = vas_create();
    KCHECK(a && b);
    const char *why = NULL;
    uint64_t one = 1, two = 2, got = 0;
    if (vas_map_anonymous(a, TEST_VA, PAGE_SIZE, VM_READ | VM_WRITE) ||
        vas_map_anonymous(b, TEST_VA, PAGE_SIZE, VM_READ | VM_WRITE))
        why = "out of memory";
    unsigned pcid_a = 0, pcid_b = 0;
    if (!why) {
        vas_activate(a);
        pcid_a = read_cr3() & 0xfff;
        arch_copy_to_user((void *)TEST_VA, &one, sizeof(one));
        vas_activate(b);
        pcid_b = read_cr3() & 0xfff;
        arch_copy_to_user((void *)TEST_VA, &two, sizeof(two));
        if ((read_cr3() & ~0xfffull) != b->root || pcid_a == 0 || pcid_b == 0 || pcid_a == pcid_b ||
            pcid_a != vas_tlb_tag(a) || pcid_b != vas_tlb_tag(b))
            why = "CR3 does not carry the space's own PCID";
    }
    if (!why) {
        // Flush a's page by PCID while b is loaded (INVPCID type 0 when the
        // CPU has it), then a's whole PCID (type 1), then a switch back
        // without a flush: a's data must be intact and a keeps its PCID.
        arch_tlb_flush_page(TEST_VA, pcid_a);
        arch_tlb_flush_tag(pcid_a);
        vas_activate(a);
        if ((read_cr3() & 0xfff) != pcid_a)
            why = "a switch back changed the PCID";
        else if (arch_copy_from_user(&got, (const void *)TEST_VA, sizeof(got)) || got != 1)
            why = "space a lost its data";
        arch_tlb_flush_page(TEST_VA, pcid_a);       // the loaded PCID: invlpg
        arch_tlb_flush_tag(pcid_b);
        arch_tlb_flush_all();
    }
    if (!why)
        kprintf("# x86 pcid: on (invpcid=%d), CR3 carried PCIDs %u and %u\n",
                x86_cpu.invpcid, pcid_a, pcid_b);
    if (caller)
        vas_activate(caller);
    vas_release(a);
    vas_release(b);
    return why;
}
