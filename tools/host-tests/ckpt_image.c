// Writes a small checkpoint image with the real layout of
// include/manifold/ckpt.h, for tools/host-tests/test_ckpt_inspect.py: a
// listed CNode, a VAS, an A-stack segment, a home segment, a configured
// LRPC binding with two A-stacks, an unconfigured one, and a frame of one
// page mapped in the A-stack segment. Usage: ckpt_image FILE.
#include <stdio.h>
#include <string.h>
#include "include/manifold/ckpt.h"
#include "lib/crc32.h"

#define OBJECTS 7
#define CAPS 2

static uint8_t image[4 * MF_CKPT_PAGE];

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    struct mf_ckpt_header *h = (struct mf_ckpt_header *)image;
    struct mf_ckpt_object *o = (struct mf_ckpt_object *)(image + MF_CKPT_PAGE);
    struct mf_ckpt_cap *c = (struct mf_ckpt_cap *)(image + 2 * MF_CKPT_PAGE);
    uint8_t *page = image + 3 * MF_CKPT_PAGE;
    _Static_assert(OBJECTS * sizeof(struct mf_ckpt_object) <= MF_CKPT_PAGE, "one page of objects");
    o[0] = (struct mf_ckpt_object){.name = 0x10, .type = MF_OBJ_CNODE, .size_bits = 8};
    o[1] = (struct mf_ckpt_object){.name = 0x11, .type = MF_OBJ_VAS, .size_bits = 14};
    o[1].vas.count = 2;
    o[1].vas.segment[0] = 4, o[1].vas.rights[0] = MF_RIGHT_READ | MF_RIGHT_WRITE;
    o[1].vas.segment[1] = 3, o[1].vas.rights[1] = MF_RIGHT_READ | MF_RIGHT_WRITE;
    o[2] = (struct mf_ckpt_object){.name = 0x12, .type = MF_OBJ_SEGMENT, .size_bits = 13};
    o[2].segment.base = 0x100000000ul, o[2].segment.size = 2ul << 20;
    o[3] = (struct mf_ckpt_object){.name = 0x13, .type = MF_OBJ_SEGMENT, .size_bits = 13};
    o[3].segment.base = 0, o[3].segment.size = 1ul << 30, o[3].segment.home = 1;
    o[4] = (struct mf_ckpt_object){.name = 0x14, .type = MF_OBJ_BINDING};
    o[4].binding.server = 2, o[4].binding.astacks = 3, o[4].binding.cspace = 1;
    o[4].binding.procedures = 4, o[4].binding.entry = 0x1801000;
    o[4].binding.astack[0].va = 0x100000000ul, o[4].binding.astack[0].size = 1024;
    o[4].binding.astack[0].estack_top = 0x1810000;
    o[4].binding.astack[3].va = 0x100000c00ul, o[4].binding.astack[3].size = 512;
    o[4].binding.astack[3].estack_top = 0x1812000;
    o[5] = (struct mf_ckpt_object){.name = 0x15, .type = MF_OBJ_BINDING};
    o[6] = (struct mf_ckpt_object){.name = 0x16, .type = MF_OBJ_FRAME, .size_bits = 12, .page = 0};
    for (unsigned i = 0; i < MF_CKPT_PAGE; i++)
        page[i] = (uint8_t)(i * 7);
    o[6].crc = crc32_update(0, page, MF_CKPT_PAGE);
    c[0] = (struct mf_ckpt_cap){.cnode = 0, .slot = 130, .object = 5, .type = MF_OBJ_BINDING, .rights = MF_RIGHT_READ};
    c[1] = (struct mf_ckpt_cap){.cnode = 0, .slot = 131, .object = 7, .type = MF_OBJ_FRAME,
                                .rights = MF_RIGHT_READ | MF_RIGHT_WRITE, .map_rights = MF_RIGHT_READ | MF_RIGHT_WRITE,
                                .map_va = 0x100000000ul, .map_segment = 3};
    memcpy(h->magic, MF_CKPT_MAGIC, 8);
    h->version = MF_CKPT_VERSION;
    h->arch = MF_CKPT_ARCH_X86_64;
    h->cnode_count = 1;
    h->object_count = OBJECTS, h->cap_count = CAPS, h->page_count = 1;
    h->object_offset = MF_CKPT_PAGE, h->cap_offset = 2 * MF_CKPT_PAGE, h->page_offset = 3 * MF_CKPT_PAGE;
    h->image_bytes = sizeof(image);
    h->table_crc = crc32_update(crc32_update(0, o, OBJECTS * sizeof(*o)), c, CAPS * sizeof(*c));
    h->header_crc = crc32_update(0, h, sizeof(*h));
    FILE *f = fopen(argv[1], "wb");
    if (!f || fwrite(image, sizeof(image), 1, f) != 1 || fclose(f) != 0)
        return 1;
    return 0;
}
