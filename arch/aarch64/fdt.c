// Flattened device tree reader (devicetree specification v0.4, chapter 5).
// The blob is big-endian: a header, a structure block of 32-bit tokens and a
// strings block that holds property names.
#include "arch/aarch64/fdt.h"

// The boot stub runs this before the MMU switch: keep GCC from turning loops
// into calls to memcpy/memset of the kernel library.
#pragma GCC optimize("no-tree-loop-distribute-patterns")

enum { FDT_BEGIN_NODE = 1, FDT_END_NODE = 2, FDT_PROP = 3, FDT_NOP = 4, FDT_END = 9 };

// Header fields, as 32-bit big-endian words.
enum { H_MAGIC, H_TOTALSIZE, H_OFF_STRUCT, H_OFF_STRINGS, H_OFF_RSVMAP, H_VERSION,
       H_LAST_COMP, H_BOOT_CPU, H_SIZE_STRINGS, H_SIZE_STRUCT };

static uint32_t be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint32_t hdr(const uint8_t *fdt, int field) { return be32(fdt + 4 * field); }

static bool str_eq(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

// Compares a unit name ("cpu@0") with a plain node name ("cpu").
static bool name_eq(const char *unit, const char *name)
{
    while (*name && *unit == *name)
        unit++, name++;
    return !*name && (!*unit || *unit == '@');
}

static size_t str_len(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

uint32_t fdt_size(const void *fdt)
{
    const uint8_t *f = fdt;
    if (!f || hdr(f, H_MAGIC) != FDT_MAGIC || hdr(f, H_LAST_COMP) > 17 || hdr(f, H_VERSION) < 16)
        return 0;
    uint32_t total = hdr(f, H_TOTALSIZE);
    if (hdr(f, H_OFF_STRUCT) + hdr(f, H_SIZE_STRUCT) > total ||
        hdr(f, H_OFF_STRINGS) + hdr(f, H_SIZE_STRINGS) > total)
        return 0;
    return total;
}

static const uint8_t *structure(const uint8_t *fdt) { return fdt + hdr(fdt, H_OFF_STRUCT); }

static uint32_t token_at(const struct fdt_node *n, uint32_t off)
{
    if (off + 4 > hdr(n->fdt, H_SIZE_STRUCT))
        return FDT_END;
    return be32(structure(n->fdt) + off);
}

// Offset of the token after a FDT_PROP at `off`: header {len, nameoff}, value padded to 4.
static uint32_t skip_prop(const struct fdt_node *n, uint32_t off)
{
    uint32_t len = be32(structure(n->fdt) + off + 4);
    return off + 12 + ((len + 3) & ~3u);
}

void fdt_begin(struct fdt_node *n, const void *fdt)
{
    n->fdt = fdt;
    n->off = n->scan = 0;
    n->depth = -1;
    n->name = "";
    n->addr_cells = 2;
    n->size_cells = 1;
}

bool fdt_next(struct fdt_node *n)
{
    const uint8_t *s = structure(n->fdt);
    for (;;) {
        uint32_t tok = token_at(n, n->scan);
        if (tok == FDT_BEGIN_NODE) {
            if (n->depth + 1 > FDT_MAX_DEPTH)
                return false;
            n->depth++;
            n->name = (const char *)s + n->scan + 4;
            n->path[n->depth] = n->name;
            n->off = n->scan + 4 + (((uint32_t)str_len(n->name) + 1 + 3) & ~3u);
            n->scan = n->off;
            // reg is decoded with the parent's cells; defaults per the spec.
            n->addr_cells = n->depth ? n->cells[n->depth - 1][0] : 2;
            n->size_cells = n->depth ? n->cells[n->depth - 1][1] : 1;
            uint32_t len;
            const void *p = fdt_prop(n, "#address-cells", &len);
            n->cells[n->depth][0] = p && len == 4 ? be32(p) : 2;
            p = fdt_prop(n, "#size-cells", &len);
            n->cells[n->depth][1] = p && len == 4 ? be32(p) : 1;
            return true;
        } else if (tok == FDT_END_NODE) {
            n->depth--;
            n->scan += 4;
        } else if (tok == FDT_PROP) {
            n->scan = skip_prop(n, n->scan);
        } else if (tok == FDT_NOP) {
            n->scan += 4;
        } else {
            return false;
        }
    }
}

const void *fdt_prop(const struct fdt_node *n, const char *name, uint32_t *len)
{
    const uint8_t *s = structure(n->fdt);
    const char *strings = (const char *)n->fdt + hdr(n->fdt, H_OFF_STRINGS);
    if (n->depth < 0)
        return NULL;
    for (uint32_t off = n->off;;) {
        uint32_t tok = token_at(n, off);
        if (tok == FDT_NOP) {
            off += 4;
            continue;
        }
        if (tok != FDT_PROP)
            return NULL;        // properties precede subnodes
        uint32_t plen = be32(s + off + 4), nameoff = be32(s + off + 8);
        if (nameoff < hdr(n->fdt, H_SIZE_STRINGS) && str_eq(strings + nameoff, name)) {
            if (len)
                *len = plen;
            return s + off + 12;
        }
        off = skip_prop(n, off);
    }
}

bool fdt_compatible(const struct fdt_node *n, const char *compat)
{
    uint32_t len;
    const char *p = fdt_prop(n, "compatible", &len);
    for (uint32_t i = 0; p && i < len; i += (uint32_t)str_len(p + i) + 1)
        if (str_eq(p + i, compat))
            return true;
    return false;
}

bool fdt_enabled(const struct fdt_node *n)
{
    const char *st = fdt_prop(n, "status", NULL);
    return !st || str_eq(st, "okay") || str_eq(st, "ok");
}

uint64_t fdt_cells(const void *p, uint32_t cells)
{
    const uint8_t *b = p;
    return cells == 2 ? (uint64_t)be32(b) << 32 | be32(b + 4) : cells == 1 ? be32(b) : 0;
}

bool fdt_reg(const struct fdt_node *n, unsigned i, uint64_t *base, uint64_t *size)
{
    uint32_t len, ac = n->addr_cells, sc = n->size_cells;
    const uint8_t *p = fdt_prop(n, "reg", &len);
    uint32_t stride = 4 * (ac + sc);
    if (!p || ac < 1 || ac > 2 || sc > 2 || (i + 1) * stride > len)
        return false;
    *base = fdt_cells(p + i * stride, ac);
    *size = fdt_cells(p + i * stride + 4 * ac, sc);
    return true;
}

bool fdt_parent_is(const struct fdt_node *n, const char *parent)
{
    return n->depth >= 1 && name_eq(n->path[n->depth - 1], parent);
}
