// Sharing a pointer-rich structure without marshalling (the seed's SAMTools
// case). A producer builds a binary search tree inside a segment; then
//
//   shared      a consumer VAS that has the segment attached (read-only) is
//               entered with vas_switch and the tree is walked in place;
//   marshalled  the tree is serialised in order, two (key, value) pairs per
//               IPC call, to a consumer thread in another VAS that rebuilds
//               it in its own segment and walks it there.
//
// Both consumers compute the same checksum (an in-order fold and 256
// lookups), which must equal the producer's. Reported: cycles per transfer
// plus walk, n = 100 each.
#include "manifold.h"
#include "root.h"

#define ROOT MF_CAP_SELF_CNODE
#define UT_OBJECTS (MF_CAP_UNTYPED_BASE + 4)
#define UT_FRAMES (MF_CAP_UNTYPED_BASE + 6)
#define S_VAS_P 3200
#define S_VAS_C 3201
#define S_VAS_M 3202
#define S_SEG 3203
#define S_SEG_M 3204
#define S_FRAME 3205
#define S_FRAME_M 3206
#define S_THREAD 3207
#define S_EP 3208

#define WINDOW 0x80000000ul
#define NODES 2048
#define RUNS 100
#define LABEL_INSERT 1
#define LABEL_RESET 2
#define LABEL_CHECKSUM 3

struct node {
    uint64_t key, value;
    struct node *left, *right;
};

// The tree's heap: the start of the window, whichever segment is there.
struct heap {
    uint64_t used;
    struct node *root;
    struct node nodes[NODES];
};
static struct heap *const heap = (struct heap *)WINDOW;

static uint64_t samples[RUNS];
static uint8_t consumer_stack[8192] __attribute__((aligned(16)));

static void insert(uint64_t key, uint64_t value)
{
    struct node *n = &heap->nodes[heap->used++];
    n->key = key;
    n->value = value;
    n->left = n->right = NULL;
    struct node **p = &heap->root;
    while (*p)
        p = key < (*p)->key ? &(*p)->left : &(*p)->right;
    *p = n;
}

static uint64_t fold(const struct node *n, uint64_t acc)
{
    // In order, iteratively deep trees would need a stack; random keys keep
    // the depth near 2 log n, so recursion is fine.
    if (!n)
        return acc;
    acc = fold(n->left, acc);
    acc = acc * 1000003 + n->key * 31 + n->value;
    return fold(n->right, acc);
}

static uint64_t lookup(uint64_t key)
{
    for (const struct node *n = heap->root; n; n = key < n->key ? n->left : n->right)
        if (n->key == key)
            return n->value;
    return 0;
}

// The checksum every consumer computes.
static uint64_t checksum(void)
{
    uint64_t acc = fold(heap->root, 17);
    uint64_t probe = 12345;
    for (int i = 0; i < 256; i++) {
        probe = probe * 6364136223846793005ull + 1442695040888963407ull;
        acc ^= lookup(heap->nodes[probe % NODES].key) + (uint64_t)i;
    }
    return acc;
}

static uint64_t producer_keys(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

static void consumer(uint64_t ep)
{
    struct mf_msg m = {0};
    mf_recv((long)ep, &m);
    for (;;) {
        switch (MF_INFO_LABEL(m.info)) {
        case LABEL_RESET:
            heap->used = 0;
            heap->root = NULL;
            m.info = 0;
            break;
        case LABEL_INSERT:
            insert(m.mr[0], m.mr[1]);
            insert(m.mr[2], m.mr[3]);
            m.info = 0;
            break;
        case LABEL_CHECKSUM:
            m.mr[0] = checksum();
            m.info = MF_INFO(0, 1);
            break;
        }
        mf_reply_recv((long)ep, &m);
    }
}

static bool segment_with_frame(long seg, long frame)
{
    return mf_untyped_retype(UT_OBJECTS, MF_OBJ_SEGMENT, 13, 1, ROOT, seg) == 0 &&
           mf_segment_configure(seg, WINDOW, 1ul << 30) == 0 &&
           mf_untyped_retype(UT_FRAMES, MF_OBJ_FRAME, 21, 1, ROOT, frame) == 0 &&
           mf_frame_map(frame, seg, WINDOW, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0;
}

static bool vas_with(long vas, long seg, unsigned rights)
{
    return mf_untyped_retype(UT_OBJECTS, MF_OBJ_VAS, 14, 1, ROOT, vas) == 0 && mf_vas_attach(vas, 0) == 0 &&
           mf_vas_attach_segment(vas, seg, rights) == 0;
}

static void report(const char *name, bool verified)
{
    mf_bench_report(name, "cycles", samples, RUNS, verified ? "\"verified\":true" : "\"verified\":false");
}

// Returns true when both ways produced the producer's checksum.
bool run_pointer_sharing(bool print)
{
    const unsigned rw = MF_RIGHT_READ | MF_RIGHT_WRITE;
    bool ok = segment_with_frame(S_SEG, S_FRAME) && segment_with_frame(S_SEG_M, S_FRAME_M) &&
              vas_with(S_VAS_P, S_SEG, rw) && vas_with(S_VAS_C, S_SEG, MF_RIGHT_READ) &&
              vas_with(S_VAS_M, S_SEG_M, rw) &&
              mf_untyped_retype(UT_OBJECTS, MF_OBJ_THREAD, 0, 1, ROOT, S_THREAD) == 0 &&
              mf_untyped_retype(UT_OBJECTS, MF_OBJ_ENDPOINT, 0, 1, ROOT, S_EP) == 0;
    // The consumer thread lives in VAS M.
    ok = ok && mf_vas_switch(S_VAS_M) == 0;
    ok = ok && mf_thread_start(S_THREAD, consumer, consumer_stack, sizeof(consumer_stack), S_EP) == 0;
    // Produce.
    uint64_t expected = 0;
    ok = ok && mf_vas_switch(S_VAS_P) == 0;
    if (ok) {
        heap->used = 0;
        heap->root = NULL;
        uint64_t state = 0x9e3779b97f4a7c15ull;
        for (int i = 0; i < NODES; i++) {
            uint64_t k = producer_keys(&state);
            insert(k, k ^ 0x5555);
        }
        expected = checksum();
    }
    mf_vas_switch(0);
    bool shared_ok = ok, marshal_ok = ok;
    // Shared: enter the consumer VAS (read-only view) and walk in place.
    for (unsigned r = 0; r < RUNS && ok; r++) {
        uint64_t t0 = mf_arch_cycles();
        mf_vas_switch(S_VAS_C);
        uint64_t sum = checksum();
        mf_vas_switch(0);
        samples[r] = mf_arch_cycles() - t0;
        shared_ok &= sum == expected;
    }
    if (print)
        report("share.pointer_tree.shared_vas", shared_ok);
    // Marshalled: serialise in order from the producer VAS to the consumer.
    for (unsigned r = 0; r < RUNS && ok; r++) {
        uint64_t t0 = mf_arch_cycles();
        mf_vas_switch(S_VAS_P);
        struct mf_msg m = {.info = MF_INFO(LABEL_RESET, 0)};
        mf_call(S_EP, &m);
        // Nodes in allocation order rebuild the same tree shape.
        for (int i = 0; i < NODES; i += 2) {
            m = (struct mf_msg){.info = MF_INFO(LABEL_INSERT, 4),
                                .mr = {heap->nodes[i].key, heap->nodes[i].value,
                                       heap->nodes[i + 1].key, heap->nodes[i + 1].value}};
            mf_call(S_EP, &m);
        }
        m = (struct mf_msg){.info = MF_INFO(LABEL_CHECKSUM, 0)};
        mf_call(S_EP, &m);
        mf_vas_switch(0);
        samples[r] = mf_arch_cycles() - t0;
        marshal_ok &= m.mr[0] == expected;
    }
    if (print)
        report("share.pointer_tree.marshalled_ipc", marshal_ok);
    mf_vas_switch(0);
    mf_cnode_revoke(ROOT, UT_OBJECTS);
    mf_cnode_revoke(ROOT, UT_FRAMES);
    return ok && shared_ok && marshal_ok;
}
