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
};
// A new last MF_OBJ_* without a row is a build error here, not a NULL at run time.
_Static_assert(ARRAY_SIZE(object_types) == MF_OBJ_TYPE_COUNT, "every object type has a row in object_types");

// A row missing in the middle: the self-test object_types_complete.

// A bijection of the address (xor with a key taken at first use, then a
// 64-bit finalizer whose steps are each invertible): distinct objects get
// distinct names, and a name does not show the kernel's layout as it is.
// Not a secret: a holder of many names could work the key out. cap_lock
// held (the key is set once under it).
uint64_t object_name(uintptr_t obj)
{
    static uint64_t key;
    if (!obj)
        return 0;
    if (!key)
        key = (arch_cycles() | 1) * 0x9e3779b97f4a7c15ull;
    uint64_t x = (uint64_t)obj ^ key;
    x = (x ^ x >> 30) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ x >> 27) * 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x ? x : 1;
}
