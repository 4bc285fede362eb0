// The physical page allocator: a bitmap over the firmware's usable RAM,
// and in front of it a per-CPU cache of free pages (a clustered object,
// kernel/clustered.h) for single pages: page tables come and go with every
// map and unmap, and a CPU that allocates and frees pages touches only its
// own cache, taking the bitmap's lock once per PMM_CACHE_BATCH pages.
//
// Locking: a CPU's cache has a ticket lock that only its owner takes,
// except when another CPU drains every cache (a contiguous allocation that
// found too little in the bitmap); then the bitmap's MCS lock (a leaf).
// Order: cache, then bitmap. Pages are zeroed after the locks are released.
// Free memory is the bitmap's count plus what the caches hold.
#include "kernel/lockdep.h"
#include "kernel/pmm.h"
#include "kernel/boot.h"
#include "kernel/clustered.h"
#include "kernel/console.h"
#include "lib/spinlock.h"
#include "lib/string.h"

static struct mcs_lock pmm_lock = {.lock_class = LOCK_CLASS_PMM};

static uint64_t *bitmap;          // bit set = frame free
static paddr_t base_pa;           // frame 0 of the bitmap
static size_t frame_count;
static size_t free_count, total_count;  // free_count: in the bitmap
static size_t hint;               // next-fit start
static const struct boot_region *ram;  // for pmm_is_ram
static unsigned ram_count;

static inline bool is_free(size_t i) { return bitmap[i / 64] >> (i % 64) & 1; }
static inline void set_free(size_t i) { bitmap[i / 64] |= 1ull << (i % 64); }
static inline void set_used(size_t i) { bitmap[i / 64] &= ~(1ull << (i % 64)); }

static bool overlaps(paddr_t a, paddr_t aend, paddr_t b, paddr_t bend)
{
    return a < bend && b < aend;
}

void pmm_init(const struct boot_info *bi)
{
    paddr_t lo = ~0ull, hi = 0;
    for (unsigned i = 0; i < bi->region_count; i++) {
        const struct boot_region *r = &bi->regions[i];
        if (r->base < lo)
            lo = r->base;
        if (r->base + r->size > hi)
            hi = r->base + r->size;
    }
    lo = ALIGN_DOWN(lo, PAGE_SIZE);
    base_pa = lo;
    frame_count = (hi - lo) / PAGE_SIZE;
    size_t bitmap_bytes = ALIGN_UP((frame_count + 63) / 64 * 8, PAGE_SIZE);

    // Place the bitmap in the first region large enough that holds no
    // kernel, module or boot data.
    paddr_t bm = 0;
    for (unsigned i = 0; i < bi->region_count && !bm; i++) {
        paddr_t start = ALIGN_UP(bi->regions[i].base, PAGE_SIZE);
        paddr_t end = ALIGN_DOWN(bi->regions[i].base + bi->regions[i].size, PAGE_SIZE);
        while (start + bitmap_bytes <= end) {
            paddr_t s = start, e = start + bitmap_bytes;
            if (overlaps(s, e, bi->kernel_start, bi->kernel_end))
                start = ALIGN_UP(bi->kernel_end, PAGE_SIZE);
            else if (overlaps(s, e, bi->reserved_start, bi->reserved_end))
                start = ALIGN_UP(bi->reserved_end, PAGE_SIZE);
            else {
                bm = s;
                break;
            }
        }
    }
    if (!bm)
        panic("pmm: no room for a %zu-byte frame bitmap", bitmap_bytes);
    bitmap = P2V(bm);
    memset(bitmap, 0, bitmap_bytes);

    for (unsigned i = 0; i < bi->region_count; i++) {
        paddr_t start = ALIGN_UP(bi->regions[i].base, PAGE_SIZE);
        paddr_t end = ALIGN_DOWN(bi->regions[i].base + bi->regions[i].size, PAGE_SIZE);
        for (paddr_t pa = start; pa < end; pa += PAGE_SIZE) {
            if (pa < 0x100000)
                continue;   // keep the first MiB (x86 firmware, SMP trampoline)
            if (overlaps(pa, pa + PAGE_SIZE, bi->kernel_start, bi->kernel_end) ||
                overlaps(pa, pa + PAGE_SIZE, bi->reserved_start, bi->reserved_end) ||
                overlaps(pa, pa + PAGE_SIZE, bm, bm + bitmap_bytes))
                continue;
            set_free((pa - base_pa) / PAGE_SIZE);
            free_count++;
        }
    }
    total_count = free_count;
    ram = bi->regions;
    ram_count = bi->region_count;
}

bool pmm_is_ram(paddr_t pa)
{
    for (unsigned i = 0; i < ram_count; i++)
        if (pa >= ram[i].base && pa - ram[i].base < ram[i].size)
            return true;
    return false;
}

static paddr_t bitmap_alloc(size_t count, size_t align)
{
    struct mcs_qnode q;
    size_t step = align > PAGE_SIZE ? align / PAGE_SIZE : 1;
    if (count == 0)
        return 0;
    mcs_lock(&pmm_lock, &q);
    if (count > free_count) {
        mcs_unlock(&pmm_lock, &q);
        return 0;
    }
    // Two passes of next-fit: from the hint, then from the start.
    for (int pass = 0; pass < 2; pass++) {
        size_t i = pass ? 0 : hint;
        // Align the candidate's physical address, not its bitmap index.
        i = (ALIGN_UP(base_pa + i * PAGE_SIZE, step * PAGE_SIZE) - base_pa) / PAGE_SIZE;
        for (; i + count <= frame_count; i += step) {
            size_t n = 0;
            while (n < count && is_free(i + n))
                n++;
            if (n < count)
                continue;
            for (n = 0; n < count; n++)
                set_used(i + n);
            free_count -= count;
            hint = i + count;
            mcs_unlock(&pmm_lock, &q);
            paddr_t pa = base_pa + i * PAGE_SIZE;
            memset(P2V(pa), 0, count * PAGE_SIZE);
            return pa;
        }
    }
    mcs_unlock(&pmm_lock, &q);
    return 0;
}

// ---------------------------------------------------- the per-CPU caches

#define PMM_CACHE_MAX 64        // pages a CPU keeps at most
#define PMM_CACHE_BATCH 16      // pages moved between a cache and the bitmap at once

struct page_cache {
    struct ticket_lock lock;    // its CPU, or one draining every cache
    uint32_t count;             // read by other CPUs (pmm_free_bytes)
    paddr_t page[PMM_CACHE_MAX];
};

static void cache_init(struct clustered *co, void *rep, unsigned cpu)
{
    (void)co, (void)cpu;
    ((struct page_cache *)rep)->lock.lock_class = LOCK_CLASS_PMM_CACHE;
}

static const struct co_type cache_type = {
    .name = "page cache",
    .rep_size = sizeof(struct page_cache),
    .permanent = true,
    .init = cache_init,
};
static struct clustered caches;
static bool caches_on;

void pmm_cache_init(void)
{
    co_init(&caches, &cache_type, NULL);
    caches_on = true;
}

// Moves pages from the bitmap into c until it holds `want` (pmm_lock).
static void refill(struct page_cache *c, uint32_t want)
{
    struct mcs_qnode q;
    uint32_t n = c->count;
    mcs_lock(&pmm_lock, &q);
    for (size_t scanned = 0; n < want && free_count && scanned < frame_count; scanned++) {
        size_t i = hint < frame_count ? hint : 0;
        if (!bitmap[i / 64]) {      // 64 frames in use: next word
            hint = (i / 64 + 1) * 64;
            scanned += 64 - i % 64 - 1;
            continue;
        }
        hint = i + 1;
        if (!is_free(i))
            continue;
        set_used(i);
        free_count--;
        c->page[n++] = base_pa + i * PAGE_SIZE;
    }
    __atomic_store_n(&c->count, n, __ATOMIC_RELAXED);
    mcs_unlock(&pmm_lock, &q);
    kstat_inc(MF_KSTAT_PAGE_CACHE_REFILLS);
}

// Puts c's first `n` pages back in the bitmap (pmm_lock).
static void flush(struct page_cache *c, uint32_t n)
{
    struct mcs_qnode q;
    mcs_lock(&pmm_lock, &q);
    for (uint32_t k = 0; k < n; k++) {
        size_t i = (c->page[k] - base_pa) / PAGE_SIZE;
        if (is_free(i))
            panic("pmm: frame %p was freed twice (found in two CPUs' caches)", (void *)c->page[k]);
        set_free(i);
        free_count++;
    }
    mcs_unlock(&pmm_lock, &q);
    memmove(c->page, c->page + n, (c->count - n) * sizeof(c->page[0]));
    __atomic_store_n(&c->count, c->count - n, __ATOMIC_RELAXED);
    kstat_inc(MF_KSTAT_PAGE_CACHE_FLUSHES);
}

static void drain_one(void *rep, unsigned cpu, void *arg)
{
    (void)cpu, (void)arg;
    struct page_cache *c = rep;
    ticket_lock(&c->lock);
    if (c->count)
        flush(c, c->count);
    ticket_unlock(&c->lock);
}

// Every CPU's cached pages back to the bitmap.
void pmm_drain_caches(void)
{
    if (caches_on)
        co_for_each(&caches, drain_one, NULL);
}

static struct page_cache *my_cache(void)
{
    return caches_on ? co_local(&caches) : NULL;
}

paddr_t pmm_alloc_contig(size_t count, size_t align)
{
    paddr_t pa = bitmap_alloc(count, align);
    if (!pa && count) {
        // What the caches hold may make up the run.
        pmm_drain_caches();
        pa = bitmap_alloc(count, align);
    }
    return pa;
}

paddr_t pmm_alloc(void)
{
    struct page_cache *c = my_cache();
    paddr_t pa = 0;
    if (likely(c)) {
        ticket_lock(&c->lock);
        if (!c->count)
            refill(c, PMM_CACHE_BATCH);
        if (c->count) {
            pa = c->page[c->count - 1];
            __atomic_store_n(&c->count, c->count - 1, __ATOMIC_RELAXED);
        }
        ticket_unlock(&c->lock);
    }
    if (unlikely(!pa))
        return pmm_alloc_contig(1, PAGE_SIZE);   // the bitmap is empty: other CPUs' caches
    memset(P2V(pa), 0, PAGE_SIZE);
    return pa;
}

paddr_t pmm_alloc_uncached(void)
{
    return bitmap_alloc(1, PAGE_SIZE);
}

void pmm_free_contig(paddr_t pa, size_t count)
{
    struct mcs_qnode q;
    mcs_lock(&pmm_lock, &q);
    for (size_t n = 0; n < count; n++, pa += PAGE_SIZE) {
        size_t i = (pa - base_pa) / PAGE_SIZE;
        if (pa < base_pa || i >= frame_count || is_free(i))
            panic("pmm: freeing frame %p that is not allocated", (void *)pa);
        set_free(i);
        free_count++;
    }
    mcs_unlock(&pmm_lock, &q);
}

void pmm_free_uncached(paddr_t pa)
{
    pmm_free_contig(pa, 1);
}

void pmm_free(paddr_t pa)
{
    struct page_cache *c = my_cache();
    if (unlikely(!c) || pa < base_pa || (pa - base_pa) / PAGE_SIZE >= frame_count || pa % PAGE_SIZE) {
        pmm_free_contig(pa, 1);     // checked there
        return;
    }
    ticket_lock(&c->lock);
    // A page freed twice into this cache is caught here; freed once here
    // and once into another CPU's, only when both reach the bitmap (the
    // bitmap alone caught every double free before the caches).
    for (uint32_t k = 0; k < c->count; k++)
        if (c->page[k] == pa)
            panic("pmm: freeing frame %p twice (it is in CPU %u's cache)", (void *)pa, arch_cpu_id());
    if (c->count == PMM_CACHE_MAX)
        flush(c, PMM_CACHE_BATCH);      // the oldest: the newest are the likeliest in the CPU's cache
    c->page[c->count] = pa;
    __atomic_store_n(&c->count, c->count + 1, __ATOMIC_RELAXED);
    ticket_unlock(&c->lock);
}

static void add_cached(void *rep, unsigned cpu, void *arg)
{
    (void)cpu;
    *(uint64_t *)arg += __atomic_load_n(&((struct page_cache *)rep)->count, __ATOMIC_RELAXED);
}

uint64_t pmm_cached_bytes(void)
{
    uint64_t pages = 0;
    if (caches_on)
        co_for_each(&caches, add_cached, &pages);
    return pages * PAGE_SIZE;
}

uint64_t pmm_free_bytes(void)
{
    return __atomic_load_n(&free_count, __ATOMIC_RELAXED) * PAGE_SIZE + pmm_cached_bytes();
}

uint64_t pmm_total_bytes(void) { return (uint64_t)total_count * PAGE_SIZE; }
