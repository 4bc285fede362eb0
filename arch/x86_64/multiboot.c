// Translates the multiboot2 information GRUB leaves us into a boot_info.
#include "kernel/arch.h"
#include "kernel/boot.h"
#include "kernel/console.h"
#include "lib/string.h"

#define MB2_MAGIC 0x36d76289
#define TAG_END 0
#define TAG_CMDLINE 1
#define TAG_MODULE 3
#define TAG_MMAP 6
#define TAG_ACPI_OLD 14
#define TAG_ACPI_NEW 15

struct mb2_tag {
    uint32_t type, size;
};
struct mb2_module {
    uint32_t type, size, start, end;
    char cmdline[];
};
struct mb2_mmap {
    uint32_t type, size, entry_size, entry_version;
};
struct mb2_mmap_entry {
    uint64_t base, length;
    uint32_t type, reserved;
};

extern const char __boot_start[], __kernel_end[];
static struct boot_info info;

static void early_puts(const char *s)
{
    arch_console_init(NULL);
    while (*s)
        arch_console_putc(*s++);
}

// Module command line "root" or "/boot/user/root.elf root": the last word is
// the program's name.
static void module_name(char *dst, const char *cmdline)
{
    const char *last = cmdline;
    for (const char *p = cmdline; *p; p++)
        if (*p == ' ' && p[1])
            last = p + 1;
    strlcpy(dst, last, BOOT_NAME_MAX);
}

void x86_boot(uint32_t magic, uint64_t mbi_phys)
{
    if (magic != MB2_MAGIC) {
        early_puts("Manifold: not started by a multiboot2 loader\r\n");
        arch_halt();
    }
    info.kernel_start = (paddr_t)__boot_start;
    info.kernel_end = (paddr_t)__kernel_end - KERNEL_BASE;
    info.reserved_start = ~0ull;
    info.cpu_count = 1;
    const uint8_t *mbi = P2V(mbi_phys);
    uint32_t total = *(const uint32_t *)mbi;
    for (uint32_t off = 8; off + sizeof(struct mb2_tag) <= total;) {
        const struct mb2_tag *tag = (const void *)(mbi + off);
        if (tag->type == TAG_END)
            break;
        switch (tag->type) {
        case TAG_CMDLINE:
            strlcpy(info.cmdline, (const char *)(tag + 1), sizeof(info.cmdline));
            break;
        case TAG_MODULE: {
            const struct mb2_module *m = (const void *)tag;
            if (info.module_count < BOOT_MAX_MODULES && m->end > m->start) {
                struct boot_module *bm = &info.modules[info.module_count++];
                module_name(bm->name, m->cmdline);
                bm->base = m->start;
                bm->size = m->end - m->start;
                if (m->start < info.reserved_start)
                    info.reserved_start = m->start;
                if (m->end > info.reserved_end)
                    info.reserved_end = m->end;
            }
            break;
        }
        case TAG_MMAP: {
            const struct mb2_mmap *mm = (const void *)tag;
            for (uint32_t e = sizeof(*mm); e + sizeof(struct mb2_mmap_entry) <= mm->size; e += mm->entry_size) {
                const struct mb2_mmap_entry *me = (const void *)((const uint8_t *)mm + e);
                if (me->type == 1 && info.region_count < BOOT_MAX_REGIONS)
                    info.regions[info.region_count++] = (struct boot_region){me->base, me->length};
            }
            break;
        }
        case TAG_ACPI_OLD:
        case TAG_ACPI_NEW:
            info.acpi_rsdp = mbi_phys + off + sizeof(*tag);
            break;
        }
        off += ALIGN_UP(tag->size, 8);
    }
    if (info.reserved_start == ~0ull)
        info.reserved_start = 0;
    kmain(&info);
}
