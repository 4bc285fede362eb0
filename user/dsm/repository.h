// The DSM repository's format (repository.c; docs/dsm.md "Repository"): a
// coordinated checkpoint of every node of an instance, taken at a barrier
// with every engine idle. All fields little-endian and fixed-width; the
// protocol's own structures (struct page, directory, lock_state,
// barrier_state) are fixed-width too, at offsets both LP64 ABIs agree on.
//
//   [0, 4096)                      struct dsm_repo_header
//   node[n].offset                 struct dsm_repo_node, padded to 4 KiB
//   + DSM_REPO_RECORD_SPAN         node[n].frames pool frames, 4 KiB each,
//                                  in the order of the record's frame_index
//
// node[n].crc is the CRC-32 (lib/crc32.h) of the record and its frames;
// header_crc that of the header with header_crc zero.
#pragma once
#include <stddef.h>
#include "node.h"

#define DSM_REPO_MAGIC "MFDSMR1\n"
#define DSM_REPO_VERSION 1
#define DSM_REPO_ARCH_X86_64 1
#define DSM_REPO_ARCH_AARCH64 2

struct dsm_repo_header {
    char magic[8];
    uint32_t version, arch;
    uint32_t header_bytes, record_bytes;    // the layout: sizeof the two structs
    uint32_t nodes, pages, model, xfetch, transport;    // the instance's configuration
    uint32_t pool_frames;                   // per node
    uint64_t total_bytes;
    uint64_t date;                          // the highest Lamport clock recorded
    uint64_t frozen_cycles, counter_hz;     // how long the applications were parked
    struct {
        uint64_t offset;                    // of the node's record
        uint32_t frames;                    // frames after it
        uint32_t crc;                       // of the record and its frames
    } node[DSM_MAX_NODES];
    uint32_t header_crc, pad;
    uint8_t reserved[4096 - 216];
};
_Static_assert(sizeof(struct dsm_repo_header) == 4096, "the header is one page");

// One node: its protocol state, as struct node holds it, without what is
// the boot's own (ring and A-stack addresses, caps, counters, the request
// pool, which is free at a checkpoint, and the hold window's ticks).
struct dsm_repo_node {
    uint32_t id, pool_frames, frames_used, frames;  // frames: saved after the record
    uint64_t clock;                     // Lamport
    uint64_t barrier_date, barrier_previous;
    uint64_t progress;                  // the application's word (dsm_checkpoint)
    int32_t stream_next;                // Xfetch's stream
    uint32_t run;
    int16_t frame_free, pad[3];         // the pool's free list
    int16_t frame_next[POOL_MAX];
    uint16_t frame_index[POOL_MAX];     // the pool frames saved, in order
    uint8_t weak_written[PAGE_BITMAP], weak_changed[PAGE_BITMAP];
    uint64_t known[DSM_MAX_PAGES];      // write notices
    struct page page[DSM_MAX_PAGES];    // [pages, DSM_MAX_PAGES): zero
    struct directory dir[DSM_MAX_PAGES];    // the pages it manages; others zero
    struct lock_state lock[DSM_MAX_LOCKS];
    struct barrier_state barrier;       // node 0: no arrival (a checkpoint follows a barrier)
};
#define DSM_REPO_RECORD_SPAN ((sizeof(struct dsm_repo_node) + DSM_PAGE - 1) & ~(DSM_PAGE - 1))
_Static_assert(sizeof(struct dsm_repo_node) == 67960 && offsetof(struct dsm_repo_node, progress) == 40 &&
               offsetof(struct dsm_repo_node, frame_index) == 1088 && offsetof(struct dsm_repo_node, page) == 4224 &&
               offsetof(struct dsm_repo_node, dir) == 16512 && offsetof(struct dsm_repo_header, node) == 80 &&
               offsetof(struct dsm_repo_header, header_crc) == 208, "what tools/dsm-inspect reads");
_Static_assert(sizeof(struct page) == 48 && sizeof(struct directory) == 128 &&
               sizeof(struct lock_state) == 2072 && sizeof(struct barrier_state) == 2104,
               "the protocol structures' layout is part of the format");
