// Thread-local blocks as the ABI's local-exec model lays them out, shared
// by the program loader (a program's first thread) and mf_thread_start
// (every thread a program starts itself). A block for a PT_TLS template of
// `memsz` bytes aligned to `align` (a power of two), from `va` on:
//   x86_64 (variant II): the template ends at the thread pointer (its size
//   rounded up to its alignment; the pointer aligned to 16 or more), and
//   the pointer's first word holds its own address;
//   aarch64 (variant I): the thread pointer (va, aligned to the template's
//   alignment and 16 by the caller) has 16 reserved bytes above it, then
//   the template.
#pragma once
#include <stdint.h>

struct tls_layout {
    uint64_t tp;        // the thread pointer
    uint64_t data;      // where the template's bytes go
    uint64_t end;       // the block's end
};

static inline struct tls_layout tls_layout(uint64_t memsz, uint64_t align, uint64_t va)
{
    uint64_t size = (memsz + align - 1) & ~(align - 1);
    struct tls_layout t;
#if defined(__x86_64__)
    uint64_t a = align > 16 ? align : 16;
    t.tp = (va + size + a - 1) & ~(a - 1);
    t.data = t.tp - size;
    t.end = t.tp + 16;
#else
    (void)size;
    t.tp = va;
    t.data = va + ((16 + align - 1) & ~(align - 1));
    t.end = t.data + memsz;
#endif
    return t;
}
