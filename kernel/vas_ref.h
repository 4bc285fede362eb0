// struct vas_ref (kernel/vas.h), apart so that thread.h can embed it.
#pragma once
#include "kernel/types.h"

struct vas;
struct thread;

// A reference to a VAS that destroying the VAS must reach: each thread
// has one for the VAS it runs in, one per LRPC call for the VAS the call
// returns to, and one for its home (thread->vas_ref). A VAS lists its
// referrers, so its finalizer visits exactly those threads
// (kernel/segment.c), no others.
struct vas_ref {
    struct vas_ref *next, *prev;
    struct vas *vas;            // NULL: none
    struct thread *thread;
    uint8_t index;              // 0: thread->vas; i + 1: thread->lrpc[i].client_vas;
                                // VAS_REF_HOME: thread->home_vas
};
