#include "kernel/loader.h"
#include "kernel/cap.h"
#include "kernel/pmm.h"
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "kernel/thread.h"
#include "kernel/vas.h"
#include "kernel/vm.h"
#include "include/manifold/errors.h"
#include "include/manifold/ipc.h"
#include "lib/elf.h"
#include "lib/string.h"

static const struct boot_info *boot;

void programs_init(const struct boot_info *bi)
{
    boot = bi;
}

unsigned program_count(void) { return boot->module_count; }

bool program_get(unsigned idx, const char **name, const void **image, size_t *size)
{
    if (idx >= boot->module_count)
        return false;
    *name = boot->modules[idx].name;
    *image = P2V(boot->modules[idx].base);
    *size = boot->modules[idx].size;
    return true;
}

static unsigned segment_rights(unsigned elf_flags)
{
    unsigned f = VM_USER;
    if (elf_flags & ELF_SEG_R)
        f |= VM_READ;
    if (elf_flags & ELF_SEG_W)
        f |= VM_WRITE | VM_READ;
    if (elf_flags & ELF_SEG_X)
        f |= VM_EXEC | VM_READ;
    return f;
}

// Copies a segment into freshly allocated frames of v.
static int load_segment(struct vas *v, const struct elf_image *img, const struct elf_segment *s)
{
    vaddr_t start = ALIGN_DOWN(s->vaddr, PAGE_SIZE);
    vaddr_t end = ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE);
    int r = vas_map_anonymous(v, start, end - start, segment_rights(s->flags));
    if (r)
        return r;
    // Copy file bytes page by page through the direct map.
    for (uint64_t done = 0; done < s->filesz;) {
        vaddr_t va = s->vaddr + done;
        paddr_t pa;
        vm_lookup(v->root, va, &pa, NULL);
        size_t chunk = PAGE_SIZE - (va & (PAGE_SIZE - 1));
        if (chunk > s->filesz - done)
            chunk = s->filesz - done;
        memcpy(P2V(pa), img->data + s->offset + done, chunk);
        if (s->flags & ELF_SEG_X)
            arch_sync_icache(P2V(pa), chunk);
        done += chunk;
    }
    return 0;
}

int program_load(const void *image, size_t size, const char *name, uint64_t arg, struct thread **out)
{
    struct elf_image img;
    if (elf_parse(&img, image, size, arch_elf_machine, USER_BASE, USER_STACK_TOP - USER_STACK_SIZE))
        return -E_NOEXEC;
    struct vas *v = vas_create();
    if (!v)
        return -E_NOMEM;
    int r = 0;
    for (unsigned i = 0; i < img.segment_count && !r; i++) {
        struct elf_segment s;
        elf_segment_get(&img, i, &s);
        r = load_segment(v, &img, &s);
    }
    if (!r)
        r = vas_map_anonymous(v, USER_STACK_TOP - USER_STACK_SIZE, USER_STACK_SIZE, VM_READ | VM_WRITE);
    if (!r)
        r = vas_map_anonymous(v, MF_IPC_BUFFER_VA, PAGE_SIZE, VM_READ | VM_WRITE);
    struct thread *t = NULL;
    if (!r && !(t = thread_alloc(name)))
        r = -E_NOMEM;
    if (r) {
        vas_release(v);
        return r;
    }
    t->vas = v;
    vas_ref_set(&t->vas_ref[0], v);   // a fresh VAS and thread: nobody else sees them yet
    vas_retain(v);
    t->home_vas = v;
    t->ipc_buffer = MF_IPC_BUFFER_VA;
    arch_thread_init_user(t, img.entry, USER_STACK_TOP - 16, arg);
    *out = t;
    return 0;
}

int program_spawn(const char *name, uint64_t arg, struct thread **out)
{
    for (unsigned i = 0; i < boot->module_count; i++) {
        const struct boot_module *m = &boot->modules[i];
        if (strcmp(m->name, name) == 0)
            return program_load(P2V(m->base), m->size, name, arg, out);
    }
    return -E_NOENT;
}

// One CNode of 2^BOOT_CNODE_BITS slots (128 KiB): the directory, then the
// pages of each module in turn. Modules are page aligned (GRUB loads
// multiboot2 modules on page boundaries; the aarch64 EFI stub copies each
// to its own pages); one that is not is left out, with a message.
#define BOOT_CNODE_BITS 11

int boot_images_grant(struct slot *dst)
{
    size_t cnode_pages = (1ul << (BOOT_CNODE_BITS + 6)) / PAGE_SIZE;
    paddr_t cnode = pmm_alloc_contig(cnode_pages, PAGE_SIZE);
    paddr_t dir_page = pmm_alloc();
    if (!cnode || !dir_page)
        return -E_NOMEM;
    uintptr_t obj = (uintptr_t)P2V(cnode);
    memset((void *)obj, 0, cnode_pages * PAGE_SIZE);
    memset(P2V(dir_page), 0, PAGE_SIZE);
    cnode_init(obj, BOOT_CNODE_BITS);
    struct slot *slots = cnode_slots(obj);
    struct mf_boot_dir *dir = P2V(dir_page);
    dir->cnode_bits = BOOT_CNODE_BITS;
    const uint8_t ro = MF_RIGHT_READ | MF_RIGHT_GRANT;
    struct cap dcap = {.obj = (uintptr_t)dir, .type = MF_OBJ_FRAME, .rights = ro, .size_bits = PAGE_SHIFT};
    cap_insert(&slots[MF_BOOT_DIR_SLOT], &dcap, NULL);
    uint32_t next = MF_BOOT_DIR_SLOT + 1;
    const unsigned dir_max = (PAGE_SIZE - sizeof(*dir)) / sizeof(dir->image[0]);
    for (unsigned i = 0; i < boot->module_count && dir->count < dir_max; i++) {
        const struct boot_module *m = &boot->modules[i];
        uint32_t pages = (uint32_t)(ALIGN_UP(m->size, PAGE_SIZE) / PAGE_SIZE);
        if (m->base & (PAGE_SIZE - 1) || next + pages > (1u << BOOT_CNODE_BITS)) {
            kprintf("manifold: boot module %s left out of the images CNode (%s)\n", m->name,
                    m->base & (PAGE_SIZE - 1) ? "not page aligned" : "no slots left");
            continue;
        }
        struct mf_boot_image *img = &dir->image[dir->count++];
        strlcpy(img->name, m->name, sizeof(img->name));
        img->first_slot = next;
        img->pages = pages;
        img->size = m->size;
        for (uint32_t p = 0; p < pages; p++) {
            struct cap f = {.obj = (uintptr_t)P2V(m->base + (paddr_t)p * PAGE_SIZE), .type = MF_OBJ_FRAME,
                            .rights = ro, .size_bits = PAGE_SHIFT};
            cap_insert(&slots[next++], &f, NULL);
        }
    }
    struct cap cn = {.obj = obj, .type = MF_OBJ_CNODE, .rights = MF_RIGHTS_ALL, .size_bits = BOOT_CNODE_BITS};
    cap_insert(dst, &cn, NULL);
    return 0;
}
