#include "kernel/vas.h"
#include "kernel/arch.h"
#include "kernel/pmm.h"
#include "kernel/vm.h"
#include "include/manifold/errors.h"

#define MAX_VAS 64
static struct vas vas_pool[MAX_VAS];
static struct vas *active;

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
        v->root = root;
        v->tag = 0;
        v->refs = 1;
        v->in_use = true;
        return v;
    }
    return NULL;
}

void vas_retain(struct vas *v) { v->refs++; }

void vas_release(struct vas *v)
{
    if (--v->refs || v->is_object)
        return;
    if (active == v) {
        // Never free the tables the CPU is using: fall back to the kernel's.
        arch_vm_switch(vm_kernel_root(), 0, true);
        active = NULL;
    }
    vm_destroy_user(v->root, true);
    v->in_use = false;
}

void vas_forget(struct vas *v)
{
    if (active == v) {
        arch_vm_switch(vm_kernel_root(), 0, true);
        active = NULL;
    }
    v->in_use = false;
}

void vas_activate(struct vas *v)
{
    if (active == v)
        return;
    active = v;
    arch_vm_switch(v->root, v->tag, v->tag == 0);
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
