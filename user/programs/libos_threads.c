// A library OS that schedules its own threads inside its CPU slots
// (docs/exokernel.md, "CPU slots"). Its one kernel thread is bound to
// slots by a resource manager; inside each slot it runs its user-level
// threads round robin (mf_uctx_switch: no system call), one short quantum
// each, until the end-of-slot upcall; then it gives the rest of the slot
// up (MF_SLOTS_DONE) and sleeps until its next slot.
//
// arg = threads (1..8) | slots << 8: run for that many slots. The manager
// puts in our CSpace the Slots cap at LT_SLOTS and its notification at
// LT_NTFN. Exit code: 0 when every thread ran in every slot's share
// (each got at least half of an equal share), 1 if not, 2 bad arguments.
#include "manifold.h"

#define LT_SLOTS 40
#define LT_NTFN 41
#define MAX_THREADS 8
#define QUANTUM 2000        // increments between yields

static struct mf_uctx scheduler, ctx[MAX_THREADS];
static uint8_t stacks[MAX_THREADS][4096] __attribute__((aligned(16)));
static volatile uint64_t work[MAX_THREADS];
static unsigned current;
static uint64_t pending;    // upcall bits seen and not yet handled

// Back to the scheduler: the end of this thread's quantum.
static void yield(void) { mf_uctx_switch(&ctx[current], &scheduler); }

static void thread_body(uint64_t i)
{
    for (;;) {
        for (unsigned k = 0; k < QUANTUM; k++)
            work[i]++;
        yield();
    }
}

static void take_upcalls(bool wait)
{
    long bits = mf_invoke(LT_NTFN, wait ? MF_NOTIFICATION_WAIT : MF_NOTIFICATION_POLL, 0, 0, 0, 0);
    if (bits > 0)
        pending |= (uint64_t)bits;
}

int main(uint64_t arg)
{
    unsigned threads = arg & 0xff, slots = (unsigned)(arg >> 8 & 0xffff);
    if (threads < 1 || threads > MAX_THREADS || slots < 1)
        return 2;
    for (unsigned i = 0; i < threads; i++)
        mf_uctx_init(&ctx[i], stacks[i], sizeof(stacks[i]), thread_body, i);
    // Our first slot.
    while (!(pending & MF_SLOT_START))
        take_upcalls(true);
    uint64_t quanta = 0;
    for (unsigned s = 0; s < slots; s++) {
        pending = 0;
        // Round robin until told the slot ends.
        while (!(pending & MF_SLOT_END)) {
            mf_uctx_switch(&scheduler, &ctx[current]);
            current = (current + 1) % threads;
            quanta++;
            take_upcalls(false);
        }
        if (mf_slots_done(LT_SLOTS) < 0)        // back at our next slot's start
            return 1;
        take_upcalls(false);
    }
    uint64_t min = ~0ull, sum = 0;
    for (unsigned i = 0; i < threads; i++) {
        min = work[i] < min ? work[i] : min;
        sum += work[i];
    }
    printf("libos_threads: %u threads over %u slots: %lu quanta, least work %lu of %lu in all\n", threads, slots,
           (unsigned long)quanta, (unsigned long)min, (unsigned long)sum);
    return min * threads * 2 >= sum ? 0 : 1;
}
