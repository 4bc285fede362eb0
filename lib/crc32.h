// CRC-32 (IEEE 802.3, reflected, as zlib's crc32 and Python's
// zlib.crc32): checkpoint images (include/manifold/ckpt.h). Start with 0;
// feed a result back in to continue over more bytes.
#pragma once
#include <stddef.h>
#include <stdint.h>

uint32_t crc32_update(uint32_t crc, const void *data, size_t len);
