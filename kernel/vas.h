// Virtual address spaces: a page-table root plus a TLB tag (PCID/ASID).
// This is the minimal form the loader needs; the capability interface
// (vas_create/attach/switch, segments) builds on it.
#pragma once
#include "kernel/types.h"

struct vas {
    paddr_t root;
    unsigned tag;        // 0 = untagged
    unsigned refs;
    bool in_use;
    bool is_object;      // a VAS object (kernel/segment.c): its memory belongs to an untyped
};

// A new, empty user address space (kernel half shared); NULL when out of memory.
struct vas *vas_create(void);
void vas_retain(struct vas *v);
// Drops a reference; the last one frees the page tables and every frame
// mapped. A VAS object is torn down by its final capability instead.
void vas_release(struct vas *v);
// A VAS object is being destroyed: stop using its tables.
void vas_forget(struct vas *v);
// Makes v the current user address space on this CPU.
void vas_activate(struct vas *v);
// Allocates zeroed frames and maps [va, va+size) with VM_* flags | VM_USER.
int vas_map_anonymous(struct vas *v, vaddr_t va, size_t size, unsigned flags);
