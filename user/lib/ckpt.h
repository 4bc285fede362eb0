// Transparent checkpoint/restart of a process by a user-level checkpointer
// that holds its capabilities (user/lib/ckpt.c, docs/checkpoint.md). The
// image format is include/manifold/ckpt.h.
//
// A process is what its CNodes hold (its CSpace, a loader's objects CNode)
// plus "loose" caps its parent holds for it (its thread, its exit
// notification). Saving stops every thread, reads their whole contexts
// (MF_THREAD_READ_CONTEXT), every cap and object (MF_CNODE_DESCRIBE) and
// every frame (MF_FRAME_READ), then resumes the threads that were running
// and writes the image through a store. Restoring makes every object again
// from one untyped, in new frames, and places each cap where it was.
//
// In the image: CNodes that are listed, frames (4 KiB and 2 MiB) with
// their contents and each cap's mapping, segments (base, size, pager),
// VAS objects (segments attached, the home they share), threads (whole
// context, CSpace, home VAS, IPC buffer, name, priority, placement,
// exception handler, exit notification), endpoints, notifications (bits
// pending), LRPC bindings (server VAS, A-stack segment, server CSpace,
// procedures, entry, A-stacks and E-stacks; configured again with the
// server's CSpace named). Every other cap is external: the console, the
// System cap, untyped memory, devices, CNodes not listed, and slots the
// caller names (a name server's endpoint); the restorer supplies them. A
// thread blocked in a receive, a send, a wait or a sleep makes that call
// again once restored (kernel "Restart"); one waiting for the reply to a
// call gets -E_AGAIN. A thread inside an LRPC call is let finish it
// (resumed alone, stopped again, for up to 50 ticks) before anything is
// recorded. Not saved: Reclaim objects, packet filters, CPU slots (their
// caps count as external: the restorer supplies them by type).
#pragma once
#include "manifold.h"
#include "include/manifold/ckpt.h"

#define MF_CKPT_MAX_CNODES 4
#define MF_CKPT_MAX_LOOSE 8
#define MF_CKPT_MAX_EXTERNAL 8
#define MF_CKPT_MAX_THREADS 32
// Empty slots of ours the checkpointer works in: copies of the process's
// threads while it is stopped, a frame being copied; the restorer keeps
// every object but frames in one while it builds the process.
#define MF_CKPT_SCRATCH_SLOTS 128

// Where an image goes: byte ranges at offsets (4 KiB multiples for pages).
struct mf_ckpt_store {
    void *ctx;
    long (*write)(void *ctx, uint64_t offset, const void *buf, uint64_t len);
    long (*read)(void *ctx, uint64_t offset, void *buf, uint64_t len);
    uint64_t capacity;              // bytes
};
// A store in our memory (tests, benchmarks).
struct mf_ckpt_memory {
    uint8_t *base;
    uint64_t size;
};
void mf_ckpt_memory_store(struct mf_ckpt_store *s, struct mf_ckpt_memory *m);
// A store in frames of ours (2 MiB ones hold an image in few slots):
// `count` frames of 2^bits bytes at cptrs first, first + 1, ..., read and
// written with MF_FRAME_READ/WRITE, never mapped.
struct mf_ckpt_frames {
    long first;
    unsigned count, bits;
};
void mf_ckpt_frames_store(struct mf_ckpt_store *s, struct mf_ckpt_frames *f);
// A store on the block service (user/lib/blk.h) from sector `first`.
struct mf_ckpt_blk {
    struct mf_blk *blk;
    uint64_t first;
};
void mf_ckpt_blk_store(struct mf_ckpt_store *s, struct mf_ckpt_blk *b);

// Room for the tables, the caller's (a 16 MiB process has over 4,096
// objects: about 2 MiB).
struct mf_ckpt_work {
    struct mf_ckpt_object *objects;
    struct mf_ckpt_cap *caps;
    uint32_t *hash, *next;          // 2 * max_objects and max_caps entries
    long *held;                     // max_objects entries
    unsigned max_objects, max_caps;
};

struct mf_ckpt_process {
    long cnode[MF_CKPT_MAX_CNODES]; // cptrs of ours (READ; the first is its CSpace)
    unsigned cnodes;
    long loose[MF_CKPT_MAX_LOOSE];  // cptrs of ours
    unsigned looses;
    struct { uint32_t cnode, slot; } external[MF_CKPT_MAX_EXTERNAL];
    unsigned externals;
    // A split process (docs/split.md) to restart on a fresh half: that
    // half's memory (frames mapped in its ranges of the home, segments in
    // its ranges, and every cap to them) is left out of the image, to be
    // loaded afresh after the restore (mf_split_reload_lower); 0: none.
    unsigned fresh_half;
    // Copy-on-write (include/manifold/snapshot.h): a Snapshot object of
    // ours, not configured yet. The process is stopped only to arm its
    // 4 KiB frames in it (and to copy its 2 MiB frames); they are copied
    // after it runs again, each as it was when stopped. The snapshot needs
    // a copy page for every frame the process may write meanwhile (one per
    // frame: none can be lost); a frame written when none is left makes the
    // save fail with -E_NOMEM, the process unharmed; so does a process
    // that moves or deletes frame caps while its frames are copied
    // (-E_AGAIN: save again). Delete the snapshot afterwards.
    // 0: every frame is copied while the process is stopped.
    long snapshot;
};

struct mf_ckpt_stats {
    uint64_t frozen_cycles;         // from the first suspend to the last resume
    uint64_t total_cycles;          // the whole call
    uint64_t pages, image_bytes, objects, caps, threads;
    uint64_t lrpc_waited;           // threads found inside an LRPC call, let out before the save
};

// Checkpoints p into s; `scratch`: MF_CKPT_SCRATCH_SLOTS empty slots of
// ours. -E_TYPE: an object it cannot save; -E_NOENT: an object one of the
// process's refers to (a thread's CSpace or VAS, a segment, a binding's
// server CSpace) is not among its caps; -E_NOMEM: the work tables or the
// store are too small; -E_BUSY: a thread still inside an LRPC call after
// 50 ticks, or a thread of another process inside one of its bindings.
// The process runs on either way.
long mf_ckpt_save(const struct mf_ckpt_process *p, const struct mf_ckpt_store *s, struct mf_ckpt_work *w,
                  long scratch, struct mf_ckpt_stats *stats);

#define MF_CKPT_MAX_UNTYPED 8
struct mf_ckpt_env {
    // Every object is made from these, in order (the next when one is
    // full); 0 ends the list.
    long untyped[MF_CKPT_MAX_UNTYPED];
    long scratch;                   // MF_CKPT_SCRATCH_SLOTS empty slots of ours
    // External caps: by position first, then by type (cptrs of ours; an
    // untyped is moved, so give one per untyped cap, by position when
    // there are several; anything else is copied with the rights the
    // process had).
    struct { uint32_t cnode, slot; long cap; } external[MF_CKPT_MAX_EXTERNAL];
    unsigned externals;
    long by_type[MF_OBJ_TYPE_COUNT];
    long cnode_out[MF_CKPT_MAX_CNODES];   // empty slots of ours: the restored CNodes
    long loose_out[MF_CKPT_MAX_LOOSE];    // empty slots of ours: the loose caps
};

// Checks the image (magic, version, architecture, header and table
// checksums: -E_NOEXEC / -E_INVAL, with a line on the console saying
// which), then builds the process and resumes the threads that were
// running. A frame whose contents do not match their checksum ends it
// with -E_INVAL. On any failure the caller revokes env->untyped[] and
// every trace is gone; the slots are empty again.
long mf_ckpt_restore(const struct mf_ckpt_store *s, struct mf_ckpt_work *w, const struct mf_ckpt_env *env,
                     struct mf_ckpt_stats *stats);
// Reads and checks only the header and tables (tools and tests).
long mf_ckpt_check(const struct mf_ckpt_store *s, struct mf_ckpt_work *w, struct mf_ckpt_header *out);
