// Copy-on-write snapshots (ABI; docs/checkpoint.md, "Copy-on-write").
//
// A Snapshot object lets a checkpointer copy a process's memory while the
// process runs. Armed frames keep the contents they had when they were
// added: the first write to one after that, by the process or by the kernel
// on its behalf (a system call's result, a message into its IPC buffer, an
// exception record, MF_FRAME_WRITE), first copies the page into the
// object's own memory, and the write then goes on. The writer never waits
// and never sees a difference; the checkpointer reads each frame as it was
// (from the copy when there is one) and releases it.
//
//   CONFIGURE(frames)            once: room for `frames` armed frames; the
//                                rest of the object's pages hold copies
//   ADD_SEGMENT(segment cptr)    arms every 4 KiB RAM frame mapped in the
//                                segment (its writable mappings become
//                                copy-on-write); -> how many it added
//   ADD_FRAME(frame cptr)        arms one 4 KiB frame (and its cap's
//                                mapping, if writable)
//   READ(frame cptr, offset, buffer, len)   the frame as it was when armed
//   RELEASE(frame cptr)          disarms it and frees its copy
//   INFO(struct mf_snapshot_info *)
//
// The object is retyped with size_bits 14..26 (16 KiB to 64 MiB): one page
// of header, the table (16 bytes per armed frame, times two), then copy
// pages. With a copy page for every armed frame nothing can be lost. With
// fewer, a write that finds none left goes on uncopied and that frame is
// lost: READ gives -E_NOMEM for it (the checkpoint fails; the process
// never notices). Deleting the last cap disarms everything; a mapping made
// copy-on-write gets its write right back at its next write.
//
// Not covered: 2 MiB frames (ADD_SEGMENT skips them, ADD_FRAME refuses
// them: -E_INVAL) and device DMA into armed frames (the kernel does not see
// it).
#pragma once
#include <stdint.h>

enum mf_snapshot_op {
    MF_SNAPSHOT_CONFIGURE = 0,  // (frames, 1..2^20): -E_NOMEM when table + one copy page do not fit
    MF_SNAPSHOT_ADD_SEGMENT,    // (segment cptr, READ): -> frames added; all or none (-E_NOMEM)
    MF_SNAPSHOT_ADD_FRAME,      // (frame cptr, READ): 0, or 1 when armed already
    MF_SNAPSHOT_READ,           // (frame cptr, offset, buffer, len): -E_NOENT not armed, -E_NOMEM lost
    MF_SNAPSHOT_RELEASE,        // (frame cptr): -E_NOENT not armed
    MF_SNAPSHOT_INFO,           // (struct mf_snapshot_info *)
    MF_SNAPSHOT_OP_COUNT
};

struct mf_snapshot_info {
    uint64_t capacity;          // armed frames the table holds (CONFIGURE's frames)
    uint64_t armed;             // frames armed now
    uint64_t copy_pages;        // pages for copies in all
    uint64_t copies;            // copies held now
    uint64_t copied;            // copies made since CONFIGURE (first writes)
    uint64_t lost;              // first writes with no copy page left
};
