#include "lib/elf.h"
#include "include/manifold/errors.h"

#define PT_LOAD 1
#define PT_TLS 7
#define PAGE_MASK 0xfffull

struct ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version;
    uint64_t entry, phoff, shoff;
    uint32_t flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz, align;
};

_Static_assert(sizeof(struct ehdr) == 64, "ELF64 header layout");
_Static_assert(sizeof(struct phdr) == 56, "ELF64 program header layout");

static const struct phdr *phdr_at(const struct elf_image *img, unsigned i)
{
    const struct ehdr *eh = (const struct ehdr *)img->data;
    return (const struct phdr *)(img->data + eh->phoff + (uint64_t)i * sizeof(struct phdr));
}

// n-th PT_LOAD header, or NULL.
static const struct phdr *load_phdr(const struct elf_image *img, unsigned n)
{
    const struct ehdr *eh = (const struct ehdr *)img->data;
    for (unsigned i = 0; i < eh->phnum; i++) {
        const struct phdr *ph = phdr_at(img, i);
        if (ph->type == PT_LOAD && n-- == 0)
            return ph;
    }
    return NULL;
}

int elf_parse(struct elf_image *img, const void *data, size_t size,
              uint16_t machine, uint64_t lo, uint64_t hi)
{
    const struct ehdr *eh = data;
    if (!data || size < sizeof(*eh))
        return -E_NOEXEC;
    if (eh->ident[0] != 0x7f || eh->ident[1] != 'E' || eh->ident[2] != 'L' || eh->ident[3] != 'F')
        return -E_NOEXEC;
    if (eh->ident[4] != 2 /* 64-bit */ || eh->ident[5] != 1 /* little endian */ ||
        eh->ident[6] != 1 || eh->version != 1)
        return -E_NOEXEC;
    if (eh->type != 2 /* ET_EXEC */ || eh->machine != machine)
        return -E_NOEXEC;
    if (eh->phentsize != sizeof(struct phdr) || eh->phnum == 0 || eh->phnum > 64)
        return -E_NOEXEC;
    if (eh->phoff > size || (size - eh->phoff) / sizeof(struct phdr) < eh->phnum)
        return -E_NOEXEC;

    img->data = data;
    img->size = size;
    img->entry = eh->entry;
    img->segment_count = 0;
    int entry_ok = 0;
    for (unsigned i = 0; i < eh->phnum; i++) {
        const struct phdr *ph = phdr_at(img, i);
        if (ph->type != PT_LOAD)
            continue;
        if (ph->filesz > ph->memsz || ph->offset > size || size - ph->offset < ph->filesz)
            return -E_NOEXEC;
        if (ph->memsz == 0 || ph->vaddr < lo || ph->vaddr >= hi || hi - ph->vaddr < ph->memsz)
            return -E_NOEXEC;
        // Segments may not share a page: each page gets one set of rights.
        uint64_t first = ph->vaddr & ~PAGE_MASK, last = (ph->vaddr + ph->memsz - 1) & ~PAGE_MASK;
        for (unsigned j = 0; j < img->segment_count; j++) {
            const struct phdr *o = load_phdr(img, j);
            uint64_t ofirst = o->vaddr & ~PAGE_MASK, olast = (o->vaddr + o->memsz - 1) & ~PAGE_MASK;
            if (first <= olast && ofirst <= last)
                return -E_NOEXEC;
        }
        if ((ph->flags & ELF_SEG_X) && eh->entry >= ph->vaddr && eh->entry - ph->vaddr < ph->memsz)
            entry_ok = 1;
        img->segment_count++;
    }
    if (img->segment_count == 0 || !entry_ok)
        return -E_NOEXEC;
    img->tls = (struct elf_segment){0};
    img->tls_align = 1;
    for (unsigned i = 0; i < eh->phnum; i++) {
        const struct phdr *ph = phdr_at(img, i);
        if (ph->type != PT_TLS || (ph->memsz == 0 && ph->filesz == 0))
            continue;       // (an empty one: a linker script names it, nothing uses it)
        if (img->tls.memsz || ph->filesz > ph->memsz || ph->memsz == 0 || ph->memsz > (1u << 20) ||
            ph->offset > size || size - ph->offset < ph->filesz || ph->align > 4096 ||
            (ph->align & (ph->align - 1)))
            return -E_NOEXEC;
        // The template's bytes are part of a loaded segment's file bytes.
        int inside = 0;
        for (unsigned j = 0; j < img->segment_count; j++) {
            const struct phdr *o = load_phdr(img, j);
            if (ph->vaddr >= o->vaddr && ph->vaddr - o->vaddr <= o->memsz && o->memsz - (ph->vaddr - o->vaddr) >= ph->filesz)
                inside = 1;
        }
        if (!inside)
            return -E_NOEXEC;
        img->tls = (struct elf_segment){ph->vaddr, ph->memsz, ph->offset, ph->filesz, ph->flags & 7};
        img->tls_align = ph->align ? ph->align : 1;
    }
    return 0;
}

void elf_segment_get(const struct elf_image *img, unsigned idx, struct elf_segment *seg)
{
    const struct phdr *ph = load_phdr(img, idx);
    seg->vaddr = ph->vaddr;
    seg->memsz = ph->memsz;
    seg->offset = ph->offset;
    seg->filesz = ph->filesz;
    seg->flags = ph->flags & 7;
}
