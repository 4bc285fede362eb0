#include "kernel/vm.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/pmm.h"
#include "include/manifold/errors.h"

static paddr_t kernel_root;

static inline pte_t *table_at(paddr_t pa) { return P2V(pa); }
static inline unsigned index_at(vaddr_t va, int level) { return (va >> (PAGE_SHIFT + 9 * level)) & 511; }
static inline size_t level_size(int level) { return 1ul << (PAGE_SHIFT + 9 * level); }

paddr_t table_pool_alloc(struct table_pool *pool)
{
    if (!pool)
        return pmm_alloc();
    if (pool->used >= pool->pages)
        return 0;
    return pool->base + (paddr_t)pool->used++ * PAGE_SIZE;   // object memory: already zero
}

pte_t *vm_entry(paddr_t table_pa, int top_level, vaddr_t va, int level,
                struct table_pool *pool, bool create)
{
    pte_t *table = table_at(table_pa);
    for (int l = top_level; l > level; l--) {
        pte_t *e = &table[index_at(va, l)];
        if (!arch_pte_valid(*e)) {
            if (!create)
                return NULL;
            paddr_t next = table_pool_alloc(pool);
            if (!next)
                return NULL;
            *e = arch_pte_table(next);
        } else if (arch_pte_is_leaf(*e, l)) {
            return NULL;
        }
        table = table_at(arch_pte_addr(*e));
    }
    return &table[index_at(va, level)];
}

unsigned vm_missing_tables(paddr_t table_pa, int top_level, vaddr_t va, int level)
{
    pte_t *table = table_at(table_pa);
    for (int l = top_level; l > level; l--) {
        pte_t e = table[index_at(va, l)];
        if (!arch_pte_valid(e))
            return (unsigned)(l - level);
        table = table_at(arch_pte_addr(e));
    }
    return 0;
}

// The entry for va at `level` below a root, creating tables from the page
// allocator when `create`. NULL if a table is missing (and !create), cannot
// be allocated, or a larger leaf already covers va.
static pte_t *walk(paddr_t root, vaddr_t va, int level, bool create)
{
    return vm_entry(root, 3, va, level, NULL, create);
}

static int page_level(size_t page_size)
{
    switch (page_size) {
    case PAGE_SIZE: return 0;
    case LARGE_PAGE_SIZE: return 1;
    case HUGE_PAGE_SIZE: return 2;
    default: return -1;
    }
}

// Finds the leaf covering va: its entry and level, or NULL.
static pte_t *find_leaf(paddr_t root, vaddr_t va, int *level)
{
    pte_t *table = table_at(root);
    for (int l = 3; l >= 0; l--) {
        pte_t *e = &table[index_at(va, l)];
        if (!arch_pte_valid(*e))
            return NULL;
        if (l == 0 || arch_pte_is_leaf(*e, l)) {
            *level = l;
            return e;
        }
        table = table_at(arch_pte_addr(*e));
    }
    return NULL;
}

int vm_map(paddr_t root, vaddr_t va, paddr_t pa, size_t size, unsigned flags, size_t page_size)
{
    int level = page_level(page_size);
    if (level < 0 || (va | pa | size) & (page_size - 1) || size == 0)
        return -E_INVAL;
    // Check the whole range first so a conflict changes nothing.
    for (size_t off = 0; off < size; off += page_size) {
        int l;
        if (find_leaf(root, va + off, &l))
            return -E_BUSY;
        if (level > 0) {
            // A table below a would-be large leaf means smaller mappings exist.
            pte_t *e = walk(root, va + off, level, false);
            if (e && arch_pte_valid(*e))
                return -E_BUSY;
        }
    }
    for (size_t off = 0; off < size; off += page_size) {
        pte_t *e = walk(root, va + off, level, true);
        if (!e)
            return -E_NOMEM;
        *e = arch_pte_leaf(pa + off, flags, level);
    }
    return 0;
}

size_t vm_unmap(paddr_t root, vaddr_t va, unsigned tag, paddr_t *pa)
{
    int level;
    pte_t *e = find_leaf(root, va, &level);
    if (!e)
        return 0;
    if (pa)
        *pa = arch_pte_addr(*e);
    *e = 0;
    size_t size = level_size(level);
    arch_tlb_flush_page(ALIGN_DOWN(va, size), tag);
    return size;
}

int vm_protect(paddr_t root, vaddr_t va, unsigned flags, unsigned tag)
{
    int level;
    pte_t *e = find_leaf(root, va, &level);
    if (!e)
        return -E_NOENT;
    *e = arch_pte_leaf(arch_pte_addr(*e), flags, level);
    arch_tlb_flush_page(ALIGN_DOWN(va, level_size(level)), tag);
    return 0;
}

int vm_lookup(paddr_t root, vaddr_t va, paddr_t *pa, unsigned *flags)
{
    unsigned allowed = VM_WRITE | VM_USER | VM_EXEC;
    pte_t *table = table_at(root);
    for (int l = 3; l >= 0; l--) {
        pte_t e = table[index_at(va, l)];
        if (!arch_pte_valid(e))
            return -E_NOENT;
        if (l == 0 || arch_pte_is_leaf(e, l)) {
            if (pa)
                *pa = arch_pte_addr(e) + (va & (level_size(l) - 1));
            // Copy-on-write means "writable but for a snapshot": not
            // where a table above takes writing away anyway.
            unsigned cow = allowed & VM_WRITE ? VM_COW : 0;
            if (flags)
                *flags = arch_pte_flags(e, l) & (allowed | cow | ~(unsigned)(VM_WRITE | VM_USER | VM_EXEC | VM_COW));
            return 0;
        }
        // A table entry may take rights away from its whole subtree (a
        // segment attached read-only shares its tables through one).
        allowed &= arch_pte_table_rights(e);
        table = table_at(arch_pte_addr(e));
    }
    return -E_NOENT;
}

static void destroy_level(paddr_t table_pa, int level, bool free_frames)
{
    pte_t *table = table_at(table_pa);
    for (int i = 0; i < 512; i++) {
        pte_t e = table[i];
        if (!arch_pte_valid(e))
            continue;
        if (level > 0 && !arch_pte_is_leaf(e, level))
            destroy_level(arch_pte_addr(e), level - 1, free_frames);
        else if (free_frames && pmm_is_ram(arch_pte_addr(e)))
            pmm_free_contig(arch_pte_addr(e), level_size(level) / PAGE_SIZE);   // device pages (PCI BARs) are not RAM
    }
    pmm_free(table_pa);
}

void vm_destroy_user(paddr_t root, bool free_frames)
{
    pte_t *top = table_at(root);
    // The user half is the lower 256 root entries on both architectures.
    for (int i = 0; i < 256; i++)
        if (arch_pte_valid(top[i]))
            destroy_level(arch_pte_addr(top[i]), 2, free_frames);
    pmm_free(root);
}

paddr_t vm_kernel_root(void) { return kernel_root; }

// Maps [pa, pa+size) at PHYS_MAP+pa with the largest pages alignment allows.
static void map_direct(paddr_t pa, paddr_t end, unsigned flags)
{
    while (pa < end) {
        size_t ps = PAGE_SIZE;
        if (!(pa & (HUGE_PAGE_SIZE - 1)) && end - pa >= HUGE_PAGE_SIZE &&
            (arch_feature_bits() & ARCH_FEAT_HUGE_1G))
            ps = HUGE_PAGE_SIZE;
        else if (!(pa & (LARGE_PAGE_SIZE - 1)) && end - pa >= LARGE_PAGE_SIZE)
            ps = LARGE_PAGE_SIZE;
        int l;
        if (!find_leaf(kernel_root, PHYS_MAP + pa, &l)) {
            int r = vm_map(kernel_root, PHYS_MAP + pa, pa, ps, flags, ps);
            if (r == -E_BUSY && ps > PAGE_SIZE) {
                // Part of this range is mapped with smaller pages already.
                ps = PAGE_SIZE;
                r = vm_map(kernel_root, PHYS_MAP + pa, pa, ps, flags, ps);
            }
            if (r && r != -E_BUSY)
                panic("vm: cannot map the direct map at %p (%d)", (void *)pa, r);
        }
        pa += ps;
    }
}

void *vm_map_device(paddr_t pa, size_t size)
{
    paddr_t start = ALIGN_DOWN(pa, PAGE_SIZE), end = ALIGN_UP(pa + size, PAGE_SIZE);
    for (paddr_t p = start; p < end; p += PAGE_SIZE) {
        int l;
        if (!find_leaf(kernel_root, PHYS_MAP + p, &l) &&
            vm_map(kernel_root, PHYS_MAP + p, p, PAGE_SIZE, VM_READ | VM_WRITE | VM_DEVICE | VM_GLOBAL, PAGE_SIZE))
            panic("vm: cannot map device at %p", (void *)p);
    }
    return P2V(pa);
}

extern const char __kernel_start[], __text_end[], __rodata_end[], __kernel_end[];

// bi->kernel_start is the physical address of __kernel_start.
static void map_image(paddr_t pa_base, vaddr_t start, vaddr_t end, unsigned flags)
{
    start = ALIGN_DOWN(start, PAGE_SIZE);
    end = ALIGN_UP(end, PAGE_SIZE);
    for (vaddr_t va = start; va < end; va += PAGE_SIZE)
        if (vm_map(kernel_root, va, pa_base + (va - (vaddr_t)__kernel_start), PAGE_SIZE, flags, PAGE_SIZE))
            panic("vm: cannot map the kernel image at %p", (void *)va);
}

void vm_init(const struct boot_info *bi)
{
    kernel_root = pmm_alloc();
    if (!kernel_root)
        panic("vm: no memory for the kernel root table");
    // Pre-create every kernel-half second-level table so that user roots can
    // copy the kernel's top-level entries once and stay in sync (x86_64).
    pte_t *top = table_at(kernel_root);
    for (int i = 256; i < 512; i++) {
        paddr_t t = pmm_alloc();
        if (!t)
            panic("vm: no memory for kernel tables");
        top[i] = arch_pte_table(t);
    }
    // Kernel image: text read+exec, rodata read-only, data/bss read+write.
    map_image(bi->kernel_start, (vaddr_t)__kernel_start, (vaddr_t)__text_end, VM_READ | VM_EXEC | VM_GLOBAL);
    map_image(bi->kernel_start, (vaddr_t)__text_end, (vaddr_t)__rodata_end, VM_READ | VM_GLOBAL);
    map_image(bi->kernel_start, (vaddr_t)__rodata_end, (vaddr_t)__kernel_end, VM_READ | VM_WRITE | VM_GLOBAL);
    // All RAM, read/write, never executable.
    for (unsigned i = 0; i < bi->region_count; i++)
        map_direct(ALIGN_DOWN(bi->regions[i].base, PAGE_SIZE),
                   ALIGN_UP(bi->regions[i].base + bi->regions[i].size, PAGE_SIZE),
                   VM_READ | VM_WRITE | VM_GLOBAL);
    // Module data may lie outside the RAM regions the allocator manages.
    if (bi->reserved_end > bi->reserved_start)
        map_direct(ALIGN_DOWN(bi->reserved_start, PAGE_SIZE), ALIGN_UP(bi->reserved_end, PAGE_SIZE),
                   VM_READ | VM_WRITE | VM_GLOBAL);
    arch_vm_init_devices(bi);
    arch_vm_install_kernel_root(kernel_root);
}
