// The program loader (docs/programs.md): builds a program from a boot
// image entirely out of the caller's capabilities. The kernel loads only
// the root task; everything else is loaded here, in user mode:
//
//   1. read the image's ELF headers from its read-only frames (the boot
//      images CNode) and check them (lib/elf.c, as the kernel does);
//   2. carve from the caller's untyped: a CNode for the program's objects,
//      a home segment at [0, MF_HOME_SIZE), a VAS, a thread and an exit
//      notification;
//   3. for each page of each PT_LOAD segment, of the stack and of the IPC
//      buffer: retype a frame, fill it through MF_FRAME_WRITE, map it in
//      the home segment with the segment's rights (W^X), and move its cap
//      into the objects CNode;
//   4. attach the home to the VAS, configure the thread in it (its CSpace,
//      IPC buffer, name), set its registers and bind the exit notification.
//
// Nothing the program holds comes from the kernel's own memory: revoking
// the untyped takes all of it back, whatever the program did meanwhile.
#include "user/lib/manifold.h"
#include "lib/elf.h"
#include "lib/string.h"

#define PAGE 4096ul
#define OBJECTS_BITS 10           // 1024 slots: up to about 4 MiB of program
#define VAS_BITS 14               // header, root, two tables for links
#define HOME_BITS 16              // header + 15 tables: 14 regions of 2 MiB in use
enum { SLOT_VAS = 1, SLOT_HOME, SLOT_FIRST_FRAME };

#if defined(__x86_64__)
#define MACHINE ELF_MACHINE_X86_64
#else
#define MACHINE ELF_MACHINE_AARCH64
#endif

// A loader in progress: the caller's slots and what goes where.
struct load {
    long self, untyped, images;
    long objects, thread, exit, frame, page;    // cptrs in the caller's CSpace
    long home;                                  // the home segment, while loading
    long vas;
    long next_slot;                             // in the objects CNode
    long cached_page;                           // image page now in `page`, or -1
    const struct mf_boot_image *image;
};

long mf_boot_dir_read(long images, long scratch, struct mf_boot_dir *dir)
{
    const long self = MF_CAP_SELF_CNODE;
    long r = mf_cnode_copy_to(images ? images : MF_CAP_BOOT_IMAGES, MF_BOOT_DIR_SLOT, self, scratch, MF_RIGHT_READ);
    if (r < 0)
        return r;
    r = mf_frame_read(scratch, 0, dir, PAGE);
    mf_cnode_delete(self, scratch);
    return r;
}

static long find_image(long images, const char *name, struct mf_boot_dir *dir, long scratch)
{
    long r = mf_boot_dir_read(images, scratch, dir);
    if (r < 0)
        return r;
    uint32_t max = (PAGE - sizeof(*dir)) / sizeof(dir->image[0]);
    for (uint32_t i = 0; i < dir->count && i < max; i++)
        if (strncmp(dir->image[i].name, name, sizeof(dir->image[i].name)) == 0)
            return (long)i;
    return -E_NOENT;
}

// Copies image bytes [offset, offset + len) to buf, page by page through
// copies of the image's frames.
static long read_image(struct load *l, uint64_t offset, void *buf, uint64_t len)
{
    uint8_t *out = buf;
    while (len) {
        long page = (long)(offset / PAGE);
        uint64_t in = offset % PAGE, n = PAGE - in < len ? PAGE - in : len;
        if (page >= (long)l->image->pages)
            return -E_NOEXEC;
        if (page != l->cached_page) {
            mf_cnode_delete(l->self, l->page);
            long r = mf_cnode_copy_to(l->images, l->image->first_slot + page, l->self, l->page, MF_RIGHT_READ);
            if (r < 0)
                return r;
            l->cached_page = page;
        }
        long r = mf_frame_read(l->page, in, out, n);
        if (r < 0)
            return r;
        out += n;
        offset += n;
        len -= n;
    }
    return 0;
}

// One page of the program at va: a fresh frame with `fill` bytes of the
// image from file_offset at page offset `at`, mapped with `rights`.
static long add_page(struct load *l, uint64_t va, unsigned rights, uint64_t at, uint64_t file_offset, uint64_t fill)
{
    if (l->next_slot >= (1l << OBJECTS_BITS))
        return -E_NOMEM;    // more pages than the objects CNode holds
    long r = mf_untyped_retype(l->untyped, MF_OBJ_FRAME, 12, 1, l->self, l->frame);
    if (r < 0)
        return r;
    if (fill) {
        static uint8_t bounce[PAGE] __attribute__((aligned(16)));
        r = read_image(l, file_offset, bounce, fill);
        if (r == 0)
            r = mf_frame_write(l->frame, at, bounce, fill);
    }
    if (r == 0)
        r = mf_frame_map(l->frame, l->home, va, rights);
    if (r == 0)
        r = mf_cnode_move_to(l->self, l->frame, l->objects, l->next_slot++);
    if (r < 0)
        mf_cnode_delete(l->self, l->frame);
    return r;
}

static unsigned segment_rights(unsigned flags)
{
    if (flags & ELF_SEG_W)
        return MF_RIGHT_READ | MF_RIGHT_WRITE;
    return MF_RIGHT_READ | (flags & ELF_SEG_X ? MF_MAP_EXEC : 0);
}

static long load_segment(struct load *l, const struct elf_segment *s)
{
    if ((s->flags & (ELF_SEG_W | ELF_SEG_X)) == (ELF_SEG_W | ELF_SEG_X))
        return -E_NOEXEC;   // writable and executable: W^X refuses it
    uint64_t start = s->vaddr & ~(PAGE - 1), end = (s->vaddr + s->memsz + PAGE - 1) & ~(PAGE - 1);
    for (uint64_t va = start; va < end; va += PAGE) {
        // The file bytes that land in this page: [lo, hi) of the segment.
        uint64_t lo = va > s->vaddr ? va - s->vaddr : 0;
        uint64_t hi = va + PAGE - s->vaddr < s->filesz ? va + PAGE - s->vaddr : s->filesz;
        uint64_t fill = hi > lo ? hi - lo : 0;
        uint64_t at = va > s->vaddr ? 0 : s->vaddr - va;
        long r = add_page(l, va, segment_rights(s->flags), at, s->offset + lo, fill);
        if (r < 0)
            return r;
    }
    return 0;
}

static long build(struct load *l, struct mf_program *p, const char *name, uint64_t arg, long cspace)
{
    // 1. The headers, from the image's first page.
    static uint8_t head[PAGE] __attribute__((aligned(16)));
    memset(head, 0, sizeof(head));
    uint64_t size = l->image->size;
    long r = read_image(l, 0, head, size < PAGE ? size : PAGE);
    if (r < 0)
        return r;
    struct elf_image img;
    // The program headers must lie in the first page: elf_parse reads
    // only the headers, and they are all we have in `head`.
    const uint64_t phoff = *(const uint64_t *)(head + 32);
    const uint16_t phnum = *(const uint16_t *)(head + 56);
    if (size < 64 || phoff > PAGE || (PAGE - phoff) / 56 < phnum)
        return -E_NOEXEC;
    if (elf_parse(&img, head, size, MACHINE, MF_PROGRAM_BASE, MF_STACK_TOP - MF_STACK_SIZE))
        return -E_NOEXEC;
    // 2. Its objects.
    const long self = l->self;
    r = mf_untyped_retype(l->untyped, MF_OBJ_CNODE, OBJECTS_BITS, 1, self, l->objects);
    if (r == 0)
        r = mf_untyped_retype(l->untyped, MF_OBJ_SEGMENT, HOME_BITS, 1, self, l->home);
    if (r == 0)
        r = mf_segment_configure(l->home, 0, MF_HOME_SIZE);
    if (r == 0)
        r = mf_untyped_retype(l->untyped, MF_OBJ_VAS, VAS_BITS, 1, self, l->vas);
    if (r == 0)
        r = mf_untyped_retype(l->untyped, MF_OBJ_THREAD, 0, 1, self, l->thread);
    if (r == 0)
        r = mf_untyped_retype(l->untyped, MF_OBJ_NOTIFICATION, 0, 1, self, l->exit);
    if (r < 0)
        return r;
    // 3. Its pages.
    for (unsigned i = 0; i < img.segment_count; i++) {
        struct elf_segment s;
        elf_segment_get(&img, i, &s);
        if ((r = load_segment(l, &s)) < 0)
            return r;
    }
    for (uint64_t va = MF_STACK_TOP - MF_STACK_SIZE; va < MF_STACK_TOP; va += PAGE)
        if ((r = add_page(l, va, MF_RIGHT_READ | MF_RIGHT_WRITE, 0, 0, 0)) < 0)
            return r;
    if ((r = add_page(l, MF_IPC_BUFFER_VA, MF_RIGHT_READ | MF_RIGHT_WRITE, 0, 0, 0)) < 0)
        return r;
    // 4. Its thread, in a VAS with the home attached.
    char tname[32] = {0};
    strlcpy(tname, name, sizeof(tname));
    r = mf_vas_attach_segment(l->vas, l->home, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (r == 0)
        r = mf_thread_configure_in(l->thread, cspace, (void *)MF_IPC_BUFFER_VA, l->vas, tname);
    if (r == 0)
        r = mf_thread_write_regs(l->thread, img.entry, MF_STACK_TOP - 16, arg);
    if (r == 0)
        r = mf_thread_bind_exit(l->thread, l->exit);
    // The VAS and home live on in the objects CNode (the thread refers to them).
    if (r == 0)
        r = mf_cnode_move_to(self, l->vas, l->objects, SLOT_VAS);
    if (r == 0)
        r = mf_cnode_move_to(self, l->home, l->objects, SLOT_HOME);
    if (r < 0)
        return r;
    p->objects = l->objects;
    p->thread = l->thread;
    p->exit = l->exit;
    p->pages = (uint32_t)(l->next_slot - SLOT_FIRST_FRAME);
    return 0;
}

long mf_program_load(struct mf_program *p, const struct mf_load_args *a)
{
    if (!a->name || !a->untyped || a->slots <= 0)
        return -E_INVAL;
    struct load l = {
        .self = MF_CAP_SELF_CNODE, .untyped = a->untyped,
        .images = a->images ? a->images : MF_CAP_BOOT_IMAGES,
        .objects = a->slots, .thread = a->slots + 1, .exit = a->slots + 2,
        .frame = a->slots + 3, .page = a->slots + 4, .home = a->slots + 5, .vas = a->slots + 6,
        .next_slot = SLOT_FIRST_FRAME, .cached_page = -1,
    };
    for (long s = 0; s < MF_PROGRAM_SLOTS; s++)
        if (mf_cnode_identify(l.self, a->slots + s) != 0)
            return -E_BUSY;     // the slots must be ours and empty
    struct mf_boot_dir *dir = (struct mf_boot_dir *)(uint8_t[PAGE]){0};
    long index = find_image(l.images, a->name, dir, l.frame);
    if (index < 0)
        return index;
    l.image = &dir->image[index];
    *p = (struct mf_program){0};
    long r = build(&l, p, a->name, a->arg, a->cspace);
    mf_cnode_delete(l.self, l.page);
    mf_cnode_delete(l.self, l.frame);
    if (r < 0) {
        // Leave nothing behind but the untyped's watermark (revoke it to
        // get the memory back).
        for (long s = 0; s < MF_PROGRAM_SLOTS; s++)
            mf_cnode_delete(l.self, a->slots + s);
        *p = (struct mf_program){0};
    }
    return r;
}

long mf_program_start(struct mf_program *p) { return mf_thread_resume(p->thread); }

long mf_program_wait(struct mf_program *p, struct mf_exit_status *status)
{
    for (;;) {
        struct mf_exit_status st;
        long r = mf_thread_exit_status(p->thread, &st);
        if (r == -E_BADCAP)
            return -E_DEAD;     // its thread is gone: the untyped was revoked under it
        if (r != -E_BUSY) {
            if (r == 0 && status)
                *status = st;
            return r;
        }
        r = mf_notification_wait(p->exit);
        if (r < 0)
            return r;
    }
}

long mf_program_destroy(struct mf_program *p)
{
    if (!p->thread)
        return -E_INVAL;
    const long self = MF_CAP_SELF_CNODE;
    // The thread first (it stops), then what it ran in.
    long r = mf_cnode_delete(self, p->thread);
    if (r == 0)
        r = mf_cnode_delete(self, p->exit);
    if (r == 0)
        r = mf_cnode_delete(self, p->objects);
    *p = (struct mf_program){0};
    return r;
}

// ------------------------------------------------------- the simple form
//
// mf_spawn/mf_wait: programs in a range of slots set with mf_spawn_pool,
// made from the pool's untyped (or one the caller names, mf_spawn_from,
// which the caller revokes itself). When the last program made from the
// pool's untyped is waited for, that untyped is revoked, so the pool's
// memory is used again from the start.

#define POOL_MAX 8
static struct {
    long untyped, first_slot, count;
    struct mf_program program[POOL_MAX];
    long from[POOL_MAX];        // the untyped it came from
    bool used[POOL_MAX];
} pool;

void mf_spawn_pool(long untyped, long first_slot, long slot_count)
{
    pool.untyped = untyped;
    pool.first_slot = first_slot;
    pool.count = slot_count / MF_PROGRAM_SLOTS < POOL_MAX ? slot_count / MF_PROGRAM_SLOTS : POOL_MAX;
}

// Live programs of the pool made from `untyped`.
static unsigned live_from(long untyped)
{
    unsigned n = 0;
    for (long i = 0; i < pool.count; i++)
        n += pool.used[i] && pool.from[i] == untyped;
    return n;
}

long mf_spawn_from(const char *name, uint64_t arg, long cspace, long untyped)
{
    if (!pool.count)
        return -E_NOMEM;    // no pool: mf_spawn_pool first
    long i = 0;
    while (i < pool.count && pool.used[i])
        i++;
    if (i == pool.count)
        return -E_NOMEM;
    struct mf_load_args a = {.name = name, .arg = arg, .cspace = cspace, .untyped = untyped,
                             .slots = pool.first_slot + i * MF_PROGRAM_SLOTS};
    long r = mf_program_load(&pool.program[i], &a);
    if (r == 0 && (r = mf_program_start(&pool.program[i])) < 0)
        mf_program_destroy(&pool.program[i]);
    if (r < 0) {
        if (untyped == pool.untyped && !live_from(untyped))
            mf_cnode_revoke(MF_CAP_SELF_CNODE, untyped);
        return r;
    }
    pool.used[i] = true;
    pool.from[i] = untyped;
    return i + 1;
}

long mf_spawn_with(const char *name, uint64_t arg, long cspace)
{
    return mf_spawn_from(name, arg, cspace, pool.untyped);
}

long mf_spawn(const char *name, uint64_t arg) { return mf_spawn_with(name, arg, 0); }

long mf_spawned_thread(long handle)
{
    return handle >= 1 && handle <= pool.count && pool.used[handle - 1] ? pool.program[handle - 1].thread
                                                                      : -E_NOENT;
}

long mf_wait(long handle, struct mf_exit_status *status)
{
    if (handle < 1 || handle > pool.count || !pool.used[handle - 1])
        return -E_NOENT;
    struct mf_exit_status st;
    long r = mf_program_wait(&pool.program[handle - 1], &st);
    if (r < 0 && r != -E_DEAD)
        return r;
    if (status && r == 0)
        *status = st;
    mf_kill(handle);
    return r;
}

long mf_kill(long handle)
{
    if (handle < 1 || handle > pool.count || !pool.used[handle - 1])
        return -E_NOENT;
    mf_program_destroy(&pool.program[handle - 1]);
    pool.used[handle - 1] = false;
    long untyped = pool.from[handle - 1];
    if (untyped == pool.untyped && !live_from(untyped))
        mf_cnode_revoke(MF_CAP_SELF_CNODE, untyped);
    return 0;
}

// ------------------------------------------------------ a child's CSpace

long mf_child_cspace(long untyped, long cnode_slot, long nameserver)
{
    const long self = MF_CAP_SELF_CNODE;
    long scratch = mf_slot_alloc();
    if (scratch < 0)
        return scratch;
    // The child's untyped first, at the start of `untyped` (retype aligns
    // each object to its size), held in scratch until its CNode exists;
    // the CNode and the program come after it.
    long r = mf_untyped_retype(untyped, MF_OBJ_UNTYPED, MF_CHILD_UNTYPED_BITS, 1, self, scratch);
    if (r == 0)
        r = mf_untyped_retype(untyped, MF_OBJ_CNODE, MF_CHILD_CNODE_BITS, 1, self, cnode_slot);
    if (r == 0)
        r = mf_cnode_move_to(self, scratch, cnode_slot, MF_CAP_UNTYPED_BASE);
    if (r == 0)
        r = mf_cnode_copy_to(self, cnode_slot, cnode_slot, MF_CAP_SELF_CNODE, MF_RIGHTS_ALL);
    if (r == 0 && nameserver)
        r = mf_cnode_copy_to(self, nameserver, cnode_slot, MF_CAP_NAMESERVER, MF_RIGHT_WRITE | MF_RIGHT_GRANT);
    // What we hold of the console, System cap (read-only for the child),
    // boot images (read-only) and PCI devices; an empty slot is skipped.
    static const struct { long slot; unsigned rights; } give[] = {
        {MF_CAP_CONSOLE, MF_RIGHTS_ALL}, {MF_CAP_SYSTEM, MF_RIGHT_READ}, {MF_CAP_BOOT_IMAGES, MF_RIGHT_READ}};
    for (unsigned i = 0; r == 0 && i < sizeof(give) / sizeof(give[0]); i++)
        if (mf_cnode_identify(self, give[i].slot) > 0)
            r = mf_cnode_copy_to(self, give[i].slot, cnode_slot, give[i].slot, give[i].rights);
    for (long d = MF_CAP_DEVICE_BASE; r == 0 && d < MF_CAP_DEVICE_BASE + MF_DEVICE_MAX; d++)
        if ((mf_cnode_identify(self, d) & 0xff) == MF_OBJ_PCI_DEVICE)
            r = mf_cnode_copy_to(self, d, cnode_slot, d, MF_RIGHTS_ALL);
    mf_slot_free(scratch);      // empty unless something failed
    return r;
}

long mf_spawn_child(const char *name, uint64_t arg, long untyped, long cnode_slot, long nameserver)
{
    long r = mf_child_cspace(untyped, cnode_slot, nameserver);
    return r < 0 ? r : mf_spawn_from(name, arg, cnode_slot, untyped);
}
