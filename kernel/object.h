// The object model: one descriptor per MF_OBJ_* type.
//
// Everything the generic capability code needs to know about a type is in
// its row of object_types[]: how big an object retyped from untyped memory
// is, how to format it, what ends it when its final capability goes, which
// invocations it has and which locks they hold. Adding a type is one file
// (its invocations, init and finalize, ending with its descriptor) and one
// row in kernel/object.c.
//
// Reference rule (docs/capabilities.md): an object that refers to another
// holds it through a capability slot inside itself (a thread's CSpace, a
// binding's server CSpace), or through a reference that finalizing the
// target provably reaches (the target keeps the list of its referrers).
// Finalizers do bounded work; none walks every thread.
#pragma once
#include "kernel/cap.h"

struct op_handler;

// What an invocation of the type holds from decode to the end of invoke,
// besides cap_lock (kernel/locks.h).
enum lock_class {
    LOCK_CAP = 0,       // cap_lock only
    LOCK_SPACE,         // cap_lock, then space_lock (address spaces, frames)
};

struct object_type {
    const char *name;
    // log2 of the bytes an object of this size_bits takes when retyped, or
    // -1 when size_bits is not valid for the type. NULL: not retypable
    // (objects made by the kernel at boot: devices, IRQ lines, system).
    int (*object_bits)(unsigned size_bits);
    // Formats a freshly retyped object in zeroed memory; NULL: zero is ready.
    void (*init)(uintptr_t obj, unsigned size_bits);
    // The final capability to the object is gone; called with cap_lock held
    // (the caller deletes slots nested in the object through cap_delete_nested).
    // NULL: the object holds no kernel state beyond its memory.
    void (*finalize)(const struct cap *cap);
    // Any capability of the type is being deleted, final or not (a frame
    // cap's own mapping goes with it); cap_lock held. NULL: nothing to do.
    void (*cap_deleted)(const struct slot *s);
    const struct op_handler *ops;   // indexed by operation; NULL: not invocable
    unsigned op_count;              // entries of ops (MF_*_OP_COUNT)
    enum lock_class lock_class;
};

// Indexed by MF_OBJ_*; MF_OBJ_NULL's row is NULL.
extern const struct object_type *const object_types[];

// The descriptors, one per type, defined beside each type's invocations.
extern const struct object_type untyped_object_type, cnode_object_type, frame_object_type,
    thread_object_type, endpoint_object_type, notification_object_type, vas_object_type,
    segment_object_type, binding_object_type, pci_device_object_type, irq_object_type,
    system_object_type, console_object_type, reclaim_object_type, packet_filter_object_type,
    cpu_time_object_type, slots_object_type, snapshot_object_type;

// MF_CNODE_DESCRIBE (kernel/cnode.c): the name of the object at obj, as
// include/manifold/cap.h's struct mf_cap_info gives it; 0 for obj 0.
uint64_t object_name(uintptr_t obj);
// The parts of a description only a type's own file can read; each takes
// the locks it needs (cap_lock held).
struct mf_cap_info;
void frame_describe(const struct slot *frame, struct mf_cap_info *out);
void segment_describe(uintptr_t segment, struct mf_cap_info *out);
void vas_object_describe(uintptr_t vas_object, struct mf_cap_info *out);
void thread_describe(uintptr_t thread, struct mf_cap_info *out);
void notification_describe(uintptr_t notification, struct mf_cap_info *out);
void binding_describe(uintptr_t binding, struct mf_cap_info *out);

// Boot: the root task's caps to the System and Console objects, into two
// empty slots of its CSpace (kernel/system.c).
void system_grant_root(struct slot *system_slot, struct slot *console_slot);
// Boot: the root task's cap to the CPU Time object (kernel/slots.c).
void cpu_time_grant_root(struct slot *dst);
