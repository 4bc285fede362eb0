// Tutorial 10 (docs/tutorial/10-dsm.md): a small distributed shared memory
// in the manner of Li and Hudak. Two nodes, each a thread in a VAS of its
// own with a segment of its own at the same address: each node's frames are
// its local memory. One pager serves both segments and keeps the copies
// coherent, one writer or many readers per page:
//   read fault:  copy the page from its owner (made read-only first), map it read-only;
//   write fault: unmap every other copy, map (or re-protect) ours read-write.
#include "manifold.h"

#define BASE 0x80000000ul              // the shared region, in both nodes
#define PAGE 4096ul
#define PAGES 5                        // page 0: the counter; pages 1..4: the array
#define WORDS (4 * PAGE / 8)           // the array: 2048 words, half per node
#define ROUNDS 10                      // increments of the counter per node
#define RW (MF_RIGHT_READ | MF_RIGHT_WRITE)
#define DELTA 2                        // ticks a new writer keeps its page at least

enum { NONE, READ, WRITE };
struct page {
    int owner;                         // the node whose copy is current; -1: nobody has it yet
    int access[2];                     // what each node's segment maps: NONE, READ or WRITE
    long frame[2];                     // each node's own frame for the page (0: none yet)
    long granted;                      // when the owner last got it for writing (mf_time)
};
static struct page pages[PAGES];
static long vas[2], segment[2], endpoint;
static volatile uint64_t read_faults, write_faults, upgrades, transfers;
static uint64_t buffer[PAGE / 8];      // a page on its way from one node to another
static uint64_t seen_counter[2], seen_sum[2];
static uint8_t stacks[3][8192] __attribute__((aligned(16)));

// One fault of node n; false refuses it (the node is killed).
static bool serve(int n, uint64_t addr, bool write)
{
    if (addr < BASE || addr >= BASE + PAGES * PAGE)
        return false;
    struct page *p = &pages[(addr - BASE) / PAGE];
    write ? write_faults++ : read_faults++;
    if (!write && p->access[n] != NONE)
        return true;                   // it has a copy already: just retry
    if (!p->frame[n] && (p->frame[n] = mf_new(MF_OBJ_FRAME, 12)) < 0)
        return false;
    int o = p->owner;
    if (o >= 0 && o != n && p->access[n] == NONE) {
        // No copy here: fetch the owner's. It stops writing first, but not
        // before it has had the page for DELTA ticks (Mirage's window):
        // else our faults could take it back each time before it retried
        // the store it faulted on, and neither node would get anywhere.
        if (p->access[o] == WRITE) {
            long wait = p->granted + DELTA - mf_time();
            if (wait > 0)
                mf_sleep(wait);
            if (mf_frame_protect(p->frame[o], MF_RIGHT_READ) == 0)
                p->access[o] = READ;
        }
        if (mf_frame_read(p->frame[o], 0, buffer, PAGE) < 0 || mf_frame_write(p->frame[n], 0, buffer, PAGE) < 0)
            return false;
        transfers++;
    }
    if (o < 0)
        p->owner = n;                  // the first to touch it: a fresh (zeroed) frame
    if (write) {                       // a single writer: every other copy goes
        for (int m = 0; m < 2; m++)
            if (m != n && p->access[m] != NONE && mf_frame_unmap(p->frame[m]) == 0)
                p->access[m] = NONE;
        p->owner = n;
        p->granted = mf_time();
    }
    unsigned rights = write ? RW : MF_RIGHT_READ;
    long r;
    if (p->access[n] == NONE) {
        r = mf_frame_map(p->frame[n], segment[n], addr & ~(PAGE - 1), rights);
    } else {                           // a write to our read-only copy: a protection fault
        r = mf_frame_protect(p->frame[n], rights);
        upgrades++;
    }
    p->access[n] = write ? WRITE : READ;
    return r == 0;
}

// The pager: the badge says which node faulted (1 + its number).
static void pager(uint64_t unused)
{
    (void)unused;
    struct mf_msg m = {0};
    long badge = mf_recv(endpoint, &m);
    for (;;) {
        bool ok = MF_INFO_LABEL(m.info) == MF_FAULT_LABEL && (badge == 1 || badge == 2) &&
                  serve((int)badge - 1, m.mr[0], m.mr[1] & MF_ACCESS_WRITE);
        m.info = MF_INFO(ok ? 0 : MF_FAULT_KILL, 0);
        badge = mf_reply_recv(endpoint, &m);
    }
}

// A node: fills its half of the array, takes turns with the other one
// incrementing the counter, then sums all of the array.
static void node(uint64_t n)
{
    mf_vas_switch(vas[n]);
    volatile uint64_t *counter = (volatile uint64_t *)BASE;
    volatile uint64_t *array = (volatile uint64_t *)(BASE + PAGE);
    for (uint64_t i = n * WORDS / 2; i < (n + 1) * WORDS / 2; i++)
        array[i] = i + 1;
    for (int r = 0; r < ROUNDS; r++) {
        while (*counter % 2 != n)      // our turn: even for node 0, odd for node 1
            mf_yield();
        *counter = *counter + 1;
    }
    while (*counter != 2 * ROUNDS)     // both done: both halves are filled too
        mf_yield();
    uint64_t sum = 0;
    for (uint64_t i = 0; i < WORDS; i++)
        sum += array[i];
    seen_counter[n] = *counter;        // our globals: the home region is in every VAS
    seen_sum[n] = sum;
    mf_vas_switch(0);
}

int main(uint64_t arg)
{
    (void)arg;
    // 1. Per node: a VAS with our home and a segment at BASE, whose faults
    //    come to our endpoint with the badge 1 + node.
    endpoint = mf_new(MF_OBJ_ENDPOINT, 0);
    long done = mf_new(MF_OBJ_NOTIFICATION, 0);
    for (int p = 0; p < PAGES; p++)
        pages[p].owner = -1;
    for (int n = 0; n < 2; n++) {
        vas[n] = mf_new(MF_OBJ_VAS, 14);
        segment[n] = mf_new(MF_OBJ_SEGMENT, 13);
        if (done < 0 || segment[n] < 0 || mf_segment_configure(segment[n], BASE, 2ul << 20) < 0 ||
            mf_segment_set_pager(segment[n], mf_mint(endpoint, MF_RIGHT_WRITE, 1 + n)) < 0 ||
            mf_vas_attach(vas[n], 0) < 0 || mf_vas_attach_segment(vas[n], segment[n], RW) < 0)
            return 1;
    }
    // 2. The pager, then the two nodes; each node's end signals its own bit.
    long threads[3] = {mf_new(MF_OBJ_THREAD, 0), mf_new(MF_OBJ_THREAD, 0), mf_new(MF_OBJ_THREAD, 0)};
    if (threads[2] < 0 || mf_thread_start(threads[2], pager, stacks[2], sizeof(stacks[2]), 0) < 0)
        return 2;
    for (int n = 0; n < 2; n++)
        if (mf_thread_bind_exit(threads[n], mf_mint(done, MF_RIGHT_WRITE, 1u << n)) < 0 ||
            mf_thread_start(threads[n], node, stacks[n], sizeof(stacks[n]), (uint64_t)n) < 0)
            return 3;
    for (long bits = 0, w; bits != 3; bits |= w)
        if ((w = mf_notification_wait(done)) < 0)
            return 4;

    // 3. What each node saw, and what it took.
    bool ok = true;
    for (int n = 0; n < 2; n++) {
        struct mf_exit_status st = {0};
        mf_thread_exit_status(threads[n], &st);
        printf("tut_dsm: node %d saw counter %lu and array sum %lu\n", n, seen_counter[n], seen_sum[n]);
        ok &= st.how == EXIT_NORMAL && seen_counter[n] == 2 * ROUNDS && seen_sum[n] == WORDS * (WORDS + 1) / 2;
    }
    printf("tut_dsm: %lu read faults, %lu write faults (%lu to a read-only copy), %lu page transfers\n",
           read_faults, write_faults, upgrades, transfers);
    mf_slot_free(threads[2]);          // the pager's work is done
    // Every increment but the first, and each node's reading of the other
    // half (2 pages), needed a page from the other node.
    return ok && transfers >= 2 * ROUNDS - 1 + 4 && upgrades > 0 ? 0 : 5;
}
