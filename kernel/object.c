// The table of object types (kernel/object.h): one row per MF_OBJ_*.
#include "kernel/object.h"

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
