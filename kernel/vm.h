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
// Looks up va: 0 and *pa/*flags, or -E_NOENT.
int vm_lookup(paddr_t root, vaddr_t va, paddr_t *pa, unsigned *flags);
// Frees every page table below the user half of root and, when free_frames,
// every frame they map; then the root itself.
void vm_destroy_user(paddr_t root, bool free_frames);
