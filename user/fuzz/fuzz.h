// The system-call fuzzer (user/programs/fuzz.c, docs/testing.md "Fuzzing"):
// shared state, the CSpace layout, the seeded generator and the counted
// system-call wrappers every fuzzing thread uses.
#pragma once
#include "manifold.h"

// ------------------------------------------------------------ the argument
// Bits 0..31 the seed, 32..51 the number of calls in thousands (0: 10,000),
// 52..55 a CPU to keep all our threads on, plus one (0: wherever the
// scheduler puts them), 56..63 flags (FZ_FLAG_*).
#define FZ_ARG(seed, kcalls, cpu_plus_one, flags)                                     \
    ((uint64_t)(uint32_t)(seed) | ((uint64_t)(kcalls) & 0xfffff) << 32 |               \
     ((uint64_t)(cpu_plus_one) & 0xf) << 52 | (uint64_t)(flags) << 56)
#define FZ_ARG_SEED(a) ((uint32_t)(a))
#define FZ_ARG_KCALLS(a) ((unsigned)((a) >> 32 & 0xfffff))
#define FZ_ARG_CPU(a) ((int)((a) >> 52 & 0xf) - 1)
#define FZ_ARG_FLAGS(a) ((unsigned)((a) >> 56))
// Gates for call patterns that trip a known kernel bug (none set = fuzz
// everything). A gate named here stops only that pattern; docs/testing.md
// lists why each exists.
#define FZ_FLAG_QUIET        0x01u   // no progress lines (only start and end)
#define FZ_FLAG_NO_SPAWN     0x02u   // no loading of real programs (user/lib/loader.c)
#define FZ_FLAG_NO_DEVICES   0x04u   // no PCI device or IRQ invocations
// (0x08 was FZ_FLAG_KNOWN_BUGS, which gated three call patterns that
// tripped kernel bugs the fuzzer found; all three are fixed and always
// fuzzed now: docs/testing.md, "Fuzzing".)

// ------------------------------------------------------------ our CSpace
// spawn_with_resources gives us a 2^8-slot CNode: itself in 1, the name
// service in 2, the console in 3, a read-only System cap in 4, the boot
// images CNode in 5, 4 MiB of untyped in 16, PCI device caps from 224. We split
// the untyped and keep the objects the fuzzer itself runs on in slots
// 16..31 ("protected": never deleted, moved or revoked by fuzzed calls);
// every other slot is fair game.
#define FZ_CSPACE_BITS 8
#define FZ_SLOTS (1u << FZ_CSPACE_BITS)
enum {
    FZ_SELF = MF_CAP_SELF_CNODE,
    FZ_UT_ALL = MF_CAP_UNTYPED_BASE,   // 16: the 4 MiB we were given
    FZ_UT_STORM_A,                     // 17: 2 MiB, storm objects (revoked each epoch)
    FZ_UT_INFRA,                       // 18: 1 MiB, the fuzzer's own threads and endpoints
    FZ_UT_STORM_B,                     // 19: 1 MiB, storm objects (revoked each epoch)
    FZ_WORKER,                         // 20: the thread making the calls
    FZ_PARTNER,                        // 21: its IPC partner, in a CSpace of its own
    FZ_PARTNER_EP,                     // 22: the partner serves calls here
    FZ_NTFN,                           // 23
    FZ_CHILD,                          // 24: the partner's CSpace (2^FZ_CHILD_BITS slots)
    FZ_SEND_EP,                        // 25: the partner sends to us here
    FZ_TRANSFER,                       // 26: caps we send are copied here first (fz_send_slot)
    FZ_CONSOLE,                        // 27: our own copy of the console cap (slot 3 is fuzzed)
    FZ_SYSTEM,                         // 28: our own read-only System cap (slot 4 is fuzzed)
    FZ_IMAGES,                         // 29: the boot images CNode, read-only (slot 5 is fuzzed)
    FZ_PROTECTED_END = 32,
};
// Slots of the partner's CSpace.
#define FZ_CHILD_BITS 6
enum { FZC_SELF = 1, FZC_EP = 2, FZC_SEND_EP = 3, FZC_NTFN = 4, FZC_TRANSFER = 5, FZC_ARENA = 8 };

// The loader's slots (fz_spawn_scenario): kept from the storms so that a
// load is not undone midway by the fuzzer itself; a revoke of the storm
// untyped the program came from still takes it (and them) away.
#define FZ_LOADER_SLOTS 208     // .. + MF_PROGRAM_SLOTS

static inline bool fz_protected(uint64_t slot)
{
    return slot == FZ_SELF || (slot >= FZ_UT_ALL && slot < FZ_PROTECTED_END) ||
           (slot >= FZ_LOADER_SLOTS && slot < FZ_LOADER_SLOTS + MF_PROGRAM_SLOTS);
}

// ------------------------------------------------------------ generator
// xoshiro256** seeded by splitmix64: one stream per fuzzing thread.
struct fz_rng {
    uint64_t s[4];
};

static inline uint64_t fz_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline void fz_seed(struct fz_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = fz_splitmix(&seed);
}

static inline uint64_t fz_next(struct fz_rng *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5, result = (x << 7 | x >> 57) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = s[3] << 45 | s[3] >> 19;
    return result;
}

// ------------------------------------------------------------ threads
enum fz_role { FZ_ROLE_WORKER, FZ_ROLE_MINI, FZ_ROLE_PARTNER };

// What a fuzzing thread carries: its generator, role and CSpace.
struct fz_ctx {
    struct fz_rng rng;
    enum fz_role role;
    long self;              // cptr of its own CNode in its CSpace
    uint64_t calls;         // calls this thread made
    uint8_t *local;         // FZ_LOCAL_SIZE bytes in the current step's frame
    bool upkeep;            // the fuzzer's own maintenance: protected slots may be touched
};
#define FZ_LOCAL_SIZE 1024

static inline uint64_t fz_rand(struct fz_ctx *c) { return fz_next(&c->rng); }
static inline uint64_t fz_below(struct fz_ctx *c, uint64_t n) { return n ? fz_rand(c) % n : 0; }
static inline bool fz_chance(struct fz_ctx *c, unsigned per_mille) { return fz_below(c, 1000) < per_mille; }

// ------------------------------------------------------------ shared state
#define FZ_STACKS 16            // sacrificial thread stacks per epoch
#define FZ_STACK_SIZE 16384
#define FZ_ESTACKS 16           // LRPC execution stacks per epoch
#define FZ_ESTACK_SIZE 8192
#define FZ_SCRATCH_PAGES 16     // memory the kernel may write (pages 12..15: IPC buffers)

struct fz_world {
    uint32_t seed;
    unsigned flags;
    int cpu;                        // the CPU our threads are fixed to, or -1
    unsigned cpus;                  // CPUs in the machine
    uint64_t target;                // calls to make (all fuzzing threads together)
    uint64_t trace_from;            // print every call from this number on (0: never)
    volatile uint64_t calls;        // calls made so far, all threads
    volatile uint64_t worker_calls; // the worker's heartbeat
    volatile int worker_done;
    volatile uint32_t stack_next, estack_next;    // bump allocators, reset each epoch
    volatile int partner_broken;
    volatile uint64_t partner_served;
    uint8_t shadow[FZ_SLOTS];       // object type last seen in each slot of ours
    unsigned device_count;
    long worker_tid;
    // counters for the closing line
    uint64_t epochs, stalls, spawns, ipc_ok, lrpc_ok, threads_made, retypes_ok, repairs;
    uint64_t binding_cspaces, bindings_described;  // configured with a CSpace named; described configured
};
extern struct fz_world fz;
extern uint8_t fz_scratch[FZ_SCRATCH_PAGES * 4096];
extern struct fz_ctx fz_worker_ctx;

// Counted system calls: every call a fuzzing thread makes goes through these.
long fz_sys(struct fz_ctx *c, long n, long a0, long a1, long a2, long a3, long a4, long a5);
static inline long fz_inv(struct fz_ctx *c, long cptr, long op, long a0, long a1, long a2, long a3)
{
    return fz_sys(c, SYS_INVOKE, cptr, op, a0, a1, a2, a3);
}
long fz_ipc(struct fz_ctx *c, long n, long cptr, struct mf_msg *m);
// Delete/revoke until done (bounded: each -E_AGAIN is a call of its own).
long fz_drain(struct fz_ctx *c, long cnode, long op, long slot);
long fz_identify(struct fz_ctx *c, long slot);       // in our own CSpace; updates the shadow
void fz_pin(struct fz_ctx *c, long thread);          // fixes a thread to fz.cpu, if we have one
// The slot to name in MF_INFO_SEND_CAP to send the cap in `cptr` (see
// FZ_FLAG_KNOWN_BUGS), and the clean-up after the IPC.
long fz_send_slot(struct fz_ctx *c, long cptr);
void fz_send_done(struct fz_ctx *c, long slot);
static inline long fz_transfer_slot(const struct fz_ctx *c)
{
    return c->role == FZ_ROLE_PARTNER ? FZC_TRANSFER : FZ_TRANSFER;
}

// ------------------------------------------------------------ generators (args.c)
uint64_t fz_value(struct fz_ctx *c);               // boundary and random numbers
uint64_t fz_ptr_in(struct fz_ctx *c);              // an address the kernel may read
uint64_t fz_ptr_out(struct fz_ctx *c);             // ... may write (up to 512 bytes in our memory)
uint64_t fz_user_va(struct fz_ctx *c);             // a page address for mappings
uint64_t fz_foreign(struct fz_ctx *c);             // an address not ours: unmapped, kernel, odd
long fz_cptr(struct fz_ctx *c);                    // a slot number, any
long fz_slot_of(struct fz_ctx *c, unsigned type);  // a slot believed to hold `type`, or any
long fz_free_slot(struct fz_ctx *c);               // an arena slot believed empty
long fz_binding_cspace(struct fz_ctx *c);          // MF_BINDING_CONFIGURE's server CSpace cptr (objects.c)
unsigned fz_rights(struct fz_ctx *c);
uint64_t fz_estack(struct fz_ctx *c);              // an LRPC E-stack top
uint8_t *fz_stack_alloc(void);                     // a fresh sacrificial stack (its top), or NULL

// ------------------------------------------------------------ the calls
void fz_step(struct fz_ctx *c);                    // one random action (calls.c)
void fz_random_syscall(struct fz_ctx *c);          // calls.c
void fz_random_invoke(struct fz_ctx *c);           // objects.c
void fz_invoke_type(struct fz_ctx *c, unsigned type);
void fz_cap_storm(struct fz_ctx *c);
void fz_retype_storm(struct fz_ctx *c);
void fz_space_scenario(struct fz_ctx *c);
void fz_lrpc_scenario(struct fz_ctx *c);
void fz_reclaim_scenario(struct fz_ctx *c);
void fz_device_ops(struct fz_ctx *c);
// A guarded CNode operation: refuses to hurt the slots the fuzzer runs on.
long fz_cnode_op(struct fz_ctx *c, long cnode, long op, long a0, long a1, long a2, long a3);

// threads.c: the partner, sacrificial threads and LRPC procedures
void fz_partner_main(uint64_t arg);
void fz_partner_ipc(struct fz_ctx *c);
void fz_partner_repair(struct fz_ctx *c, bool restart);
void fz_thread_scenario(struct fz_ctx *c);
// Registers for a thread we start: the trampoline and a sacrificial body on
// a fresh stack, or addresses where it faults at once (or the kernel refuses).
// Returns whether the body is a mini-fuzzer.
bool fz_thread_regs(struct fz_ctx *c, uint64_t *pc, uint64_t *sp, uint64_t *arg);
// Plausible and implausible arguments of MF_THREAD_SET_EXCEPTION: our
// sacrificial handler or bad addresses, a stack of ours or not.
void fz_exception_args(struct fz_ctx *c, long *pc, long *stack, long *arg, bool fresh_stack);
// A struct mf_regs for MF_THREAD_WRITE_CONTEXT whose pc is refused or ends the thread.
long fz_context_buffer(struct fz_ctx *c);
void fz_lrpc_export(void);
void fz_spawn_scenario(struct fz_ctx *c);
extern uint8_t fz_partner_stack[];
#define FZ_PARTNER_STACK_SIZE 16384

// world.c: set-up, epochs and checks
bool fz_setup(struct fz_ctx *c);
void fz_epoch_reset(struct fz_ctx *c);
void fz_rescan(struct fz_ctx *c);
