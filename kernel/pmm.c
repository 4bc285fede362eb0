// The physical page allocator: a bitmap over the firmware's usable RAM.
//
// Locking: one MCS lock (a leaf) over the bitmap, the next-fit hint and the
// counters; pages are zeroed after it is released. Not partitioned per CPU:
// allocation is rare after boot (objects come from untyped memory), so the
// lock is seldom contended. A per-CPU cache of free pages is the way to go
// if that changes.
#include "kernel/lockdep.h"
#include "kernel/pmm.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "lib/spinlock.h"
#include "lib/string.h"

static struct mcs_lock pmm_lock = {.lock_class = LOCK_CLASS_PMM};

static uint64_t *bitmap;          // bit set = frame free
static paddr_t base_pa;           // frame 0 of the bitmap
static size_t frame_count;
static size_t free_count, total_count;
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

paddr_t pmm_alloc_contig(size_t count, size_t align)
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

paddr_t pmm_alloc(void)
{
    return pmm_alloc_contig(1, PAGE_SIZE);
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

void pmm_free(paddr_t pa)
{
    pmm_free_contig(pa, 1);
}

uint64_t pmm_free_bytes(void) { return (uint64_t)free_count * PAGE_SIZE; }
uint64_t pmm_total_bytes(void) { return (uint64_t)total_count * PAGE_SIZE; }
