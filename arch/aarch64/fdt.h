// A small read-only flattened device tree (DTB) reader. Freestanding and
// position independent: it holds no pointers in static data, so the boot stub
// can run it at the physical load address before the MMU switch.
#pragma once

#include "kernel/types.h"

#define FDT_MAGIC     0xd00dfeed
#define FDT_MAX_DEPTH 16

// A cursor over the nodes of a tree in document order.
struct fdt_node {
    const uint8_t *fdt;
    uint32_t off;                   // offset of this node's first property in the struct block
    uint32_t scan;                  // where fdt_next() resumes
    int depth;                      // root = 0
    const char *name;               // unit name, e.g. "pl011@9000000" ("" for the root)
    // #address-cells / #size-cells that apply to this node's "reg" (the
    // parent's), and the ones this node declares for its children.
    uint32_t addr_cells, size_cells;
    uint32_t cells[FDT_MAX_DEPTH + 1][2];
    const char *path[FDT_MAX_DEPTH + 1];   // names of this node and its ancestors
};

// Returns the blob's total size, or 0 when `fdt` is not a usable DTB.
uint32_t fdt_size(const void *fdt);
// Starts a walk: the cursor is placed before the root node.
void fdt_begin(struct fdt_node *n, const void *fdt);
// Advances to the next node; false at the end of the tree.
bool fdt_next(struct fdt_node *n);
// A property of the current node, or NULL; *len gets its length in bytes.
const void *fdt_prop(const struct fdt_node *n, const char *name, uint32_t *len);
// True when the node's "compatible" string list contains `compat`.
bool fdt_compatible(const struct fdt_node *n, const char *compat);
// False when the node has status = "disabled" (or anything but "okay"/"ok").
bool fdt_enabled(const struct fdt_node *n);
// Decodes entry `i` of the node's "reg" property; false if there is none.
bool fdt_reg(const struct fdt_node *n, unsigned i, uint64_t *base, uint64_t *size);
// Reads a big-endian number of `cells` 32-bit cells (1 or 2).
uint64_t fdt_cells(const void *p, uint32_t cells);
// True when the node's parent is named `parent` (unit address ignored).
bool fdt_parent_is(const struct fdt_node *n, const char *parent);
