// Regression tests for the object-model issue's findings (docs/testing.md):
// each failed, or panicked the kernel, before kernel objects stopped
// referring to each other by raw pointers.
#include "manifold.h"
#include "utest.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT (MF_CAP_UNTYPED_BASE + 3)
#define T1 520
#define EP 521
#define FRAME 522
#define SEG 523
#define VAS 524
#define RECV 525
#define SEG_BASE 0x80000000ul
#define MiB (1ul << 20)

static uint8_t stack1[8192] __attribute__((aligned(16)));
static volatile long results[4];

static bool make(unsigned type, unsigned bits, long slot)
{
    long r = mf_untyped_retype(UT, type, bits, 1, ROOT, slot);
    if (r)
        printf("# retype of type %u into slot %ld: %s\n", type, slot, mf_strerror(r));
    return r == 0;
}

static bool cleanup(void) { return mf_vas_switch(0) == 0 && mf_cnode_revoke(ROOT, UT) == 0; }

// Receives a frame cap, then unmaps, protects and deletes its copy.
static void frame_receiver(uint64_t ep)
{
    struct mf_msg m = {.info = MF_INFO_RECV_SLOT(RECV)};
    mf_recv((long)ep, &m);
    results[0] = (m.info & MF_INFO_CAP) ? (mf_cnode_identify(ROOT, RECV) & 0xff) : -1;
    results[1] = mf_frame_protect(RECV, MF_RIGHT_READ);
    results[2] = mf_frame_unmap(RECV);
    results[3] = mf_cnode_delete(ROOT, RECV);
    m.info = MF_INFO(0, 0);
    mf_reply_recv((long)ep, &m);
}

// Finding 1: a mapped frame cap sent through IPC arrived with the mapping
// record of the sender's cap but not its address; using the copy faulted
// in the kernel. It now arrives as cnode copy makes it: unmapped.
UTEST(ipc_transfer_of_a_mapped_frame_derives_like_copy)
{
    UCHECK(cleanup());
    UCHECK(make(MF_OBJ_THREAD, 0, T1) && make(MF_OBJ_ENDPOINT, 0, EP) && make(MF_OBJ_FRAME, 12, FRAME));
    UCHECK(make(MF_OBJ_SEGMENT, 14, SEG) && mf_segment_configure(SEG, SEG_BASE, 2 * MiB) == 0);
    UCHECK(mf_frame_map(FRAME, SEG, SEG_BASE + 8192, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_thread_start(T1, frame_receiver, stack1, sizeof(stack1), EP) == 0);
    struct mf_msg m = {.info = MF_INFO(0, 0) | MF_INFO_SEND_CAP(FRAME)};
    UCHECK(mf_call(EP, &m) == 0);
    UCHECK(results[0] == MF_OBJ_FRAME);
    UCHECK(results[1] == -E_NOENT);         // the copy maps nothing
    UCHECK(results[2] == 0 && results[3] == 0);
    // Ours still maps the frame: protect finds the mapping, unmap ends it.
    UCHECK(mf_frame_protect(FRAME, MF_RIGHT_READ) == 0);
    UCHECK(mf_frame_unmap(FRAME) == 0);
    UCHECK(mf_frame_protect(FRAME, MF_RIGHT_READ) == -E_NOENT);
    UCHECK(cleanup());
    return NULL;
}

// Receives one message and reports its length.
static void long_receiver(uint64_t ep)
{
    struct mf_msg m = {0};
    mf_recv((long)ep, &m);
    results[0] = MF_INFO_LENGTH(m.info);
    m.info = MF_INFO(0, 0);
    mf_reply_recv((long)ep, &m);
}

// Finding 5: a long message was written into the receiver's IPC buffer
// after checking only the leaf entry, so a buffer in a segment attached
// read-only was written. Now the rights of every level count: the message
// is truncated to its registers and the page is unchanged.
UTEST(ipc_long_message_honours_a_read_only_attachment)
{
    UCHECK(cleanup());
    UCHECK(make(MF_OBJ_THREAD, 0, T1) && make(MF_OBJ_ENDPOINT, 0, EP) && make(MF_OBJ_FRAME, 12, FRAME));
    UCHECK(make(MF_OBJ_SEGMENT, 14, SEG) && mf_segment_configure(SEG, SEG_BASE, 2 * MiB) == 0);
    UCHECK(mf_frame_map(FRAME, SEG, SEG_BASE, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);   // the leaf is writable
    UCHECK(make(MF_OBJ_VAS, 16, VAS) && mf_vas_attach(VAS, 0) == 0);
    UCHECK(mf_vas_attach_segment(VAS, SEG, MF_RIGHT_READ) == 0);                      // the attachment is not
    // The receiver runs in VAS with its IPC buffer in the read-only segment.
    UCHECK(mf_vas_switch(VAS) == 0);
    long r = mf_thread_start_buffer(T1, long_receiver, stack1, sizeof(stack1), EP, (void *)SEG_BASE);
    volatile uint64_t *seen = (volatile uint64_t *)SEG_BASE;
    uint64_t before = seen[0];
    UCHECK(mf_vas_switch(0) == 0 && r == 0);
    uint64_t *buf = mf_ipc_buffer();
    for (unsigned i = 0; i < MF_IPC_BUFFER_WORDS; i++)
        buf[i] = 0x5eed0000 + i;
    struct mf_msg m = {.info = MF_INFO(0, MF_MSG_MAX_WORDS), .mr = {1, 2, 3, 4}};
    UCHECK(mf_call(EP, &m) == 0);
    UCHECK(results[0] == MF_MSG_MAX_REGS);
    UCHECK(mf_vas_switch(VAS) == 0);
    uint64_t after = seen[0];
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(before == 0 && after == 0);
    UCHECK(cleanup());
    return NULL;
}
