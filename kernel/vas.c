// Address spaces: page-table roots with per-CPU TLB tags; which space each
// CPU has loaded; TLB shootdowns.
//
// SMP: active[c] and active_tag[c] are written only by CPU c (or by a call
// it runs). Changing a space's page tables and then reading active[] (to
// know which CPUs may cache the old entries) is ordered against a CPU
// publishing active[c] before it loads the tables, by a full fence on both
// sides: either the changer sees the CPU, or the CPU's walks see the change.
#include "kernel/vas.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/pmm.h"
#include "kernel/smp.h"
#include "kernel/thread.h"
#include "kernel/vm.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

#define MAX_VAS 64
static struct vas vas_pool[MAX_VAS];

// Per CPU: the VAS in CR3/TTBR0 and the tag it was loaded with. The tag can
// go stale while the VAS stays loaded (tag_set_limit), so it is kept here.
static struct vas *active[MAX_CPUS];
static unsigned active_tag[MAX_CPUS];

struct vas *vas_create(void)
{
    for (unsigned i = 0; i < MAX_VAS; i++) {
        struct vas *v = &vas_pool[i];
        bool free = false;
        if (!__atomic_compare_exchange_n(&v->in_use, &free, true, false, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            continue;
        paddr_t root = pmm_alloc();
        if (!root) {
            __atomic_store_n(&v->in_use, false, __ATOMIC_RELEASE);
            return NULL;
        }
        arch_vm_init_user_root(P2V(root));
        v->root = root;
        memset(&v->tags, 0, sizeof(v->tags));
        v->refs = 1;
        v->referrers = NULL;
        v->is_object = false;
        return v;
    }
    return NULL;
}

void vas_retain(struct vas *v)
{
    if (v)
        __atomic_add_fetch(&v->refs, 1, __ATOMIC_RELAXED);
}

void vas_ref_set(struct vas_ref *r, struct vas *v)
{
    if (r->vas == v)
        return;
    if (r->vas) {
        if (r->prev)
            r->prev->next = r->next;
        else
            r->vas->referrers = r->next;
        if (r->next)
            r->next->prev = r->prev;
    }
    r->vas = v;
    r->prev = NULL;
    r->next = v ? v->referrers : NULL;
    if (r->next)
        r->next->prev = r;
    if (v)
        v->referrers = r;
}

// A cross-CPU call: stop using v's tables here. The thread running on,
// if it still wants a space, reloads it when it next faults or copies user
// memory (vas_reload).
static void leave(void *arg)
{
    unsigned cpu = arch_cpu_id();
    if (active[cpu] == arg) {
        arch_vm_switch(vm_kernel_root(), 0, true);
        active[cpu] = NULL;
        active_tag[cpu] = 0;
    }
}

// v's tables and tags are about to go: no CPU may use them any more.
static void retire(struct vas *v)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    uint64_t mask = 0;
    for (unsigned c = 0; c < cpu_count; c++)
        if (__atomic_load_n(&active[c], __ATOMIC_RELAXED) == v)
            mask |= 1ull << c;
    if (mask) {
        uint64_t late = smp_call(mask, leave, v, SMP_CALL_TIMEOUT_MS);
        if (late)
            panic("vas: CPUs %#lx did not leave a dying address space", late);
    }
    tag_release(&v->tags);
    if (!v->is_object)
        __atomic_store_n(&v->in_use, false, __ATOMIC_RELEASE);
}

void vas_release(struct vas *v)
{
    if (!v)
        return;
    if (__atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL) || v->is_object)
        return;
    paddr_t root = v->root;
    retire(v);              // the slot may be reused from here on
    vm_destroy_user(root, true);
}

void vas_forget(struct vas *v)
{
    retire(v);
    v->in_use = false;
}

// Loads v on this CPU (active[] already published).
static void load(struct vas *v, unsigned cpu)
{
    bool flush;
    unsigned tag = tag_acquire(&v->tags, &flush);
    active_tag[cpu] = tag;
    arch_vm_switch(v->root, tag, flush);
}

void vas_activate(struct vas *v)
{
    unsigned cpu = this_cpu()->id;
    // Fast path: v is loaded and its tag, if tagging, is still its own.
    if (likely(active[cpu] == v) && tag_still_loaded(&v->tags, cpu, active_tag[cpu]))
        return;
    __atomic_store_n(&active[cpu], v, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    load(v, cpu);
}

void vas_enter(struct thread *t)
{
    unsigned cpu = this_cpu()->id;
    for (;;) {
        struct vas *v = __atomic_load_n(&t->vas, __ATOMIC_ACQUIRE);
        if (!v)
            return;         // a kernel thread runs on whatever is loaded
        if (likely(active[cpu] == v) && tag_still_loaded(&v->tags, cpu, active_tag[cpu]))
            return;
        __atomic_store_n(&active[cpu], v, __ATOMIC_RELAXED);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        // Moved to another space meanwhile? Whoever moved it saw active[]
        // only if we published first; else we see the move here.
        if (__atomic_load_n(&t->vas, __ATOMIC_ACQUIRE) == v) {
            load(v, cpu);
            return;
        }
    }
}

bool vas_reload(struct thread *t)
{
    if (!t->vas || active[this_cpu()->id] == t->vas)
        return false;
    vas_enter(t);
    return true;
}

struct vas *vas_active(void) { return active[this_cpu()->id]; }

void vas_leave_current(void) { leave(active[this_cpu()->id]); }

unsigned vas_tlb_tag(const struct vas *v)
{
    unsigned cpu = this_cpu()->id;
    return active[cpu] == v ? active_tag[cpu] : tag_valid(&v->tags);
}

// --------------------------------------------------------------- shootdown

static void flush_here(unsigned tag, vaddr_t va, size_t len)
{
    if (len > TLB_FLUSH_PAGES_MAX * PAGE_SIZE) {
        arch_tlb_flush_tag(tag);
        return;
    }
    for (vaddr_t a = ALIGN_DOWN(va, PAGE_SIZE); a < va + len; a += PAGE_SIZE)
        arch_tlb_flush_page(a, tag);
}

// Queues (tag, range) for CPU c, or flushes there at once where the arch
// can reach another CPU's TLB.
static void batch_one(struct tlb_batch *b, unsigned c, unsigned tag, vaddr_t va, size_t len)
{
    if (arch_tlb_flush_remote(c, tag, va, len))
        return;
    b->cpus |= 1ull << c;
    if (b->count[c] == TLB_BATCH_ENTRIES) {
        b->everything[c] = true;
        return;
    }
    b->entry[c][b->count[c]++] = (struct tlb_entry){va, len, (uint16_t)tag};
}

void tlb_batch_add(struct tlb_batch *b, struct vas *v, vaddr_t va, size_t len)
{
    unsigned me = this_cpu()->id;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);      // the page-table change first
    for (unsigned c = 0; c < cpu_count; c++) {
        // The tag v is loaded with on c, and the tag it holds there: the two
        // differ only while c keeps v loaded across a new tag generation.
        unsigned loaded = __atomic_load_n(&active[c], __ATOMIC_RELAXED) == v ? active_tag[c] : ~0u;
        unsigned held = tag_valid_on(&v->tags, c);
        if (c == me) {
            if (loaded != ~0u)
                flush_here(loaded, va, len);
            if (held && held != loaded)
                flush_here(held, va, len);
            continue;
        }
        if (loaded != ~0u)
            batch_one(b, c, loaded, va, len);
        if (held && held != loaded)
            batch_one(b, c, held, va, len);
    }
}

// A cross-CPU call: this CPU's part of a batch.
static void shootdown(void *arg)
{
    const struct tlb_batch *b = arg;
    unsigned me = arch_cpu_id();
    if (b->everything[me]) {
        arch_tlb_flush_all();
        return;
    }
    for (unsigned i = 0; i < b->count[me]; i++)
        flush_here(b->entry[me][i].tag, b->entry[me][i].va, b->entry[me][i].len);
}

void tlb_batch_flush(struct tlb_batch *b)
{
    if (!b->cpus)
        return;
    uint64_t late = smp_call(b->cpus, shootdown, b, SMP_CALL_TIMEOUT_MS);
    if (late)
        panic("tlb: CPUs %#lx did not answer a shootdown", late);
    *b = (struct tlb_batch){0};
}

static void flush_all_here(void *arg)
{
    (void)arg;
    arch_tlb_flush_all();
}

void tlb_flush_everywhere(void)
{
    uint64_t late = smp_call(smp_online_cpus(), flush_all_here, NULL, SMP_CALL_TIMEOUT_MS);
    if (late)
        panic("tlb: CPUs %#lx did not answer a shootdown", late);
}

void vas_flush(struct vas *v, vaddr_t va, size_t len)
{
    struct tlb_batch b = {0};
    tlb_batch_add(&b, v, va, len);
    tlb_batch_flush(&b);
}

// ------------------------------------------------------------ mappings

int vas_map_anonymous(struct vas *v, vaddr_t va, size_t size, unsigned flags)
{
    if (va & (PAGE_SIZE - 1) || size & (PAGE_SIZE - 1) || va < USER_BASE || va >= USER_TOP ||
        USER_TOP - va < size)
        return -E_RANGE;
    for (size_t off = 0; off < size; off += PAGE_SIZE) {
        paddr_t pa = pmm_alloc();
        if (!pa)
            return -E_NOMEM;
        int r = vm_map(v->root, va + off, pa, PAGE_SIZE, flags | VM_USER, PAGE_SIZE);
        if (r) {
            pmm_free(pa);
            return r;
        }
    }
    return 0;
}

size_t vas_unmap(struct vas *v, vaddr_t va, paddr_t *pa)
{
    size_t size = vm_unmap(v->root, va, vas_tlb_tag(v), pa);
    if (size)
        vas_flush(v, ALIGN_DOWN(va, size), size);
    return size;
}

int vas_protect(struct vas *v, vaddr_t va, unsigned flags)
{
    int r = vm_protect(v->root, va, flags, vas_tlb_tag(v));
    if (!r)
        vas_flush(v, ALIGN_DOWN(va, PAGE_SIZE), PAGE_SIZE);
    return r;
}
