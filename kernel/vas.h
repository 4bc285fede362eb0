// Virtual address spaces: a page-table root plus TLB tags (PCID/ASID).
// This is the minimal form the loader needs; the capability interface
// (vas_create/attach/switch, segments) builds on it.
//
// Tags belong to the VAS, not to its page tables: one per CPU it runs on,
// recycled by the pools in kernel/tag.h. Code that changes a VAS's page
// tables flushes with vas_tlb_tag() (or uses vas_unmap/vas_protect), never
// with a tag of its own.
//
// SMP: refs is atomic; a VAS being destroyed is first left by every CPU that
// has it loaded (a cross-CPU call). Whoever changes a VAS's page tables
// removes what other CPUs may cache with vas_flush() or a tlb_batch
// (shootdowns: docs/smp.md).
#pragma once
#include "kernel/tag.h"
#include "kernel/types.h"
#include "kernel/vas_ref.h"

struct thread;

struct vas {
    paddr_t root;
    struct vas_ref *referrers;
    struct vas_tags tags;   // per-CPU TLB tag and generation (kernel/tag.c)
    unsigned refs;
    bool in_use;
    bool is_object;      // a VAS object (kernel/segment.c): its memory belongs to an untyped
};

// A new, empty user address space (kernel half shared); NULL when out of memory.
struct vas *vas_create(void);
void vas_retain(struct vas *v);       // NULL: nothing (so is vas_release(NULL))
// Points r at v (NULL: at nothing), moving it from the referrer list of the
// VAS it pointed at to v's. space_lock held (or r's thread is not yet
// visible to anyone and v is its own).
void vas_ref_set(struct vas_ref *r, struct vas *v);
// Drops a reference; the last one frees the page tables, every frame mapped
// and the VAS's tags. A VAS active on this CPU is switched away from first.
// A VAS object is torn down by its final capability instead (vas_forget).
void vas_release(struct vas *v);
// A VAS object is being destroyed: stop using its tables, free its tags.
void vas_forget(struct vas *v);
// Makes v the current user address space on this CPU. With tags, the switch
// flushes nothing unless v's tag on this CPU is new or recycled (see tag.h).
void vas_activate(struct vas *v);
// Loads t's VAS on this CPU (nothing for kernel threads), safe against
// another CPU moving t to another VAS at the same time (schedule()).
void vas_enter(struct thread *t);
// If another CPU made this one leave the VAS t runs in (the VAS was
// destroyed, t moved), loads t's current VAS and returns true: a user fault
// or a failed user copy is then retried, not reported.
bool vas_reload(struct thread *t);
// The VAS active on this CPU; NULL when only the kernel's tables are loaded.
struct vas *vas_active(void);
// Loads only the kernel's tables on this CPU (the current thread lost its
// address space: it dies before it returns to user mode).
void vas_leave_current(void);
// The tag to pass to vm_unmap/vm_protect for v on this CPU: the tag v is
// loaded with when active, its valid tag otherwise, and 0 when v has none
// (its next switch flushes, so nothing stale can be used).
unsigned vas_tlb_tag(const struct vas *v);
// TLB shootdown. A batch collects (VAS, range) pairs whose page-table
// entries were changed, and sends each other CPU that may cache them one
// IPI carrying (tag, range) entries; on aarch64 the broadcast TLBI forms
// reach the other CPUs directly (arch_tlb_flush_remote) and no IPI is sent.
// This CPU flushes at once. Which CPUs: those that have v loaded, and those
// where v holds a tag of the current generation.
#define TLB_BATCH_ENTRIES 4         // per CPU; more flush everything there
#define TLB_FLUSH_PAGES_MAX 32      // a longer range flushes the whole tag
struct tlb_entry {
    vaddr_t va;
    size_t len;
    uint16_t tag;
};
struct tlb_batch {
    uint64_t cpus;
    uint8_t count[MAX_CPUS];
    bool everything[MAX_CPUS];
    struct tlb_entry entry[MAX_CPUS][TLB_BATCH_ENTRIES];
};
// Call after changing v's entries for [va, va + len).
void tlb_batch_add(struct tlb_batch *b, struct vas *v, vaddr_t va, size_t len);
// Sends the batch and waits until every CPU has flushed; empties it.
void tlb_batch_flush(struct tlb_batch *b);
// Every TLB entry of every tag on every CPU (a change to tables linked
// into VASes nobody keeps track of: device pages in a home region).
void tlb_flush_everywhere(void);
// One (v, range), sent at once.
void vas_flush(struct vas *v, vaddr_t va, size_t len);
// Allocates zeroed frames and maps [va, va+size) with VM_* flags | VM_USER.
int vas_map_anonymous(struct vas *v, vaddr_t va, size_t size, unsigned flags);
// vm_unmap/vm_protect on v's tables with v's TLB tag (see kernel/vm.h).
size_t vas_unmap(struct vas *v, vaddr_t va, paddr_t *pa);
int vas_protect(struct vas *v, vaddr_t va, unsigned flags);
