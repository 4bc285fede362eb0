// The CPU slot vector (ABI; docs/exokernel.md, "CPU slots"). Each CPU's
// time is a linear vector of MF_SLOT_COUNT slots of MF_SLOT_TICKS timer
// ticks, repeated. A Slots object, configured with the CPU Time cap,
// claims a set of one CPU's slots for one thread: in those slots that
// thread has the CPU (whatever the priorities of others), and outside them
// it does not run at all; slots nobody holds run today's scheduler for
// everyone else.
//
// Upcalls, as bits signalled on the object's notification:
//   MF_SLOT_START  a slot of ours begins (the thread runs again);
//   MF_SLOT_END    it ends after this tick: the thread should finish what
//                  it is doing and give the rest up (MF_SLOTS_DONE).
// A thread still running when its slot ends is taken off the CPU anyway,
// and the overrun is charged to its next slot, whose first tick it loses.
#pragma once
#include <stdint.h>

#define MF_SLOT_COUNT 16
#define MF_SLOT_TICKS 4
#define MF_SLOT_START 1u
#define MF_SLOT_END   2u

enum mf_slots_op {
    // (CPU Time cptr, thread cptr, cpu | slot mask << 8, notification
    // cptr): once. Needs WRITE on all three caps. The mask's slots of that
    // CPU must be free; the thread holds no other Slots and is fixed to
    // that CPU from now on (MF_SCHED_FIXED).
    MF_SLOTS_CONFIGURE = 0,
    // (): from the bound thread: nothing more to do in this slot; it runs
    // again in its next one (then this returns 0).
    MF_SLOTS_DONE,
    // (struct mf_slots_info *).
    MF_SLOTS_INFO,
    MF_SLOTS_OP_COUNT
};

struct mf_slots_info {
    uint64_t started;       // slots of ours that began
    uint64_t ticks_run;     // ticks at which our thread was the one running
    uint64_t overruns;      // slots that ended with our thread still running
    uint64_t dones;         // MF_SLOTS_DONE calls
    uint32_t cpu, mask;
};
