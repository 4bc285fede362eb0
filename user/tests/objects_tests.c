// Regression tests for the object-model issue's findings (docs/testing.md):
// each failed, or panicked the kernel, before kernel objects stopped
// referring to each other by raw pointers.
#include "manifold.h"
#include "utest.h"
#include "../root/root.h"

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

// Finding 2: a binding kept a raw pointer to the CSpace of the thread that
// configured it. Delete that CNode, retype its memory as a frame, write a
// fake CNode there, call through the binding: the kernel used the forged
// capability. Now the binding holds a capability to the CNode; revoking
// the untyped it came from reaches that cap too, and the server's calls
// then find no CSpace at all.
#define SUB 526             // a small untyped: the server's CSpace comes from it
#define CS 527              // our cap to the server's CSpace
#define SVAS 528            // the server's VAS
#define CVAS 529            // the client's VAS
#define BIND 530
#define FORGED 531
#define SYSTEM_IN_CS 5      // the slot the server invokes, in its CSpace

static uint8_t estack[8192] __attribute__((aligned(16)));
static volatile long config_result = 1;

static int64_t probe_procedure(void *astack)
{
    (void)astack;
    return mf_invoke(SYSTEM_IN_CS, MF_SYSTEM_KTEST_COUNT, 0, 0, 0, 0);
}
static const mf_lrpc_procedure probe_procedures[] = {probe_procedure};

// Runs with the server's CSpace: binding 1, VAS 2, A-stack segment 3.
static void configure_server(uint64_t unused)
{
    long r = mf_invoke(1, MF_BINDING_CONFIGURE, 2, 3, 1, (long)mf_lrpc_entry);
    if (r == 0)
        r = mf_invoke(1, MF_BINDING_SET_ASTACK, 0, (long)SEG_BASE, 4096, (long)(estack + sizeof(estack)));
    config_result = r;
}

// A server domain: a VAS sharing our home, an A-stack segment with a page
// attached there, a binding not configured yet.
static bool server_domain(void)
{
    return make(MF_OBJ_VAS, 14, SVAS) && mf_vas_attach(SVAS, 0) == 0 && make(MF_OBJ_SEGMENT, 14, SEG) &&
           mf_segment_configure(SEG, SEG_BASE, 2 * MiB) == 0 && make(MF_OBJ_FRAME, 12, FRAME) &&
           mf_frame_map(FRAME, SEG, SEG_BASE, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0 &&
           mf_vas_attach_segment(SVAS, SEG, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0 && make(MF_OBJ_BINDING, 0, BIND);
}

UTEST(binding_holds_its_server_cspace_by_capability)
{
    UCHECK(cleanup());
    UCHECK(server_domain());
    // Its CSpace, from a small untyped of its own, holding what it needs
    // and a read-only System cap.
    UCHECK(make(MF_OBJ_UNTYPED, 16, SUB));
    UCHECK(mf_untyped_retype(SUB, MF_OBJ_CNODE, 4, 1, ROOT, CS) == 0);
    UCHECK(mf_cnode_copy_to(ROOT, BIND, CS, 1, MF_RIGHTS_ALL) == 0);
    UCHECK(mf_cnode_copy_to(ROOT, SVAS, CS, 2, MF_RIGHTS_ALL) == 0);
    UCHECK(mf_cnode_copy_to(ROOT, SEG, CS, 3, MF_RIGHTS_ALL) == 0);
    UCHECK(mf_cnode_copy_to(ROOT, MF_CAP_SYSTEM, CS, SYSTEM_IN_CS, MF_RIGHT_READ) == 0);
    mf_lrpc_export(probe_procedures, 1);
    config_result = 1;
    UCHECK(make(MF_OBJ_THREAD, 0, T1));
    UCHECK(mf_thread_start_cspace(T1, CS, configure_server, stack1, sizeof(stack1), 0, NULL) == 0);
    UWAIT(config_result != 1, 200);
    UCHECK(config_result == 0);
    // A client calls: the procedure runs with the server's CSpace.
    struct mf_lrpc_client client;
    UCHECK(make(MF_OBJ_VAS, 14, CVAS) && mf_vas_attach(CVAS, 0) == 0);
    UCHECK(mf_lrpc_bind(&client, BIND, CVAS) == 0);
    UCHECK(mf_vas_switch(CVAS) == 0);
    long legit = mf_lrpc_call(BIND, 0, 0);
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(legit > 0);
    // Everything of ours that names the CNode goes, and its memory is
    // retyped as a frame that we fill with a fake CNode whose slot 5 is a
    // System cap with every right.
    UCHECK(mf_cnode_delete(ROOT, T1) == 0 && mf_cnode_delete(ROOT, CS) == 0);
    UCHECK(mf_cnode_revoke(ROOT, SUB) == 0);
    UCHECK(mf_untyped_retype(SUB, MF_OBJ_FRAME, 12, 1, ROOT, FORGED) == 0);
    UCHECK(mf_frame_map(FORGED, SEG, SEG_BASE + 0x10000, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_vas_switch(CVAS) == 0);
    volatile uint64_t *fake = (volatile uint64_t *)(SEG_BASE + 0x10000);
    fake[0] = 0x434e4f44ull | 4ull << 32;                               // header: magic, 16 slots
    fake[SYSTEM_IN_CS * 8] = 0xffff800000001000ull;                      // obj
    fake[SYSTEM_IN_CS * 8 + 1] = MF_OBJ_SYSTEM | MF_RIGHTS_ALL << 8;     // type, rights
    long forged = mf_lrpc_call(BIND, 0, 0);
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(forged == -E_BADCAP);
    UCHECK(cleanup());
    return NULL;
}

// MF_BINDING_CONFIGURE names the server's CSpace by argument (the high
// half of the third): a checkpointer restoring a server configures its
// binding without running a thread in the server's CSpace, and without
// giving its own. The CNode cap is checked as every argument cap is.
static uint64_t probe_wanted(void) { return (uint64_t)mf_ktest_count(MF_CAP_SYSTEM); }

UTEST(binding_takes_its_server_cspace_by_argument)
{
    UCHECK(cleanup());
    UCHECK(server_domain());
    // The server's CSpace: a read-only System cap in slot 5, where ours
    // holds the boot images' CNode (the probe's System call fails there).
    UCHECK(make(MF_OBJ_UNTYPED, 16, SUB));
    UCHECK(mf_untyped_retype(SUB, MF_OBJ_CNODE, 4, 1, ROOT, CS) == 0);
    UCHECK(mf_cnode_copy_to(ROOT, MF_CAP_SYSTEM, CS, SYSTEM_IN_CS, MF_RIGHT_READ) == 0);
    mf_lrpc_export(probe_procedures, 1);
    void (*entry)(void) = mf_lrpc_entry;
    // Refused, in the order of the checks, and nothing configured: not a
    // CNode, an empty slot, a CNode cap without WRITE; then the argument
    // caps before it (VAS, segment) come first.
    UCHECK(mf_binding_configure_cspace(BIND, SVAS, SEG, 1, entry, SVAS) == -E_TYPE);
    UCHECK(mf_binding_configure_cspace(BIND, SVAS, SEG, 1, entry, FORGED) == -E_BADCAP);
    UCHECK(mf_cnode_copy(ROOT, CS, FORGED, MF_RIGHT_READ) == 0);
    UCHECK(mf_binding_configure_cspace(BIND, SVAS, SEG, 1, entry, FORGED) == -E_PERM);
    UCHECK(mf_binding_configure_cspace(BIND, FORGED, SEG, 1, entry, CS) == -E_TYPE);
    UCHECK(mf_binding_configure_cspace(BIND, SVAS, SEG, 0, entry, CS) == -E_RANGE);
    UCHECK(mf_invoke(BIND, MF_BINDING_CONFIGURE, SVAS, SEG, (long)MF_BINDING_PROCEDURES(1, 1ul << 20),
                     (long)entry) == -E_BADCAP);       // past our CSpace
    UCHECK(mf_binding_astack(BIND, 0) == -E_INVAL);     // still not configured
    // Configured by us, for a CSpace we do not run in.
    UCHECK(mf_binding_configure_cspace(BIND, SVAS, SEG, 1, entry, CS) == 0);
    UCHECK(mf_binding_configure_cspace(BIND, SVAS, SEG, 1, entry, CS) == -E_BUSY);
    UCHECK(mf_binding_set_astack(BIND, 0, SEG_BASE, 4096, estack + sizeof(estack)) == 0);
    struct mf_lrpc_client client;
    UCHECK(make(MF_OBJ_VAS, 14, CVAS) && mf_vas_attach(CVAS, 0) == 0);
    UCHECK(mf_lrpc_bind(&client, BIND, CVAS) == 0);
    UCHECK(mf_vas_switch(CVAS) == 0);
    long in_cs = mf_lrpc_call(BIND, 0, 0);
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(in_cs > 0 && (uint64_t)in_cs == probe_wanted());
    // The binding holds its own cap: ours can go (the read-only copy
    // too), and calls still run in that CSpace.
    UCHECK(mf_cnode_delete(ROOT, CS) == 0 && mf_cnode_delete(ROOT, FORGED) == 0);
    UCHECK(mf_vas_switch(CVAS) == 0);
    in_cs = mf_lrpc_call(BIND, 0, 0);
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK((uint64_t)in_cs == probe_wanted());
    // The old way (0: our own CSpace) is unchanged: slot 5 is no System cap here.
    UCHECK(mf_cnode_delete(ROOT, BIND) == 0 && make(MF_OBJ_BINDING, 0, BIND));
    UCHECK(mf_binding_configure(BIND, SVAS, SEG, 1, entry) == 0);
    UCHECK(mf_binding_set_astack(BIND, 0, SEG_BASE, 4096, estack + sizeof(estack)) == 0);
    UCHECK(mf_vas_switch(CVAS) == 0);
    long in_ours = mf_lrpc_call(BIND, 0, 0);
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(in_ours < 0);
    UCHECK(cleanup());
    return NULL;
}

// MF_CNODE_DESCRIBE of a binding (checkpointers, docs/checkpoint.md): the
// objects by name, what CONFIGURE and SET_ASTACK gave it, the A-stacks a
// call holds; only through a cap with READ; nothing before CONFIGURE.
static volatile int spin_inside, spin_release;
static volatile long spin_result;
static uint8_t spin_stack[8192] __attribute__((aligned(16)));
static uint8_t estack2[4096] __attribute__((aligned(16)));

static int64_t spin_procedure(void *astack)
{
    (void)astack;
    spin_inside = 1;
    while (!spin_release)
        __asm__ volatile("" ::: "memory");
    return 7;
}
static const mf_lrpc_procedure describe_procedures[] = {probe_procedure, spin_procedure};

static void spin_caller(uint64_t unused)
{
    (void)unused;
    spin_result = mf_vas_switch(CVAS) == 0 ? mf_lrpc_call(BIND, 1, 2) : -1;
    mf_vas_switch(0);
}

UTEST(describe_shows_a_binding_through_read)
{
    UCHECK(cleanup());
    UCHECK(make(MF_OBJ_VAS, 14, SVAS) && mf_vas_attach(SVAS, 0) == 0);
    UCHECK(make(MF_OBJ_SEGMENT, 14, SEG) && mf_segment_configure(SEG, SEG_BASE, 2 * MiB) == 0);
    UCHECK(make(MF_OBJ_FRAME, 12, FRAME) && mf_frame_map(FRAME, SEG, SEG_BASE, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_vas_attach_segment(SVAS, SEG, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(make(MF_OBJ_BINDING, 0, BIND) && make(MF_OBJ_UNTYPED, 16, SUB));
    UCHECK(mf_untyped_retype(SUB, MF_OBJ_CNODE, 4, 1, ROOT, CS) == 0);
    static struct mf_cap_info b, other;
    UCHECK(mf_cnode_describe(ROOT, BIND, &b) == 0);
    UCHECK(b.type == MF_OBJ_BINDING && b.object && b.binding.procedures == 0 && b.binding.server == 0);
    mf_lrpc_export(describe_procedures, 2);
    void (*entry)(void) = mf_lrpc_entry;
    UCHECK(mf_binding_configure_cspace(BIND, SVAS, SEG, 2, entry, CS) == 0);
    UCHECK(mf_binding_set_astack(BIND, 0, SEG_BASE, 1024, estack + sizeof(estack)) == 0);
    UCHECK(mf_binding_set_astack(BIND, 2, SEG_BASE + 2048, 512, estack2 + sizeof(estack2)) == 0);
    UCHECK(mf_cnode_describe(ROOT, BIND, &b) == 0);
    UCHECK(b.binding.procedures == 2 && b.binding.entry == (uint64_t)(uintptr_t)entry);
    UCHECK(mf_cnode_describe(ROOT, SVAS, &other) == 0 && b.binding.server == other.object);
    UCHECK(mf_cnode_describe(ROOT, SEG, &other) == 0 && b.binding.astacks == other.object);
    UCHECK(mf_cnode_describe(ROOT, CS, &other) == 0 && b.binding.cspace == other.object);
    UCHECK(b.binding.set == 0x5 && b.binding.busy == 0);
    UCHECK(b.binding.astack[0].va == SEG_BASE && b.binding.astack[0].size == 1024 &&
           b.binding.astack[0].estack_top == (uint64_t)(uintptr_t)(estack + sizeof(estack)));
    UCHECK(b.binding.astack[2].va == SEG_BASE + 2048 && b.binding.astack[2].size == 512 &&
           b.binding.astack[2].estack_top == (uint64_t)(uintptr_t)(estack2 + sizeof(estack2)));
    UCHECK(b.binding.astack[1].va == 0 && b.binding.astack[1].size == 0);
    // Without READ: the cap and the name, no state.
    UCHECK(mf_cnode_copy(ROOT, BIND, FORGED, MF_RIGHT_WRITE) == 0);
    UCHECK(mf_cnode_describe(ROOT, FORGED, &other) == 0);
    UCHECK(other.object == b.object && other.rights == MF_RIGHT_WRITE && other.binding.procedures == 0 &&
           other.binding.server == 0 && other.binding.set == 0);
    // A call in progress holds its A-stack (2): busy while inside, free after.
    struct mf_lrpc_client client;
    UCHECK(make(MF_OBJ_VAS, 14, CVAS) && mf_vas_attach(CVAS, 0) == 0);
    UCHECK(mf_lrpc_bind(&client, BIND, CVAS) == 0);
    spin_inside = spin_release = 0;
    spin_result = -1;
    UCHECK(make(MF_OBJ_THREAD, 0, T1));
    UCHECK(mf_thread_start(T1, spin_caller, spin_stack, sizeof(spin_stack), 0) == 0);
    UWAIT(spin_inside, 200);
    UCHECK(mf_cnode_describe(ROOT, BIND, &b) == 0);
    spin_release = 1;
    UWAIT(spin_result != -1, 200);
    UCHECK(spin_inside && b.binding.busy == 0x4);
    UCHECK(spin_result == 7);
    UCHECK(mf_cnode_describe(ROOT, BIND, &b) == 0 && b.binding.busy == 0);
    UCHECK(cleanup());
    return NULL;
}

static unsigned thread_count(void)
{
    struct mf_thread_info ti;
    unsigned n = 0;
    while (mf_thread_info(n, &ti) == 0)
        n++;
    return n;
}

// Finding 4: programs whose parent ended were never reaped; each kept one
// of the kernel's address-space slots and its memory, and after about 62
// of them nothing could be spawned until reboot. Now a program is built by
// its parent from the parent's untyped (user/lib/loader.c): a probe loads
// three sleeping children from the untyped we gave it and exits; revoking
// that untyped takes the children too, every round, and all of it can be
// retyped again afterwards.
UTEST(children_of_an_ended_program_are_reclaimed)
{
    UCHECK(cleanup());
    unsigned before = thread_count();
    for (int round = 0; round < 10; round++) {
        struct mf_exit_status st;
        long h = spawn_with_resources("probe", 2 | 3 << 8, UT, 3996);
        if (h < 0)
            printf("# round %d: spawn: %s\n", round, mf_strerror(h));
        UCHECK(h > 0 && mf_wait(h, &st) == 0);
        UCHECK(st.how == EXIT_NORMAL && st.code == 0);
        UCHECK(thread_count() == before + 3);       // its children sleep on
        long r;
        while ((r = mf_cnode_revoke(ROOT, UT)) == -E_AGAIN)
            ;
        UCHECK(r == 0);
        UCHECK(thread_count() == before);
    }
    UCHECK(mf_untyped_retype(UT, MF_OBJ_UNTYPED, 23, 1, ROOT, FRAME) == 0);   // all 8 MiB free again
    UCHECK(cleanup());
    return NULL;
}

// Item 5 of the object-model issue: a more important thread woken on this
// CPU runs as the waker leaves the kernel, not at the end of its slice.
// L (priority 5) and H (priority 9) are fixed to one CPU; H waits, L
// signals and looks at once whether H has run.
#define T_LOW 532
#define T_HIGH 533
#define N_WAKE 534
#define N_DONE 535
static uint8_t stack2[8192] __attribute__((aligned(16)));
static volatile long high_ran, seen_by_low = -1;

static void high_waiter(uint64_t unused)
{
    mf_notification_wait(N_WAKE);
    high_ran = 1;
}

static void low_signaller(uint64_t unused)
{
    mf_notification_signal(N_WAKE);
    seen_by_low = high_ran;          // no system call in between
    mf_notification_signal(N_DONE);
}

UTEST(woken_higher_priority_thread_runs_at_once)
{
    UCHECK(cleanup());
    unsigned cpu = 0;
    high_ran = 0;
    seen_by_low = -1;
    UCHECK(make(MF_OBJ_NOTIFICATION, 0, N_WAKE) && make(MF_OBJ_NOTIFICATION, 0, N_DONE));
    UCHECK(make(MF_OBJ_THREAD, 0, T_HIGH) && make(MF_OBJ_THREAD, 0, T_LOW));
    UCHECK(mf_thread_set_sched(T_HIGH, MF_SCHED_FIXED, cpu) == 0 && mf_thread_set_priority(T_HIGH, 9) == 0);
    UCHECK(mf_thread_set_sched(T_LOW, MF_SCHED_FIXED, cpu) == 0 && mf_thread_set_priority(T_LOW, 5) == 0);
    UCHECK(mf_thread_start(T_HIGH, high_waiter, stack1, sizeof(stack1), 0) == 0);
    mf_sleep(2);        // H runs and blocks in its wait
    UCHECK(mf_thread_start(T_LOW, low_signaller, stack2, sizeof(stack2), 0) == 0);
    UCHECK(mf_notification_wait_timeout(N_DONE, 500) >= 0);
    UCHECK(high_ran == 1);
    UCHECK(seen_by_low == 1);
    UCHECK(cleanup());
    return NULL;
}

// A VAS object reaches the threads that refer to it through its own list
// (kernel/vas_ref.h), not by walking every thread: destroying it while a
// thread runs inside sends that thread home, where it runs on.
static volatile uint64_t spins;
static volatile int stop_spinning;

static void spin_in_vas(uint64_t vas)
{
    if (mf_vas_switch((long)vas) != 0)
        return;
    while (!stop_spinning)
        spins++;
}

UTEST(destroyed_vas_sends_its_threads_home)
{
    UCHECK(cleanup());
    spins = 0;
    stop_spinning = 0;
    UCHECK(make(MF_OBJ_VAS, 14, VAS) && mf_vas_attach(VAS, 0) == 0);
    UCHECK(make(MF_OBJ_THREAD, 0, T1));
    UCHECK(mf_thread_start(T1, spin_in_vas, stack1, sizeof(stack1), VAS) == 0);
    UWAIT(spins > 0, 200);
    UCHECK(spins > 0);
    UCHECK(mf_cnode_delete(ROOT, VAS) == 0);
    uint64_t after_delete = spins;
    UWAIT(spins > after_delete + 1000, 200);
    UCHECK(spins > after_delete + 1000);        // at home now, still running
    stop_spinning = 1;
    UCHECK(cleanup());
    return NULL;
}

// Found by the fuzzer: a thread suspended from another CPU between marking
// itself blocked and queueing itself on a notification stayed queued while
// inactive, and resuming it tripped the run queue's assertion (or, had it
// been destroyed, left freed memory on the queue). The stopper now waits
// for it to leave its CPU and takes it off the queue (thread_deactivate).
#define WAITER 536
static volatile uint64_t waits;

static void timed_waiter(uint64_t n)
{
    for (;;) {
        mf_notification_wait_timeout((long)n, 1);
        waits++;
    }
}

UTEST(suspend_and_resume_during_notification_waits)
{
    UCHECK(cleanup());
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0);
    if (si.cpus < 2)
        return "SKIP one CPU: no suspend from afar";
    waits = 0;
    UCHECK(make(MF_OBJ_THREAD, 0, WAITER) && make(MF_OBJ_NOTIFICATION, 0, N_WAKE));
    UCHECK(mf_thread_set_sched(WAITER, MF_SCHED_FIXED, (unsigned)(mf_cpu_id() + 1) % si.cpus) == 0);
    UCHECK(mf_thread_start(WAITER, timed_waiter, stack1, sizeof(stack1), N_WAKE) == 0);
    for (int i = 0; i < 20000; i++) {
        UCHECK(mf_thread_suspend(WAITER) == 0);
        UCHECK(mf_thread_resume(WAITER) == 0);
        if (i % 16 == 0)
            mf_notification_signal(N_WAKE);
    }
    UCHECK(waits > 0);
    UCHECK(cleanup());
    return NULL;
}

// Found by the fuzzer: a timed notification wait that runs out makes the
// waiter runnable while it is still on the notification's queue, and the
// two queues shared one link (thread->next): threads fell off run queues.
// user/programs/fuzzrepro.c 3 runs waiters and yielding threads on one CPU
// for 1000 ticks and exits 4 when one made no progress for 100.
UTEST(timed_out_waiters_keep_run_queues_whole)
{
    UCHECK(cleanup());
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0);
    if (si.cpus < 2)
        return "SKIP one CPU: the reproduction fixes its threads to CPU 1";
    struct mf_exit_status st;
    long tid = spawn_with_resources("fuzzrepro", 3, UT, 3995);
    UCHECK(tid > 0 && mf_wait(tid, &st) == 0);
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    UCHECK(st.how == EXIT_NORMAL && st.code == 0);
    return NULL;
}

// ------------------------------------------- a thread's whole user context
// MF_THREAD_READ_CONTEXT / WRITE_CONTEXT, what a checkpointer needs: a
// thread made and given its registers reads back that pc and sp (in user
// code: 0); every register and the status flags written arrive exactly in
// the thread (mf_test_dump_registers stores them as its first
// instructions); a thread suspended while blocked in a receive says it
// is inside a system call (1); and the refusals.
#define CX_THREAD 540
#define CX_RO 541
#define CX_EXIT 542
#define CX_EP 543

void mf_test_dump_registers(void);      // user/lib/arch/*/regcheck.S
static volatile uint64_t cx_dump[32];
static volatile bool cx_dumped;
static uint8_t cx_stack[8192] __attribute__((aligned(16)));

void mf_test_registers_dumped(const uint64_t *regs);
void mf_test_registers_dumped(const uint64_t *regs)
{
    for (unsigned i = 0; i < 32; i++)
        cx_dump[i] = regs[i];
    cx_dumped = true;
    mf_exit(0);
}

static volatile long cx_received = 1;
static volatile uint64_t cx_word;

static void cx_receiver(uint64_t ep)
{
    struct mf_msg m = {0};
    cx_received = mf_recv((long)ep, &m);
    cx_word = m.mr[0];
}

static void cx_caller(uint64_t ep)
{
    struct mf_msg m = {.info = MF_INFO(1, 1), .mr = {5}};
    cx_received = mf_call((long)ep, &m);
}

#if defined(__x86_64__)
#define CX_NUMBER 0                 // rax
#define CX_ARG0 5                   // rdi
#define CX_INSN_SIZE 2
#define CX_IS_CALL(p) ((p)[0] == 0x0f && (p)[1] == 0x05)      // syscall
#define CX_USED 15
#define CX_STATUS 0xcd5ul
#define CX_RESUMED 0xed7ul          // IF, bit 1 and the status flags
#else
#define CX_NUMBER 8                 // x8
#define CX_ARG0 0                   // x0
#define CX_INSN_SIZE 4
#define CX_IS_CALL(p) (*(const uint32_t *)(p) == 0xd4000001u)  // svc #0
#define CX_USED 31
#define CX_STATUS 0xf0000000ul
#define CX_RESUMED 0xf0000000ul     // NZCV
#endif

static volatile uint64_t cx_spins;

static void cx_spin(uint64_t unused)
{
    (void)unused;
    for (;;)
        cx_spins++;
}

UTEST(thread_context_is_read_and_written_whole)
{
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    UCHECK(mf_untyped_retype(UT, MF_OBJ_THREAD, 0, 1, ROOT, CX_THREAD) == 0 &&
           mf_untyped_retype(UT, MF_OBJ_NOTIFICATION, 0, 1, ROOT, CX_EXIT) == 0 &&
           mf_untyped_retype(UT, MF_OBJ_ENDPOINT, 0, 1, ROOT, CX_EP) == 0 &&
           mf_cnode_copy(ROOT, CX_THREAD, CX_RO, MF_RIGHT_READ) == 0);
    struct mf_regs r;
    UCHECK(mf_thread_read_context(CX_THREAD, &r) == -E_BUSY);          // no context yet
    UCHECK(mf_thread_configure(CX_THREAD, ROOT, NULL) == 0 && mf_thread_bind_exit(CX_THREAD, CX_EXIT) == 0);
    uint64_t top = (uint64_t)(uintptr_t)(cx_stack + sizeof(cx_stack));
    UCHECK(mf_thread_write_regs(CX_THREAD, (uint64_t)(uintptr_t)cx_spin, top - 64, 7) == 0);
    UCHECK(mf_thread_read_context(CX_THREAD, &r) == 0);                 // in user code
    UCHECK(r.pc == (uint64_t)(uintptr_t)cx_spin && r.sp <= top - 64 && r.sp >= top - 80);   // (x86_64: a return slot below)
    // The refusals: rights, pc and sp outside user space, bad buffers, ourselves.
    UCHECK(mf_thread_write_context(CX_RO, &r) == -E_PERM);
    UCHECK(mf_thread_read_context(CX_THREAD, (struct mf_regs *)0xffff800000000000ul) == -E_FAULT);
    UCHECK(mf_thread_write_context(CX_THREAD, (const struct mf_regs *)16) == -E_FAULT);
    struct mf_regs bad = r;
    bad.pc = 0x800000000000ul;
    UCHECK(mf_thread_write_context(CX_THREAD, &bad) == -E_RANGE);
    bad = r;
    bad.sp = 0xffff800000000000ul;
    UCHECK(mf_thread_write_context(CX_THREAD, &bad) == -E_RANGE);
    // Every register a pattern, every flag bit set: the thread sees the
    // patterns and only the status flags.
    for (unsigned i = 0; i < MF_CONTEXT_REGS; i++)
        r.regs[i] = 0x5a00000000000000ul | (uint64_t)i << 32 | (i * 0x01010101u);
    r.flags = ~0ul;
    r.pc = (uint64_t)(uintptr_t)mf_test_dump_registers;     // not where WRITE_REGS left it
    r.sp = top - 512;
    UCHECK(mf_thread_write_context(CX_THREAD, &r) == 0);
    struct mf_regs back;
    UCHECK(mf_thread_read_context(CX_THREAD, &back) == 0 && back.sp == r.sp && back.flags == CX_STATUS);
    cx_dumped = false;
    UCHECK(mf_thread_resume(CX_THREAD) == 0);
    UCHECK(mf_notification_wait_timeout(CX_EXIT, 500) > 0 && cx_dumped);
    for (unsigned i = 0; i < CX_USED; i++)
        UCHECK(cx_dump[i] == r.regs[i]);
    UCHECK(cx_dump[31] == CX_RESUMED);      // exactly: no privileged or trace bit came through
    // A thread stopped while it runs user code: READ says 0, every time
    // (on aarch64 an interrupt's frame once kept an older syndrome).
    UCHECK(mf_thread_start(CX_THREAD, cx_spin, cx_stack, sizeof(cx_stack), 0) == 0);
    for (int k = 0; k < 10; k++) {
        uint64_t before = cx_spins;
        for (long end = mf_time() + 100; cx_spins == before && mf_time() < end;)
            mf_yield();
        UCHECK(mf_thread_suspend(CX_THREAD) == 0);
        UCHECK(mf_thread_read_context(CX_THREAD, &back) == 0);
        UCHECK(mf_thread_resume(CX_THREAD) == 0);
    }
    UCHECK(mf_thread_suspend(CX_THREAD) == 0);
    // A thread stopped while blocked in a receive makes it again when
    // resumed (kernel/syscall.c, "Restart"): READ shows the context that
    // makes the call (0; pc on the instruction, number and endpoint in
    // their registers), and once resumed it receives what is sent next.
    cx_received = 1;
    UCHECK(mf_thread_start(CX_THREAD, cx_receiver, cx_stack, sizeof(cx_stack), CX_EP) == 0);
    bool at_call = false;
    for (int tries = 0; tries < 50 && !at_call; tries++) {
        mf_sleep(2);                    // until it has reached its receive
        UCHECK(mf_thread_suspend(CX_THREAD) == 0);
        long rc = mf_thread_read_context(CX_THREAD, &back);
        UCHECK(rc == 0 || rc == 2);
        at_call = rc == 2 && CX_IS_CALL((const uint8_t *)(uintptr_t)back.pc) && back.regs[CX_NUMBER] == SYS_RECV &&
                  back.regs[CX_ARG0] == CX_EP;
        if (!at_call)
            UCHECK(mf_thread_resume(CX_THREAD) == 0);
    }
    UCHECK(at_call);
    UCHECK(mf_thread_resume(CX_THREAD) == 0);
    mf_sleep(2);
    UCHECK(cx_received == 1);           // not -E_AGAIN: it waits again
    struct mf_msg m = {.info = MF_INFO(1, 1), .mr = {0x5eed}};
    UCHECK(mf_send(CX_EP, &m) == 0);
    for (long end = mf_time() + 100; cx_received == 1 && mf_time() < end;)
        mf_yield();
    UCHECK(cx_received == 0 && cx_word == 0x5eed);
    // A supervisor may end such a call instead: mf_thread_abort_call moves
    // the thread past it with the result it chooses.
    UCHECK(mf_thread_suspend(CX_THREAD) == 0);
    cx_received = 1;
    UCHECK(mf_thread_start(CX_THREAD, cx_receiver, cx_stack, sizeof(cx_stack), CX_EP) == 0);
    long aborted = 0;
    for (int tries = 0; tries < 50 && aborted != 1; tries++) {
        mf_sleep(2);
        UCHECK(mf_thread_suspend(CX_THREAD) == 0);
        aborted = mf_thread_abort_call(CX_THREAD, -E_DEAD);
        UCHECK(aborted == 0 || aborted == 1);
        UCHECK(mf_thread_resume(CX_THREAD) == 0);
    }
    UCHECK(aborted == 1);
    for (long end = mf_time() + 100; cx_received == 1 && mf_time() < end;)
        mf_yield();
    UCHECK(cx_received == -E_DEAD);
    // A call waiting for its reply is not made again (its message was
    // taken): READ says it is inside the call (1), and it returns -E_AGAIN.
    UCHECK(mf_thread_suspend(CX_THREAD) == 0);
    cx_received = 1;
    UCHECK(mf_thread_start(CX_THREAD, cx_caller, cx_stack, sizeof(cx_stack), CX_EP) == 0);
    UCHECK(mf_recv(CX_EP, &m) == 0 && m.mr[0] == 5);
    mf_sleep(2);
    UCHECK(mf_thread_suspend(CX_THREAD) == 0);
    UCHECK(mf_thread_read_context(CX_THREAD, &back) == 1);
    UCHECK(mf_thread_resume(CX_THREAD) == 0);
    for (long end = mf_time() + 100; cx_received == 1 && mf_time() < end;)
        mf_yield();
    UCHECK(cx_received == -E_AGAIN);
    UCHECK(mf_cnode_revoke(ROOT, UT) == 0);
    return NULL;
}
