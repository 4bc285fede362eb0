// cpio "newc" archive reader (the format of Linux initramfs and of the archive
// GRUB builds from `initrd newc:NAME:PATH ...`). Freestanding, no static
// pointers: safe to run before the MMU switch.
#pragma once

#include "kernel/types.h"

struct cpio_entry {
    const char *name;       // as stored, e.g. "root" or "boot/user/x.elf"; NOT
    uint32_t name_len;      // NUL-terminated: GRUB 2.06 leaves the NUL out
    const void *data;
    uint64_t size;
    uint32_t mode;          // st_mode: type in bits 15:12 (010 = regular file)
};

#define CPIO_MODE_TYPE 0170000u
#define CPIO_MODE_FILE 0100000u

// Reads the entry at *offset and advances *offset past it. Returns 1 with *e
// filled, 0 at the "TRAILER!!!" entry or the end of the archive, and -1 when
// the header is malformed or runs past `size`.
int cpio_next(const void *archive, uint64_t size, uint64_t *offset, struct cpio_entry *e);

// The last path component of an entry's name ("boot/user/x.elf" -> "x.elf"):
// sets *len to its length and returns where it starts.
const char *cpio_basename(const struct cpio_entry *e, uint32_t *len);
