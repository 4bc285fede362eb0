// PCI enumeration at boot and the PCI device capability's operations.
#include "kernel/object.h"
#include "kernel/pci.h"
#include "kernel/net.h"
#include "kernel/segment.h"
#include "kernel/arch.h"
#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/irq.h"
#include "kernel/pmm.h"
#include "kernel/thread.h"
#include "kernel/usercopy.h"
#include "kernel/vas.h"
#include "kernel/vm.h"
#include "include/manifold/errors.h"

#define PCI_MAX_BUSES 8             // bus 0 and up to 7 behind bridges
#define HEADER_MULTIFUNCTION 0x80
#define HEADER_BRIDGE 0x01
#define BRIDGE_SECONDARY_BUS 0x19

struct pci_device pci_devices[MF_DEVICE_MAX];
unsigned pci_device_count;

static uint32_t cfg_read(uint32_t bdf, unsigned off, unsigned size) { return arch_pci_config_read(bdf, off, size); }
static void cfg_write(uint32_t bdf, unsigned off, unsigned size, uint32_t v) { arch_pci_config_write(bdf, off, size, v); }

// Sizes the BARs of a type-0 header: each is written with all ones and read
// back (the low bits that stay zero give the size), decoding off meanwhile.
static void size_bars(struct pci_device *d)
{
    uint32_t cmd = cfg_read(d->bdf, MF_PCI_COMMAND, 2);
    cfg_write(d->bdf, MF_PCI_COMMAND, 2, cmd & ~(MF_PCI_COMMAND_IO | MF_PCI_COMMAND_MEMORY));
    for (unsigned i = 0; i < MF_PCI_BAR_COUNT; i++) {
        unsigned off = 0x10 + 4 * i;
        uint32_t orig = cfg_read(d->bdf, off, 4);
        cfg_write(d->bdf, off, 4, ~0u);
        uint32_t mask = cfg_read(d->bdf, off, 4);
        cfg_write(d->bdf, off, 4, orig);
        if (mask == 0 || mask == ~0u)
            continue;
        struct pci_bar *b = &d->bar[i];
        if (orig & 1) {                                   // I/O: bits 31:2
            b->base = orig & ~3u;
            b->size = (uint32_t)(~(mask & ~3u) + 1) & 0xffff;
            continue;
        }
        b->flags = MF_PCI_BAR_MEM | (orig & 8 ? MF_PCI_BAR_PREFETCH : 0);
        uint64_t base = orig & ~0xfu, full = mask & ~0xfu;
        if ((orig >> 1 & 3) == 2 && i + 1 < MF_PCI_BAR_COUNT) {   // 64-bit: the next BAR is the top half
            uint32_t hi = cfg_read(d->bdf, off + 4, 4);
            cfg_write(d->bdf, off + 4, 4, ~0u);
            uint32_t hi_mask = cfg_read(d->bdf, off + 4, 4);
            cfg_write(d->bdf, off + 4, 4, hi);
            base |= (uint64_t)hi << 32;
            full |= (uint64_t)hi_mask << 32;
            b->flags |= MF_PCI_BAR_64;
            b->size = ~full + 1;
            i++;
        } else {
            b->size = (uint32_t)(~(uint32_t)full + 1);
        }
        b->base = base;
    }
    cfg_write(d->bdf, MF_PCI_COMMAND, 2, cmd);
}

// Walks the capability list (status bit 4; pointer at 0x34) for MSI-X:
// message control at +2 (table size - 1 in 10:0), table offset | BIR at
// +4, PBA offset | BIR at +8.
static void find_msix(struct pci_device *d)
{
    if (!(cfg_read(d->bdf, 0x06, 2) & 0x10))
        return;
    unsigned p = cfg_read(d->bdf, 0x34, 1) & 0xfc;
    for (unsigned n = 0; p >= 0x40 && n < 48; n++) {
        if (cfg_read(d->bdf, p, 1) == 0x11) {
            uint32_t table = cfg_read(d->bdf, p + 4, 4), pba = cfg_read(d->bdf, p + 8, 4);
            d->msix_cap = (uint8_t)p;
            d->msix_entries = (uint16_t)((cfg_read(d->bdf, p + 2, 2) & 0x7ff) + 1);
            d->msix_table_bar = table & 7;
            d->msix_table_offset = table & ~7u;
            d->msix_pba_bar = pba & 7;
            d->msix_pba_offset = pba & ~7u;
            return;
        }
        p = cfg_read(d->bdf, p + 1, 1) & 0xfc;
    }
}

// The device's interrupt: MSI-X vector 0 where the device has MSI-X and
// the arch a message target, else its INTx pin.
static void attach_interrupt(struct pci_device *d)
{
    if (d->msix_cap && d->msix_table_bar < MF_PCI_BAR_COUNT) {
        const struct pci_bar *b = &d->bar[d->msix_table_bar];
        if ((b->flags & MF_PCI_BAR_MEM) && b->base && b->size >= d->msix_table_offset + 16u * d->msix_entries) {
            d->msix_table = vm_map_device(b->base + d->msix_table_offset, 16u * d->msix_entries);
            d->line = irq_line_create_msi(d);
            if (d->line)
                return;
        }
    }
    if (d->irq >= 0)
        d->line = irq_line_create(d, (unsigned)d->irq);
}

static void print_device(const struct pci_device *d, bool kept)
{
    kprintf("pci %02x:%02x.%u %04x:%04x class %06x", d->bdf >> 8, d->bdf >> 3 & 31, d->bdf & 7,
            d->vendor, d->device, d->class_rev >> 8);
    if (d->intx_pin)
        kprintf(" INT%c line %u -> irq %d", 'A' + d->intx_pin - 1, d->intx_register, d->irq);
    bool has_memory = false;
    for (unsigned i = 0; i < MF_PCI_BAR_COUNT; i++) {
        const struct pci_bar *b = &d->bar[i];
        if (!b->size)
            continue;
        has_memory |= (b->flags & MF_PCI_BAR_MEM) != 0;
        const char *kind = !(b->flags & MF_PCI_BAR_MEM) ? "io" : b->flags & MF_PCI_BAR_64 ? "mem64" : "mem32";
        kprintf(" bar%u %s%s %#lx+%#lx", i, kind, b->flags & MF_PCI_BAR_PREFETCH ? " pf" : "",
                b->base, b->size);
    }
    if (d->msix_cap)
        kprintf(" msix %u@bar%u+%#x", d->msix_entries, d->msix_table_bar, d->msix_table_offset);
    if (has_memory && !(cfg_read(d->bdf, MF_PCI_COMMAND, 2) & MF_PCI_COMMAND_MEMORY))
        kprintf(" (memory decoding off)");
    if (d->line)
        kprintf(" -> %s line %u", d->line->msi ? "msi" : "intx", d->line->line);
    kprintf("%s\n", kept ? "" : " (not kept: table full)");
}

static void probe_function(uint32_t bdf, unsigned buses, uint8_t *queue, unsigned *queued)
{
    struct pci_device tmp = {.bdf = bdf, .irq = -1};
    tmp.vendor = (uint16_t)cfg_read(bdf, MF_PCI_VENDOR_ID, 2);
    tmp.device = (uint16_t)cfg_read(bdf, MF_PCI_DEVICE_ID, 2);
    tmp.class_rev = cfg_read(bdf, MF_PCI_CLASS, 4);
    tmp.header_type = (uint8_t)cfg_read(bdf, 0x0e, 1);
    if ((tmp.header_type & 0x7f) == HEADER_BRIDGE) {
        // A PCI-to-PCI bridge: follow it when the firmware numbered it.
        uint8_t secondary = (uint8_t)cfg_read(bdf, BRIDGE_SECONDARY_BUS, 1);
        bool seen = false;
        for (unsigned i = 0; i < *queued; i++)
            seen |= queue[i] == secondary;
        if (secondary && !seen && secondary < buses && *queued < PCI_MAX_BUSES)
            queue[(*queued)++] = secondary;
    } else if ((tmp.header_type & 0x7f) == 0) {
        size_bars(&tmp);
        tmp.intx_pin = (uint8_t)cfg_read(bdf, MF_PCI_INTR_PIN, 1);
        tmp.intx_register = (uint8_t)cfg_read(bdf, MF_PCI_INTR_LINE, 1);
        if (tmp.intx_pin >= 1 && tmp.intx_pin <= 4)
            tmp.irq = arch_pci_intx_line(bdf, tmp.intx_pin, tmp.intx_register);
        else
            tmp.intx_pin = 0;
        find_msix(&tmp);
    }
    bool kept = pci_device_count < MF_DEVICE_MAX;
    if (kept) {
        struct pci_device *d = &pci_devices[pci_device_count++];
        *d = tmp;
        attach_interrupt(d);
        net_attach(d);
        tmp = *d;
    }
    print_device(&tmp, kept);
}

void pci_init(const struct boot_info *bi)
{
    unsigned buses = arch_pci_init(bi);
    if (!buses) {
        kprintf("pci: no configuration space\n");
        return;
    }
    if (buses > 256)
        buses = 256;
    uint8_t queue[PCI_MAX_BUSES] = {0};     // bus 0, then secondary buses as bridges name them
    unsigned queued = 1;
    for (unsigned q = 0; q < queued; q++) {
        unsigned bus = queue[q];
        for (unsigned dev = 0; dev < 32; dev++) {
            for (unsigned fn = 0; fn < 8; fn++) {
                uint32_t bdf = bus << 8 | dev << 3 | fn;
                if ((cfg_read(bdf, MF_PCI_VENDOR_ID, 2) & 0xffff) == 0xffff) {
                    if (fn == 0)
                        break;          // no device here
                    continue;
                }
                probe_function(bdf, buses, queue, &queued);
                if (fn == 0 && !(cfg_read(bdf, 0x0e, 1) & HEADER_MULTIFUNCTION))
                    break;
            }
        }
    }
    kprintf("pci: %u function(s) on %u bus(es)\n", pci_device_count, queued);
}

void pci_grant_root(uintptr_t cspace)
{
    for (unsigned i = 0; i < pci_device_count; i++) {
        struct cap c = {.obj = (uintptr_t)&pci_devices[i], .type = MF_OBJ_PCI_DEVICE,
                        .rights = MF_RIGHTS_ALL};
        cap_insert(&cnode_slots(cspace)[MF_CAP_DEVICE_BASE + i], &c, NULL);
    }
}

bool pci_range_is_device(paddr_t pa, uint64_t size)
{
    if (size == 0 || pa + size < pa)
        return false;
    for (paddr_t p = ALIGN_DOWN(pa, PAGE_SIZE); p < pa + size; p += PAGE_SIZE)
        if (pmm_is_ram(p))
            return false;
    return true;
}

// ------------------------------------------------------------ operations

// What MAP_BAR may map of a BAR: its pages. A BAR smaller than a page
// (ivshmem's 256-byte registers) is mapped as its whole page only when
// the page is its own: page aligned and no other BAR of any device in it.
// 0 when the BAR cannot be mapped at all.
static uint64_t bar_span(const struct pci_bar *b)
{
    if (!b->size || !(b->flags & MF_PCI_BAR_MEM) || !b->base || b->base & (PAGE_SIZE - 1))
        return 0;
    uint64_t span = ALIGN_UP(b->size, PAGE_SIZE);
    if (span == b->size)
        return span;
    for (unsigned i = 0; i < pci_device_count; i++)
        for (unsigned j = 0; j < MF_PCI_BAR_COUNT; j++) {
            const struct pci_bar *o = &pci_devices[i].bar[j];
            if (o != b && o->size && (o->flags & MF_PCI_BAR_MEM) && o->base < b->base + span &&
                b->base < o->base + o->size)
                return 0;
        }
    return span;
}

static struct pci_device *device_of(const struct invocation *inv)
{
    return (struct pci_device *)inv->target->cap.obj;
}

static int need(const struct invocation *inv, unsigned rights)
{
    return (inv->target->cap.rights & rights) == rights ? 0 : -E_PERM;
}

// WRITE, and a device the kernel does not drive itself: a NIC's BARs,
// interrupt and command register are the kernel's (its DMA could reach
// any memory), and packet filters are the way to it (kernel/net.c).
static int need_to_act(const struct invocation *inv)
{
    int r = need(inv, MF_RIGHT_WRITE);
    if (!r && device_of(inv)->kernel_driven)
        r = refuse(inv, -E_BUSY, "the kernel drives this device: bind a packet filter");
    return r;
}

// CONFIG_READ: size bytes (1, 2 or 4) at offset in the device's
// configuration space.
struct config_read_args {
    uint32_t bdf;
    unsigned offset, size;
};

static int decode_config_read(const struct invocation *inv, struct decoded *d)
{
    struct config_read_args *a = DECODED(struct config_read_args, d);
    int r = need(inv, MF_RIGHT_READ);
    if (r)
        return r;
    uint64_t off = inv->arg[0], size = inv->arg[1];
    if (size != 1 && size != 2 && size != 4)
        return -E_INVAL;
    if (off & (size - 1))
        return -E_INVAL;
    if (off >= 256)
        return -E_RANGE;
    a->bdf = device_of(inv)->bdf;
    a->offset = (unsigned)off;
    a->size = (unsigned)size;
    return 0;
}

static int64_t invoke_config_read(const struct decoded *d)
{
    const struct config_read_args *a = DECODED(struct config_read_args, d);
    return cfg_read(a->bdf, a->offset, a->size);
}

// SET_COMMAND: the MF_PCI_COMMAND_SAFE bits of the command register.
struct set_command_args {
    uint32_t bdf;
    uint32_t command;
};

static int decode_set_command(const struct invocation *inv, struct decoded *d)
{
    struct set_command_args *a = DECODED(struct set_command_args, d);
    int r = need_to_act(inv);
    if (r)
        return r;
    if (inv->arg[0] & ~(uint64_t)MF_PCI_COMMAND_SAFE)
        return -E_INVAL;
    // A bound MSI-X line needs both: the kernel writes the vector table
    // (an access the device must decode; on aarch64 an undecoded one is an
    // external abort) and the device sends its messages as bus master.
    const struct irq_line *l = device_of(inv)->line;
    uint64_t needed = MF_PCI_COMMAND_MEMORY | MF_PCI_COMMAND_BUS_MASTER;
    if (l && l->msi && l->notification && (inv->arg[0] & needed) != needed)
        return -E_BUSY;
    a->bdf = device_of(inv)->bdf;
    a->command = (uint32_t)inv->arg[0];
    return 0;
}

static int64_t invoke_set_command(const struct decoded *d)
{
    const struct set_command_args *a = DECODED(struct set_command_args, d);
    uint32_t bdf = a->bdf;
    uint32_t cmd = cfg_read(bdf, MF_PCI_COMMAND, 2);
    cmd = (cmd & ~MF_PCI_COMMAND_SAFE) | a->command;
    cfg_write(bdf, MF_PCI_COMMAND, 2, cmd);     // 16 bits: the status register's RW1C bits stay
    return cfg_read(bdf, MF_PCI_COMMAND, 2);
}

// BAR_INFO: a BAR's description, copied to user_buffer.
struct bar_info_args {
    const struct pci_bar *bar;
    uint64_t user_buffer;
};

static int decode_bar_info(const struct invocation *inv, struct decoded *d)
{
    struct bar_info_args *a = DECODED(struct bar_info_args, d);
    int r = need(inv, MF_RIGHT_READ);
    if (r)
        return r;
    if (inv->arg[0] >= MF_PCI_BAR_COUNT)
        return -E_RANGE;
    a->bar = &device_of(inv)->bar[inv->arg[0]];
    a->user_buffer = inv->arg[1];
    return 0;
}

static int64_t invoke_bar_info(const struct decoded *d)
{
    const struct bar_info_args *a = DECODED(struct bar_info_args, d);
    const struct pci_bar *b = a->bar;
    struct mf_pci_bar out = {.base = b->base, .size = b->size, .flags = b->flags};
    return copy_to_user(a->user_buffer, &out, sizeof(out));   // -E_FAULT changes nothing
}

// Whether [off, off+size) of BAR `bar` touches a page of the device's
// MSI-X table or pending-bit array.
static bool msix_overlaps(const struct pci_device *d, unsigned bar, uint64_t off, uint64_t size)
{
    if (!d->msix_cap)
        return false;
    uint64_t table = ALIGN_DOWN(d->msix_table_offset, PAGE_SIZE);
    uint64_t table_end = ALIGN_UP(d->msix_table_offset + 16ul * d->msix_entries, PAGE_SIZE);
    uint64_t pba = ALIGN_DOWN(d->msix_pba_offset, PAGE_SIZE);
    uint64_t pba_end = ALIGN_UP(d->msix_pba_offset + (d->msix_entries + 63) / 64 * 8ul, PAGE_SIZE);
    return (bar == d->msix_table_bar && off < table_end && table < off + size) ||
           (bar == d->msix_pba_bar && off < pba_end && pba < off + size);
}

// MAP_BAR and UNMAP_BAR act on the caller's home address space, inside
// [MF_DEVICE_WINDOW_BASE, MF_DEVICE_WINDOW_END): code, data and stack
// never live there, and every VAS the home is linked into sees it.
static int check_window(const struct invocation *inv, uint64_t va, uint64_t size)
{
    if ((va | size) & (PAGE_SIZE - 1) || size == 0)
        return -E_INVAL;
    if (va < MF_DEVICE_WINDOW_BASE || va >= MF_DEVICE_WINDOW_END || MF_DEVICE_WINDOW_END - va < size)
        return -E_RANGE;
    struct vas *home = inv->caller->home_vas;
    if (!home || (home->is_object && !home_segment_of(home)))
        return -E_INVAL;            // a kernel thread, or a home with no home segment
    return 0;
}

// MAP_BAR: [pa, pa + size) of a BAR at va in the page tables at root
// (the caller's home), with flags VM_*.
struct map_bar_args {
    struct segment *segment;        // the caller's home segment, or NULL: the kernel-built home
    paddr_t root;
    vaddr_t va;
    paddr_t pa;
    uint64_t size;
    unsigned flags;
};

static int decode_map_bar(const struct invocation *inv, struct decoded *d)
{
    struct map_bar_args *a = DECODED(struct map_bar_args, d);
    int r = need_to_act(inv);
    if (r)
        return r;
    uint64_t bar = inv->arg[0] & 0xff, flags = inv->arg[0] & ~0xfful;
    uint64_t off = inv->arg[1], size = inv->arg[2], va = inv->arg[3];
    if (flags & ~(uint64_t)(MF_PCI_MAP_READONLY | MF_PCI_MAP_CACHED))
        return -E_INVAL;
    if (bar >= MF_PCI_BAR_COUNT)
        return -E_RANGE;
    const struct pci_bar *b = &device_of(inv)->bar[bar];
    uint64_t span = bar_span(b);
    if (!span)
        return -E_INVAL;            // absent, I/O, unassigned, or sharing its page
    if ((flags & MF_PCI_MAP_CACHED) && !(b->flags & MF_PCI_BAR_PREFETCH))
        return -E_INVAL;            // registers are never cached
    if (off & (PAGE_SIZE - 1))
        return -E_INVAL;
    if ((r = check_window(inv, va, size)))
        return r;
    if (off >= span || span - off < size)
        return -E_RANGE;
    if (!pci_range_is_device(b->base + off, size))
        return -E_INVAL;            // never RAM the allocator owns
    if (msix_overlaps(device_of(inv), (unsigned)bar, off, size))
        return -E_PERM;             // the MSI-X table and PBA are the kernel's
    paddr_t root = inv->caller->home_vas->root;
    for (uint64_t p = 0; p < size; p += PAGE_SIZE) {
        paddr_t pa;
        unsigned f;
        if (vm_lookup(root, va + p, &pa, &f) == 0)
            return -E_BUSY;
    }
    // At most one new level-0 table per 2 MiB and one level-1 table, from
    // the kernel (the root task's home) or the home segment's own pool.
    a->segment = home_segment_of(inv->caller->home_vas);
    if (a->segment ? home_segment_map_check(a->segment, va, size) != 0
                   : pmm_free_bytes() / PAGE_SIZE < size / LARGE_PAGE_SIZE + 3)
        return -E_NOMEM;
    a->root = root;
    a->va = va;
    a->pa = b->base + off;
    a->size = size;
    a->flags = VM_USER | VM_READ | (flags & MF_PCI_MAP_READONLY ? 0 : VM_WRITE) |
               (flags & MF_PCI_MAP_CACHED ? 0 : VM_DEVICE);
    return 0;
}

static int64_t invoke_map_bar(const struct decoded *d)
{
    const struct map_bar_args *a = DECODED(struct map_bar_args, d);
    paddr_t root = a->root, pa = a->pa;
    vaddr_t va = a->va;
    uint64_t size = a->size;
    unsigned flags = a->flags;
    if (a->segment) {
        home_segment_map(a->segment, va, pa, size, flags);
        return 0;
    }
    // 2 MiB pages where both addresses and the rest allow, else 4 KiB.
    for (uint64_t done = 0; done < size;) {
        size_t ps = PAGE_SIZE;
        if (!((va + done) & (LARGE_PAGE_SIZE - 1)) && !((pa + done) & (LARGE_PAGE_SIZE - 1)) &&
            size - done >= LARGE_PAGE_SIZE)
            ps = LARGE_PAGE_SIZE;
        int r = vm_map(root, va + done, pa + done, ps, flags, ps);
        if (r && ps == LARGE_PAGE_SIZE) {
            ps = PAGE_SIZE;         // an (empty) level-0 table is left there: 4 KiB pages then
            r = vm_map(root, va + done, pa + done, LARGE_PAGE_SIZE, flags, ps);
            ps = LARGE_PAGE_SIZE;
        }
        if (r)
            return r;               // only on memory exhaustion, which decode ruled out
        done += ps;
    }
    return 0;
}

// UNMAP_BAR: [va, va + size) of the caller's home address space.
struct unmap_bar_args {
    struct vas *home;
    vaddr_t va;
    uint64_t size;
};

static int decode_unmap_bar(const struct invocation *inv, struct decoded *d)
{
    struct unmap_bar_args *a = DECODED(struct unmap_bar_args, d);
    int r = need(inv, MF_RIGHT_WRITE);
    if (r)
        return r;
    uint64_t bar = inv->arg[0], va = inv->arg[1], size = inv->arg[2];
    if (bar >= MF_PCI_BAR_COUNT)
        return -E_RANGE;
    const struct pci_bar *b = &device_of(inv)->bar[bar];
    uint64_t span = bar_span(b);
    if (!span)
        return -E_INVAL;
    if ((r = check_window(inv, va, size)))
        return r;
    // Every mapped page in the range must be this BAR's: nothing else is
    // unmapped through a device cap.
    paddr_t root = inv->caller->home_vas->root;
    for (uint64_t p = 0; p < size; p += PAGE_SIZE) {
        paddr_t pa;
        unsigned f;
        if (vm_lookup(root, va + p, &pa, &f) == 0 && (pa < b->base || pa - b->base >= span))
            return -E_INVAL;
    }
    a->home = inv->caller->home_vas;
    a->va = va;
    a->size = size;
    return 0;
}

static int64_t invoke_unmap_bar(const struct decoded *d)
{
    const struct unmap_bar_args *a = DECODED(struct unmap_bar_args, d);
    struct vas *home = a->home;
    for (uint64_t p = 0; p < a->size;) {
        paddr_t pa;
        size_t n = vm_unmap(home->root, a->va + p, 0, &pa);   // device pages: not freed
        p += n ? n : PAGE_SIZE;
    }
    // The home's tables are linked into every VAS it is attached to, each
    // with its own tags on any CPU: drop everything everywhere (rare).
    tlb_flush_everywhere();
    return 0;
}

// GET_IRQ: a cap to the device's interrupt line goes into the empty slot
// dst, a child of the device cap.
struct get_irq_args {
    struct slot *device, *dst;
    struct irq_line *line;
};

static int decode_get_irq(const struct invocation *inv, struct decoded *d)
{
    struct get_irq_args *a = DECODED(struct get_irq_args, d);
    int r = need_to_act(inv);
    if (r)
        return r;
    struct slot *cnode;
    if ((r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_CNODE, MF_RIGHT_WRITE, &cnode)))
        return r;
    struct slot *dst = cnode_lookup(&cnode->cap, inv->arg[1]);
    if (!dst)
        return -E_RANGE;
    if (!slot_empty(dst))
        return -E_BUSY;
    struct pci_device *dev = device_of(inv);
    if (!dev->line)
        return -E_NOENT;            // no INTx pin, or the arch cannot route it
    a->device = inv->target;
    a->dst = dst;
    a->line = dev->line;
    return 0;
}

static int64_t invoke_get_irq(const struct decoded *d)
{
    const struct get_irq_args *a = DECODED(struct get_irq_args, d);
    struct cap c = {.obj = (uintptr_t)a->line, .type = MF_OBJ_IRQ, .rights = MF_RIGHTS_ALL};
    cap_insert(a->dst, &c, a->device);
    return 0;
}

// DMA_ADDRESS: where the device reaches a frame the caller holds with
// WRITE. Without an IOMMU a bus address is the physical one, and a device
// its driver programs can reach any memory: holding a device cap that may
// act (WRITE, not kernel-driven) is already that authority, so this tells
// the driver nothing it could not misuse anyway; it only lets an honest
// one point the device at its own frames. The kernel keeps no record: a
// driver must stop the device before it lets the frame go.
struct dma_address_args {
    uint64_t address;
};

static int decode_dma_address(const struct invocation *inv, struct decoded *d)
{
    struct dma_address_args *a = DECODED(struct dma_address_args, d);
    int r = need_to_act(inv);
    if (r)
        return r;
    struct slot *frame;
    if ((r = cap_lookup(inv->caller, inv->arg[0], MF_OBJ_FRAME, MF_RIGHT_WRITE, &frame)))
        return r;
    a->address = V2P(frame->cap.obj);
    return 0;
}

static int64_t invoke_dma_address(const struct decoded *d)
{
    return (int64_t)DECODED(struct dma_address_args, d)->address;
}

const struct op_handler pci_device_ops[MAX_OPS] = {
    [MF_PCI_CONFIG_READ] = {decode_config_read, invoke_config_read},
    [MF_PCI_SET_COMMAND] = {decode_set_command, invoke_set_command},
    [MF_PCI_BAR_INFO] = {decode_bar_info, invoke_bar_info},
    [MF_PCI_MAP_BAR] = {decode_map_bar, invoke_map_bar},
    [MF_PCI_UNMAP_BAR] = {decode_unmap_bar, invoke_unmap_bar},
    [MF_PCI_GET_IRQ] = {decode_get_irq, invoke_get_irq},
    [MF_PCI_DMA_ADDRESS] = {decode_dma_address, invoke_dma_address},
};
_Static_assert(MF_PCI_OP_COUNT <= MAX_OPS, "PCI operations fit the table");

// Made at boot, one per function; BARs are mapped into the caller's home
// tables under space_lock.
const struct object_type pci_device_object_type = {
    .name = "pci-device",
    .ops = pci_device_ops,
    .op_count = MF_PCI_OP_COUNT,
    .lock_class = LOCK_SPACE,
};
