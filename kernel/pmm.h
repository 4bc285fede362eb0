// Physical page allocator: a bitmap over all usable RAM, one bit per 4 KiB
// frame (1 = free). Contiguous, aligned runs serve 2 MiB pages and stacks.
// Single CPU for now: callers run with interrupts disabled.
#pragma once
#include "kernel/types.h"

struct boot_info;

void pmm_init(const struct boot_info *bi);
// One zeroed frame, or 0 when memory is exhausted.
paddr_t pmm_alloc(void);
// `count` contiguous zeroed frames aligned to `align` bytes, or 0.
paddr_t pmm_alloc_contig(size_t count, size_t align);
void pmm_free(paddr_t pa);
void pmm_free_contig(paddr_t pa, size_t count);
uint64_t pmm_free_bytes(void);
uint64_t pmm_total_bytes(void);
// True when pa is a frame the allocator manages (free or allocated).
bool pmm_is_ram(paddr_t pa);
