// The UEFI boot stub: GRUB's `linux` command starts the kernel image as an
// EFI application (UEFI LoadImage/StartImage). efi_main() gathers the command
// line, the device tree or ACPI tables, the initrd and the memory map, exits
// boot services, builds the boot page tables and switches to the kernel's
// virtual addresses (head.S), where kmain() receives `boot_info`.
//
// Until the switch this code runs at the physical load address: every
// address it takes is PC-relative (adrp), and it must not follow pointers
// stored in initialised data (those hold link-time, high addresses).
#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/cpio.h"
#include "arch/aarch64/efi.h"
#include "arch/aarch64/fdt.h"
#include "kernel/arch.h"
#include "kernel/boot.h"

#pragma GCC optimize("no-tree-loop-distribute-patterns")   // see fdt.c

static struct boot_info boot_info;          // .bss: inside [kernel_start, kernel_end)
struct a64_boot_regs a64_boot_regs;         // also read by secondary CPUs (head.S)
static struct efi_system_table *systab;     // set at run time: physical pointers
static bool exited;                         // boot services gone: print to the PL011
static uint8_t memory_map[32768] __attribute__((aligned(8)));

static const efi_guid DTB_GUID = {0xb1b621d5, 0xf19c, 0x41a5, {0x83, 0x0b, 0xd9, 0x15, 0x2c, 0x69, 0xaa, 0xe0}};
static const efi_guid ACPI20_GUID = {0x8868e871, 0xe4f1, 0x11d3, {0xbc, 0x22, 0x00, 0x80, 0xc7, 0x3c, 0x88, 0x81}};
static const efi_guid LOADED_IMAGE_GUID = {0x5b1b31a1, 0x9562, 0x11d2, {0x8e, 0x3f, 0x00, 0xa0, 0xc9, 0x69, 0x72, 0x3b}};
static const efi_guid LOAD_FILE2_GUID = {0x4006c0c1, 0xfcb3, 0x403e, {0x99, 0x6d, 0x4a, 0x6c, 0x87, 0x24, 0xe0, 0x6d}};

// Vendor media device path by which Linux-style loaders (GRUB >= 2.12,
// systemd-boot) offer the initrd through EFI_LOAD_FILE2_PROTOCOL.
static const struct {
    struct efi_device_path vendor;
    efi_guid guid;
    struct efi_device_path end;
} __attribute__((packed)) initrd_media_path = {
    {EFI_DP_MEDIA, EFI_DP_MEDIA_VENDOR, {sizeof(struct efi_device_path) + sizeof(efi_guid), 0}},
    {0x5568e427, 0x68fc, 0x4f3d, {0xac, 0x74, 0xca, 0x55, 0x52, 0x31, 0xcc, 0x68}},
    {EFI_DP_END, EFI_DP_END_ENTIRE, {sizeof(struct efi_device_path), 0}},
};

static void copy(void *dst, const void *src, uint64_t n)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    while (n--)
        *d++ = *s++;
}

static bool guid_eq(const efi_guid *a, const efi_guid *b)
{
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    for (unsigned i = 0; i < sizeof(efi_guid); i++)
        if (x[i] != y[i])
            return false;
    return true;
}

static void say(const char *s)
{
    if (exited) {
        a64_puts(s);
        return;
    }
    efi_char16 buf[64];
    while (*s) {
        unsigned n = 0;
        for (; *s && n < ARRAY_SIZE(buf) - 2; s++) {
            if (*s == '\n')
                buf[n++] = '\r';
            buf[n++] = (efi_char16)*s;
        }
        buf[n] = 0;
        systab->con_out->output_string(systab->con_out, buf);
    }
}

static void say_hex(uint64_t v)
{
    char buf[19];
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 16; i++)
        buf[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
    buf[18] = 0;
    say(buf);
}

static efi_status fail(const char *what, efi_status st)
{
    say("manifold-efi: ");
    say(what);
    say(" (status ");
    say_hex(st);
    say(")\n");
    return st ? st : EFI_LOAD_ERROR;
}

static void *config_table(const efi_guid *guid)
{
    for (uint64_t i = 0; i < systab->table_count; i++)
        if (guid_eq(&systab->tables[i].guid, guid))
            return systab->tables[i].table;
    return NULL;
}

// LoadOptions (UCS-2) to ASCII, without GRUB's leading "BOOT_IMAGE=<path>".
static void get_cmdline(const struct efi_loaded_image *li, char *out)
{
    const efi_char16 *in = li->load_options;
    unsigned n = li->load_options_size / 2, i = 0, o = 0;
    if (!in)
        n = 0;
    static const char prefix[] = "BOOT_IMAGE=";
    unsigned k = 0;
    while (k < sizeof(prefix) - 1 && k < n && in[k] == (efi_char16)prefix[k])
        k++;
    if (k == sizeof(prefix) - 1) {          // skip the word and the blanks after it
        for (i = k; i < n && in[i] && in[i] != ' '; i++)
            ;
        while (i < n && in[i] == ' ')
            i++;
    }
    for (; i < n && in[i] && o < BOOT_CMDLINE_MAX - 1; i++)
        out[o++] = in[i] < 0x80 && in[i] >= 0x20 ? (char)in[i] : in[i] == '\t' ? ' ' : '?';
    out[o] = 0;
}

// The initrd through LoadFile2: loaded into fresh LoaderData pages.
static bool initrd_load_file2(struct efi_boot_services *bs, paddr_t *start, paddr_t *end)
{
    struct efi_device_path *dp = (struct efi_device_path *)&initrd_media_path;
    efi_handle h;
    struct efi_load_file2 *lf2;
    uint64_t size = 0, addr;
    if (bs->locate_device_path(&LOAD_FILE2_GUID, &dp, &h) != EFI_SUCCESS ||
        bs->handle_protocol(h, &LOAD_FILE2_GUID, (void **)&lf2) != EFI_SUCCESS)
        return false;
    dp = (struct efi_device_path *)&initrd_media_path;
    if (lf2->load_file(lf2, dp, false, &size, NULL) != EFI_BUFFER_TOO_SMALL || !size)
        return false;
    if (bs->allocate_pages(EFI_ALLOCATE_ANY_PAGES, EFI_LOADER_DATA, ALIGN_UP(size, PAGE_SIZE) / PAGE_SIZE,
                           &addr) != EFI_SUCCESS ||
        lf2->load_file(lf2, dp, false, &size, (void *)(uintptr_t)addr) != EFI_SUCCESS)
        return false;
    *start = addr;
    *end = addr + size;
    return true;
}

// Lists the regular files of the cpio archive in bi->modules (base = offset
// into the archive for now). Returns the bytes of page-aligned copies needed.
static uint64_t scan_initrd(const void *archive, uint64_t size, struct boot_info *bi)
{
    struct cpio_entry e;
    uint64_t off = 0, total = 0;
    int r;
    while ((r = cpio_next(archive, size, &off, &e)) > 0) {
        if ((e.mode & CPIO_MODE_TYPE) != CPIO_MODE_FILE)
            continue;               // directories GRUB adds for "newc:dir/name"
        if (bi->module_count == BOOT_MAX_MODULES) {
            say("manifold-efi: too many modules, the rest are ignored\n");
            break;
        }
        struct boot_module *m = &bi->modules[bi->module_count++];
        uint32_t len, i = 0;
        const char *name = cpio_basename(&e, &len);
        for (; i < len && i < BOOT_NAME_MAX - 1; i++)
            m->name[i] = name[i];
        m->name[i] = 0;
        m->base = (paddr_t)((const uint8_t *)e.data - (const uint8_t *)archive);
        m->size = e.size;
        total += ALIGN_UP(e.size, PAGE_SIZE);
    }
    if (r < 0)
        say("manifold-efi: initrd is not a cpio newc archive (use initrd newc:NAME:PATH)\n");
    return total;
}

// One block of LoaderData pages for everything kmain must keep: the device
// tree, then each module on its own page boundary.
static efi_status copy_reserved(struct efi_boot_services *bs, struct boot_info *bi,
                                const void *fdt, uint32_t fdt_size,
                                const uint8_t *archive, uint64_t module_bytes)
{
    uint64_t size = ALIGN_UP(fdt_size, PAGE_SIZE) + module_bytes, addr;
    if (!size)
        return EFI_SUCCESS;
    efi_status st = bs->allocate_pages(EFI_ALLOCATE_ANY_PAGES, EFI_LOADER_DATA, size / PAGE_SIZE, &addr);
    if (st != EFI_SUCCESS)
        return fail("cannot allocate memory for the modules", st);
    bi->reserved_start = addr;
    bi->reserved_end = addr + size;
    if (fdt_size) {
        copy((void *)(uintptr_t)addr, fdt, fdt_size);
        bi->dtb = addr;
        addr += ALIGN_UP(fdt_size, PAGE_SIZE);
    }
    for (unsigned i = 0; i < bi->module_count; i++) {
        struct boot_module *m = &bi->modules[i];
        copy((void *)(uintptr_t)addr, archive + m->base, m->size);
        m->base = addr;
        addr += ALIGN_UP(m->size, PAGE_SIZE);
    }
    return EFI_SUCCESS;
}

static void sort_ranges(struct phys_range *r, unsigned *count)
{
    for (unsigned i = 1; i < *count; i++)
        for (unsigned j = i; j > 0 && r[j].base < r[j - 1].base; j--) {
            struct phys_range t = r[j];
            r[j] = r[j - 1];
            r[j - 1] = t;
        }
    unsigned out = 0;
    for (unsigned i = 0; i < *count; i++) {
        if (out && r[i].base <= r[out - 1].end) {
            if (r[i].end > r[out - 1].end)
                r[out - 1].end = r[i].end;
        } else {
            r[out++] = r[i];
        }
    }
    *count = out;
}

// Appends [base, end) minus the holes, which must be sorted and disjoint.
static unsigned add_region(struct boot_info *bi, uint64_t base, uint64_t end,
                           const struct phys_range *holes, unsigned nholes)
{
    for (unsigned h = 0; h <= nholes && base < end; h++) {
        uint64_t stop = h < nholes && holes[h].base < end ? holes[h].base : end;
        if (h < nholes && holes[h].end <= base)
            continue;
        if (stop > base) {
            if (bi->region_count == BOOT_MAX_REGIONS)
                return 1;
            bi->regions[bi->region_count].base = base;
            bi->regions[bi->region_count].size = stop - base;
            bi->region_count++;
        }
        if (h < nholes && holes[h].end > base)
            base = holes[h].end;
    }
    return 0;
}

static bool usable_after_exit(uint32_t type)
{
    return type == EFI_CONVENTIONAL_MEMORY || type == EFI_LOADER_CODE || type == EFI_LOADER_DATA ||
           type == EFI_BOOT_SERVICES_CODE || type == EFI_BOOT_SERVICES_DATA;
}

// From the final memory map: bi->regions (usable RAM minus the kernel image
// and the reserved block) and `ram` (all write-back memory, for the page tables).
static void build_regions(struct boot_info *bi, uint64_t map_size, uint64_t desc_size,
                          struct phys_range *ram, unsigned *ram_count, unsigned ram_max)
{
    struct phys_range usable[128];
    unsigned nusable = 0, dropped = 0;
    *ram_count = 0;
    for (uint64_t off = 0; off + desc_size <= map_size; off += desc_size) {
        const struct efi_memory_descriptor *d = (const void *)(memory_map + off);
        struct phys_range r = {d->phys_start, d->phys_start + d->pages * PAGE_SIZE};
        if (!(d->attribute & EFI_MEMORY_WB) || d->type == EFI_MMIO || d->type == EFI_MMIO_PORT_SPACE)
            continue;
        if (*ram_count < ram_max)
            ram[(*ram_count)++] = r;
        if (usable_after_exit(d->type)) {
            if (nusable < ARRAY_SIZE(usable))
                usable[nusable++] = r;
            else
                dropped++;
        }
    }
    sort_ranges(ram, ram_count);
    sort_ranges(usable, &nusable);
    struct phys_range holes[2] = {{bi->kernel_start, bi->kernel_end}, {bi->reserved_start, bi->reserved_end}};
    unsigned nholes = bi->reserved_end > bi->reserved_start ? 2 : 1;
    sort_ranges(holes, &nholes);
    for (unsigned i = 0; i < nusable; i++)
        dropped += add_region(bi, usable[i].base, usable[i].end, holes, nholes);
    if (dropped)
        say("manifold-efi: memory map too fragmented: some RAM is left unused\n");
}

// Warns when UEFI reports usable memory that the device tree does not list.
static void cross_check_memory(const struct boot_info *bi, const struct boot_extra *x)
{
    for (unsigned i = 0; i < bi->region_count && x->mem_count; i++) {
        const struct boot_region *r = &bi->regions[i];
        bool inside = false;
        for (unsigned j = 0; j < x->mem_count; j++)
            inside |= r->base >= x->mem[j].base && r->base + r->size <= x->mem[j].end;
        if (!inside) {
            say("manifold-efi: warning: UEFI memory outside the device tree's at ");
            say_hex(r->base);
            say("\n");
        }
    }
}

static uint64_t kernel_va(const void *p) { return KERNEL_BASE + (uint64_t)((const char *)p - __kernel_start); }

efi_status efi_main(efi_handle image, struct efi_system_table *st)
{
    struct efi_boot_services *bs = st->boot_services;
    struct efi_loaded_image *li;
    struct boot_info *bi = &boot_info;
    static struct boot_extra extra;         // .bss: zeroed, and no memset call
    efi_status s;
    systab = st;

    if ((s = bs->handle_protocol(image, &LOADED_IMAGE_GUID, (void **)&li)) != EFI_SUCCESS)
        return fail("no LoadedImage protocol", s);
    if (li->image_base != (void *)__kernel_start)    // file offset = RVA is assumed throughout
        return fail("loaded image is not where the code runs", EFI_LOAD_ERROR);
    get_cmdline(li, bi->cmdline);
    bi->kernel_start = (paddr_t)(uintptr_t)__kernel_start;
    bi->kernel_end = (paddr_t)(uintptr_t)__kernel_end;

    // Machine description: a device tree if it names devices, else ACPI.
    const void *fdt = config_table(&DTB_GUID);
    uint32_t fdt_bytes = fdt_size(fdt);
    bool described = fdt_bytes && boot_dt_scan(fdt, bi, &extra);
    if (!described) {
        // GRUB installs a near-empty tree (just /chosen) when the firmware
        // offers only ACPI: keep its initrd, take the devices from ACPI.
        bi->uart_base = bi->intc_dist_base = bi->intc_cpu_base = bi->pcie_ecam_base = 0;
        bi->pcie_ecam_size = 0;
        bi->intc_version = bi->cpu_count = 0;
        bi->msi_frame_base = bi->its_base = 0;
        a64_cpu_count = 0;
        if (!boot_acpi_scan((paddr_t)(uintptr_t)config_table(&ACPI20_GUID), bi))
            say("manifold-efi: warning: neither device tree nor ACPI describes the machine\n");
    }
    if (!bi->cpu_count) {
        bi->cpu_count = a64_cpu_count = 1;
        a64_cpu_mpidr[0] = read_sysreg(mpidr_el1) & MPIDR_AFFINITY;
    }

    // Modules: GRUB's initrd, a cpio newc archive.
    paddr_t initrd_start = 0, initrd_end = 0;
    if (!initrd_load_file2(bs, &initrd_start, &initrd_end)) {
        initrd_start = extra.initrd_start;
        initrd_end = extra.initrd_end;
    }
    const uint8_t *archive = (const uint8_t *)(uintptr_t)initrd_start;
    uint64_t module_bytes = 0;
    if (initrd_end > initrd_start)
        module_bytes = scan_initrd(archive, initrd_end - initrd_start, bi);
    else
        say("manifold-efi: warning: no initrd, so no modules\n");
    if ((s = copy_reserved(bs, bi, fdt, fdt_bytes, archive, module_bytes)) != EFI_SUCCESS)
        return s;

    // Exit boot services. A stale map key (the map changed) gives
    // EFI_INVALID_PARAMETER: fetch the map again; nothing else may be called.
    uint64_t map_size, key, desc_size;
    uint32_t desc_version;
    for (int tries = 0;; tries++) {
        map_size = sizeof(memory_map);
        s = bs->get_memory_map(&map_size, memory_map, &key, &desc_size, &desc_version);
        if (s != EFI_SUCCESS)
            return tries ? EFI_LOAD_ERROR : fail("GetMemoryMap failed", s);
        s = bs->exit_boot_services(image, key);
        if (s == EFI_SUCCESS)
            break;
        if (s != EFI_INVALID_PARAMETER || tries == 8)
            return EFI_LOAD_ERROR;
    }
    exited = true;
    __asm__ volatile("msr daifset, #0xf");
    a64_console_set_base(bi->uart_base ? bi->uart_base : UART_FALLBACK);

    struct phys_range ram[64], dev[5];
    unsigned ram_count, dev_count = 0;
    build_regions(bi, map_size, desc_size, ram, &ram_count, ARRAY_SIZE(ram));
    cross_check_memory(bi, &extra);
    // Device windows at PHYS_MAP: the low GiB (virt: flash, GIC, UART, RTC,
    // PCIe PIO/MMIO32) and whatever the firmware placed elsewhere.
    dev[dev_count++] = (struct phys_range){0, 1ul << 30};
    if (bi->uart_base)
        dev[dev_count++] = (struct phys_range){bi->uart_base, bi->uart_base + PAGE_SIZE};
    if (bi->intc_dist_base)
        dev[dev_count++] = (struct phys_range){bi->intc_dist_base, bi->intc_dist_base + 0x10000};
    if (bi->intc_cpu_base)
        dev[dev_count++] = (struct phys_range){bi->intc_cpu_base, bi->intc_cpu_base + 0x20000};
    if (bi->pcie_ecam_size)
        dev[dev_count++] = (struct phys_range){bi->pcie_ecam_base, bi->pcie_ecam_base + bi->pcie_ecam_size};
    if (boot_mmu_build(ram, ram_count, dev, dev_count, bi->kernel_start, &a64_boot_regs))
        arch_poweroff(1);                       // no way back to the firmware now

    struct a64_boot_regs *regs = &a64_boot_regs;
    regs->high_entry = kernel_va((const void *)a64_high_entry);
    regs->boot_cpu.fn = kernel_va((const void *)kmain);
    regs->boot_cpu.arg = kernel_va(bi);
    regs->boot_cpu.stack = kernel_va(boot_stack_top);
    regs->clean[0][0] = bi->kernel_start;
    regs->clean[0][1] = bi->kernel_end;
    regs->clean[1][0] = bi->reserved_start;
    regs->clean[1][1] = bi->reserved_end;
    a64_console_set_base(PHYS_MAP + (bi->uart_base ? bi->uart_base : UART_FALLBACK));
    a64_switch(regs);
}
