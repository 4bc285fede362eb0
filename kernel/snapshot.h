// Snapshot objects: copy-on-write for checkpointers (kernel/snapshot.c).
// The hooks below are how every path that writes a user page on a
// thread's behalf keeps an armed frame's contents for its snapshots.
// space_lock held where said; the others take it unless held.
#pragma once
#include "kernel/types.h"

struct thread;

// Flags for a new writable 4 KiB user leaf of `frame`: VM_WRITE becomes
// VM_COW while some snapshot still needs the frame's contents. space_lock.
unsigned snapshot_leaf_flags(paddr_t frame, unsigned flags);
// The kernel writes `frame` through its own mapping (MF_FRAME_WRITE):
// snapshots that need it copy it first. space_lock.
void snapshot_frame_written(paddr_t frame);
// A write to va by t (in the VAS t is in) met a mapping without the write
// right: if it is copy-on-write, copy what needs copying and give the
// write right back. True: retry the write (also when another CPU did
// that meanwhile).
bool snapshot_write_fault(const struct thread *t, vaddr_t va);
// The same for every page of [va, va + len) (copy_to_user's retry).
bool snapshot_write_range(const struct thread *t, vaddr_t va, size_t len);
// A frame's last cap is gone: no snapshot keeps its address.
void snapshot_frame_gone(paddr_t frame);
