// ELF64 parsing with full validation, shared by the kernel loader and host
// unit tests. Nothing here trusts the image: every offset and size is checked
// against the image length and the caller's address window before use.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define ELF_MACHINE_X86_64  62
#define ELF_MACHINE_AARCH64 183

#define ELF_SEG_X 1u
#define ELF_SEG_W 2u
#define ELF_SEG_R 4u

struct elf_segment {
    uint64_t vaddr, memsz;
    uint64_t offset, filesz;
    unsigned flags;     // ELF_SEG_*
};

struct elf_image {
    const uint8_t *data;
    size_t size;
    uint64_t entry;
    unsigned segment_count;   // PT_LOAD segments
    // The PT_TLS template, if any (tls.memsz 0: none): .tdata's bytes at
    // tls.offset (tls.filesz of them), then zeros to tls.memsz; the block
    // is aligned to tls_align (a power of two, at most 4096).
    struct elf_segment tls;
    uint64_t tls_align;
};

// Validates the header, program headers and every PT_LOAD segment: each must
// lie in the file, have filesz <= memsz, and fit in [lo, hi) without overflow;
// segments must not overlap at page granularity; the entry point must lie in
// an executable segment. At most one PT_TLS, lying in the file, filesz <=
// memsz <= 1 MiB, inside a PT_LOAD, its alignment a power of two up to
// 4096. Returns 0 or -E_NOEXEC.
int elf_parse(struct elf_image *img, const void *data, size_t size,
              uint16_t machine, uint64_t lo, uint64_t hi);
// The idx-th PT_LOAD segment of a parsed image (idx < segment_count).
void elf_segment_get(const struct elf_image *img, unsigned idx, struct elf_segment *seg);
