// cpio newc: each entry is a 110-byte ASCII header ("070701" and thirteen
// 8-digit hex fields), the name (namesize bytes, normally with its NUL),
// padding to 4 bytes, the file data, padding to 4 bytes. The archive ends
// with an entry named TRAILER!!!.
#include "arch/aarch64/cpio.h"

#pragma GCC optimize("no-tree-loop-distribute-patterns")   // see fdt.c

#define CPIO_HEADER 110
// Field indexes after the 6-byte magic.
enum { F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE, F_DEVMAJOR,
       F_DEVMINOR, F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK };

// One 8-digit hex field; -1 if it holds anything else.
static int64_t hex_field(const char *h, int field)
{
    const char *p = h + 6 + 8 * field;
    int64_t v = 0;
    for (int i = 0; i < 8; i++) {
        char c = p[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v << 4 | d;
    }
    return v;
}

static bool prefix(const char *s, const char *p)
{
    while (*p && *s == *p)
        s++, p++;
    return !*p;
}

int cpio_next(const void *archive, uint64_t size, uint64_t *offset, struct cpio_entry *e)
{
    const char *a = archive;
    uint64_t off = *offset;
    if (off + CPIO_HEADER > size)
        return 0;                                   // ran out without a trailer
    const char *h = a + off;
    // 070701 = newc, 070702 = newc with checksums (ignored).
    if (!prefix(h, "070701") && !prefix(h, "070702"))
        return -1;
    int64_t namesize = hex_field(h, F_NAMESIZE), filesize = hex_field(h, F_FILESIZE);
    int64_t mode = hex_field(h, F_MODE);
    if (namesize < 1 || filesize < 0 || mode < 0)
        return -1;
    uint64_t name_off = off + CPIO_HEADER;
    uint64_t data_off = ALIGN_UP(name_off + (uint64_t)namesize, 4);
    uint64_t next = ALIGN_UP(data_off + (uint64_t)filesize, 4);
    if (data_off + (uint64_t)filesize > size)
        return -1;
    // namesize counts the NUL, except in GRUB 2.06's archives: stop at either.
    uint32_t len = 0;
    while (len < (uint64_t)namesize && a[name_off + len])
        len++;
    if (len == 10 && prefix(a + name_off, "TRAILER!!!"))
        return 0;
    e->name = a + name_off;
    e->name_len = len;
    e->data = a + data_off;
    e->size = (uint64_t)filesize;
    e->mode = (uint32_t)mode;
    *offset = next;
    return 1;
}

const char *cpio_basename(const struct cpio_entry *e, uint32_t *len)
{
    uint32_t start = 0;
    for (uint32_t i = 0; i + 1 < e->name_len; i++)
        if (e->name[i] == '/')
            start = i + 1;
    *len = e->name_len - start;
    return e->name + start;
}
