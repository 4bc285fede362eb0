// A tour of the Manifold API, meant to be copied. Start it from the shell
// with `run example`: the shell gives it a CSpace holding
//
//   slot 1   (MF_CAP_SELF_CNODE)    its own CNode
//   slot 16  (MF_CAP_UNTYPED_BASE)  4 MiB of untyped memory
//
// and everything below is made from that memory: a server thread and an
// endpoint, an address space with a segment, and a zero-fill pager. It
// exits 0 when every step worked, else the number of the failed step.
#include "manifold.h"

#define SELF MF_CAP_SELF_CNODE
#define UNTYPED MF_CAP_UNTYPED_BASE
// Where we keep the capabilities we make.
enum { SERVER = 20, ENDPOINT, VAS, SEGMENT, PAGER_THREAD, PAGER_EP, PAGER_BADGED, FRAMES = 64 };

#define SEGMENT_BASE 0x80000000ul      // segments live above the 1 GiB home region
#define SEGMENT_SIZE (2ul << 20)

static uint8_t server_stack[8192] __attribute__((aligned(16)));
static uint8_t pager_stack[8192] __attribute__((aligned(16)));

// 1. A server: answers each call with the sum of the two words it got.
static void adder(uint64_t endpoint)
{
    struct mf_msg m = {0};
    mf_recv((long)endpoint, &m);
    for (;;) {
        m.mr[0] += m.mr[1];
        m.info = MF_INFO(0, 1);
        mf_reply_recv((long)endpoint, &m);
    }
}

#define STEP(n, what, expr)                                      \
    do {                                                         \
        if (!(expr)) {                                           \
            printf("example: step %d failed: %s\n", n, what);    \
            return n;                                            \
        }                                                        \
        printf("example: %d. %s\n", n, what);                    \
    } while (0)

int main(uint64_t arg)
{
    (void)arg;
    STEP(1, "our CSpace holds untyped memory",
         (mf_cnode_identify(SELF, UNTYPED) & 0xff) == MF_OBJ_UNTYPED);

    // Threads and IPC: retype, start, call.
    STEP(2, "retype a thread and an endpoint",
         mf_untyped_retype(UNTYPED, MF_OBJ_THREAD, 0, 1, SELF, SERVER) == 0 &&
         mf_untyped_retype(UNTYPED, MF_OBJ_ENDPOINT, 0, 1, SELF, ENDPOINT) == 0);
    STEP(3, "start the server thread",
         mf_thread_start(SERVER, adder, server_stack, sizeof(server_stack), ENDPOINT) == 0);
    struct mf_msg m = {.info = MF_INFO(0, 2), .mr = {40, 2}};
    STEP(4, "call it: 40 + 2 = 42", mf_call(ENDPOINT, &m) == 0 && m.mr[0] == 42);

    // Address spaces: a VAS with our home region and a segment, then a switch.
    STEP(5, "retype a VAS and a segment at 2 GiB",
         mf_untyped_retype(UNTYPED, MF_OBJ_VAS, 14, 1, SELF, VAS) == 0 &&
         mf_untyped_retype(UNTYPED, MF_OBJ_SEGMENT, 13, 1, SELF, SEGMENT) == 0 &&
         mf_segment_configure(SEGMENT, SEGMENT_BASE, SEGMENT_SIZE) == 0);
    STEP(6, "attach our home (code, data, stack) and the segment",
         mf_vas_attach(VAS, 0) == 0 && mf_vas_attach_segment(VAS, SEGMENT, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);

    // A pager fills the segment on demand: no frame is mapped yet.
    static struct mf_pager pager;
    pager = (struct mf_pager){.endpoint = PAGER_EP, .untyped = UNTYPED, .cnode = SELF,
                              .first_slot = FRAMES, .slot_count = 64};
    STEP(7, "start a zero-fill pager for the segment",
         mf_untyped_retype(UNTYPED, MF_OBJ_THREAD, 0, 1, SELF, PAGER_THREAD) == 0 &&
         mf_untyped_retype(UNTYPED, MF_OBJ_ENDPOINT, 0, 1, SELF, PAGER_EP) == 0 &&
         mf_pager_attach(&pager, SEGMENT, PAGER_BADGED) == 0 &&
         mf_thread_start(PAGER_THREAD, mf_pager_thread, pager_stack, sizeof(pager_stack),
                         (uint64_t)(uintptr_t)&pager) == 0);

    STEP(8, "switch into the VAS", mf_vas_switch(VAS) == 0);
    volatile uint64_t *data = (volatile uint64_t *)SEGMENT_BASE;
    uint64_t sum = 0;
    for (int page = 0; page < 16; page++) {
        data[page * 512] = (uint64_t)page;      // each first touch faults to the pager
        sum += data[page * 512];
    }
    STEP(9, "back home", mf_vas_switch(0) == 0);
    STEP(10, "16 pages written through 16 pager faults", sum == 120 && pager.faults == 16);

    // Everything we made goes with one revoke of the untyped.
    STEP(11, "revoke it all", mf_cnode_revoke(SELF, UNTYPED) == 0 &&
                              (mf_cnode_identify(SELF, SERVER) & 0xff) == MF_OBJ_NULL);
    printf("example: done\n");
    return 0;
}
