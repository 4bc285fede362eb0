// The table of object types (kernel/object.h): one row per MF_OBJ_*.
#include "kernel/object.h"
#include "kernel/arch.h"

const struct object_type *const object_types[] = {
    [MF_OBJ_UNTYPED] = &untyped_object_type,
    [MF_OBJ_CNODE] = &cnode_object_type,
    [MF_OBJ_FRAME] = &frame_object_type,
    [MF_OBJ_THREAD] = &thread_object_type,
    [MF_OBJ_ENDPOINT] = &endpoint_object_type,
    [MF_OBJ_NOTIFICATION] = &notification_object_type,
    [MF_OBJ_VAS] = &vas_object_type,
    [MF_OBJ_SEGMENT] = &segment_object_type,
    [MF_OBJ_BINDING] = &binding_object_type,
    [MF_OBJ_PCI_DEVICE] = &pci_device_object_type,
    [MF_OBJ_IRQ] = &irq_object_type,
    [MF_OBJ_SYSTEM] = &system_object_type,
    [MF_OBJ_CONSOLE] = &console_object_type,
    [MF_OBJ_RECLAIM] = &reclaim_object_type,
    [MF_OBJ_PACKET_FILTER] = &packet_filter_object_type,
    [MF_OBJ_CPU_TIME] = &cpu_time_object_type,
    [MF_OBJ_SLOTS] = &slots_object_type,
    [MF_OBJ_SNAPSHOT] = &snapshot_object_type,
};
// A new last MF_OBJ_* without a row is a build error here, not a NULL at run time.
_Static_assert(ARRAY_SIZE(object_types) == MF_OBJ_TYPE_COUNT, "every object type has a row in object_types");

// A row missing in the middle: the self-test object_types_complete.

// A keyed permutation of the address: a four-round Feistel network on its
// two 32-bit halves, each round a nonlinear mix of one half with a round
// key. Distinct objects get distinct names (it is a bijection), and
// without the keys the names neither show the kernel's addresses nor
// cancel out when XORed (an XOR mask would: names of objects at known
// distances gave the mask away). The keys come from the cycle counter at
// the first call and the address of the first object named, after boot's
// variable timing: not cryptographic, for a research kernel's opacity.
// cap_lock held (the keys are set once under it).
static uint32_t round_mix(uint32_t half, uint64_t key)
{
    uint64_t x = (half ^ key) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(x >> 32);
}

static uint64_t feistel(uint64_t v, const uint64_t keys[4])
{
    uint32_t left = (uint32_t)(v >> 32), right = (uint32_t)v;
    for (unsigned i = 0; i < 4; i++) {
        uint32_t next = left ^ round_mix(right, keys[i]);
        left = right;
        right = next;
    }
    return (uint64_t)left << 32 | right;
}

uint64_t object_name(uintptr_t obj)
{
    static uint64_t keys[4];
    static bool keyed;
    if (!obj)
        return 0;
    if (!keyed) {
        uint64_t seed = arch_cycles() ^ (uint64_t)obj << 17;
        for (unsigned i = 0; i < 4; i++) {
            seed += 0x9e3779b97f4a7c15ull + arch_cycles();
            uint64_t z = (seed ^ seed >> 30) * 0xbf58476d1ce4e5b9ull;
            keys[i] = (z ^ z >> 27) * 0x94d049bb133111ebull;
        }
        keyed = true;
    }
    uint64_t x = feistel(obj, keys);
    // 0 means none: the one address that maps to 0 gets the image of
    // address 0, which is never an object's (and is not 0 itself).
    return x ? x : feistel(0, keys);
}
