// Virtual address spaces: a page-table root plus TLB tags (PCID/ASID).
// This is the minimal form the loader needs; the capability interface
// (vas_create/attach/switch, segments) builds on it.
//
// Tags belong to the VAS, not to its page tables: one per CPU it runs on,
// recycled by the pools in kernel/tag.h. Code that changes a VAS's page
// tables flushes with vas_tlb_tag() (or uses vas_unmap/vas_protect), never
// with a tag of its own.
#pragma once
#include "kernel/tag.h"
#include "kernel/types.h"

struct vas {
    paddr_t root;
    struct vas_tags tags;   // per-CPU TLB tag and generation (kernel/tag.c)
    unsigned refs;
    bool in_use;
    bool is_object;      // a VAS object (kernel/segment.c): its memory belongs to an untyped
};

// A new, empty user address space (kernel half shared); NULL when out of memory.
struct vas *vas_create(void);
void vas_retain(struct vas *v);
// Drops a reference; the last one frees the page tables, every frame mapped
// and the VAS's tags. A VAS active on this CPU is switched away from first.
// A VAS object is torn down by its final capability instead (vas_forget).
void vas_release(struct vas *v);
// A VAS object is being destroyed: stop using its tables, free its tags.
void vas_forget(struct vas *v);
// Makes v the current user address space on this CPU. With tags, the switch
// flushes nothing unless v's tag on this CPU is new or recycled (see tag.h).
void vas_activate(struct vas *v);
// The VAS active on this CPU; NULL when only the kernel's tables are loaded.
struct vas *vas_active(void);
// The tag to pass to vm_unmap/vm_protect for v on this CPU: the tag v is
// loaded with when active, its valid tag otherwise, and 0 when v has none
// (its next switch flushes, so nothing stale can be used).
unsigned vas_tlb_tag(const struct vas *v);
// Allocates zeroed frames and maps [va, va+size) with VM_* flags | VM_USER.
int vas_map_anonymous(struct vas *v, vaddr_t va, size_t size, unsigned flags);
// vm_unmap/vm_protect on v's tables with v's TLB tag (see kernel/vm.h).
size_t vas_unmap(struct vas *v, vaddr_t va, paddr_t *pa);
int vas_protect(struct vas *v, vaddr_t va, unsigned flags);
