// Physical page allocator: a bitmap over all usable RAM, one bit per 4 KiB
// frame (1 = free), with a per-CPU cache of free pages in front of it for
// single pages (pmm.c). Contiguous, aligned runs serve 2 MiB pages and
// stacks. Callers run with interrupts disabled.
#pragma once
#include "kernel/types.h"

struct boot_info;

void pmm_init(const struct boot_info *bi);
// The per-CPU caches exist from here on (their representatives are made
// as each CPU comes up: co_prepare_cpu).
void pmm_cache_init(void);
// One zeroed frame, or 0 when memory is exhausted.
paddr_t pmm_alloc(void);
// `count` contiguous zeroed frames aligned to `align` bytes, or 0.
paddr_t pmm_alloc_contig(size_t count, size_t align);
void pmm_free(paddr_t pa);
void pmm_free_contig(paddr_t pa, size_t count);
// One zeroed frame straight from the bitmap, and its return there (the
// clustered objects' representatives: the cache is one of them).
paddr_t pmm_alloc_uncached(void);
void pmm_free_uncached(paddr_t pa);
// Free memory: the bitmap's and what the CPUs' caches hold.
uint64_t pmm_free_bytes(void);
uint64_t pmm_cached_bytes(void);
// Every CPU's cached pages back to the bitmap (a contiguous allocation
// that found too little does it; tests).
void pmm_drain_caches(void);
uint64_t pmm_total_bytes(void);
// True when pa is a frame the allocator manages (free or allocated).
bool pmm_is_ram(paddr_t pa);
