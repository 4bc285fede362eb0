#include "kernel/vas.h"
#include "kernel/arch.h"
#include "kernel/pmm.h"
#include "kernel/thread.h"
#include "kernel/vm.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

#define MAX_VAS 64
static struct vas vas_pool[MAX_VAS];

// Per CPU: the VAS in CR3/TTBR0 and the tag it was loaded with. The tag can
// go stale while the VAS stays loaded (tag_set_limit), so it is kept here.
static struct vas *active[MAX_CPUS];
static unsigned active_tag[MAX_CPUS];

struct vas *vas_create(void)
{
    for (unsigned i = 0; i < MAX_VAS; i++) {
        struct vas *v = &vas_pool[i];
        if (v->in_use)
            continue;
        paddr_t root = pmm_alloc();
        if (!root)
            return NULL;
        arch_vm_init_user_root(P2V(root));
        memset(v, 0, sizeof(*v));
        v->root = root;
        v->refs = 1;
        v->in_use = true;
        return v;
    }
    return NULL;
}

void vas_retain(struct vas *v) { v->refs++; }

// v's tables and tags are about to go: stop using them on this CPU.
static void retire(struct vas *v)
{
    unsigned cpu = this_cpu()->id;
    if (active[cpu] == v) {
        // Never free the tables the CPU is using: fall back to the kernel's.
        arch_vm_switch(vm_kernel_root(), 0, true);
        active[cpu] = NULL;
        active_tag[cpu] = 0;
    }
    // SMP: v must be inactive on every CPU by now (IPI the others first).
    tag_release(&v->tags);
    v->in_use = false;
}

void vas_release(struct vas *v)
{
    if (--v->refs || v->is_object)
        return;
    retire(v);
    vm_destroy_user(v->root, true);
}

void vas_forget(struct vas *v)
{
    retire(v);
}

void vas_activate(struct vas *v)
{
    unsigned cpu = this_cpu()->id;
    // Fast path: v is loaded and its tag, if tagging, is still its own.
    if (likely(active[cpu] == v) && (!tag_enabled() || tag_valid(&v->tags) == active_tag[cpu]))
        return;
    bool flush;
    unsigned tag = tag_acquire(&v->tags, &flush);
    active[cpu] = v;
    active_tag[cpu] = tag;
    arch_vm_switch(v->root, tag, flush);
}

struct vas *vas_active(void) { return active[this_cpu()->id]; }

unsigned vas_tlb_tag(const struct vas *v)
{
    unsigned cpu = this_cpu()->id;
    return active[cpu] == v ? active_tag[cpu] : tag_valid(&v->tags);
}

int vas_map_anonymous(struct vas *v, vaddr_t va, size_t size, unsigned flags)
{
    if (va & (PAGE_SIZE - 1) || size & (PAGE_SIZE - 1) || va < USER_BASE || va >= USER_TOP ||
        USER_TOP - va < size)
        return -E_RANGE;
    for (size_t off = 0; off < size; off += PAGE_SIZE) {
        paddr_t pa = pmm_alloc();
        if (!pa)
            return -E_NOMEM;
        int r = vm_map(v->root, va + off, pa, PAGE_SIZE, flags | VM_USER, PAGE_SIZE);
        if (r) {
            pmm_free(pa);
            return r;
        }
    }
    return 0;
}

size_t vas_unmap(struct vas *v, vaddr_t va, paddr_t *pa)
{
    return vm_unmap(v->root, va, vas_tlb_tag(v), pa);
}

int vas_protect(struct vas *v, vaddr_t va, unsigned flags)
{
    return vm_protect(v->root, va, flags, vas_tlb_tag(v));
}
