// Self-tests of the ELF loader: valid images load; truncated and malformed
// ones are rejected with -E_NOEXEC and leave nothing allocated.
#include "kernel/arch.h"
#include "kernel/ktest.h"
#include "kernel/loader.h"
#include "kernel/pmm.h"
#include "kernel/thread.h"
#include "include/manifold/errors.h"
#include "lib/elf.h"
#include "lib/string.h"

// A private copy of the `hello` program to corrupt.
static uint8_t *copy_hello(size_t *size, paddr_t *frames, size_t *pages)
{
    const char *name;
    const void *image;
    for (unsigned i = 0; program_get(i, &name, &image, size); i++) {
        if (strcmp(name, "hello"))
            continue;
        *pages = ALIGN_UP(*size, PAGE_SIZE) / PAGE_SIZE;
        *frames = pmm_alloc_contig(*pages, PAGE_SIZE);
        if (!*frames)
            return NULL;
        memcpy(P2V(*frames), image, *size);
        return P2V(*frames);
    }
    return NULL;
}

// Loads img and reports the error, releasing anything created.
static int try_load(const uint8_t *img, size_t size)
{
    struct thread *t;
    int r = program_load(img, size, "loader-test", 0, &t);
    if (r == 0) {
        t->state = THREAD_DEAD;
        thread_reap(t);
    }
    return r;
}

KTEST(loader_accepts_valid_image)
{
    size_t size, pages;
    paddr_t frames;
    uint8_t *img = copy_hello(&size, &frames, &pages);
    KCHECK(img);
    int r = try_load(img, size);
    pmm_free_contig(frames, pages);
    KCHECK(r == 0);
    return NULL;
}

KTEST(loader_rejects_truncated_images)
{
    size_t size, pages;
    paddr_t frames;
    uint8_t *img = copy_hello(&size, &frames, &pages);
    KCHECK(img);
    static const size_t cuts[] = {0, 1, 4, 16, 63, 64, 100, 200};
    bool all = true;
    for (unsigned i = 0; i < ARRAY_SIZE(cuts); i++)
        all &= try_load(img, cuts[i]) == -E_NOEXEC;
    // Cut one byte short of the end of the last segment's file data.
    struct elf_image parsed;
    KCHECK(elf_parse(&parsed, img, size, arch_elf_machine, USER_BASE, USER_TOP) == 0);
    uint64_t data_end = 0;
    for (unsigned i = 0; i < parsed.segment_count; i++) {
        struct elf_segment seg;
        elf_segment_get(&parsed, i, &seg);
        if (seg.offset + seg.filesz > data_end)
            data_end = seg.offset + seg.filesz;
    }
    all &= try_load(img, data_end - 1) == -E_NOEXEC;
    all &= try_load(img, data_end) == 0;   // and exactly enough is enough
    pmm_free_contig(frames, pages);
    KCHECK(all);
    return NULL;
}

// ELF64 header field offsets.
#define E_IDENT_CLASS 4
#define E_MACHINE 18
#define E_ENTRY 24
#define E_PHOFF 32
#define E_PHENTSIZE 54
#define E_PHNUM 56
// Program header field offsets.
#define P_OFFSET 8
#define P_VADDR 16
#define P_FILESZ 32
#define P_MEMSZ 40

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

KTEST(loader_rejects_malformed_images)
{
    size_t size, pages;
    paddr_t frames;
    uint8_t *img = copy_hello(&size, &frames, &pages);
    KCHECK(img);
    uint8_t *orig = P2V(pmm_alloc_contig(pages, PAGE_SIZE));
    memcpy(orig, img, size);
    uint8_t *ph = img + get64(img + E_PHOFF);   // first program header
    bool ok = true;
#define MUTATE(stmt)                     \
    do {                                 \
        memcpy(img, orig, size);         \
        stmt;                            \
        ok &= try_load(img, size) == -E_NOEXEC; \
    } while (0)
    MUTATE(img[0] = 0x7e);                                   // magic
    MUTATE(img[E_IDENT_CLASS] = 1);                          // 32-bit
    MUTATE(put16(img + E_MACHINE, 40));                      // ARM32
    MUTATE(put16(img + E_PHENTSIZE, 32));                    // header size
    MUTATE(put16(img + E_PHNUM, 0));                         // no segments
    MUTATE(put16(img + E_PHNUM, 60000));                     // past the end
    MUTATE(put64(img + E_PHOFF, ~0ull - 8));                 // offset overflow
    MUTATE(put64(img + E_ENTRY, 0x10));                      // entry outside code
    MUTATE(put64(ph + P_OFFSET, size));                      // data past the end
    MUTATE(put64(ph + P_FILESZ, get64(ph + P_MEMSZ) + 1));   // filesz > memsz
    MUTATE(put64(ph + P_VADDR, 0xffffffff80000000ull));      // kernel address
    MUTATE(put64(ph + P_VADDR, ~0ull - 4096));               // wraps
    MUTATE(put64(ph + P_MEMSZ, 1ull << 62));                 // huge
#undef MUTATE
    pmm_free_contig(V2P(orig), pages);
    pmm_free_contig(frames, pages);
    KCHECK(ok);
    return NULL;
}
