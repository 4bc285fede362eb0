// Lightweight RPC (Bershad et al.): the calling thread itself crosses into
// the server's address space, on an execution stack there, with its
// arguments already on an argument stack (A-stack) mapped into both spaces.
// No message is copied and the scheduler is not involved: the call is a
// validated address-space switch plus a saved return context (the linkage).
#pragma once
#include "kernel/cap.h"
#include "include/manifold/lrpc.h"

struct thread;
struct trap_frame;
struct vas;
struct vas_object;
struct segment;

#define LRPC_MAX_DEPTH 2        // a server may call one more server
#define LRPC_NO_ABORT 0xff     // thread->lrpc_abort_to: no call to end
#define LRPC_SAVED_MAX 16       // words of the client's registers a call keeps (arch_lrpc_save)

struct binding {
    struct vas_object *server;  // where the procedures run
    struct segment *astacks;    // A-stack segment, in the server and in clients
    // On the server VAS's and the A-stack segment's lists of bindings
    // (vas_object->bindings, segment->astack_bindings): destroying either
    // reaches exactly its bindings.
    struct binding *server_next, *server_prev, *astack_next, *astack_prev;
    struct slot server_cspace;  // a cap to the CSpace a thread uses inside the server (may be empty)
    uint64_t entry;             // the server's dispatcher
    uint32_t procedures;
    bool configured;
    struct {
        uint64_t va, size, estack_top;
        bool set, busy;
        // The thread whose call holds it (busy): the binding's finalizer
        // reaches every call through it, not by walking all threads.
        // Cleared under space_lock when the call ends or the thread goes.
        struct thread *caller;
    } astack[MF_LRPC_MAX_ASTACKS];
};

// The return context of one call in progress, kept in the calling thread.
struct lrpc_link {
    struct binding *binding;    // NULL once the binding has gone
    unsigned astack;
    struct vas *client_vas;     // retained
    uint64_t regs[LRPC_SAVED_MAX];        // the client's registers a call keeps
    uint64_t tls[2];                      // and its thread pointers (the server starts on 0)
};

void binding_init(uintptr_t obj);
int64_t lrpc_call(struct thread *self, struct trap_frame *tf, uint64_t cptr, uint64_t proc, uint64_t astack);
int64_t lrpc_return(struct thread *self, struct trap_frame *tf, int64_t value);
// A fault in server code during a call: unwind to the client with -E_DEAD.
// True when t was in a call (its registers now are the client's).
bool lrpc_fault(struct thread *t, struct trap_frame *tf);
// Run by a thread on its way back to user mode (system call exit, timer
// and reschedule interrupts, user faults): if calls it was in were aborted
// (lrpc_binding_destroy), unwind them now; true if it did (its registers
// are its client's, returning -E_DEAD).
bool lrpc_abort_check(struct thread *t);
// The binding, its server VAS or its A-stack segment is going away: every
// thread inside returns to its client with -E_DEAD.
void lrpc_binding_destroy(struct binding *b);
void lrpc_forget_vas(struct vas_object *vo);
void lrpc_forget_segment(struct segment *seg);
// The thread itself is being destroyed: release its A-stacks and VASes.
void lrpc_thread_destroy(struct thread *t);
