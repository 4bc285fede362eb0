// Page tables: one walker over the per-architecture entry formats
// (arch_pte_*). Both architectures use four levels of 512 entries; level 3 is
// the root, level 0 maps 4 KiB pages, levels 1 and 2 may hold 2 MiB and 1 GiB
// leaves. All functions take the root's physical address.
#pragma once
#include "kernel/arch.h"

struct boot_info;

// Builds the kernel's own page tables (direct map of RAM, image with per-section
// rights, device windows) and switches to them.
void vm_init(const struct boot_info *bi);
paddr_t vm_kernel_root(void);
// Maps a device MMIO range uncached into the direct map; returns its virtual address.
void *vm_map_device(paddr_t pa, size_t size);

// Map [va, va+size) to [pa, pa+size) with VM_* flags using pages of
// `page_size` (4 KiB, 2 MiB or 1 GiB). Fails with -E_BUSY if anything is
// already mapped there (nothing is changed), -E_NOMEM if a table cannot be
// allocated (tables allocated so far stay, empty), -E_INVAL on misalignment.
int vm_map(paddr_t root, vaddr_t va, paddr_t pa, size_t size, unsigned flags, size_t page_size);
// Unmaps the leaf at va; returns its physical address through *pa and its
// size, or 0 when nothing was mapped. Flushes the TLB entry for `tag`.
size_t vm_unmap(paddr_t root, vaddr_t va, unsigned tag, paddr_t *pa);
// Changes the rights of the leaf at va; -E_NOENT when unmapped.
int vm_protect(paddr_t root, vaddr_t va, unsigned flags, unsigned tag);
// Looks up va: 0 and *pa/*flags, or -E_NOENT. *flags are the rights in
// force: the leaf's, less what any table entry above it takes away.
int vm_lookup(paddr_t root, vaddr_t va, paddr_t *pa, unsigned *flags);
// Where page tables come from: NULL means the page allocator; a pool is a
// run of zeroed pages inside a kernel object (VAS, segment), used in order.
struct table_pool {
    paddr_t base;
    uint32_t pages, used;
};
// One zeroed table page from pool (or the page allocator), or 0.
paddr_t table_pool_alloc(struct table_pool *pool);
// The entry for va at `level` in the subtree whose top table (at
// `top_level`) is table_pa; intermediate tables come from pool when create.
// NULL when missing (and !create), exhausted, or a leaf covers va higher up.
pte_t *vm_entry(paddr_t table_pa, int top_level, vaddr_t va, int level,
                struct table_pool *pool, bool create);
// How many tables vm_entry(create) would allocate to reach `level`.
unsigned vm_missing_tables(paddr_t table_pa, int top_level, vaddr_t va, int level);

// Frees every page table below the user half of root and, when free_frames,
// every frame they map; then the root itself.
void vm_destroy_user(paddr_t root, bool free_frames);
