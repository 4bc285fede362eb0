// Synchronous endpoints and notifications.
//
// A message travels in registers: the sender's info and mr0..3 are copied
// straight into the receiver's saved user registers (arch_syscall_set_arg),
// its badge becomes the receiver's return value. An endpoint queues either
// senders or receivers, FIFO. `call` leaves the caller waiting for the
// receiver's reply; the receiver remembers it in thread->caller.
//
// Locking: see kernel/ipc.c; each object's queue has its own MCS lock.
#pragma once
#include "kernel/types.h"
#include "lib/spinlock.h"

struct thread;
struct trap_frame;

// The first member of both objects: their lock and waiting threads.
struct ipc_queue {
    struct mcs_lock lock;
    struct thread *head, *tail;
};
struct endpoint {
    struct ipc_queue q;         // senders or receivers, FIFO
    uint32_t state;             // EP_IDLE, EP_SENDING, EP_RECEIVING
};
struct notification {
    struct ipc_queue q;         // waiters
    uint64_t word;
};

int64_t ipc_send(struct thread *self, struct trap_frame *tf, bool is_call);
// MF_NOTIFICATION_SIGNAL, _WAIT and _POLL on cptr without cap_lock: true
// with *result when done, false when SYS_INVOKE's tables must run.
bool notification_fast(struct thread *self, uint64_t cptr, uint64_t op, int64_t *result);
int64_t ipc_recv(struct thread *self, struct trap_frame *tf, bool reply_first);
// A call made by the kernel for a faulting thread: msg is info, mr0..mr3.
// ep's lock is held on entry, with node *q (the caller found ep under
// space_lock, kernel/segment.c); released here. Returns 0 when the reply
// says retry, -E_FAULT when it says kill, -E_DEAD when the endpoint or the
// receiver went away, -E_AGAIN when the thread was stopped meanwhile.
int64_t ipc_fault_call(struct thread *self, struct endpoint *ep, struct mcs_qnode *q, uint64_t badge,
                       const uint64_t msg[5]);

// t leaves any endpoint or notification queue; a later resume makes its
// pending call return -E_AGAIN. True when t was still queued (under the
// queue's lock: nothing was taken from it or given to it yet), and had no
// reply to wait for.
bool ipc_cancel(struct thread *t);
// t is stopping: its pending caller gets -E_DEAD, servers forget it.
void ipc_forget(struct thread *t);
// ORs `bits` into n's word and wakes one waiter (interrupt context too).
void notification_signal(struct notification *n, uint64_t bits);
// The final cap to an endpoint/notification went: waiters get -E_DEAD.
void ipc_object_destroy(unsigned type, uintptr_t obj);
