// LRPC: the four procedures, concurrent callers on separate A-stacks,
// refusals, and a server that faults or is destroyed mid-call.
#include "manifold.h"
#include "lib/string.h"
#include "utest.h"
#include "lrpc_demo.h"
#include "../root/root.h"

static struct lrpc_demo demo;

static void fill(uint8_t *b, uint8_t seed, int64_t *sum)
{
    *sum = 0;
    for (int i = 0; i < DEMO_BIG; i++) {
        b[i] = (uint8_t)(seed + i * 7);
        *sum += b[i];
    }
}

// All four procedures, many times, with results checked.
static const char *four_procedures(struct mf_lrpc_client *c, int rounds, uint8_t seed)
{
    uint8_t in[DEMO_BIG], out[DEMO_BIG];
    int64_t sum;
    for (int r = 0; r < rounds; r++) {
        UCHECK(demo_null(c) == 0);
        UCHECK(demo_add(c, 40 + r, 2) == 42 + r);
        fill(in, (uint8_t)(seed + r), &sum);
        UCHECK(demo_bigin(c, in) == sum);
        UCHECK(demo_biginout(c, in, out) == sum);
        for (int i = 0; i < DEMO_BIG; i++)
            UCHECK(out[i] == in[DEMO_BIG - 1 - i]);
    }
    return NULL;
}

UTEST(lrpc_four_procedures)
{
    UCHECK(lrpc_demo_setup(&demo));
    UCHECK(demo.client.count == MF_LRPC_MAX_ASTACKS);
    UCHECK(mf_vas_switch(LRPC_CLIENT_VAS) == 0);
    const char *why = four_procedures(&demo.client, 100, 3);
    UCHECK(mf_vas_switch(0) == 0);
    lrpc_demo_teardown(&demo);
    return why;
}

#define WORKERS 4
#define W_THREAD 3820
static uint8_t worker_stacks[WORKERS][8192] __attribute__((aligned(16)));
static volatile long worker_done[WORKERS];
static const char *volatile worker_why[WORKERS];

static void caller(uint64_t i)
{
    worker_why[i] = four_procedures(&demo.client, 50, (uint8_t)(i * 31));
    worker_done[i] = 1;
}

UTEST(lrpc_concurrent_callers_use_separate_astacks)
{
    UCHECK(lrpc_demo_setup(&demo));
    UCHECK(mf_vas_switch(LRPC_CLIENT_VAS) == 0);   // workers start where we are
    bool started = true;
    for (int i = 0; i < WORKERS; i++) {
        worker_done[i] = 0;
        worker_why[i] = NULL;
        started &= mf_untyped_retype(LRPC_CLIENT_UT, MF_OBJ_THREAD, 0, 1, MF_CAP_SELF_CNODE, W_THREAD + i) == 0 &&
                   mf_thread_start(W_THREAD + i, caller, worker_stacks[i], sizeof(worker_stacks[i]), i) == 0;
    }
    const char *mine = four_procedures(&demo.client, 50, 99);   // and we call too
    bool all = false;
    for (int t = 0; t < 500 && !all; t++) {
        all = true;
        for (int i = 0; i < WORKERS; i++)
            all &= worker_done[i] == 1;
        if (!all)
            mf_sleep(1);
    }
    UCHECK(mf_vas_switch(0) == 0);
    lrpc_demo_teardown(&demo);
    UCHECK(started && all && !mine);
    for (int i = 0; i < WORKERS; i++)
        UCHECK(worker_why[i] == NULL);
    return NULL;
}

// ------------------------------------------------------------ several CPUs

static long cpu_count(void)
{
    struct mf_system_info si;
    return mf_system_info(&si) == 0 ? (long)si.cpus : 1;
}

static volatile long go, active, max_active;
static volatile long worker_cpu[WORKERS];

static void fixed_caller(uint64_t i)
{
    while (!go)
        __asm__ volatile("" ::: "memory");
    long cpu = mf_cpu_id();
    long now = __atomic_add_fetch(&active, 1, __ATOMIC_SEQ_CST);
    for (long m = max_active; now > m; m = max_active)
        if (__atomic_compare_exchange_n(&max_active, &m, now, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            break;
    const char *why = four_procedures(&demo.client, 50, (uint8_t)(i * 17 + 1));
    __atomic_sub_fetch(&active, 1, __ATOMIC_SEQ_CST);
    worker_cpu[i] = mf_cpu_id() == cpu ? cpu : -1;
    worker_why[i] = why;
    worker_done[i] = 1;
}

// One caller fixed to each CPU; all start together and call the four
// procedures 50 times each, on separate A-stacks, results checked.
UTEST(lrpc_from_all_cpus_at_once)
{
    long n = cpu_count() < WORKERS ? cpu_count() : WORKERS;
    UCHECK(lrpc_demo_setup(&demo));
    UCHECK(mf_vas_switch(LRPC_CLIENT_VAS) == 0);
    go = active = max_active = 0;
    bool started = true;
    for (long i = 0; i < n; i++) {
        worker_done[i] = 0;
        worker_why[i] = NULL;
        worker_cpu[i] = -2;
        started &= mf_untyped_retype(LRPC_CLIENT_UT, MF_OBJ_THREAD, 0, 1, MF_CAP_SELF_CNODE, W_THREAD + i) == 0 &&
                   mf_thread_set_sched(W_THREAD + i, MF_SCHED_FIXED, (unsigned)i) == 0 &&
                   mf_thread_start(W_THREAD + i, fixed_caller, worker_stacks[i], sizeof(worker_stacks[i]), (uint64_t)i) == 0;
    }
    go = 1;
    bool all = false;
    for (int t = 0; t < 1000 && !all; t++) {
        all = true;
        for (long i = 0; i < n; i++)
            all &= worker_done[i] == 1;
        if (!all)
            mf_sleep(1);
    }
    UCHECK(mf_vas_switch(0) == 0);
    lrpc_demo_teardown(&demo);
    UCHECK(started && all);
    for (long i = 0; i < n; i++) {
        if (worker_why[i])
            return worker_why[i];
        UCHECK(worker_cpu[i] == i);         // ran where it was fixed, throughout
    }
    UCHECK(n < 2 || max_active >= 2);       // the calls overlapped
    return NULL;
}

static volatile struct demo_astack *spin_astack;
static volatile long spin_result, spin_done, revoke_result, revoke_done;

static void spin_caller(uint64_t unused)
{
    (void)unused;
    unsigned i;
    struct demo_astack *s = mf_lrpc_acquire(&demo.client, &i);
    if (!s) {
        spin_result = -E_BUSY;
        spin_done = 1;
        return;
    }
    s->a = s->b = 0;
    spin_astack = s;
    spin_result = mf_lrpc_call(demo.client.binding, DEMO_SPIN, i);
    mf_lrpc_release(&demo.client, i);
    spin_done = 1;
}

static void destroyer(uint64_t unused)
{
    (void)unused;
    while (!spin_astack || !spin_astack->b)
        mf_yield();
    revoke_result = mf_cnode_revoke(MF_CAP_SELF_CNODE, LRPC_SERVER_UT);
    revoke_done = 1;
}

// A client thread runs server code on one CPU while a thread on another CPU
// destroys the server: the call returns -E_DEAD, the client thread lives.
UTEST_FAULTS(lrpc_server_destroyed_while_called_from_another_cpu)
{
    long n = cpu_count();
    if (n < 2)
        return NULL;
    UCHECK(lrpc_demo_setup(&demo));
    UCHECK(mf_vas_switch(LRPC_CLIENT_VAS) == 0);
    spin_astack = NULL;
    spin_result = revoke_result = -1;
    spin_done = revoke_done = 0;
    bool started =
        mf_untyped_retype(LRPC_CLIENT_UT, MF_OBJ_THREAD, 0, 2, MF_CAP_SELF_CNODE, W_THREAD) == 0 &&
        mf_thread_set_sched(W_THREAD, MF_SCHED_FIXED, (unsigned)(n - 1)) == 0 &&
        mf_thread_set_sched(W_THREAD + 1, MF_SCHED_FIXED, 0) == 0 &&
        mf_thread_start(W_THREAD, spin_caller, worker_stacks[0], sizeof(worker_stacks[0]), 0) == 0 &&
        mf_thread_start(W_THREAD + 1, destroyer, worker_stacks[1], sizeof(worker_stacks[1]), 0) == 0;
    UWAIT(spin_done && revoke_done, 1000);
    UCHECK(mf_vas_switch(0) == 0);
    lrpc_demo_teardown(&demo);
    UCHECK(started && spin_done && revoke_done);
    UCHECK(revoke_result == 0);
    UCHECK(spin_result == -E_DEAD);
    return NULL;
}

UTEST(lrpc_refused_without_a_binding)
{
    UCHECK(lrpc_demo_setup(&demo));
    UCHECK(mf_lrpc_call(0, DEMO_NULL, 0) == -E_BADCAP);
    UCHECK(mf_lrpc_call(3999, DEMO_NULL, 0) == -E_BADCAP);
    UCHECK(mf_lrpc_call(MF_CAP_SELF_CNODE, DEMO_NULL, 0) == -E_TYPE);
    UCHECK(mf_lrpc_call(LRPC_BINDING, DEMO_NULL, 0) == -E_PERM);       // home: no A-stacks here
    UCHECK(mf_vas_switch(LRPC_CLIENT_VAS) == 0);
    UCHECK(mf_lrpc_call(LRPC_BINDING, DEMO_PROCEDURES, 0) == -E_RANGE);
    UCHECK(mf_lrpc_call(LRPC_BINDING, DEMO_NULL, MF_LRPC_MAX_ASTACKS) == -E_RANGE);
    UCHECK(mf_cnode_copy(MF_CAP_SELF_CNODE, LRPC_BINDING, 3830, MF_RIGHT_WRITE) == 0);
    UCHECK(mf_lrpc_call(3830, DEMO_NULL, 0) == -E_PERM);                 // no read right
    UCHECK(mf_lrpc_call(LRPC_BINDING, DEMO_NULL, 0) == 0);               // the real thing works
    UCHECK(mf_invoke(LRPC_BINDING, MF_BINDING_SET_ASTACK, 0, 0, 64, 0) == -E_RANGE);
    UCHECK(mf_syscall(SYS_LRPC_RETURN, 5, 0, 0) == -E_INVAL);            // not in a call
    UCHECK(mf_vas_switch(0) == 0);
    mf_cnode_delete(MF_CAP_SELF_CNODE, 3830);
    lrpc_demo_teardown(&demo);
    return NULL;
}

UTEST_FAULTS(lrpc_server_fault_fails_only_the_call)
{
    UCHECK(lrpc_demo_setup(&demo));
    UCHECK(mf_vas_switch(LRPC_CLIENT_VAS) == 0);
    long r = demo_call(&demo.client, DEMO_FAULT);
    long after = demo_add(&demo.client, 1, 2);      // the server still serves
    UCHECK(mf_vas_switch(0) == 0);
    lrpc_demo_teardown(&demo);
    UCHECK(r == -E_DEAD);
    UCHECK(after == 3);
    return NULL;
}

// mf_lrpc_invoke tells a procedure's own error from the kernel's refusal,
// which mf_lrpc_call's single result cannot: here ADD returns -E_NOENT
// (its arguments make it so), the kernel refuses with -E_RANGE, and a
// server fault ends the call with -E_DEAD.
UTEST_FAULTS(lrpc_procedure_errors_are_told_from_refusals)
{
    UCHECK(lrpc_demo_setup(&demo));
    UCHECK(mf_vas_switch(LRPC_CLIENT_VAS) == 0);
    unsigned i;
    struct demo_astack *s = mf_lrpc_acquire(&demo.client, &i);
    UCHECK(s != NULL);
    s->a = -E_NOENT;
    s->b = 0;
    int64_t result = 12345;
    long own = mf_lrpc_invoke(LRPC_BINDING, DEMO_ADD, i, &result);
    int64_t own_result = result;
    result = 12345;
    long refused = mf_lrpc_invoke(LRPC_BINDING, DEMO_PROCEDURES, i, &result);
    int64_t refused_result = result;
    struct mf_thread_info me;
    bool said_why = mf_thread_info(MF_THREAD_SELF, &me) == 0 && me.refused_error == -E_RANGE &&
                    strcmp(me.refused_why, "no such procedure in the binding") == 0;
    s->a = 40;
    s->b = 2;
    long ok = mf_lrpc_invoke(LRPC_BINDING, DEMO_ADD, i, &result);
    int64_t ok_result = result;
    result = 12345;
    long fault = mf_lrpc_invoke(LRPC_BINDING, DEMO_FAULT, i, &result);
    mf_lrpc_release(&demo.client, i);
    long plain = mf_lrpc_call(LRPC_BINDING, DEMO_PROCEDURES, 0);   // the plain call: just -E_RANGE
    UCHECK(mf_vas_switch(0) == 0);
    lrpc_demo_teardown(&demo);
    UCHECK(own == 0 && own_result == -E_NOENT);         // the procedure said "no entry"
    UCHECK(refused == -E_RANGE && refused_result == 12345);   // the kernel said no
    UCHECK(said_why);                                   // and which check (mf_strerror_detail)
    UCHECK(ok == 0 && ok_result == 42);
    UCHECK(fault == -E_DEAD && result == 12345);
    UCHECK(plain == -E_RANGE);
    return NULL;
}

UTEST(lrpc_server_destroyed_mid_call)
{
    UCHECK(lrpc_demo_setup(&demo));
    UCHECK(mf_vas_switch(LRPC_CLIENT_VAS) == 0);
    long r = demo_call(&demo.client, DEMO_DESTROY);   // the server revokes itself
    long after = demo_null(&demo.client);
    UCHECK(mf_vas_switch(0) == 0);
    UCHECK(r == -E_DEAD);
    UCHECK(after == -E_BADCAP);                         // our binding went with it
    lrpc_demo_teardown(&demo);
    return NULL;
}

UTEST_FAULTS(lrpc_server_binds_to_itself)
{
    // `run lrpc_server` from the shell: it serves, binds as its own client,
    // checks four calls and exits 0.
    struct mf_exit_status st;
    long tid = spawn_with_resources("lrpc_server", 0, LRPC_SERVER_UT, LRPC_SERVER_CNODE);
    UCHECK(tid > 0 && mf_wait(tid, &st) == 0);
    mf_cnode_revoke(MF_CAP_SELF_CNODE, LRPC_SERVER_UT);
    UCHECK(st.how == EXIT_NORMAL && st.code == 0);
    return NULL;
}

// The server side of a call starts with none of its client's registers
// but the arguments. The client loads a secret into registers the calling
// convention preserves (rbx, r12, rbp / x19, x20, x29) right before the
// call; the binding's entry is a stub that stores what it finds in them
// in the A-stack and returns (the return's system-call number is in the
// A-stack too: the stub has nothing else to go on).
#define SECRET 0x5ec7e75ec7e75ec7ul
#define RS_SERVER 3830
#define RS_CLIENT 3831
#define RS_SEGMENT 3832
#define RS_FRAME 3833
#define RS_BINDING 3834
#define RS_BASE (16ul << 30)
void regs_stub(void);
void detach_stub(void);
void leak_stub(void);
void call_and_dump(long number, long binding, long procedure, long astack, uint64_t *out, uint64_t keep);
long call_with_secret(long number, long binding, long procedure, long astack, long secret);
#if defined(__x86_64__)
__asm__(".text\n"
        ".globl regs_stub\nregs_stub:\n"
        "  movq %rbx, 0(%rdi)\n  movq %r12, 8(%rdi)\n  movq %rbp, 16(%rdi)\n"
        "  movq 24(%rdi), %rax\n  xorl %edi, %edi\n  syscall\n  ud2\n"
        ".globl call_with_secret\ncall_with_secret:\n"
        "  pushq %rbx\n  pushq %r12\n  pushq %rbp\n"
        "  movq %rdi, %rax\n  movq %rsi, %rdi\n  movq %rdx, %rsi\n  movq %rcx, %rdx\n"
        "  movq %r8, %rbx\n  movq %r8, %r12\n  movq %r8, %rbp\n  syscall\n"
        "  popq %rbp\n  popq %r12\n  popq %rbx\n  ret\n"
        // detach_stub: invoke A-stack word 5's cap with word 6's operation
        // (system call number in word 4), store the result in word 0, return.
        ".globl detach_stub\ndetach_stub:\n"
        "  movq %rdi, %rbx\n  movq 32(%rbx), %rax\n  movq 40(%rbx), %rdi\n  movq 48(%rbx), %rsi\n"
        "  xorl %edx, %edx\n  xorl %r10d, %r10d\n  xorl %r8d, %r8d\n  xorl %r9d, %r9d\n  syscall\n"
        "  movq %rax, 0(%rbx)\n  movq 24(%rbx), %rax\n  xorl %edi, %edi\n  syscall\n  ud2\n"
        // leak_stub: every register it can set holds the secret when it returns.
        ".globl leak_stub\nleak_stub:\n"
        "  movq 24(%rdi), %rax\n  movabsq $0x5ec7e75ec7e75ec7, %rbx\n"
        "  movq %rbx, %rbp\n  movq %rbx, %r12\n  movq %rbx, %r13\n  movq %rbx, %r14\n  movq %rbx, %r15\n"
        "  movq %rbx, %rsi\n  movq %rbx, %rdx\n  movq %rbx, %r8\n  movq %rbx, %r9\n  movq %rbx, %r10\n"
        "  movq %rbx, %r11\n  movq %rbx, %rcx\n  xorl %edi, %edi\n  syscall\n  ud2\n"
        // call_and_dump(number, binding, procedure, astack, out, keep): the
        // callee-saved registers hold `keep` across the call; every
        // register after it goes to out[] (rax rdx rsi rdi r8-r11 rcx, then
        // rbx rbp r12-r15).
        ".globl call_and_dump\ncall_and_dump:\n"
        "  pushq %rbx\n  pushq %rbp\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n  pushq %r8\n"
        "  movq %rdi, %rax\n  movq %rsi, %rdi\n  movq %rdx, %rsi\n  movq %rcx, %rdx\n"
        "  movq %r9, %rbx\n  movq %r9, %rbp\n  movq %r9, %r12\n  movq %r9, %r13\n  movq %r9, %r14\n  movq %r9, %r15\n"
        "  syscall\n"
        "  pushq %r15\n  pushq %r14\n  pushq %r13\n  pushq %r12\n  pushq %rbp\n  pushq %rbx\n  pushq %rcx\n"
        "  pushq %r11\n  pushq %r10\n  pushq %r9\n  pushq %r8\n  pushq %rdi\n  pushq %rsi\n  pushq %rdx\n  pushq %rax\n"
        "  movq 120(%rsp), %rax\n  movl $0, %ecx\n"
        "1:\n  movq (%rsp,%rcx,8), %rdx\n  movq %rdx, (%rax,%rcx,8)\n  incl %ecx\n  cmpl $15, %ecx\n  jne 1b\n"
        "  addq $128, %rsp\n  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbp\n  popq %rbx\n  ret\n"
        );
#define DUMP_WORDS 15
#define DUMP_KEPT 9             // out[9..14]: rbx rbp r12-r15
#else
__asm__(".text\n"
        ".globl regs_stub\nregs_stub:\n"
        "  str x19, [x0]\n  str x20, [x0, #8]\n  str x29, [x0, #16]\n"
        "  ldr x8, [x0, #24]\n  mov x0, #0\n  svc #0\n  udf #0\n"
        ".globl call_with_secret\ncall_with_secret:\n"
        "  stp x29, x30, [sp, #-32]!\n  stp x19, x20, [sp, #16]\n"
        "  mov x8, x0\n  mov x0, x1\n  mov x1, x2\n  mov x2, x3\n"
        "  mov x19, x4\n  mov x20, x4\n  mov x29, x4\n  svc #0\n"
        "  ldp x19, x20, [sp, #16]\n  ldp x29, x30, [sp], #32\n  ret\n"
        ".globl detach_stub\ndetach_stub:\n"
        "  mov x19, x0\n  ldr x8, [x19, #32]\n  ldr x0, [x19, #40]\n  ldr x1, [x19, #48]\n"
        "  mov x2, #0\n  mov x3, #0\n  mov x4, #0\n  mov x5, #0\n  svc #0\n"
        "  str x0, [x19]\n  ldr x8, [x19, #24]\n  mov x0, #0\n  svc #0\n  udf #0\n"
        ".globl leak_stub\nleak_stub:\n"
        "  ldr x8, [x0, #24]\n  movz x9, #0x5ec7, lsl #48\n  movk x9, #0xe75e, lsl #32\n"
        "  movk x9, #0xc7e7, lsl #16\n  movk x9, #0x5ec7\n"
        "  mov x1, x9\n  mov x2, x9\n  mov x3, x9\n  mov x4, x9\n  mov x5, x9\n  mov x6, x9\n  mov x7, x9\n"
        "  mov x10, x9\n  mov x11, x9\n  mov x12, x9\n  mov x13, x9\n  mov x14, x9\n  mov x15, x9\n"
        "  mov x16, x9\n  mov x17, x9\n  mov x18, x9\n  mov x19, x9\n  mov x20, x9\n  mov x21, x9\n"
        "  mov x22, x9\n  mov x23, x9\n  mov x24, x9\n  mov x25, x9\n  mov x26, x9\n  mov x27, x9\n"
        "  mov x28, x9\n  mov x29, x9\n  mov x30, x9\n  mov x0, #0\n  svc #0\n  udf #0\n"
        // out[]: x0-x7, x9-x18, then x19-x28.
        ".globl call_and_dump\ncall_and_dump:\n"
        "  stp x29, x30, [sp, #-96]!\n  mov x29, sp\n  stp x19, x20, [sp, #16]\n  stp x21, x22, [sp, #32]\n"
        "  stp x23, x24, [sp, #48]\n  stp x25, x26, [sp, #64]\n  stp x27, x28, [sp, #80]\n"
        "  str x4, [sp, #-16]!\n"
        "  mov x8, x0\n  mov x0, x1\n  mov x1, x2\n  mov x2, x3\n"
        "  mov x19, x5\n  mov x20, x5\n  mov x21, x5\n  mov x22, x5\n  mov x23, x5\n"
        "  mov x24, x5\n  mov x25, x5\n  mov x26, x5\n  mov x27, x5\n  mov x28, x5\n"
        "  svc #0\n"
        "  stp x0, x1, [sp, #-16]!\n  ldr x0, [sp, #16]\n  ldr x1, [sp]\n  str x1, [x0]\n"
        "  ldr x1, [sp, #8]\n  str x1, [x0, #8]\n"
        "  stp x2, x3, [x0, #16]\n  stp x4, x5, [x0, #32]\n  stp x6, x7, [x0, #48]\n"
        "  stp x9, x10, [x0, #64]\n  stp x11, x12, [x0, #80]\n  stp x13, x14, [x0, #96]\n"
        "  stp x15, x16, [x0, #112]\n  stp x17, x18, [x0, #128]\n  stp x19, x20, [x0, #144]\n"
        "  stp x21, x22, [x0, #160]\n  stp x23, x24, [x0, #176]\n  stp x25, x26, [x0, #192]\n"
        "  stp x27, x28, [x0, #208]\n  add sp, sp, #32\n"
        "  ldp x19, x20, [sp, #16]\n  ldp x21, x22, [sp, #32]\n  ldp x23, x24, [sp, #48]\n"
        "  ldp x25, x26, [sp, #64]\n  ldp x27, x28, [sp, #80]\n  ldp x29, x30, [sp], #96\n  ret\n"
        );
#define DUMP_WORDS 28
#define DUMP_KEPT 18            // out[18..27]: x19-x28
#endif
static uint8_t stub_estack[4096] __attribute__((aligned(16)));

// A server VAS and a client VAS (both with our home), an A-stack segment
// with one page, and a binding whose entry is `entry`.
static const char *stub_objects(void (*entry)(void))
{
    const long self = MF_CAP_SELF_CNODE, ut = LRPC_CLIENT_UT;
    UCHECK(mf_untyped_retype(ut, MF_OBJ_VAS, 14, 1, self, RS_SERVER) == 0 && mf_vas_attach(RS_SERVER, 0) == 0);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_VAS, 14, 1, self, RS_CLIENT) == 0 && mf_vas_attach(RS_CLIENT, 0) == 0);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_SEGMENT, 13, 1, self, RS_SEGMENT) == 0 &&
           mf_segment_configure(RS_SEGMENT, RS_BASE, 2ul << 20) == 0);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_FRAME, 12, 1, self, RS_FRAME) == 0 &&
           mf_frame_map(RS_FRAME, RS_SEGMENT, RS_BASE, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_vas_attach_segment(RS_SERVER, RS_SEGMENT, MF_RIGHT_READ | MF_RIGHT_WRITE) == 0);
    UCHECK(mf_untyped_retype(ut, MF_OBJ_BINDING, 0, 1, self, RS_BINDING) == 0 &&
           mf_binding_configure(RS_BINDING, RS_SERVER, RS_SEGMENT, 1, entry) == 0 &&
           mf_binding_set_astack(RS_BINDING, 0, RS_BASE, 1024, stub_estack + sizeof(stub_estack)) == 0 &&
           mf_binding_attach_client(RS_BINDING, RS_CLIENT) == 0);
    return NULL;
}

// stub_objects, or on failure nothing left behind (all came from one untyped).
static const char *stub_binding(void (*entry)(void))
{
    const char *why = stub_objects(entry);
    if (why)
        mf_cnode_revoke(MF_CAP_SELF_CNODE, LRPC_CLIENT_UT);
    return why;
}

// Thread pointers: the procedure starts on 0s, not the client's (which
// could point it at the client's data), and the one it sets is not the
// client's after the return. Where user code cannot write its thread
// pointer (no FSGSBASE), the client's pointer is still checked.
UTEST(lrpc_server_runs_on_thread_pointers_of_its_own)
{
    struct mf_system_info si;
    UCHECK(mf_system_info(&si) == 0);
    const bool user_tls = si.flags & MF_SYSTEM_USER_TLS;
    static uint64_t tcb[4] __attribute__((aligned(16)));
    tcb[0] = (uint64_t)tcb;                    // the x86_64 TCB's self pointer
    UCHECK(lrpc_demo_setup(&demo));
    UCHECK(mf_vas_switch(LRPC_CLIENT_VAS) == 0);
    uint64_t mine = (uint64_t)tcb, after = 0;
    long seen = -1;
    if (user_tls) {
#if defined(__x86_64__)
        __asm__ volatile("wrfsbase %0" ::"r"(mine) : "memory");
#else
        __asm__ volatile("msr tpidr_el0, %0" ::"r"(mine) : "memory");
#endif
    }
    unsigned i;
    struct demo_astack *s = mf_lrpc_acquire(&demo.client, &i);
    if (s) {
        s->a = user_tls;
        seen = mf_lrpc_call(demo.client.binding, DEMO_TLS, i);
        mf_lrpc_release(&demo.client, i);
    }
#if defined(__x86_64__)
    if (user_tls)
        __asm__ volatile("rdfsbase %0; wrfsbase %1" : "=&r"(after) : "r"(0ul) : "memory");
#else
    __asm__ volatile("mrs %0, tpidr_el0; msr tpidr_el0, xzr" : "=r"(after) : : "memory");
#endif
    UCHECK(mf_vas_switch(0) == 0);
    lrpc_demo_teardown(&demo);
    UCHECK(seen == 0);
    UCHECK(!user_tls || after == mine);
    return NULL;
}

UTEST(lrpc_server_sees_none_of_the_clients_registers)
{
    const long self = MF_CAP_SELF_CNODE, ut = LRPC_CLIENT_UT;
    const char *why = stub_binding(regs_stub);
    if (why)
        return why;
    volatile uint64_t *astack = (volatile uint64_t *)RS_BASE;
    uint64_t seen[3] = {1, 1, 1};
    long r = -1;
    if (mf_vas_switch(RS_CLIENT) == 0) {
        astack[0] = astack[1] = astack[2] = 1;
        astack[3] = SYS_LRPC_RETURN;
        r = call_with_secret(SYS_LRPC_CALL, RS_BINDING, 0, 0, (long)SECRET);
        for (int i = 0; i < 3; i++)
            seen[i] = astack[i];
        mf_vas_switch(0);
    }
    long revoked = mf_cnode_revoke(self, ut);
    printf("# the server found %#lx %#lx %#lx where the client had %#lx\n", (unsigned long)seen[0],
           (unsigned long)seen[1], (unsigned long)seen[2], SECRET);
    UCHECK(r == 0 && revoked == 0);
    UCHECK(seen[0] == 0 && seen[1] == 0 && seen[2] == 0);
    return NULL;
}

// And back: the client sees none of the server's registers after the
// call, and has its own callee-saved ones again. The stub loads the
// secret into every register it can before it returns (a call keeps only
// the registers a C call preserves, arch_lrpc_save; the others are zeroed
// on the way back); the client holds a pattern in its callee-saved
// registers across the call and dumps every register after it.
#define KEEP 0x6b656570c0ffee00ul
UTEST(lrpc_client_sees_none_of_the_servers_registers)
{
    const long self = MF_CAP_SELF_CNODE, ut = LRPC_CLIENT_UT;
    const char *why = stub_binding(leak_stub);
    if (why)
        return why;
    volatile uint64_t *astack = (volatile uint64_t *)RS_BASE;
    uint64_t out[DUMP_WORDS];
    for (int i = 0; i < DUMP_WORDS; i++)
        out[i] = SECRET;
    bool ran = false;
    if (mf_vas_switch(RS_CLIENT) == 0) {
        astack[3] = SYS_LRPC_RETURN;
        call_and_dump(SYS_LRPC_CALL, RS_BINDING, 0, 0, out, KEEP);
        mf_vas_switch(0);
        ran = true;
    }
    long revoked = mf_cnode_revoke(self, ut);
    int leaked = 0, lost = 0;
    for (int i = 0; i < DUMP_WORDS; i++) {
        leaked += out[i] == SECRET;
        lost += i >= DUMP_KEPT && out[i] != KEEP;
    }
    printf("# after the call: %d registers hold the server's secret, %d callee-saved lost; results %#lx %#lx\n",
           leaked, lost, (unsigned long)out[0], (unsigned long)out[1]);
    UCHECK(ran && revoked == 0);
    UCHECK(out[0] == 0 && out[1] == 1);         // the value 0, and the procedure ran
    UCHECK(leaked == 0 && lost == 0);
    return NULL;
}

// A VAS an LRPC call will return into keeps our home: detaching it during
// the call is refused (it once succeeded, and the caller came back to no
// code: killed by an instruction fetch fault, found by the fuzzer). The
// server stub tries the detach on the client VAS from inside the call.
UTEST(lrpc_client_vas_keeps_its_home_while_a_call_is_out)
{
    const long self = MF_CAP_SELF_CNODE, ut = LRPC_CLIENT_UT;
    const char *why = stub_binding(detach_stub);
    if (why)
        return why;
    volatile uint64_t *astack = (volatile uint64_t *)RS_BASE;
    long r = -1, inside = 1;
    if (mf_vas_switch(RS_CLIENT) == 0) {
        astack[0] = 1;
        astack[3] = SYS_LRPC_RETURN;
        astack[4] = SYS_INVOKE;
        astack[5] = RS_CLIENT;
        astack[6] = MF_VAS_DETACH;
        r = call_with_secret(SYS_LRPC_CALL, RS_BINDING, 0, 0, 0);
        inside = (long)astack[0];
        mf_vas_switch(0);
    }
    long after = mf_invoke(RS_CLIENT, MF_VAS_DETACH, 0, 0, 0, 0);     // nobody out now: allowed
    long revoked = mf_cnode_revoke(self, ut);
    printf("# detach from inside the call: %s; after it: %s\n", mf_strerror(inside), mf_strerror(after));
    UCHECK(r == 0 && revoked == 0);
    UCHECK(inside == -E_BUSY);
    UCHECK(after == 0);
    return NULL;
}

// A thread inside an LRPC call runs the server's code on the server's
// registers: its client, who holds the Thread cap, may neither read nor
// set them (it once could: suspend the caller mid-call, read the server's
// registers, write a pc of its choice and run it with the server's
// authority). The server stub blocks in a notification wait; the client
// thread making the call is suspended there; every register operation on
// it is refused; resumed and the notification signalled, the call returns.
#define LC_THREAD 3835
#define LC_NTFN 3836
static uint8_t lc_stack[8192] __attribute__((aligned(16)));
#define LC_PENDING (-1000)
static volatile long lc_result = LC_PENDING;

static void lc_caller(uint64_t unused)
{
    (void)unused;
    volatile uint64_t *astack = (volatile uint64_t *)RS_BASE;
    if (mf_vas_switch(RS_CLIENT) != 0)
        return;
    astack[0] = 1;
    astack[3] = SYS_LRPC_RETURN;
    astack[4] = SYS_INVOKE;
    astack[5] = LC_NTFN;
    astack[6] = MF_NOTIFICATION_WAIT;
    long r = call_with_secret(SYS_LRPC_CALL, RS_BINDING, 0, 0, 0);
    lc_result = r == 0 ? (long)astack[0] : r;
    mf_vas_switch(0);
}

UTEST(lrpc_callers_registers_are_not_the_clients_to_touch)
{
    const long self = MF_CAP_SELF_CNODE, ut = LRPC_CLIENT_UT;
    const char *why = stub_binding(detach_stub);
    if (why)
        return why;
    UCHECK(mf_untyped_retype(ut, MF_OBJ_THREAD, 0, 1, self, LC_THREAD) == 0 &&
           mf_untyped_retype(ut, MF_OBJ_NOTIFICATION, 0, 1, self, LC_NTFN) == 0);
    lc_result = LC_PENDING;
    UCHECK(mf_thread_start(LC_THREAD, lc_caller, lc_stack, sizeof(lc_stack), 0) == 0);
    struct mf_regs r;
    long read = 0, write = 0, regs = 0;
    // Until the caller is in the call (its wait blocks there), then stopped.
    for (int tries = 0; tries < 100; tries++) {
        mf_sleep(1);
        UCHECK(mf_thread_suspend(LC_THREAD) == 0);
        read = mf_thread_read_context(LC_THREAD, &r);
        if (read == -E_BUSY)
            break;
        UCHECK(mf_thread_resume(LC_THREAD) == 0);
    }
    if (read == -E_BUSY) {
        memset(&r, 0, sizeof(r));
        r.pc = r.sp = RS_BASE;
        write = mf_thread_write_context(LC_THREAD, &r);
        regs = mf_thread_write_regs(LC_THREAD, RS_BASE, RS_BASE + 4096, 0);
        mf_thread_resume(LC_THREAD);
    }
    mf_notification_signal(LC_NTFN);
    for (long end = mf_time() + 300; lc_result == LC_PENDING && mf_time() < end;)
        mf_sleep(1);
    long result = lc_result;
    long revoked = mf_cnode_revoke(self, ut);
    UCHECK(read == -E_BUSY && write == -E_BUSY && regs == -E_BUSY);
    // The call returned: the server's wait was interrupted by the suspension
    // (-E_AGAIN, as any blocked call is) or, had it waited again, saw the signal.
    UCHECK(result == -E_AGAIN || result == 1);
    UCHECK(revoked == 0);
    return NULL;
}
