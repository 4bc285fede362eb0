// Endpoints and notifications (see kernel/ipc.h).
//
// Locking (docs/smp.md). Each endpoint and notification has an MCS lock
// (struct ipc_queue) over its queue and state and over the IPC fields of
// the threads queued on it (waiting_on, ipc_badge, ipc_is_call, ...). The
// capability naming it is looked up under cap_lock, which is held until the
// object's lock is taken, so the object cannot be destroyed in between; it
// stays held through the transfer only when a capability moves. A long
// message (more than the four register words) also holds space_lock from
// before the object lock: the IPC buffers are found by walking page tables
// that segment operations change. A receiver learns whether a queued
// sender's message needs either only after taking the endpoint lock; it then
// drops that lock, takes what is missing, and looks again.
//
// A reply link (server->caller, caller->replier) is guarded by the server's
// ipc_lock; cancel paths find the server through caller->replier with
// threads_lock held (so it cannot be reaped meanwhile).
//
// Blocking: a thread marks itself blocked (thread_block_prepare) while it
// holds the lock its waker must take, then releases the locks and calls
// schedule(), so no wake-up is lost; a thread suspended or destroyed in the
// meantime does not block and its call returns -E_AGAIN.
#include "kernel/clustered.h"
#include "kernel/lockdep.h"
#include "kernel/object.h"
#include "kernel/irq.h"
#include "kernel/ipc.h"
#include "kernel/net.h"
#include "kernel/slots.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/invoke.h"
#include "kernel/locks.h"
#include "kernel/pmm.h"
#include "kernel/sched.h"
#include "kernel/segment.h"
#include "kernel/snapshot.h"
#include "kernel/thread.h"
#include "kernel/vas.h"
#include "kernel/vm.h"
#include "include/manifold/errors.h"
#include "include/manifold/ipc.h"

enum { EP_IDLE, EP_SENDING, EP_RECEIVING };

static void queue_push(struct ipc_queue *q, struct thread *t)
{
    // INACTIVE: stopped between thread_block_prepare and here; its stopper
    // waits for it to leave its CPU and takes it off again (thread_deactivate).
    assert(!t->on_rq && (t->state == THREAD_BLOCKED || t->state == THREAD_INACTIVE));
    t->ipc_next = NULL;
    if (q->tail)
        q->tail->ipc_next = t;
    else
        q->head = t;
    q->tail = t;
}

static struct thread *queue_pop(struct ipc_queue *q)
{
    struct thread *t = q->head;
    if (t) {
        q->head = t->ipc_next;
        if (!q->head)
            q->tail = NULL;
        t->ipc_next = NULL;
    }
    return t;
}

static bool queue_remove(struct ipc_queue *q, struct thread *t)
{
    struct thread *prev = NULL;
    for (struct thread *p = q->head; p; prev = p, p = p->ipc_next) {
        if (p != t)
            continue;
        if (prev)
            prev->ipc_next = p->ipc_next;
        else
            q->head = p->ipc_next;
        if (q->tail == p)
            q->tail = prev;
        p->ipc_next = NULL;
        return true;
    }
    return false;
}

// The outer locks an operation holds, released in one place.
struct held {
    bool cap, space;
};

static void release(struct held *h)
{
    if (h->cap)
        cap_unlock();
    if (h->space)
        space_unlock();
    h->cap = h->space = false;
}

static void wake_with(struct thread *t, int64_t result)
{
    t->ipc_result = result;
    t->waiting_on = NULL;
    thread_wake(t);
}


// A message: info and mr0..mr3.
struct message {
    uint64_t word[1 + MF_MSG_MAX_REGS];
};

// What a thread is sending: its registers, or its fault message.
static struct message message_of(const struct thread *t, const struct trap_frame *tf)
{
    struct message m;
    for (int i = 0; i <= MF_MSG_MAX_REGS; i++)
        m.word[i] = t->in_fault ? t->fault_msg[i] : arch_syscall_arg(tf, 1 + i);
    return m;
}

static bool is_long(uint64_t info) { return MF_INFO_LENGTH(info) > MF_MSG_MAX_REGS; }

// What a queued sender's message needs held while it is transferred.
static bool sender_needs_space(const struct thread *t)
{
    return !t->in_fault && is_long(arch_syscall_arg(t->user_frame, 1));
}

static bool sender_needs_cap(const struct thread *t)
{
    return !t->in_fault && t->ipc_can_grant && (arch_syscall_arg(t->user_frame, 1) & MF_INFO_CAP);
}

// The kernel address of t's IPC buffer, if it is mapped for user access
// (and writable when `write`); NULL otherwise. The buffer is one page.
// space_lock held.
static uint64_t *ipc_buffer(const struct thread *t, bool write)
{
    paddr_t pa;
    unsigned flags;
    if (!t->ipc_buffer || !t->vas || vm_lookup(t->vas->root, t->ipc_buffer, &pa, &flags))
        return NULL;
    // Copy-on-write for a snapshot: it copies the page first, as for a
    // write of the thread's own.
    if (write && (flags & VM_COW) && snapshot_write_fault(t, t->ipc_buffer))
        flags = (flags & ~VM_COW) | VM_WRITE;
    if (!(flags & VM_USER) || (write && !(flags & VM_WRITE)) || !pmm_is_ram(pa))
        return NULL;
    return P2V(pa);
}

// Copies `words` buffer words from `from` to `to`; false when either
// buffer is missing or not mapped.
static bool copy_buffer(const struct thread *from, const struct thread *to, unsigned words)
{
    const uint64_t *src = ipc_buffer(from, false);
    uint64_t *dst = ipc_buffer(to, true);
    if (!src || !dst)
        return false;
    for (unsigned i = 0; i < words; i++)
        dst[i] = src[i];
    return true;
}

// Delivers a message to `to` and sets what its pending IPC call returns (the
// badge). A capability moves only with the grant right, from a full slot to
// an empty receive slot; otherwise the message still goes and the cap flag
// reads clear. A thread waiting in a page fault takes no registers: the
// reply's label decides whether it retries (0) or dies (-E_FAULT).
// Held: the lock that made `to` ours (endpoint, or our ipc_lock for a
// reply), cap_lock when a cap may move, space_lock for a long message.
static void transfer(struct thread *from, const struct message *m, bool can_grant,
                     struct thread *to, uint64_t badge)
{
    uint64_t info = m->word[0];
    if (to->in_fault) {
        to->ipc_result = MF_INFO_LABEL(info) == MF_FAULT_KILL ? -E_FAULT : 0;
        return;
    }
    struct trap_frame *to_tf = to->user_frame;
    uint64_t recv_info = arch_syscall_arg(to_tf, 1);
    unsigned length = MF_INFO_LENGTH(info);
    if (length > MF_MSG_MAX_WORDS)
        length = MF_MSG_MAX_WORDS;
    if (length > MF_MSG_MAX_REGS &&
        (from->in_fault || !space_lock_held() || !copy_buffer(from, to, length - MF_MSG_MAX_REGS)))
        length = MF_MSG_MAX_REGS;   // no usable buffer on one side: truncated
    uint64_t out_info = (info & 0xffff0000ull) | length;
    if ((info & MF_INFO_CAP) && can_grant && !from->in_fault && cap_lock_held()) {
        struct slot *src = cspace_lookup(from, MF_INFO_SEND_CPTR(info));
        struct slot *dst = cspace_lookup(to, MF_INFO_RECV_INDEX(recv_info));
        struct cap derived;
        if (src && !slot_empty(src) && dst && slot_empty(dst) &&
            cap_derive(&src->cap, MF_RIGHTS_ALL, 0, &derived) == 0) {
            cap_insert(dst, &derived, src);     // as cnode copy makes it
            out_info |= MF_INFO_CAP;
        }
    }
    for (unsigned i = 0; i < MF_MSG_MAX_REGS; i++)
        arch_syscall_set_arg(to_tf, 2 + i, i < length ? m->word[1 + i] : 0);
    arch_syscall_set_arg(to_tf, 1, out_info);
    to->ipc_result = (int64_t)badge;
}

// caller now waits for server's reply.
static void link_reply(struct thread *server, struct thread *caller)
{
    struct mcs_qnode q;
    mcs_lock(&server->ipc_lock, &q);
    server->caller = caller;
    caller->replier = server;
    mcs_unlock(&server->ipc_lock, &q);
}

// Sends m from self on ep, whose lock is held with node *q (plus the outer
// locks in *h); for a call, waits for the reply. Releases everything.
// Returns what the IPC returns to self.
static int64_t send_locked(struct thread *self, struct endpoint *ep, struct mcs_qnode *q, struct held *h,
                           uint64_t badge, bool grant, const struct message *m, bool is_call)
{
    // A caller is blocked before the receiver can run, so that its reply,
    // from whatever CPU, finds it blocked.
    if (is_call && !thread_block_prepare(BLOCK_REPLY)) {
        mcs_unlock(&ep->q.lock, q);
        release(h);
        return -E_AGAIN;
    }
    if (ep->state == EP_RECEIVING) {
        struct thread *receiver = queue_pop(&ep->q);
        if (!ep->q.head)
            ep->state = EP_IDLE;
        transfer(self, m, grant, receiver, badge);
        receiver->waiting_on = NULL;
        if (is_call) {
            link_reply(receiver, self);
            thread_wake_sync(receiver);     // we wait for its reply: hand over the CPU
        } else {
            thread_wake(receiver);
        }
        mcs_unlock(&ep->q.lock, q);
        release(h);
        if (!is_call)
            return 0;
        schedule();
        return self->ipc_result;
    }
    if (!is_call && !thread_block_prepare(BLOCK_SEND)) {
        mcs_unlock(&ep->q.lock, q);
        release(h);
        return -E_AGAIN;
    }
    self->blocked_on = BLOCK_SEND;
    self->ipc_badge = badge;
    self->ipc_is_call = is_call;
    self->ipc_can_grant = grant;
    self->waiting_on = ep;
    queue_push(&ep->q, self);
    ep->state = EP_SENDING;
    mcs_unlock(&ep->q.lock, q);
    release(h);
    schedule();
    return self->ipc_result;
}

// ------------------------------------------------------------ fast path
//
// A call, and a reply-receive, between two threads of one CPU and one
// priority, with a short message (at most four words, no capability, not
// a fault's), switch straight to the partner: one run-queue lock taken
// once, no run-queue insertion or removal, no scheduler pass
// (sched_handoff_*). Exactly when (otherwise the slow path below, and the
// thread records why, MF_IPC_SLOW_*, in mf_thread_info):
//   call:         the endpoint has a receiver waiting (PARTNER);
//   reply_recv:   we have a caller waiting for our reply, and no sender is
//                 queued on the endpoint, so we would block (PARTNER);
//   both:         the partner's run-queue CPU is ours, it is off every
//                 CPU and not fixed elsewhere (CPU); its priority is ours
//                 (PRIORITY); nothing queued here is as important as it
//                 (QUEUED); we can block at once: runnable, no LRPC abort
//                 pending, no reschedule due, not fixed elsewhere (STATE).
// The capability lookup is the slow path's (cap_lock, then the endpoint's
// lock); the message moves as in transfer(). Locks, in the documented
// order: cap_lock (dropped once the endpoint is locked), the endpoint's,
// the replying thread's ipc_lock, this CPU's run queue.
_Static_assert(MF_IPC_FAST == IPC_FAST && MF_IPC_SLOW_LONG == IPC_SLOW_LONG &&
                   MF_IPC_SLOW_PARTNER == IPC_SLOW_PARTNER && MF_IPC_SLOW_STATE == IPC_SLOW_STATE &&
                   MF_IPC_SLOW_CPU == IPC_SLOW_CPU && MF_IPC_SLOW_PRIORITY == IPC_SLOW_PRIORITY &&
                   MF_IPC_SLOW_QUEUED == IPC_SLOW_QUEUED && MF_IPC_SLOW_LOOKUP == IPC_SLOW_LOOKUP,
               "ABI: MF_IPC_* are the kernel's enum ipc_path");

static bool is_short(const struct thread *self, uint64_t info)
{
    return !self->in_fault && !(info & MF_INFO_CAP) && !is_long(info);
}

static void count_path(struct thread *t, enum ipc_path path)
{
    t->ipc_last_path = (uint8_t)path;
    if (path == IPC_FAST)
        t->ipc_fast++;
    else
        t->ipc_slow++;
}

// The object (`type`, with `right`) cptr names, with its lock (at
// lock_offset in it) taken with *q, found without cap_lock (the read side
// in kernel/locks.h); the cap as read in *cap. 0 when this lookup cannot
// tell: the slow path looks again under cap_lock and reports any error.
// For the endpoint and notification fast paths; inlined into each (as a
// call it cost 35 instructions per notification operation).
static inline __attribute__((always_inline)) uintptr_t lock_object_fast(struct thread *self, uint64_t cptr, unsigned type, unsigned right,
                                  size_t lock_offset, struct mcs_qnode *q, struct cap *cap)
{
    uint64_t seq;
    if (!cap_read_begin(&seq))
        return 0;
    uintptr_t obj = 0;
    if (cap_read_lookup(self, seq, cptr, type, right, cap)) {
        struct mcs_lock *lock = (struct mcs_lock *)(cap->obj + lock_offset);
        mcs_lock(lock, q);
        // Its final cap deleted since? Then it may be gone: its destruction
        // waits for us to stop reading, so we unlock first (after
        // cap_read_end the memory may be retyped at once).
        if (cap_read_valid(seq))
            obj = cap->obj;     // locked: it cannot go away now
        else
            mcs_unlock(lock, q);
    }
    cap_read_end();
    return obj;
}

// The endpoint cptr names, locked with *q, and its badge (lock_object_fast).
static struct endpoint *lock_endpoint(struct thread *self, uint64_t cptr, unsigned right, struct mcs_qnode *q,
                                      uint64_t *badge)
{
    struct cap cap;
    struct endpoint *ep = (struct endpoint *)lock_object_fast(self, cptr, MF_OBJ_ENDPOINT, right,
                                                              offsetof(struct endpoint, q.lock), q, &cap);
    if (ep)
        *badge = cap.badge;
    return ep;
}

// A short message (at most four words, no capability) from from_tf to `to`,
// which waits in SYS_RECV or SYS_CALL, not in a fault: transfer() for the
// case the fast paths take.
static inline void transfer_short(const struct trap_frame *from_tf, uint64_t info, struct thread *to, uint64_t badge)
{
    struct trap_frame *to_tf = to->user_frame;
    unsigned length = MF_INFO_LENGTH(info);
    arch_syscall_set_arg(to_tf, 2, length > 0 ? arch_syscall_arg(from_tf, 2) : 0);
    arch_syscall_set_arg(to_tf, 3, length > 1 ? arch_syscall_arg(from_tf, 3) : 0);
    arch_syscall_set_arg(to_tf, 4, length > 2 ? arch_syscall_arg(from_tf, 4) : 0);
    arch_syscall_set_arg(to_tf, 5, length > 3 ? arch_syscall_arg(from_tf, 5) : 0);
    arch_syscall_set_arg(to_tf, 1, (info & 0xffff0000ull) | length);
    to->ipc_result = (int64_t)badge;
}
_Static_assert(MF_MSG_MAX_REGS == 4, "transfer_short moves four registers");

// SYS_CALL's fast path: true when it was taken (the call's result is in
// self->ipc_result once we run again); false, with nothing changed, when
// the slow path must run.
static bool call_fast(struct thread *self, struct trap_frame *tf)
{
    uint64_t info = arch_syscall_arg(tf, 1), badge;
    if (!is_short(self, info)) {
        count_path(self, IPC_SLOW_LONG);
        return false;
    }
    struct mcs_qnode eq, sq, cq;
    struct endpoint *ep = lock_endpoint(self, arch_syscall_arg(tf, 0), MF_RIGHT_WRITE, &eq, &badge);
    if (!ep) {
        count_path(self, IPC_SLOW_LOOKUP);
        return false;
    }
    struct thread *receiver = ep->state == EP_RECEIVING ? ep->q.head : NULL;
    enum ipc_path path = IPC_SLOW_PARTNER;
    struct cpu *c = NULL;
    if (receiver) {
        mcs_lock(&receiver->ipc_lock, &sq);     // our reply link goes there
        c = sched_lock_this(&cq);
        path = sched_handoff_check(c, receiver);
    }
    count_path(self, path);
    if (path != IPC_FAST) {
        if (receiver) {
            mcs_unlock(&c->lock, &cq);
            mcs_unlock(&receiver->ipc_lock, &sq);
        }
        mcs_unlock(&ep->q.lock, &eq);
        return false;
    }
    sched_handoff_commit(c, receiver, BLOCK_REPLY);
    queue_pop(&ep->q);
    if (!ep->q.head)
        ep->state = EP_IDLE;
    transfer_short(tf, info, receiver, badge);
    receiver->waiting_on = NULL;
    receiver->caller = self;
    self->replier = receiver;
    mcs_unlock(&receiver->ipc_lock, &sq);
    mcs_unlock(&ep->q.lock, &eq);
    sched_handoff_switch(c, receiver, &cq);
    return true;
}

// SYS_REPLY_RECV's fast path, as call_fast: the reply goes to our caller,
// which runs at once, and we wait on the endpoint.
static bool reply_recv_fast(struct thread *self, struct trap_frame *tf)
{
    uint64_t info = arch_syscall_arg(tf, 1), badge;
    if (!__atomic_load_n(&self->caller, __ATOMIC_RELAXED))
        return false;           // nothing to reply to: a plain receive
    if (!is_short(self, info)) {
        count_path(self, IPC_SLOW_LONG);
        return false;
    }
    struct mcs_qnode eq, sq, cq;
    struct endpoint *ep = lock_endpoint(self, arch_syscall_arg(tf, 0), MF_RIGHT_READ, &eq, &badge);
    if (!ep) {
        count_path(self, IPC_SLOW_LOOKUP);
        return false;
    }
    enum ipc_path path = IPC_SLOW_PARTNER;
    struct cpu *c = NULL;
    struct thread *caller = NULL;
    if (ep->state != EP_SENDING) {
        mcs_lock(&self->ipc_lock, &sq);
        caller = self->caller;
        if (caller && !caller->in_fault) {
            c = sched_lock_this(&cq);
            path = sched_handoff_check(c, caller);
        } else if (caller) {
            path = IPC_SLOW_LONG;   // a fault's reply: the slow path reads its label
        }
    }
    count_path(self, path);
    if (path != IPC_FAST) {
        if (c)
            mcs_unlock(&c->lock, &cq);
        if (ep->state != EP_SENDING)
            mcs_unlock(&self->ipc_lock, &sq);
        mcs_unlock(&ep->q.lock, &eq);
        return false;
    }
    sched_handoff_commit(c, caller, BLOCK_RECV);
    self->caller = NULL;
    caller->replier = NULL;
    transfer_short(tf, info, caller, 0);
    self->waiting_on = ep;
    queue_push(&ep->q, self);
    ep->state = EP_RECEIVING;
    mcs_unlock(&self->ipc_lock, &sq);
    mcs_unlock(&ep->q.lock, &eq);
    sched_handoff_switch(c, caller, &cq);
    return true;
}

int64_t ipc_send(struct thread *self, struct trap_frame *tf, bool is_call)
{
    if (is_call && call_fast(self, tf))
        return self->ipc_result;
    struct mcs_qnode q;
    struct held h = {true, false};
    struct slot *s;
    cap_lock();
    int r = cap_lookup(self, arch_syscall_arg(tf, 0), MF_OBJ_ENDPOINT, MF_RIGHT_WRITE, &s);
    if (r) {
        release(&h);
        return r;
    }
    uint64_t info = arch_syscall_arg(tf, 1);
    bool grant = s->cap.rights & MF_RIGHT_GRANT;
    struct endpoint *ep = (struct endpoint *)s->cap.obj;
    uint64_t badge = s->cap.badge;
    if (is_long(info)) {
        space_lock();
        h.space = true;
    }
    mcs_lock(&ep->q.lock, &q);
    if (!((info & MF_INFO_CAP) && grant)) {
        cap_unlock();       // the endpoint is locked: it cannot go away
        h.cap = false;
    }
    struct message m = message_of(self, tf);
    return send_locked(self, ep, &q, &h, badge, grant, &m, is_call);
}

int64_t ipc_fault_call(struct thread *self, struct endpoint *ep, struct mcs_qnode *q, uint64_t badge,
                       const uint64_t msg[5])
{
    struct held h = {false, false};
    for (int i = 0; i < 5; i++)
        self->fault_msg[i] = msg[i];
    self->in_fault = true;
    int64_t r = send_locked(self, ep, q, &h, badge, false, (const struct message *)self->fault_msg, true);
    self->in_fault = false;
    return r;
}

// Sends our registers as the reply to the thread that called us.
static void reply(struct thread *self, struct trap_frame *tf)
{
    struct mcs_qnode q;
    struct held h = {false, false};
    if (!__atomic_load_n(&self->caller, __ATOMIC_RELAXED))
        return;
    uint64_t info = arch_syscall_arg(tf, 1);
    if (info & MF_INFO_CAP) {
        cap_lock();
        h.cap = true;
    }
    if (is_long(info)) {
        space_lock();
        h.space = true;
    }
    mcs_lock(&self->ipc_lock, &q);
    struct thread *caller = self->caller;
    if (caller) {
        self->caller = NULL;
        caller->replier = NULL;
        struct message m = message_of(self, tf);
        transfer(self, &m, true, caller, 0);
        thread_wake_sync(caller);           // we go on to wait for the next message
    }
    mcs_unlock(&self->ipc_lock, &q);
    release(&h);
}

// We will never reply to our caller: it gets -E_DEAD.
static void drop_caller(struct thread *self)
{
    struct mcs_qnode q;
    mcs_lock(&self->ipc_lock, &q);
    struct thread *caller = self->caller;
    if (caller) {
        self->caller = NULL;
        caller->replier = NULL;
        wake_with(caller, -E_DEAD);
    }
    mcs_unlock(&self->ipc_lock, &q);
}

int64_t ipc_recv(struct thread *self, struct trap_frame *tf, bool reply_first)
{
    struct mcs_qnode q;
    struct held h = {true, false};
    struct slot *s;
    if (reply_first && reply_recv_fast(self, tf))
        return self->ipc_result;
    if (reply_first)
        reply(self, tf);
    else if (__atomic_load_n(&self->caller, __ATOMIC_RELAXED))
        drop_caller(self);
    cap_lock();
    int r = cap_lookup(self, arch_syscall_arg(tf, 0), MF_OBJ_ENDPOINT, MF_RIGHT_READ, &s);
    if (r) {
        release(&h);
        return r;
    }
    struct endpoint *ep = (struct endpoint *)s->cap.obj;
    mcs_lock(&ep->q.lock, &q);
    if (ep->state == EP_SENDING) {
        struct thread *sender = ep->q.head;
        if (sender_needs_space(sender)) {
            // Lock order: space_lock before the endpoint's. cap_lock, still
            // held, keeps the endpoint alive meanwhile.
            mcs_unlock(&ep->q.lock, &q);
            space_lock();
            h.space = true;
            mcs_lock(&ep->q.lock, &q);
        }
    }
    if (ep->state == EP_SENDING) {
        struct thread *sender = queue_pop(&ep->q);
        if (!ep->q.head)
            ep->state = EP_IDLE;
        if (!sender_needs_cap(sender)) {
            cap_unlock();
            h.cap = false;
        }
        struct message m = message_of(sender, sender->user_frame);
        transfer(sender, &m, sender->ipc_can_grant, self, sender->ipc_badge);
        // A caller is linked for its reply before it leaves the queue's
        // reach: ipc_cancel (a suspend from another CPU, without this
        // lock once waiting_on is clear) must find it queued or linked.
        if (sender->ipc_is_call) {
            link_reply(self, sender);
            sender->blocked_on = BLOCK_REPLY;   // still blocked, now for the reply
        }
        __atomic_store_n(&sender->waiting_on, NULL, __ATOMIC_RELEASE);
        if (!sender->ipc_is_call) {
            sender->ipc_result = 0;
            thread_wake(sender);
        }
        mcs_unlock(&ep->q.lock, &q);
        release(&h);
        return self->ipc_result;
    }
    if (!thread_block_prepare(BLOCK_RECV)) {
        mcs_unlock(&ep->q.lock, &q);
        release(&h);
        return -E_AGAIN;
    }
    self->waiting_on = ep;
    queue_push(&ep->q, self);
    ep->state = EP_RECEIVING;
    mcs_unlock(&ep->q.lock, &q);
    release(&h);
    schedule();
    return self->ipc_result;
}

// ---------------------------------------------------------- cancellation

// t, a caller, stops waiting for its reply: its server forgets it.
static void cancel_reply(struct thread *t)
{
    struct mcs_qnode tq, sq;
    if (!__atomic_load_n(&t->replier, __ATOMIC_RELAXED))
        return;
    thread_lock_list(&tq);
    struct thread *server = __atomic_load_n(&t->replier, __ATOMIC_ACQUIRE);
    if (server) {
        mcs_lock(&server->ipc_lock, &sq);
        if (t->replier == server) {
            server->caller = NULL;
            t->replier = NULL;
        }
        mcs_unlock(&server->ipc_lock, &sq);
    }
    thread_unlock_list(&tq);
}

// Called with cap_lock held (suspend, delete): the endpoint or notification
// t waits on cannot be destroyed meanwhile.
bool ipc_cancel(struct thread *t)
{
    struct mcs_qnode q;
    bool cancelled = false, dequeued = false, replied = false;
    for (;;) {
        struct ipc_queue *obj = __atomic_load_n((struct ipc_queue **)&t->waiting_on, __ATOMIC_ACQUIRE);
        if (!obj)
            break;
        mcs_lock(&obj->lock, &q);
        if (t->waiting_on == obj) {
            cancelled = dequeued = queue_remove(obj, t);
            t->waiting_on = NULL;
            // An endpoint with no one left queued is idle (notifications
            // keep no state of that kind: ipc_queue is their first member too).
            if (t->blocked_on == BLOCK_SEND || t->blocked_on == BLOCK_RECV) {
                struct endpoint *ep = (struct endpoint *)obj;
                if (!ep->q.head)
                    ep->state = EP_IDLE;
            }
            mcs_unlock(&obj->lock, &q);
            break;
        }
        mcs_unlock(&obj->lock, &q);
    }
    if (__atomic_load_n(&t->replier, __ATOMIC_ACQUIRE)) {    // set before waiting_on was cleared
        cancel_reply(t);
        cancelled = replied = true;
    }
    if (cancelled)
        t->ipc_result = -E_AGAIN;
    return dequeued && !replied;
}

void ipc_forget(struct thread *t)
{
    if (__atomic_load_n(&t->caller, __ATOMIC_RELAXED))
        drop_caller(t);
    cancel_reply(t);
}

void ipc_object_destroy(unsigned type, uintptr_t obj)
{
    struct mcs_qnode q;
    struct thread *t;
    if (type == MF_OBJ_ENDPOINT) {
        // No segment has it as its pager any more: a segment holds its
        // pager by a capability, whose deletion cleared seg->pager first
        // (endpoint_cap_deleted), so this was not the final cap before.
        struct endpoint *ep = (struct endpoint *)obj;
        mcs_lock(&ep->q.lock, &q);
        while ((t = queue_pop(&ep->q)))
            wake_with(t, -E_DEAD);
        ep->state = EP_IDLE;
        mcs_unlock(&ep->q.lock, &q);
        // A fast path may have found it just before its cap went (and now
        // waits for its lock): it looks again, sees the capabilities
        // changed and leaves, before the memory can be retyped. (Its
        // finalizer runs under cap_lock: cap_wait_readers may wait.)
        cap_wait_readers();
    } else if (type == MF_OBJ_NOTIFICATION) {
        struct notification *n = (struct notification *)obj;
        mcs_lock(&n->q.lock, &q);
        while ((t = queue_pop(&n->q)))
            wake_with(t, -E_DEAD);
        mcs_unlock(&n->q.lock, &q);
        cap_wait_readers();     // as for an endpoint (notification_fast)
    }
}

// ------------------------------------------------------------ notifications
// Badges are below 2^63 (mint checks), so a word is never mistaken for an error.
// The invocations run with cap_lock held (invoke_dispatch).

// SIGNAL sets bits (the cap's badge, or 1); POLL takes the word; WAIT and
// WAIT_TIMEOUT take it too, the caller blocking while it is empty for at
// most timeout_ticks (0: no limit).
struct notification_args {
    struct notification *notification;
    struct thread *caller;
    uint64_t bits;
    uint64_t timeout_ticks;
};

static int decode_notify(const struct invocation *inv, struct decoded *d, unsigned right)
{
    struct notification_args *a = DECODED(struct notification_args, d);
    if (!(inv->target->cap.rights & right))
        return -E_PERM;
    a->notification = (struct notification *)inv->target->cap.obj;
    a->caller = inv->caller;
    a->timeout_ticks = 0;
    return 0;
}

static int decode_signal(const struct invocation *inv, struct decoded *d)
{
    int r = decode_notify(inv, d, MF_RIGHT_WRITE);
    if (r)
        return r;
    const struct cap *c = &inv->target->cap;
    DECODED(struct notification_args, d)->bits = c->badge ? c->badge : 1;
    return 0;
}

static int decode_wait(const struct invocation *inv, struct decoded *d) { return decode_notify(inv, d, MF_RIGHT_READ); }

// n locked with *q: signals it and unlocks.
static void signal_locked(struct notification *n, struct mcs_qnode *q, uint64_t bits)
{
    n->word |= bits;
    struct thread *w = queue_pop(&n->q);
    if (w) {
        wake_with(w, (int64_t)n->word);
        n->word = 0;
    }
    mcs_unlock(&n->q.lock, q);
}

void notification_signal(struct notification *n, uint64_t bits)
{
    struct mcs_qnode q;
    mcs_lock(&n->q.lock, &q);
    signal_locked(n, &q, bits);
}

static int64_t invoke_signal(const struct decoded *d)
{
    const struct notification_args *a = DECODED(struct notification_args, d);
    notification_signal(a->notification, a->bits);
    return 0;
}

// n locked with *q: takes its word and unlocks.
static int64_t poll_locked(struct notification *n, struct mcs_qnode *q)
{
    uint64_t word = n->word;
    n->word = 0;
    mcs_unlock(&n->q.lock, q);
    return (int64_t)word;
}

static int64_t invoke_poll(const struct decoded *d)
{
    struct mcs_qnode q;
    struct notification *n = DECODED(struct notification_args, d)->notification;
    mcs_lock(&n->q.lock, &q);
    return poll_locked(n, &q);
}

// n locked with *q (nothing else held): takes its word, or waits for one
// at most timeout_ticks (0: no limit); unlocks.
static int64_t wait_locked(struct thread *self, struct notification *n, struct mcs_qnode *q, uint64_t timeout_ticks)
{
    uint64_t word = n->word;
    if (word) {
        n->word = 0;
        mcs_unlock(&n->q.lock, q);
        return (int64_t)word;
    }
    // The time limit is armed only once we are queued: the tick (on CPU 0,
    // wake_timed) wakes a blocked waiter whose wake_tick has passed, and
    // must not find us blocked but not yet queued (it made us runnable
    // there, and queue_push found a runnable thread). Disarmed before we
    // block, so that no earlier wait's limit applies meanwhile.
    __atomic_store_n(&self->wake_tick, 0, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_RELEASE);    // before the state says blocked
    if (!thread_block_prepare(BLOCK_NOTIFICATION)) {
        mcs_unlock(&n->q.lock, q);
        return -E_AGAIN;
    }
    self->waiting_on = n;
    queue_push(&n->q, self);
    if (timeout_ticks)      // after the push: a waker that sees it sees us queued
        __atomic_store_n(&self->wake_tick, sched_ticks() + timeout_ticks, __ATOMIC_RELEASE);
    mcs_unlock(&n->q.lock, q);
    schedule();
    // A timed wait that ran out is woken still queued (thread.c:
    // wake_timed): it leaves the queue itself and returns -E_AGAIN. A
    // signal that got there first has dequeued it and set the result.
    // cap_lock keeps the notification alive meanwhile (ipc_cancel's rule):
    // deleting it takes cap_lock.
    if (__atomic_load_n(&self->waiting_on, __ATOMIC_ACQUIRE)) {
        cap_lock();
        ipc_cancel(self);
        cap_unlock();
    }
    self->wait_expired = false;
    return self->ipc_result;
}

static int64_t invoke_wait(const struct decoded *d)
{
    struct mcs_qnode q;
    const struct notification_args *a = DECODED(struct notification_args, d);
    struct notification *n = a->notification;
    mcs_lock(&n->q.lock, &q);
    cap_unlock();           // the notification is locked: it cannot go away
    return wait_locked(a->caller, n, &q, a->timeout_ticks);
}

// SIGNAL, WAIT and POLL without cap_lock or the invocation tables: the
// notification found by the lock-free lookup (kernel/locks.h), locked, and
// the operation done as its invoke_* does it. False when the lookup cannot
// tell (or another operation): invoke_dispatch then runs, and reports any
// error. Used by SYS_INVOKE before the tables.
bool notification_fast(struct thread *self, uint64_t cptr, uint64_t op, int64_t *result)
{
    if (op > MF_NOTIFICATION_POLL)
        return false;
    struct cap cap;
    struct mcs_qnode q;
    unsigned right = op == MF_NOTIFICATION_SIGNAL ? MF_RIGHT_WRITE : MF_RIGHT_READ;
    struct notification *n = (struct notification *)lock_object_fast(
        self, cptr, MF_OBJ_NOTIFICATION, right, offsetof(struct notification, q.lock), &q, &cap);
    if (!n)
        return false;
    self->refusal.error = 0;            // as invoke_dispatch: this call was not refused
    self->refusal.cptr = 0;
    self->refusal.op = (uint8_t)op;
    if (op == MF_NOTIFICATION_SIGNAL) {
        signal_locked(n, &q, cap.badge ? cap.badge : 1);
        *result = 0;
    } else if (op == MF_NOTIFICATION_POLL) {
        *result = poll_locked(n, &q);
    } else {
        *result = wait_locked(self, n, &q, 0);
    }
    return true;
}

static int decode_wait_timeout(const struct invocation *inv, struct decoded *d)
{
    int r = decode_notify(inv, d, MF_RIGHT_READ);
    if (r)
        return r;
    if (inv->arg[0] == 0)
        return -E_INVAL;            // use POLL
    DECODED(struct notification_args, d)->timeout_ticks = inv->arg[0];
    return 0;
}

const struct op_handler notification_ops[MAX_OPS] = {
    [MF_NOTIFICATION_SIGNAL] = {decode_signal, invoke_signal},
    [MF_NOTIFICATION_WAIT] = {decode_wait, invoke_wait},
    [MF_NOTIFICATION_POLL] = {decode_wait, invoke_poll},
    [MF_NOTIFICATION_WAIT_TIMEOUT] = {decode_wait_timeout, invoke_wait},
};

// Endpoints and notifications are 64 bytes: a lock (with its lockdep
// class), a queue, and the state or the word.
static int ipc_object_bits(unsigned size_bits) { return size_bits == 0 ? 6 : -1; }
_Static_assert(sizeof(struct endpoint) <= 64 && sizeof(struct notification) <= 64, "IPC objects fit 64 bytes");

// Their lock's class, for lock-order validation (kernel/lockdep.h).
static void ipc_object_init(uintptr_t obj, unsigned size_bits)
{
    (void)size_bits;
    ((struct ipc_queue *)obj)->lock.lock_class = LOCK_CLASS_IPC_QUEUE;
}

static void endpoint_finalize(const struct cap *cap) { ipc_object_destroy(cap->type, cap->obj); }

// Objects that keep a notification cap inside themselves and use it
// outside cap_lock (interrupts, the tick) drop their pointer first.
static void notification_cap_deleted(const struct slot *s)
{
    net_notification_deleted(s);
    slots_notification_deleted(s);
}

static void notification_finalize(const struct cap *cap)
{
    irq_forget_notification((struct notification *)cap->obj);
    ipc_object_destroy(cap->type, cap->obj);
}

// Endpoints are used through SYS_SEND/RECV/CALL/REPLY_RECV, not invoked.
const struct object_type endpoint_object_type = {
    .name = "endpoint",
    .object_bits = ipc_object_bits,
    .init = ipc_object_init,
    .finalize = endpoint_finalize,
    .cap_deleted = endpoint_cap_deleted,    // a segment's pager cap (segment.c)
};

const struct object_type notification_object_type = {
    .name = "notification",
    .object_bits = ipc_object_bits,
    .init = ipc_object_init,
    .finalize = notification_finalize,
    .cap_deleted = notification_cap_deleted,    // a packet filter's or Slots object's copy
    .ops = notification_ops,
    .op_count = MF_NOTIFICATION_OP_COUNT,
};

// MF_CNODE_DESCRIBE's part for a notification (kernel/cnode.c): its word,
// not taken.
void notification_describe(uintptr_t obj, struct mf_cap_info *out)
{
    out->notification.word = __atomic_load_n(&((const struct notification *)obj)->word, __ATOMIC_RELAXED);
}
