// Self-tests of the page-table walker on a scratch address space.
#include "kernel/ktest.h"
#include "kernel/pmm.h"
#include "kernel/vm.h"
#include "include/manifold/errors.h"

#define VA 0x0000100000000000ul

KTEST(vm_map_lookup_unmap)
{
    paddr_t root = pmm_alloc(), frame = pmm_alloc();
    KCHECK(root && frame);
    paddr_t pa;
    unsigned flags;
    KCHECK(vm_lookup(root, VA, &pa, &flags) == -E_NOENT);
    KCHECK(vm_map(root, VA, frame, PAGE_SIZE, VM_READ | VM_WRITE | VM_USER, PAGE_SIZE) == 0);
    KCHECK(vm_lookup(root, VA + 123, &pa, &flags) == 0);
    KCHECK(pa == frame + 123);
    KCHECK((flags & (VM_WRITE | VM_USER)) == (VM_WRITE | VM_USER) && !(flags & VM_EXEC));
    // Mapping over an existing page is refused and changes nothing.
    KCHECK(vm_map(root, VA, frame, PAGE_SIZE, VM_READ, PAGE_SIZE) == -E_BUSY);
    KCHECK(vm_lookup(root, VA, NULL, &flags) == 0 && (flags & VM_WRITE));
    KCHECK(vm_unmap(root, VA, 0, &pa) == PAGE_SIZE && pa == frame);
    KCHECK(vm_lookup(root, VA, NULL, NULL) == -E_NOENT);
    KCHECK(vm_unmap(root, VA, 0, NULL) == 0);
    vm_destroy_user(root, false);
    pmm_free(frame);
    return NULL;
}

KTEST(vm_protect_changes_rights)
{
    paddr_t root = pmm_alloc(), frame = pmm_alloc();
    KCHECK(root && frame);
    unsigned flags;
    KCHECK(vm_map(root, VA, frame, PAGE_SIZE, VM_READ | VM_WRITE | VM_USER, PAGE_SIZE) == 0);
    KCHECK(vm_protect(root, VA, VM_READ | VM_EXEC | VM_USER, 0) == 0);
    KCHECK(vm_lookup(root, VA, NULL, &flags) == 0);
    KCHECK(!(flags & VM_WRITE) && (flags & VM_EXEC) && (flags & VM_USER));
    KCHECK(vm_protect(root, VA + PAGE_SIZE, VM_READ, 0) == -E_NOENT);
    vm_destroy_user(root, true);   // frees the frame too
    return NULL;
}

KTEST(vm_large_pages)
{
    paddr_t root = pmm_alloc();
    paddr_t big = pmm_alloc_contig(LARGE_PAGE_SIZE / PAGE_SIZE, LARGE_PAGE_SIZE);
    KCHECK(root && big);
    KCHECK(vm_map(root, VA + 4096, big, LARGE_PAGE_SIZE, VM_READ, LARGE_PAGE_SIZE) == -E_INVAL);
    KCHECK(vm_map(root, VA, big, LARGE_PAGE_SIZE, VM_READ | VM_USER, 12345) == -E_INVAL);
    KCHECK(vm_map(root, VA, big, LARGE_PAGE_SIZE, VM_READ | VM_USER, LARGE_PAGE_SIZE) == 0);
    paddr_t pa;
    KCHECK(vm_lookup(root, VA + 0x12345, &pa, NULL) == 0 && pa == big + 0x12345);
    // A 4 KiB mapping inside a 2 MiB leaf is refused.
    KCHECK(vm_map(root, VA + PAGE_SIZE, big, PAGE_SIZE, VM_READ, PAGE_SIZE) == -E_BUSY);
    KCHECK(vm_unmap(root, VA + 0x1000, 0, &pa) == LARGE_PAGE_SIZE && pa == big);
    // And a 2 MiB leaf over existing 4 KiB pages is refused too.
    KCHECK(vm_map(root, VA + PAGE_SIZE, big, PAGE_SIZE, VM_READ, PAGE_SIZE) == 0);
    KCHECK(vm_map(root, VA, big, LARGE_PAGE_SIZE, VM_READ, LARGE_PAGE_SIZE) == -E_BUSY);
    vm_destroy_user(root, false);
    pmm_free_contig(big, LARGE_PAGE_SIZE / PAGE_SIZE);
    return NULL;
}

KTEST(vm_kernel_text_read_only)
{
    // The kernel image is mapped with per-section rights.
    extern const char __text_end[], __rodata_end[];
    unsigned flags;
    KCHECK(vm_lookup(vm_kernel_root(), (vaddr_t)__text_end - PAGE_SIZE, NULL, &flags) == 0);
    KCHECK((flags & VM_EXEC) && !(flags & VM_WRITE) && !(flags & VM_USER));
    KCHECK(vm_lookup(vm_kernel_root(), (vaddr_t)__rodata_end - PAGE_SIZE, NULL, &flags) == 0);
    KCHECK(!(flags & VM_WRITE));
    // The direct map is writable and never executable.
    paddr_t frame = pmm_alloc();
    KCHECK(frame);
    int r = vm_lookup(vm_kernel_root(), (vaddr_t)P2V(frame), NULL, &flags);
    pmm_free(frame);
    KCHECK(r == 0 && (flags & VM_WRITE) && !(flags & VM_EXEC));
    return NULL;
}
