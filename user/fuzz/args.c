// Argument generators: boundary values, addresses of every kind (ours,
// the kernel's, unmapped, unaligned, wrapping), slot numbers and rights.
#include "fuzz.h"

uint8_t fz_scratch[FZ_SCRATCH_PAGES * 4096] __attribute__((aligned(4096)));
static uint8_t stacks[FZ_STACKS][FZ_STACK_SIZE] __attribute__((aligned(16)));
static uint8_t estacks[FZ_ESTACKS][FZ_ESTACK_SIZE] __attribute__((aligned(16)));
static const uint64_t readonly_words[8] = {1, 2, 3, 4, 5, 6, 7, 8};

static const uint64_t boundary[] = {
    0, 1, 2, 3, 4, 7, 8, 15, 16, 63, 64, 127, 128, 255, 256, 4095, 4096, 4097, 65535, 65536,
    0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x7fffffffffffffff, 0x8000000000000000,
    0xffffffffffffffff, 0xfffffffffffffffe, 0xffffffff00000000, 0x0000800000000000,
    0x00007fffffffffff, 0xffff800000000000, 0xffffffff80000000, 1ul << 21, (1ul << 21) - 1,
    1ul << 30, 1ul << 40, 1ul << 47, 1ul << 48, 1ul << 56, 1000000, 1000001,
};

uint64_t fz_value(struct fz_ctx *c)
{
    switch (fz_below(c, 6)) {
    case 0:
    case 1:
        return boundary[fz_below(c, sizeof(boundary) / sizeof(boundary[0]))];
    case 2:
        return fz_below(c, 16);
    case 3:
        return fz_rand(c);
    case 4:
        return (uint32_t)fz_rand(c);
    default:
        return fz_rand(c) >> fz_below(c, 64);
    }
}

// Addresses that are never ours to lose: the kernel's, unmapped user
// space, the edges of user space, non-canonical and wrapping ones, where
// our segments live. Never the device window: a BAR mapped there may be
// memory the host checks (ivshmem).
static uint64_t foreign_address(struct fz_ctx *c)
{
    static const uint64_t addrs[] = {
        0, 8, 0xfff, 0x1000, 0xffff, 0x10000 - 8, 0x7000000000, 0x7ffffffff000, 0x7ffffffffff0,
        0x7fffffffffff, 0x800000000000, 0x800000000000 - 8, 0xffff800000000000, 0xffff800000100000,
        0xffffffff80000000, 0xffffffff80100000, 0xfffffffffffffff0, 0x0000fffffffff000, 0x8000000000000000,
        0x3ff00000 + 4096, 0x40000000, 0x80000000, 0x100000000, MF_HOME_SIZE - 8,
    };
    if (fz_chance(c, 200))
        return fz_rand(c) & ~7ul;
    return addrs[fz_below(c, sizeof(addrs) / sizeof(addrs[0]))];
}

uint64_t fz_foreign(struct fz_ctx *c) { return foreign_address(c); }

// Our own memory the kernel may read: text, read-only data, data, stack.
uint64_t fz_ptr_in(struct fz_ctx *c)
{
    switch (fz_below(c, 8)) {
    case 0:
        return (uint64_t)(uintptr_t)fz_step;                    // text
    case 1:
        return (uint64_t)(uintptr_t)readonly_words + fz_below(c, 3);
    case 2:
        return (uint64_t)(uintptr_t)&fz + fz_below(c, sizeof(fz));
    case 3:
    case 4:
        return fz_ptr_out(c);
    default:
        return foreign_address(c);
    }
}

// Memory the kernel may write (at most FZ_LOCAL_SIZE / 2 bytes): our
// scratch pages, a buffer in the current frame, read-only text and data
// (writes there must fail), and foreign addresses.
uint64_t fz_ptr_out(struct fz_ctx *c)
{
    switch (fz_below(c, 10)) {
    case 0:
    case 1:
    case 2:
        return (uint64_t)(uintptr_t)&fz_scratch[fz_below(c, 12 * 4096 - FZ_LOCAL_SIZE)];
    case 3:
        return (uint64_t)(uintptr_t)&fz_scratch[(12 * 4096 - 8) + fz_below(c, 8)];   // unaligned
    case 4:
        return c->local ? (uint64_t)(uintptr_t)(c->local + fz_below(c, FZ_LOCAL_SIZE / 2))
                        : (uint64_t)(uintptr_t)fz_scratch;
    case 5:
        return (uint64_t)(uintptr_t)fz_step + fz_below(c, 64);   // text: read-only
    case 6:
        return (uint64_t)(uintptr_t)readonly_words;
    default:
        return foreign_address(c);
    }
}

// Page addresses for mappings: in the home region (refused), above it
// where segments live, at the top of user space, unaligned, kernel.
uint64_t fz_user_va(struct fz_ctx *c)
{
    switch (fz_below(c, 8)) {
    case 0:
        return MF_HOME_SIZE;
    case 1:
        return 2ul << 30;
    case 2:
        return (4ul << 30) + (fz_below(c, 8) << 21);
    case 3:
        return ((fz_rand(c) & 0x7fffffffffff) | MF_HOME_SIZE) & ~((1ul << 21) - 1);
    case 4:
        return 0x7fffffe00000;
    case 5:
        return (1ul << 30) + fz_below(c, 1 << 21);       // unaligned
    case 6:
        return MF_DEVICE_WINDOW_BASE + (fz_below(c, 16) << 21);
    default:
        return foreign_address(c);
    }
}

long fz_cptr(struct fz_ctx *c)
{
    switch (fz_below(c, 10)) {
    case 0:
        return (long)fz_below(c, 301);
    case 1:
        return (long)fz_value(c);
    case 2:
        return FZ_SELF + (long)fz_below(c, 31);                   // ours and the protected ones
    case 3:
        return MF_CAP_DEVICE_BASE + (long)fz_below(c, 17);
    default:
        return 2 + (long)fz_below(c, FZ_SLOTS - 2);
    }
}

long fz_slot_of(struct fz_ctx *c, unsigned type)
{
    unsigned start = (unsigned)fz_below(c, FZ_SLOTS);
    if (!fz_chance(c, 100))
        for (unsigned i = 0; i < FZ_SLOTS; i++) {
            unsigned s = (start + i) % FZ_SLOTS;
            if (s && fz.shadow[s] == type)
                return s;
        }
    return fz_cptr(c);
}

long fz_free_slot(struct fz_ctx *c)
{
    unsigned start = (unsigned)fz_below(c, FZ_SLOTS);
    for (unsigned i = 0; i < FZ_SLOTS; i++) {
        unsigned s = (start + i) % FZ_SLOTS;
        if (s > FZ_SELF && !fz_protected(s) && fz.shadow[s] == MF_OBJ_NULL)
            return s;
    }
    return 2 + (long)fz_below(c, FZ_SLOTS - 2);
}

unsigned fz_rights(struct fz_ctx *c)
{
    if (fz_chance(c, 100))
        return (unsigned)fz_value(c);
    return fz_chance(c, 500) ? MF_RIGHTS_ALL : (unsigned)fz_below(c, 8);
}

uint8_t *fz_stack_alloc(void)
{
    uint32_t i = __atomic_fetch_add(&fz.stack_next, 1, __ATOMIC_RELAXED);
    return i < FZ_STACKS ? stacks[i] + FZ_STACK_SIZE : NULL;
}

// A fresh E-stack (each used by one A-stack of one binding this epoch), or
// a bad address: the kernel must refuse it or the call must fail cleanly.
uint64_t fz_estack(struct fz_ctx *c)
{
    if (fz_chance(c, 900)) {
        uint32_t i = __atomic_fetch_add(&fz.estack_next, 1, __ATOMIC_RELAXED);
        if (i < FZ_ESTACKS)
            return (uint64_t)(uintptr_t)(estacks[i] + FZ_ESTACK_SIZE);
    }
    uint64_t a = foreign_address(c);
    return fz_chance(c, 500) ? a : a | 8;
}
