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
#include "user/lib/split.h"
#include "lib/elf.h"
#include "lib/tls.h"
#include "lib/string.h"

#define PAGE 4096ul
#define OBJECTS_BITS 10           // 1024 slots: up to about 4 MiB of program
#define VAS_BITS 14               // header, root, two tables for links
#define SPLIT_VAS_BITS 16         // also the tables for each half's segments above the home
#define TLS_MAX (64ul << 10)      // a PT_TLS template's size the loader accepts
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
    const char *upper_name;                     // a split process: the upper half's image
    bool split_caps;                            // its caps are (being) placed in its CSpace
    bool gaps;                                  // the objects CNode has caps already: skip them
};

// The next slot of the objects CNode a frame goes in (-E_NOMEM: none).
static long next_free(struct load *l)
{
    while (l->gaps && l->next_slot < (1l << OBJECTS_BITS) && mf_cnode_identify(l->objects, l->next_slot) != 0)
        l->next_slot++;
    return l->next_slot < (1l << OBJECTS_BITS) ? l->next_slot : -E_NOMEM;
}

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

// One page of the program at va: a fresh frame with `len` bytes of data
// at page offset `at` (none: zeros), mapped with `rights`, its cap filed
// in the objects CNode.
static long new_page(struct load *l, uint64_t va, unsigned rights, const void *data, uint64_t at, uint64_t len)
{
    if (next_free(l) < 0)
        return -E_NOMEM;    // more pages than the objects CNode holds
    long r = mf_untyped_retype(l->untyped, MF_OBJ_FRAME, 12, 1, l->self, l->frame);
    if (r < 0)
        return r;
    if (len)
        r = mf_frame_write(l->frame, at, data, len);
    if (r == 0)
        r = mf_frame_map(l->frame, l->home, va, rights);
    if (r == 0)
        r = mf_cnode_move_to(l->self, l->frame, l->objects, l->next_slot++);
    if (r < 0)
        mf_cnode_delete(l->self, l->frame);
    return r;
}

// A page of the image: `fill` bytes of it from file_offset at page offset `at`.
static long add_page(struct load *l, uint64_t va, unsigned rights, uint64_t at, uint64_t file_offset, uint64_t fill)
{
    static uint8_t bounce[PAGE] __attribute__((aligned(16)));
    long r = fill ? read_image(l, file_offset, bounce, fill) : 0;
    return r < 0 ? r : new_page(l, va, rights, bounce, at, fill);
}

// A page with the given contents (PAGE bytes).
static long add_page_data(struct load *l, uint64_t va, unsigned rights, const void *data)
{
    return new_page(l, va, rights, data, 0, PAGE);
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

// Reads and checks the headers of l->image (from its first page).
static long parse_image(struct load *l, struct elf_image *img)
{
    static uint8_t head[PAGE] __attribute__((aligned(16)));
    memset(head, 0, sizeof(head));
    l->cached_page = -1;
    uint64_t size = l->image->size;
    long r = read_image(l, 0, head, size < PAGE ? size : PAGE);
    if (r < 0)
        return r;
    // The program headers must lie in the first page: elf_parse reads
    // only the headers, and they are all we have in `head`.
    const uint64_t phoff = *(const uint64_t *)(head + 32);
    const uint16_t phnum = *(const uint16_t *)(head + 56);
    if (size < 64 || phoff > PAGE || (PAGE - phoff) / 56 < phnum)
        return -E_NOEXEC;
    if (elf_parse(img, head, size, MACHINE, MF_PROGRAM_BASE, MF_STACK_TOP - MF_STACK_SIZE))
        return -E_NOEXEC;
    if (img->tls.memsz > TLS_MAX)
        return -E_NOEXEC;
    return 0;
}

// [lo, hi): the pages an image's loaded segments cover.
static void image_extent(const struct elf_image *img, uint64_t *lo, uint64_t *hi)
{
    *lo = ~0ul;
    *hi = 0;
    for (unsigned i = 0; i < img->segment_count; i++) {
        struct elf_segment s;
        elf_segment_get(img, i, &s);
        uint64_t a = s.vaddr & ~(PAGE - 1), b = (s.vaddr + s.memsz + PAGE - 1) & ~(PAGE - 1);
        *lo = a < *lo ? a : *lo;
        *hi = b > *hi ? b : *hi;
    }
}

// The TLS block for an image's first thread, from the page-aligned va on
// (lib/tls.h has the layout).
static struct tls_layout tls_of(const struct elf_image *img, uint64_t va)
{
    return tls_layout(img->tls.memsz, img->tls_align, va);
}

// Fills and maps the TLS block of l->image at va; its thread pointer in *tp.
static long add_tls(struct load *l, const struct elf_image *img, uint64_t va, uint64_t *tp)
{
    static uint8_t page[PAGE] __attribute__((aligned(16)));
    struct tls_layout t = tls_of(img, va);
    uint64_t end = (t.end + PAGE - 1) & ~(PAGE - 1), data_end = t.data + img->tls.filesz;
    *tp = t.tp;
    for (uint64_t p = va; p < end; p += PAGE) {
        memset(page, 0, sizeof(page));
        // The template's file bytes that land in this page.
        uint64_t lo = t.data > p ? t.data : p, hi = data_end < p + PAGE ? data_end : p + PAGE;
        if (lo < hi) {
            long r = read_image(l, img->tls.offset + (lo - t.data), page + (lo - p), hi - lo);
            if (r < 0)
                return r;
        }
#if defined(__x86_64__)
        if (t.tp >= p && t.tp < p + PAGE)      // (16-byte aligned: the word lies in this page)
            memcpy(page + (t.tp - p), &t.tp, sizeof(t.tp));
#endif
        long r = add_page_data(l, p, MF_RIGHT_READ | MF_RIGHT_WRITE, page);
        if (r < 0)
            return r;
    }
    return 0;
}

// Where an image's TLS block ends when it starts a guard page after hi.
static uint64_t tls_end(const struct elf_image *img, uint64_t hi)
{
    return (tls_of(img, hi + PAGE).end + PAGE - 1) & ~(PAGE - 1);
}

// Loads l->image's segments and, if it has a PT_TLS (or `always`: an
// empty block, so a split process's upper half has a thread pointer too),
// its TLS block from the page after its image (a guard page between);
// [*lo, *hi) covers both, *tp is the block's thread pointer (0: none).
static long load_image(struct load *l, const struct elf_image *img, uint64_t *lo, uint64_t *hi, uint64_t *tp,
                       bool always)
{
    image_extent(img, lo, hi);
    *tp = 0;
    for (unsigned i = 0; i < img->segment_count; i++) {
        struct elf_segment s;
        elf_segment_get(img, i, &s);
        long r = load_segment(l, &s);
        if (r < 0)
            return r;
    }
    if (!img->tls.memsz && !always)
        return 0;
    uint64_t va = *hi + PAGE;
    *hi = tls_end(img, *hi);
    if (*hi > MF_STACK_TOP - MF_STACK_SIZE)
        return -E_NOEXEC;
    return add_tls(l, img, va, tp);
}

// A split process: the lower half in the same home, the halves' ranges,
// the info page the upper half starts with and the caps it needs.
static long add_lower_half(struct load *l, const struct mf_boot_image *lower, long cspace, uint64_t arg,
                           uint64_t upper_lo, uint64_t upper_hi, uint64_t upper_tp, uint64_t *info_va)
{
    struct elf_image img;
    l->image = lower;
    long r = parse_image(l, &img);
    if (r < 0)
        return r;
    uint64_t lo, hi, tp;
    image_extent(&img, &lo, &hi);
    uint64_t info_at = upper_hi;
    if (lo < upper_hi + PAGE && upper_lo < tls_end(&img, hi))
        return -E_HALF;     // the images (or the upper's info page) overlap: link them apart
    if ((r = load_image(l, &img, &lo, &hi, &tp, false)) < 0)
        return r;
    if (!tp)
        return -E_NOEXEC;   // a lower half without thread-local storage has nothing to switch
    // The halves' ranges: the lower half's image and TLS block; the rest
    // of the home is the upper half's; above it, each half's segments.
    r = mf_segment_set_half(l->home, MF_HALF_LOWER, lo, hi - lo);
    if (r == 0 && lo > 0)
        r = mf_segment_set_half(l->home, MF_HALF_UPPER, 0, lo);
    if (r == 0)
        r = mf_segment_set_half(l->home, MF_HALF_UPPER, hi, MF_HOME_SIZE - hi);
    if (r == 0)
        r = mf_segment_set_half(l->home, MF_HALF_LOWER, MF_SPLIT_LOWER_SEGMENTS, MF_SPLIT_LOWER_SEGMENTS_SIZE);
    if (r == 0)
        r = mf_segment_set_half(l->home, MF_HALF_UPPER, MF_SPLIT_UPPER_SEGMENTS, MF_SPLIT_UPPER_SEGMENTS_SIZE);
    if (r < 0)
        return r;
    struct mf_system_info si;
    r = mf_system_info(&si);
    if (r < 0)
        return r;
    static union {
        struct mf_split_info info;
        uint8_t page[PAGE];
    } u __attribute__((aligned(16)));
    memset(&u, 0, sizeof(u));
    u.info = (struct mf_split_info){
        .magic = MF_SPLIT_MAGIC, .arg = arg, .lower_entry = img.entry,
        .user_tls = !!(si.flags & MF_SYSTEM_USER_TLS),
        .tp = {0, tp, upper_tp},
        .image_base = {0, lo, upper_lo}, .image_end = {0, hi, upper_hi + PAGE},
        .segments_base = {0, MF_SPLIT_LOWER_SEGMENTS, MF_SPLIT_UPPER_SEGMENTS},
        .segments_end = {0, MF_SPLIT_LOWER_SEGMENTS + MF_SPLIT_LOWER_SEGMENTS_SIZE,
                         MF_SPLIT_UPPER_SEGMENTS + MF_SPLIT_UPPER_SEGMENTS_SIZE},
        .generation = 1,
    };
    if ((r = add_page_data(l, info_at, MF_RIGHT_READ, &u)) < 0)
        return r;
    *info_va = info_at;
    // Its caps: the thread, each half's VAS and home (minted with the half).
    for (long s = MF_CAP_SPLIT_FIRST; s < MF_CAP_SPLIT_FIRST + MF_SPLIT_CAPS; s++)
        if (mf_cnode_identify(cspace, s) != 0)
            return -E_BUSY;
    l->split_caps = true;       // from here on, a failure empties those slots
    r = mf_cnode_copy_to(l->self, l->thread, cspace, MF_CAP_SPLIT_THREAD, MF_RIGHT_READ | MF_RIGHT_WRITE);
    for (unsigned half = MF_HALF_LOWER; r == 0 && half <= MF_HALF_UPPER; half++) {
        r = mf_cnode_mint(l->self, l->vas, l->frame, MF_RIGHT_READ | MF_RIGHT_WRITE, half);
        if (r == 0)
            r = mf_cnode_move_to(l->self, l->frame, cspace, MF_CAP_SPLIT_VAS(half));
        if (r == 0)
            r = mf_cnode_mint(l->self, l->home, l->frame, MF_RIGHT_READ | MF_RIGHT_WRITE, half);
        if (r == 0)
            r = mf_cnode_move_to(l->self, l->frame, cspace, MF_CAP_SPLIT_HOME(half));
    }
    // What a debugger needs (tools/gdb-split reads these lines).
    if (r == 0) {
        printf("split: half=lower image=%s base=%#lx end=%#lx entry=%#lx tp=%#lx\n", lower->name, lo, hi,
               img.entry, tp);
        printf("split: half=upper image=%s base=%#lx end=%#lx tp=%#lx info=%#lx\n", l->upper_name, upper_lo,
               upper_hi + PAGE, upper_tp, info_at);
    }
    return r;
}

static long build(struct load *l, struct mf_program *p, const struct mf_load_args *a,
                  const struct mf_boot_image *lower)
{
    // 1. The headers.
    struct elf_image img;
    long r = parse_image(l, &img);
    if (r < 0)
        return r;
    // 2. Its objects.
    const long self = l->self;
    r = mf_untyped_retype(l->untyped, MF_OBJ_CNODE, OBJECTS_BITS, 1, self, l->objects);
    if (r == 0)
        r = mf_untyped_retype(l->untyped, MF_OBJ_SEGMENT, HOME_BITS, 1, self, l->home);
    if (r == 0)
        r = mf_segment_configure(l->home, 0, MF_HOME_SIZE);
    if (r == 0)
        r = mf_untyped_retype(l->untyped, MF_OBJ_VAS, lower ? SPLIT_VAS_BITS : VAS_BITS, 1, self, l->vas);
    if (r == 0)
        r = mf_untyped_retype(l->untyped, MF_OBJ_THREAD, 0, 1, self, l->thread);
    if (r == 0)
        r = mf_untyped_retype(l->untyped, MF_OBJ_NOTIFICATION, 0, 1, self, l->exit);
    if (r < 0)
        return r;
    // 3. Its pages.
    uint64_t lo, hi, tp, arg = a->arg;
    if ((r = load_image(l, &img, &lo, &hi, &tp, lower != NULL)) < 0)
        return r;
    for (uint64_t va = MF_STACK_TOP - MF_STACK_SIZE; va < MF_STACK_TOP; va += PAGE)
        if ((r = add_page(l, va, MF_RIGHT_READ | MF_RIGHT_WRITE, 0, 0, 0)) < 0)
            return r;
    if ((r = add_page(l, MF_IPC_BUFFER_VA, MF_RIGHT_READ | MF_RIGHT_WRITE, 0, 0, 0)) < 0)
        return r;
    if (lower && (r = add_lower_half(l, lower, a->cspace, a->arg, lo, hi, tp, &arg)) < 0)
        return r;
    // 4. Its thread, in a VAS with the home attached.
    char tname[32] = {0};
    strlcpy(tname, a->name, sizeof(tname));
    r = mf_vas_attach_segment(l->vas, l->home, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (r == 0)
        r = mf_thread_configure_in(l->thread, a->cspace, (void *)MF_IPC_BUFFER_VA, l->vas, tname);
    if (r == 0)
        r = mf_thread_write_regs(l->thread, img.entry, MF_STACK_TOP - 16, arg);
    if (r == 0 && tp)
        r = mf_thread_set_tls(l->thread, MF_TLS_THREAD, tp);
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
    p->split_info = lower ? arg : 0;
    return 0;
}

static long reload(const struct mf_split_reload *a, long info_frame, long home);

long mf_split_reload_lower(const struct mf_split_reload *a)
{
    if (!a->image || !a->objects || !a->untyped || !a->scratch)
        return -E_INVAL;
    // The home, and the frame cap mapped at info_va in it.
    static struct mf_cap_info ci;
    long r = mf_cnode_describe(a->objects, SLOT_HOME, &ci);
    if (r < 0)
        return r;
    if (ci.type != MF_OBJ_SEGMENT || !ci.segment.home)
        return -E_INVAL;
    uint64_t home_name = ci.object;
    long info_slot = 0;
    for (uint32_t s = 1; s && !info_slot;) {
        if ((r = mf_cnode_describe(a->objects, s, &ci)) < 0)
            return r;
        if (ci.type == MF_OBJ_FRAME && ci.frame.segment == home_name && ci.frame.va == a->info_va)
            info_slot = s;
        s = ci.next;
    }
    if (!info_slot)
        return -E_NOENT;
    const long info_frame = a->scratch;
    r = mf_cnode_copy_to(a->objects, info_slot, MF_CAP_SELF_CNODE, info_frame, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (r == 0)
        r = mf_cnode_copy_to(a->objects, SLOT_HOME, MF_CAP_SELF_CNODE, a->scratch + 1, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (r == 0)
        r = reload(a, info_frame, a->scratch + 1);
    mf_cnode_delete(MF_CAP_SELF_CNODE, info_frame);
    mf_cnode_delete(MF_CAP_SELF_CNODE, a->scratch + 1);
    return r;
}

static long reload(const struct mf_split_reload *a, long info_frame, long home)
{
    static union {
        struct mf_split_info info;
        uint8_t page[PAGE];
    } u __attribute__((aligned(16)));
    long r = mf_frame_read(info_frame, 0, &u, PAGE);
    if (r < 0)
        return r;
    struct mf_split_info *info = &u.info;
    if (info->magic != MF_SPLIT_MAGIC)
        return -E_INVAL;
    struct load l = {
        .self = MF_CAP_SELF_CNODE, .untyped = a->untyped, .images = a->images ? a->images : MF_CAP_BOOT_IMAGES,
        .objects = a->objects, .frame = a->scratch + 2, .page = a->scratch + 3, .home = home,
        .next_slot = SLOT_FIRST_FRAME, .cached_page = -1,
    };
    struct mf_boot_dir *dir = (struct mf_boot_dir *)(uint8_t[PAGE]){0};
    long index = find_image(l.images, a->image, dir, l.frame);
    if (index < 0)
        return index;
    l.image = &dir->image[index];
    struct elf_image img;
    uint64_t lo, hi, tp;
    r = parse_image(&l, &img);
    if (r < 0)
        return r;
    if (!img.tls.memsz)
        return -E_NOEXEC;
    // It must fit where the lower half was (the home's ranges are fixed).
    image_extent(&img, &lo, &hi);
    if (lo < info->image_base[MF_HALF_LOWER] || tls_end(&img, hi) > info->image_end[MF_HALF_LOWER])
        return -E_HALF;
    // Frames into the CNode's empty slots (mf_ckpt_restore left the old
    // lower half's slots empty).
    l.gaps = true;
    r = load_image(&l, &img, &lo, &hi, &tp, false);
    mf_cnode_delete(l.self, l.page);
    mf_cnode_delete(l.self, l.frame);
    if (r < 0)
        return r;
    info->lower_entry = img.entry;
    info->tp[MF_HALF_LOWER] = tp;
    info->generation++;
    return mf_frame_write(info_frame, 0, &u, PAGE);
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
    l.upper_name = l.image->name;
    const struct mf_boot_image *lower = NULL;
    if (a->lower) {
        if (!a->cspace)
            return -E_INVAL;    // a split process's caps go in its CSpace
        long li = find_image(l.images, a->lower, dir, l.frame);
        if (li < 0)
            return li;
        lower = &dir->image[li];
    }
    *p = (struct mf_program){0};
    long r = build(&l, p, a, lower);
    mf_cnode_delete(l.self, l.page);
    mf_cnode_delete(l.self, l.frame);
    if (r < 0) {
        // Leave nothing behind but the untyped's watermark (revoke it to
        // get the memory back).
        for (long s = 0; s < MF_PROGRAM_SLOTS; s++)
            mf_cnode_delete(l.self, a->slots + s);
        for (long s = MF_CAP_SPLIT_FIRST; l.split_caps && s < MF_CAP_SPLIT_FIRST + MF_SPLIT_CAPS; s++)
            mf_cnode_delete(a->cspace, s);
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
    // The thread first (it stops; a copy we gave away, as a split
    // process's CSpace has, goes with it), then what it ran in.
    long r = mf_cnode_revoke(self, p->thread);
    if (r == 0)
        r = mf_cnode_delete(self, p->thread);
    if (r == 0)
        r = mf_cnode_delete(self, p->exit);
    // Its VAS and home, with the copies made of them (a split process's
    // halves' caps), then the rest.
    // (Either may be gone already: its owner deleted it.)
    for (long s = SLOT_VAS; r == 0 && s <= SLOT_HOME; s++)
        if (mf_cnode_identify(p->objects, s) > 0)
            r = mf_cnode_revoke(p->objects, s);
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
