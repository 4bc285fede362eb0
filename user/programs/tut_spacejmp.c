// Tutorial 8 (docs/tutorial/8-spacejmp.md): several address spaces, a
// segment shared between two of them with different rights, a segment
// private to one, a linked list whose pointers are valid in every VAS that
// attaches the shared segment, and SpaceJMP's segment locks.
#include "manifold.h"

#define SHARED_BASE 0x80000000ul       // 2 GiB: above the 1 GiB home region
#define PRIVATE_BASE 0xc0000000ul      // 3 GiB
#define SEG_SIZE (2ul << 20)
#define RW (MF_RIGHT_READ | MF_RIGHT_WRITE)

struct node {
    uint64_t value;
    struct node *next;                 // an address in the shared segment
};
struct heap {                          // at SHARED_BASE: the list and a bump allocator
    struct node *head;
    struct node *free;
};

static long writer, reader, reader2;   // three VASes
static long entered, release;          // notifications between main and a helper thread
static uint8_t helper_stack[8192] __attribute__((aligned(16)));

// Builds the list 1, 4, 9, ..., 64 in the shared segment (we are in `writer`).
static void build_list(void)
{
    struct heap *h = (struct heap *)SHARED_BASE;
    h->free = (struct node *)(SHARED_BASE + sizeof(*h));
    for (uint64_t i = 8; i >= 1; i--) {
        struct node *n = h->free++;
        *n = (struct node){.value = i * i, .next = h->head};
        h->head = n;
    }
}

static uint64_t sum_list(void)
{
    uint64_t sum = 0;
    for (struct node *n = ((struct heap *)SHARED_BASE)->head; n; n = n->next)
        sum += n->value;
    return sum;
}

// Helper threads. A probe enters `reader` and touches an address there.
static void probe(uint64_t how)
{
    mf_vas_switch(reader);
    if (how == 0)
        *(volatile uint64_t *)SHARED_BASE = 0;            // write to a read-only attachment
    else
        (void)*(volatile uint64_t *)PRIVATE_BASE;        // read where nothing is attached
}

// A holder enters a VAS, says so, and stays there until released.
static void hold(uint64_t vas)
{
    mf_vas_switch((long)vas);
    mf_notification_signal(entered);
    mf_notification_wait(release);
    mf_vas_switch(0);
}

static long helper_start(void (*fn)(uint64_t), uint64_t arg, long done)
{
    long t = mf_new(MF_OBJ_THREAD, 0);
    if (t < 0 || mf_thread_bind_exit(t, done) < 0 ||
        mf_thread_start(t, fn, helper_stack, sizeof(helper_stack), arg) < 0)
        return -1;
    return t;
}

static struct mf_exit_status helper_wait(long t, long done)
{
    struct mf_exit_status st = {0};
    if (t < 0)
        return st;
    mf_notification_wait(done);
    mf_thread_exit_status(t, &st);
    mf_slot_free(t);
    return st;
}

int main(uint64_t arg)
{
    (void)arg;
    // 1. Two segments, three VASes; our home (code, data, stack) in each.
    long shared = mf_new(MF_OBJ_SEGMENT, 13), private = mf_new(MF_OBJ_SEGMENT, 13);
    writer = mf_new(MF_OBJ_VAS, 15), reader = mf_new(MF_OBJ_VAS, 14), reader2 = mf_new(MF_OBJ_VAS, 14);
    entered = mf_new(MF_OBJ_NOTIFICATION, 0), release = mf_new(MF_OBJ_NOTIFICATION, 0);
    long done = mf_new(MF_OBJ_NOTIFICATION, 0);
    if (done < 0 || mf_segment_configure(shared, SHARED_BASE, SEG_SIZE) < 0 ||
        mf_segment_configure(private, PRIVATE_BASE, SEG_SIZE) < 0 ||
        mf_vas_attach(writer, 0) < 0 || mf_vas_attach(reader, 0) < 0 || mf_vas_attach(reader2, 0) < 0)
        return 1;
    // 2. shared: read-write in `writer`, read-only in the readers; private: `writer` only.
    if (mf_vas_attach_segment(writer, shared, RW) < 0 || mf_vas_attach_segment(writer, private, RW) < 0 ||
        mf_vas_attach_segment(reader, shared, MF_RIGHT_READ) < 0 ||
        mf_vas_attach_segment(reader2, shared, MF_RIGHT_READ) < 0)
        return 2;
    // 3. One frame in each: mapped once, seen in every VAS the segment is attached to.
    if (mf_frame_map(mf_new(MF_OBJ_FRAME, 12), shared, SHARED_BASE, RW) < 0 ||
        mf_frame_map(mf_new(MF_OBJ_FRAME, 12), private, PRIVATE_BASE, RW) < 0)
        return 3;

    // 4. Build the list in `writer`; walk it in `reader`: the same pointers.
    if (mf_vas_switch(writer) < 0)
        return 4;
    build_list();
    *(uint64_t *)PRIVATE_BASE = 0x5ec7e7;
    uint64_t in_writer = sum_list();
    if (mf_vas_switch(reader) < 0)
        return 4;
    uint64_t in_reader = sum_list();
    struct node *first = ((struct heap *)SHARED_BASE)->head;
    mf_vas_switch(0);
    printf("tut_spacejmp: list built in writer: sum %lu\n", in_writer);
    printf("tut_spacejmp: walked in reader: sum %lu, first node at %p\n", in_reader, (void *)first);

    // 5. What reader may not do: each probe thread is killed, we go on.
    struct mf_exit_status w = helper_wait(helper_start(probe, 0, done), done);
    struct mf_exit_status r = helper_wait(helper_start(probe, 1, done), done);
    printf("tut_spacejmp: writing in reader: %s at %#lx\n", w.how == EXIT_FAULT ? "killed" : "allowed?!", w.address);
    printf("tut_spacejmp: reading private in reader: %s at %#lx\n", r.how == EXIT_FAULT ? "killed" : "allowed?!",
           r.address);

    // 6. Locks: a thread in writer holds shared exclusively.
    long t = helper_start(hold, (uint64_t)writer, done);
    if (t < 0 || mf_notification_wait(entered) < 0)
        return 5;
    long busy = mf_vas_switch(reader);                 // needs a shared lock: refused
    long same = mf_vas_switch(writer);                 // the holder's own VAS: we may join it
    mf_vas_switch(0);
    mf_notification_signal(release);
    helper_wait(t, done);
    printf("tut_spacejmp: someone in writer: switch to reader %s, to writer %s\n", mf_strerror(busy),
           mf_strerror(same));
    // ...and readers share: a thread in reader2 does not keep us out of reader.
    t = helper_start(hold, (uint64_t)reader2, done);
    if (t < 0 || mf_notification_wait(entered) < 0)
        return 5;
    long shared_ok = mf_vas_switch(reader);
    long excluded = mf_vas_switch(writer);
    mf_vas_switch(0);
    mf_notification_signal(release);
    helper_wait(t, done);
    printf("tut_spacejmp: someone in reader2: switch to reader %s, to writer %s\n", mf_strerror(shared_ok),
           mf_strerror(excluded));
    // Nobody anywhere: writer is ours again.
    long free_again = mf_vas_switch(writer);
    uint64_t secret = *(uint64_t *)PRIVATE_BASE;
    mf_vas_switch(0);
    printf("tut_spacejmp: all left: switch to writer %s, private still holds %#lx\n", mf_strerror(free_again),
           secret);

    return in_writer == 204 && in_reader == 204 && (uintptr_t)first == SHARED_BASE + 16 + 7 * 16 &&
                   w.how == EXIT_FAULT && w.address == SHARED_BASE && r.how == EXIT_FAULT &&
                   r.address == PRIVATE_BASE && busy == -E_BUSY && same == 0 && shared_ok == 0 &&
                   excluded == -E_BUSY && free_again == 0 && secret == 0x5ec7e7
               ? 0
               : 6;
}
