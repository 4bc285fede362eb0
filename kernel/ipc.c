#include "kernel/ipc.h"
#include "kernel/arch.h"
#include "kernel/invoke.h"
#include "kernel/segment.h"
#include "kernel/thread.h"
#include "kernel/vas.h"
#include "kernel/vm.h"
#include "include/manifold/errors.h"
#include "include/manifold/ipc.h"

enum { EP_IDLE, EP_SENDING, EP_RECEIVING };

static void queue_push(struct thread **head, struct thread **tail, struct thread *t)
{
    t->next = NULL;
    if (*tail)
        (*tail)->next = t;
    else
        *head = t;
    *tail = t;
}

static struct thread *queue_pop(struct thread **head, struct thread **tail)
{
    struct thread *t = *head;
    if (t) {
        *head = t->next;
        if (!*head)
            *tail = NULL;
        t->next = NULL;
    }
    return t;
}

static void queue_remove(struct thread **head, struct thread **tail, struct thread *t)
{
    struct thread *prev = NULL;
    for (struct thread *q = *head; q; prev = q, q = q->next) {
        if (q != t)
            continue;
        if (prev)
            prev->next = q->next;
        else
            *head = q->next;
        if (*tail == q)
            *tail = prev;
        q->next = NULL;
        return;
    }
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

// The kernel address of t's IPC buffer, if it is mapped for user access
// (and writable when `write`); NULL otherwise. The buffer is one page.
static uint64_t *ipc_buffer(const struct thread *t, bool write)
{
    paddr_t pa;
    unsigned flags;
    if (!t->ipc_buffer || !t->vas || vm_lookup(t->vas->root, t->ipc_buffer, &pa, &flags))
        return NULL;
    if (!(flags & VM_USER) || (write && !(flags & VM_WRITE)))
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
    if (length > MF_MSG_MAX_REGS && (from->in_fault || !copy_buffer(from, to, length - MF_MSG_MAX_REGS)))
        length = MF_MSG_MAX_REGS;   // no usable buffer on one side: truncated
    uint64_t out_info = (info & 0xffff0000ull) | length;
    if ((info & MF_INFO_CAP) && can_grant && !from->in_fault) {
        struct slot *src = cspace_lookup(from, MF_INFO_SEND_CPTR(info));
        struct slot *dst = cspace_lookup(to, MF_INFO_RECV_INDEX(recv_info));
        if (src && !slot_empty(src) && src->cap.type != MF_OBJ_UNTYPED && dst && slot_empty(dst)) {
            cap_insert(dst, &src->cap, src);
            out_info |= MF_INFO_CAP;
        }
    }
    for (unsigned i = 0; i < MF_MSG_MAX_REGS; i++)
        arch_syscall_set_arg(to_tf, 2 + i, i < length ? m->word[1 + i] : 0);
    arch_syscall_set_arg(to_tf, 1, out_info);
    to->ipc_result = (int64_t)badge;
}

// Sends m from self on ep (badge, grant from the cap used); for a call,
// waits for the reply. Returns what the IPC returns to self.
static int64_t send_on(struct thread *self, struct endpoint *ep, uint64_t badge, bool grant,
                       const struct message *m, bool is_call)
{
    if (ep->state == EP_RECEIVING) {
        struct thread *receiver = queue_pop(&ep->head, &ep->tail);
        if (!ep->head)
            ep->state = EP_IDLE;
        transfer(self, m, grant, receiver, badge);
        receiver->waiting_on = NULL;
        if (is_call)
            receiver->caller = self;
        thread_wake(receiver);
        if (!is_call)
            return 0;
        thread_block(BLOCK_REPLY);
        return self->ipc_result;
    }
    self->ipc_badge = badge;
    self->ipc_is_call = is_call;
    self->ipc_can_grant = grant;
    self->waiting_on = ep;
    queue_push(&ep->head, &ep->tail, self);
    ep->state = EP_SENDING;
    thread_block(BLOCK_SEND);
    return self->ipc_result;
}

int64_t ipc_send(struct thread *self, struct trap_frame *tf, bool is_call)
{
    struct slot *s;
    int r = cap_lookup(self, arch_syscall_arg(tf, 0), MF_OBJ_ENDPOINT, MF_RIGHT_WRITE, &s);
    if (r)
        return r;
    struct message m = message_of(self, tf);
    return send_on(self, (struct endpoint *)s->cap.obj, s->cap.badge,
                   s->cap.rights & MF_RIGHT_GRANT, &m, is_call);
}

int64_t ipc_fault_call(struct thread *self, struct endpoint *ep, uint64_t badge, const uint64_t msg[5])
{
    for (int i = 0; i < 5; i++)
        self->fault_msg[i] = msg[i];
    self->in_fault = true;
    int64_t r = send_on(self, ep, badge, false, (const struct message *)self->fault_msg, true);
    self->in_fault = false;
    return r;
}

// Sends our registers as the reply to the thread that called us.
static void reply(struct thread *self, struct trap_frame *tf)
{
    struct thread *caller = self->caller;
    self->caller = NULL;
    if (caller && caller->state == THREAD_BLOCKED && caller->blocked_on == BLOCK_REPLY) {
        struct message m = message_of(self, tf);
        transfer(self, &m, true, caller, 0);
        thread_wake(caller);
    }
}

int64_t ipc_recv(struct thread *self, struct trap_frame *tf, bool reply_first)
{
    struct slot *s;
    int r = cap_lookup(self, arch_syscall_arg(tf, 0), MF_OBJ_ENDPOINT, MF_RIGHT_READ, &s);
    if (r)
        return r;
    if (reply_first)
        reply(self, tf);
    else if (self->caller) {
        wake_with(self->caller, -E_DEAD);   // we will never reply to it now
        self->caller = NULL;
    }
    struct endpoint *ep = (struct endpoint *)s->cap.obj;
    if (ep->state == EP_SENDING) {
        struct thread *sender = queue_pop(&ep->head, &ep->tail);
        if (!ep->head)
            ep->state = EP_IDLE;
        struct message m = message_of(sender, sender->user_frame);
        transfer(sender, &m, sender->ipc_can_grant, self, sender->ipc_badge);
        sender->waiting_on = NULL;
        if (sender->ipc_is_call) {
            self->caller = sender;
            sender->blocked_on = BLOCK_REPLY;   // still blocked, now for the reply
        } else {
            sender->ipc_result = 0;
            thread_wake(sender);
        }
        return self->ipc_result;
    }
    self->waiting_on = ep;
    queue_push(&ep->head, &ep->tail, self);
    ep->state = EP_RECEIVING;
    thread_block(BLOCK_RECV);
    return self->ipc_result;
}

static void forget_caller(struct thread *server, uintptr_t gone)
{
    if (server->caller == (struct thread *)gone)
        server->caller = NULL;
}

void ipc_cancel(struct thread *t)
{
    if (t->blocked_on == BLOCK_SEND || t->blocked_on == BLOCK_RECV) {
        struct endpoint *ep = t->waiting_on;
        queue_remove(&ep->head, &ep->tail, t);
        if (!ep->head)
            ep->state = EP_IDLE;
    } else if (t->blocked_on == BLOCK_NOTIFICATION) {
        struct notification *n = t->waiting_on;
        queue_remove(&n->head, &n->tail, t);
    } else if (t->blocked_on == BLOCK_REPLY) {
        thread_for_each(forget_caller, (uintptr_t)t);
    }
    t->waiting_on = NULL;
    t->ipc_result = -E_AGAIN;
}

void ipc_forget(struct thread *t)
{
    if (t->caller) {
        wake_with(t->caller, -E_DEAD);
        t->caller = NULL;
    }
    thread_for_each(forget_caller, (uintptr_t)t);
}

void ipc_object_destroy(unsigned type, uintptr_t obj)
{
    struct thread *t;
    if (type == MF_OBJ_ENDPOINT) {
        struct endpoint *ep = (struct endpoint *)obj;
        segment_forget_pager(ep);
        while ((t = queue_pop(&ep->head, &ep->tail)))
            wake_with(t, -E_DEAD);
        ep->state = EP_IDLE;
    } else if (type == MF_OBJ_NOTIFICATION) {
        struct notification *n = (struct notification *)obj;
        while ((t = queue_pop(&n->head, &n->tail)))
            wake_with(t, -E_DEAD);
    }
}

// ------------------------------------------------------------ notifications
// Badges are below 2^63 (mint checks), so a word is never mistaken for an error.

static int decode_notify(const struct invocation *inv, struct decoded *d, unsigned right)
{
    if (!(inv->target->cap.rights & right))
        return -E_PERM;
    d->slot[0] = inv->target;
    d->value[0] = (uintptr_t)inv->caller;
    return 0;
}

static int decode_signal(const struct invocation *inv, struct decoded *d) { return decode_notify(inv, d, MF_RIGHT_WRITE); }
static int decode_wait(const struct invocation *inv, struct decoded *d) { return decode_notify(inv, d, MF_RIGHT_READ); }

void notification_signal(struct notification *n, uint64_t bits)
{
    n->word |= bits;
    struct thread *w = queue_pop(&n->head, &n->tail);
    if (w) {
        wake_with(w, (int64_t)n->word);
        n->word = 0;
    }
}

static int64_t invoke_signal(const struct decoded *d)
{
    const struct cap *c = &d->slot[0]->cap;
    notification_signal((struct notification *)c->obj, c->badge ? c->badge : 1);
    return 0;
}

static int64_t invoke_poll(const struct decoded *d)
{
    struct notification *n = (struct notification *)d->slot[0]->cap.obj;
    uint64_t word = n->word;
    n->word = 0;
    return (int64_t)word;
}

static int64_t invoke_wait(const struct decoded *d)
{
    struct notification *n = (struct notification *)d->slot[0]->cap.obj;
    struct thread *self = (struct thread *)d->value[0];
    if (n->word)
        return invoke_poll(d);
    self->waiting_on = n;
    self->wake_tick = d->value[1] ? sched_ticks() + d->value[1] : 0;   // 0: no time limit
    queue_push(&n->head, &n->tail, self);
    thread_block(BLOCK_NOTIFICATION);
    return self->ipc_result;    // timer_tick cancels a timed-out wait: -E_AGAIN
}

static int decode_wait_timeout(const struct invocation *inv, struct decoded *d)
{
    int r = decode_notify(inv, d, MF_RIGHT_READ);
    if (r)
        return r;
    if (inv->arg[0] == 0)
        return -E_INVAL;            // use POLL
    d->value[1] = inv->arg[0];
    return 0;
}

const struct op_handler notification_ops[MAX_OPS] = {
    [MF_NOTIFICATION_SIGNAL] = {decode_signal, invoke_signal},
    [MF_NOTIFICATION_WAIT] = {decode_wait, invoke_wait},
    [MF_NOTIFICATION_POLL] = {decode_wait, invoke_poll},
    [MF_NOTIFICATION_WAIT_TIMEOUT] = {decode_wait_timeout, invoke_wait},
};
