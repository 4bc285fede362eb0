// The checkpoint image format (docs/checkpoint.md; tools/ckpt-inspect reads
// it on the host). Little-endian, fixed-size records, every offset from
// the image's start:
//
//   [0, 4096)                  struct mf_ckpt_header
//   [object_offset, ...)       object_count struct mf_ckpt_object
//   [cap_offset, ...)          cap_count struct mf_ckpt_cap
//                              (each table starts on a 4 KiB boundary)
//   [page_offset, ...)         page_count pages of 4 KiB: each frame's
//                              contents, in object order (a 2 MiB frame
//                              takes 512 consecutive pages)
//
// Checksums are CRC-32 (IEEE 802.3, as zlib's crc32): header_crc covers the
// header with header_crc zero, table_crc the objects then the caps, and each frame object
// carries its contents' CRC. A restorer checks all three before it makes
// anything (lib/crc32.h).
#pragma once
#include <stdint.h>
#include "include/manifold/cap.h"
#include "include/manifold/syscall.h"

#define MF_CKPT_MAGIC "MFCKPT1\n"
#define MF_CKPT_VERSION 3
#define MF_CKPT_ARCH_X86_64 1
#define MF_CKPT_ARCH_AARCH64 2
#define MF_CKPT_PAGE 4096u

struct mf_ckpt_header {
    char magic[8];                  // MF_CKPT_MAGIC
    uint32_t version, arch;         // MF_CKPT_VERSION, MF_CKPT_ARCH_*
    uint64_t image_bytes;           // everything, pages included
    uint32_t cnode_count;           // the first cnode_count objects: the process's CNodes, in order
    uint32_t loose_count;           // caps the checkpointer held outside them (a loader's thread cap...)
    uint32_t object_count, cap_count;
    uint32_t page_count, thread_count;
    uint64_t object_offset, cap_offset;
    uint64_t page_offset;           // all three multiples of 4096
    uint32_t table_crc, header_crc;
    uint64_t frozen_cycles;         // how long the process was stopped (counter ticks)
    uint64_t counter_hz;
    uint8_t reserved[4096 - 96];
};
_Static_assert(sizeof(struct mf_ckpt_header) == 4096, "the header is one page");

// Objects are referred to by index + 1 (0: none).
#define MF_CKPT_OBJECT_FLAG_WAS_ACTIVE 1u   // a thread that ran (or waited) when stopped: resumed afterwards
#define MF_CKPT_OBJECT_FLAG_IN_CALL    2u   // a thread inside a call that finishes when resumed (its reply wait)
#define MF_CKPT_OBJECT_FLAG_NO_CONTEXT 4u   // a thread never given registers: only the object
#define MF_CKPT_OBJECT_FLAG_FRESH      8u   // a frame or segment of a split process's half left out:
                                            // not made again (the restorer loads that half afresh)
struct mf_ckpt_object {
    uint64_t name;                  // the object's name at the checkpoint (struct mf_cap_info)
    uint32_t type, size_bits;       // MF_OBJ_*
    uint32_t flags, crc;            // crc: a frame's contents
    uint64_t page;                  // a frame: its first page in the page area
    union {
        struct {
            uint64_t base, size;
            uint64_t pager_badge;
            uint32_t pager;         // the pager endpoint (object index + 1)
            uint32_t home;          // a home segment
            uint32_t ranges, reserved;      // a split process's home: its halves' ranges
            struct {
                uint64_t base, size, half;  // MF_HALF_*
            } range[MF_HALF_RANGES_MAX];
        } segment;
        struct {
            uint32_t home;          // the VAS whose home it shares (index + 1), 0: none
            uint32_t count;
            uint32_t segment[16];   // index + 1, in attach order
            uint8_t rights[16];
        } vas;
        struct {
            uint64_t word;
        } notification;
        struct {
            uint32_t cspace, home, exit;    // index + 1
            uint32_t priority, policy, fixed_cpu;
            uint32_t vas, reserved;         // the VAS it was switched into (index + 1; 0: its home)
            uint64_t exit_badge, ipc_buffer;
            uint64_t exception_pc, exception_stack, exception_arg;
            char name[32];
            struct mf_regs regs;
        } thread;
        struct {                    // an LRPC binding (procedures 0: not configured)
            uint32_t server;        // the server VAS (index + 1)
            uint32_t astacks;       // the A-stack segment (index + 1), attached to the server VAS
            uint32_t cspace;        // the CNode threads use inside the server (index + 1): a listed one
            uint32_t procedures;
            uint64_t entry;
            struct {
                uint64_t va, size, estack_top;  // size 0: not set
            } astack[16];
        } binding;
        uint64_t raw[52];
    };
};
_Static_assert(sizeof(struct mf_ckpt_object) == 448, "image records have fixed sizes");
_Static_assert(MF_LRPC_MAX_ASTACKS == 16, "a binding's record holds every A-stack");

// A capability of the process: where it is, what it names, its mapping.
#define MF_CKPT_LOOSE 0xffffffffu   // cnode: a loose cap; slot: its index
#define MF_CKPT_EXTERNAL 0u         // object: not in the image; the restorer supplies one
struct mf_ckpt_cap {
    uint32_t cnode, slot;
    uint32_t object;                // index + 1, or MF_CKPT_EXTERNAL
    uint32_t type, rights, map_rights;
    uint64_t badge;
    uint64_t map_va;
    uint32_t map_segment;           // a frame cap's mapping: the segment (index + 1), 0: unmapped
    uint32_t reserved;
};
_Static_assert(sizeof(struct mf_ckpt_cap) == 48, "image records have fixed sizes");
