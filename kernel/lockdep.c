// Lock-order validation (kernel/lockdep.h).
//
// State: for each class, the set of classes taken while it was held
// (`after`, bit masks: there are few classes), shared by all CPUs and only
// ever growing; for each CPU, the stack of locks it holds now. A new pair
// "held H, taking T" is checked once, when it is first seen: it closes a
// cycle iff H can already be reached from T through `after`. Pairs are
// added with atomic ORs, so CPUs record orders concurrently without a lock
// of lockdep's own (which would itself need ordering).
#include "kernel/lockdep.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/thread.h"
#include "kernel/version.h"
#include "lib/string.h"

#define DEPTH 16

static const char *const names[LOCK_CLASSES] = {
    [LOCK_CLASS_NONE] = "none", [LOCK_CLASS_CAP] = "cap_lock", [LOCK_CLASS_SPACE] = "space_lock",
    [LOCK_CLASS_IPC_QUEUE] = "ipc queue", [LOCK_CLASS_THREADS] = "threads_lock",
    [LOCK_CLASS_THREAD_IPC] = "thread ipc_lock", [LOCK_CLASS_RUNQUEUE] = "run queue",
    [LOCK_CLASS_IRQ] = "irq_lock", [LOCK_CLASS_NIC] = "nic", [LOCK_CLASS_SLOTS] = "slots_lock", [LOCK_CLASS_TAG_POOL] = "tag pool", [LOCK_CLASS_CLUSTERED] = "clustered object",
    [LOCK_CLASS_PMM_CACHE] = "page cache", [LOCK_CLASS_PMM] = "pmm_lock",
    [LOCK_CLASS_PCI_CONFIG] = "pci config", [LOCK_CLASS_CONSOLE] = "console",
    [LOCK_CLASS_TEST_A] = "test A", [LOCK_CLASS_TEST_B] = "test B", [LOCK_CLASS_TEST_C] = "test C",
};
_Static_assert(LOCK_CLASSES <= 32, "lockdep: classes are bits of a word");

bool lockdep_active;
static uint32_t after[LOCK_CLASSES];       // after[h] bit t: t taken while h held
static unsigned violations, test_violations;     // the self-test's classes count apart

struct held {
    const void *lock;
    uint8_t lock_class;
};
static struct {
    struct held lock[DEPTH];
    unsigned depth;
    bool reporting;             // lockdep's own console output takes the console lock
    bool pretend_irqs_on;       // the self-test's stand-in for interrupts on
} cpu_state[MAX_CPUS];

void lockdep_init(void)
{
    char value[8];
    bool test = cmdline_option("mode", value, sizeof(value)) && strcmp(value, "test") == 0;
    if (cmdline_option("lockdep", value, sizeof(value)))
        lockdep_active = strcmp(value, "on") == 0;
    else
        lockdep_active = test;
    kprintf("manifold: lock-order validation %s\n", lockdep_active ? "on" : "off");
}

bool lockdep_enabled(void) { return lockdep_active; }
unsigned lockdep_violations(void) { return __atomic_load_n(&violations, __ATOMIC_RELAXED); }
unsigned lockdep_self_test_violations(void) { return __atomic_load_n(&test_violations, __ATOMIC_RELAXED); }
void lockdep_self_test_irqs(bool on) { cpu_state[arch_cpu_id()].pretend_irqs_on = on; }

static bool test_class(unsigned c) { return c >= LOCK_CLASS_TEST_A && c <= LOCK_CLASS_TEST_C; }

void lockdep_forget(unsigned c)
{
    __atomic_store_n(&after[c], 0, __ATOMIC_RELAXED);
    for (unsigned h = 0; h < LOCK_CLASSES; h++)
        __atomic_fetch_and(&after[h], ~(1u << c), __ATOMIC_RELAXED);
}

// Whether `to` can be reached from `from` through recorded orders.
static bool reaches(unsigned from, unsigned to)
{
    uint32_t seen = 1u << from, frontier = 1u << from;
    while (frontier) {
        unsigned c = (unsigned)__builtin_ctz(frontier);
        frontier &= frontier - 1;
        uint32_t next = __atomic_load_n(&after[c], __ATOMIC_SEQ_CST) & ~seen;
        if (next & (1u << to))
            return true;
        seen |= next;
        frontier |= next;
    }
    return false;
}

// The self-test's classes (TEST_*) are reported as such and counted
// apart: a real violation elsewhere meanwhile still fails the run.
static void report(unsigned cpu, const char *what, unsigned a, unsigned b)
{
    bool test = test_class(a) && (!b || test_class(b));
    __atomic_fetch_add(test ? &test_violations : &violations, 1, __ATOMIC_RELAXED);
    cpu_state[cpu].reporting = true;
    kprintf("%s: %s %s%s%s (CPU %u)\n", test ? "lockdep (self-test)" : "LOCKDEP", what, names[a],
            b ? " then " : "", b ? names[b] : "", cpu);
    if (!test)
        backtrace_print((uintptr_t)__builtin_frame_address(0));
    cpu_state[cpu].reporting = false;
}

void lockdep_acquire(unsigned c, const void *lock, bool check_order)
{
    if (!lockdep_active || c == LOCK_CLASS_NONE || c >= LOCK_CLASSES)
        return;
    unsigned cpu = arch_cpu_id();
    if (cpu_state[cpu].reporting)
        return;
    if (arch_interrupts_enabled() || (cpu_state[cpu].pretend_irqs_on && test_class(c)))
        report(cpu, "taken with interrupts on:", c, 0);
    for (unsigned i = 0; i < cpu_state[cpu].depth; i++) {
        const struct held *h = &cpu_state[cpu].lock[i];
        if (h->lock == lock) {
            report(cpu, "taken twice (it would spin forever):", c, 0);
            continue;
        }
        unsigned hc = h->lock_class;
        if (!check_order || hc == c || __atomic_load_n(&after[hc], __ATOMIC_RELAXED) & (1u << c))
            continue;
        // New: held hc, taking c. Recorded first, then a cycle if hc is
        // reachable from c; both sequentially consistent, so of two CPUs
        // recording A then B and B then A at once, one sees the other's.
        uint32_t old = __atomic_fetch_or(&after[hc], 1u << c, __ATOMIC_SEQ_CST);
        if (!(old & (1u << c)) && reaches(c, hc))
            report(cpu, "lock order inversion: taking", hc, c);
    }
    if (cpu_state[cpu].depth < DEPTH)
        cpu_state[cpu].lock[cpu_state[cpu].depth] = (struct held){lock, (uint8_t)c};
    cpu_state[cpu].depth++;
}

void lockdep_release(unsigned c, const void *lock)
{
    if (!lockdep_active || c == LOCK_CLASS_NONE || c >= LOCK_CLASSES)
        return;
    unsigned cpu = arch_cpu_id();
    if (cpu_state[cpu].reporting)
        return;
    unsigned n = cpu_state[cpu].depth < DEPTH ? cpu_state[cpu].depth : DEPTH;
    for (unsigned i = n; i-- > 0;)
        if (cpu_state[cpu].lock[i].lock == lock) {
            for (unsigned j = i; j + 1 < n; j++)
                cpu_state[cpu].lock[j] = cpu_state[cpu].lock[j + 1];
            cpu_state[cpu].depth--;
            return;
        }
    if (cpu_state[cpu].depth > DEPTH)
        cpu_state[cpu].depth--;     // one we could not keep track of
}
