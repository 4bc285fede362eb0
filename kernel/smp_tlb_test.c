// Self-tests of TLB shootdowns and of address spaces dying while another
// CPU has them loaded.
#include "kernel/arch.h"
#include "kernel/ktest.h"
#include "kernel/pmm.h"
#include "kernel/smp.h"
#include "kernel/thread.h"
#include "kernel/vas.h"
#include "kernel/vm.h"

#define PROBE_VA 0x40000000ul   // a user-half address nothing else maps here

static struct {
    struct vas *v;
    uint64_t value;
    struct vas *active;
} probe;

// On another CPU (idle while the test runs, so this runs from its IPI
// handler with no lock held, and may load a space): load v and read the
// probe address through it, which leaves the translation in that CPU's TLB.
static void read_through(void *arg)
{
    vas_activate(probe.v);
    probe.value = *(volatile uint64_t *)PROBE_VA;
}

static void report_active(void *arg)
{
    probe.active = vas_active();
}

KTEST(smp_tlb_shootdown_reaches_other_cpus)
{
    if (cpu_count < 2)
        return NULL;
    uint64_t other = 1ull << (arch_cpu_id() == 0 ? 1 : 0);
    struct vas *v = vas_create();
    paddr_t a = pmm_alloc(), b = pmm_alloc();
    KCHECK(v && a && b);
    *(uint64_t *)P2V(a) = 1;
    *(uint64_t *)P2V(b) = 2;
    // Kernel-only rights (no VM_USER): readable in kernel mode under SMAP
    // and PAN, and still tagged with v's PCID/ASID.
    KCHECK(vm_map(v->root, PROBE_VA, a, PAGE_SIZE, VM_READ | VM_WRITE, PAGE_SIZE) == 0);
    probe.v = v;
    KCHECK(smp_call(other, read_through, NULL, SMP_CALL_TIMEOUT_MS) == 0);
    KCHECK(probe.value == 1);
    // Remap the page here; vas_unmap shoots the old entry down everywhere.
    paddr_t old = 0;
    KCHECK(vas_unmap(v, PROBE_VA, &old) == PAGE_SIZE && old == a);
    KCHECK(vm_map(v->root, PROBE_VA, b, PAGE_SIZE, VM_READ | VM_WRITE, PAGE_SIZE) == 0);
    KCHECK(smp_call(other, read_through, NULL, SMP_CALL_TIMEOUT_MS) == 0);
    KCHECK(probe.value == 2);               // a stale entry would still give 1
    // The space dies while the other CPU has it loaded: that CPU leaves it
    // first (its tables, and frame b, are freed right after).
    vas_release(v);
    KCHECK(smp_call(other, report_active, NULL, SMP_CALL_TIMEOUT_MS) == 0);
    KCHECK(probe.active != v);
    pmm_free(a);
    return NULL;
}
