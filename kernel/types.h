// Basic freestanding types and the virtual memory layout shared by both
// architectures (48-bit virtual addresses, 4 KiB pages).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t paddr_t;
typedef uint64_t vaddr_t;

#define PAGE_SHIFT 12
#define PAGE_SIZE  (1ul << PAGE_SHIFT)
#define LARGE_PAGE_SIZE (1ul << 21)
#define HUGE_PAGE_SIZE  (1ul << 30)

// User space: [USER_BASE, USER_TOP). Nothing is mapped at 0 so NULL faults.
#define USER_BASE  0x0000000000010000ul
#define USER_TOP   0x0000800000000000ul
// All physical memory is mapped at PHYS_MAP (read/write, no execute).
#define PHYS_MAP   0xffff800000000000ul
// The kernel image is linked at KERNEL_BASE (last 2 GiB).
#define KERNEL_BASE 0xffffffff80000000ul

#define P2V(pa) ((void *)((uintptr_t)(pa) + PHYS_MAP))
#define V2P(va) ((paddr_t)((uintptr_t)(va) - PHYS_MAP))

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ALIGN_UP(x, a)   (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((uint64_t)(a) - 1))
#define container_of(p, type, member) \
    ((type *)((char *)(p) - __builtin_offsetof(type, member)))
