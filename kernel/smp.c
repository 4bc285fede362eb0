// Multiprocessor start-up and cross-CPU calls (see kernel/smp.h).
#include "kernel/clustered.h"
#include "kernel/smp.h"
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/pmm.h"
#include "kernel/tag.h"
#include "kernel/thread.h"
#include "lib/spinlock.h"

volatile bool smp_active;
static uint64_t online_mask = 1;        // CPU 0 is the boot CPU
static unsigned reported = 1;
static volatile bool panicking;
static struct {
    uint64_t deadline;                  // 0 = disarmed
    const char *what;
    void (*report)(void);
} watchdog;

// One request per calling CPU: a CPU makes one call at a time.
struct smp_request {
    smp_fn fn;
    void *arg;
    uint64_t unfinished;                // targets that have not returned yet
} __attribute__((aligned(CACHE_LINE_SIZE)));

// What waits for one CPU: a pending bit and a request pointer per caller.
struct smp_mailbox {
    uint64_t pending;                   // bit s: slot[s] may hold a request
    bool in_call;                       // running a call: do not nest
    struct smp_request *slot[MAX_CPUS];
} __attribute__((aligned(CACHE_LINE_SIZE)));

static struct smp_request requests[MAX_CPUS];
static struct smp_mailbox mailboxes[MAX_CPUS];

uint64_t smp_online_cpus(void) { return __atomic_load_n(&online_mask, __ATOMIC_ACQUIRE); }
unsigned smp_cpus_reported(void) { return reported; }

static uint64_t ms_to_cycles(unsigned ms) { return arch_cycles_per_second() / 1000 * ms; }

// Runs the requests waiting in this CPU's mailbox.
static void serve(unsigned me)
{
    struct smp_mailbox *mb = &mailboxes[me];
    if (mb->in_call)
        return;
    uint64_t pending = __atomic_exchange_n(&mb->pending, 0, __ATOMIC_ACQUIRE);
    while (pending) {
        unsigned from = (unsigned)__builtin_ctzll(pending);
        pending &= pending - 1;
        struct smp_request *r = __atomic_exchange_n(&mb->slot[from], NULL, __ATOMIC_ACQUIRE);
        if (!r)
            continue;           // withdrawn by its caller
        mb->in_call = true;
        r->fn(r->arg);
        mb->in_call = false;
        __atomic_fetch_and(&r->unfinished, ~(1ull << me), __ATOMIC_RELEASE);
    }
}

void smp_spin_poll(void)
{
    if (!smp_active)
        return;
    if (unlikely(panicking))
        arch_halt();
    unsigned me = arch_cpu_id();
    if (__atomic_load_n(&mailboxes[me].pending, __ATOMIC_RELAXED))
        serve(me);
    uint64_t deadline = __atomic_load_n(&watchdog.deadline, __ATOMIC_RELAXED);
    if (unlikely(deadline) && arch_cycles() > deadline &&
        __atomic_exchange_n(&watchdog.deadline, 0, __ATOMIC_ACQ_REL)) {
        if (watchdog.report)
            watchdog.report();
        panic("smp watchdog: %s still spinning on CPU %u after its deadline", watchdog.what, me);
    }
}

void smp_watchdog_arm(uint64_t deadline, const char *what, void (*report)(void))
{
    watchdog.what = what;
    watchdog.report = report;
    __atomic_store_n(&watchdog.deadline, deadline, __ATOMIC_RELEASE);
}

void smp_watchdog_disarm(void) { __atomic_store_n(&watchdog.deadline, 0, __ATOMIC_RELEASE); }

uint64_t smp_call(uint64_t cpus, smp_fn fn, void *arg, unsigned timeout_ms)
{
    unsigned me = arch_cpu_id();
    struct smp_request *req = &requests[me];
    cpus &= smp_online_cpus();
    uint64_t deadline = arch_cycles() + ms_to_cycles(timeout_ms);
    // A call of ours that timed out after it started may still be running.
    while (__atomic_load_n(&req->unfinished, __ATOMIC_ACQUIRE)) {
        if (arch_cycles() > deadline)
            return __atomic_load_n(&req->unfinished, __ATOMIC_ACQUIRE);
        serve(me);
        cpu_relax();
    }
    uint64_t others = cpus & ~(1ull << me);
    req->fn = fn;
    req->arg = arg;
    __atomic_store_n(&req->unfinished, others, __ATOMIC_RELEASE);
    for (uint64_t m = others; m; m &= m - 1) {
        unsigned c = (unsigned)__builtin_ctzll(m);
        __atomic_store_n(&mailboxes[c].slot[me], req, __ATOMIC_RELEASE);
        __atomic_fetch_or(&mailboxes[c].pending, 1ull << me, __ATOMIC_ACQ_REL);
        arch_send_ipi(c, IPI_CALL);
    }
    if (cpus & (1ull << me)) {
        mailboxes[me].in_call = true;
        fn(arg);
        mailboxes[me].in_call = false;
    }
    uint64_t left;
    while ((left = __atomic_load_n(&req->unfinished, __ATOMIC_ACQUIRE))) {
        if (arch_cycles() > deadline) {
            // Withdraw what has not started; report it and what still runs.
            uint64_t late = 0;
            for (uint64_t m = left; m; m &= m - 1) {
                unsigned c = (unsigned)__builtin_ctzll(m);
                if (__atomic_exchange_n(&mailboxes[c].slot[me], NULL, __ATOMIC_ACQ_REL) == req) {
                    __atomic_fetch_and(&req->unfinished, ~(1ull << c), __ATOMIC_RELEASE);
                    late |= 1ull << c;
                }
            }
            return late | __atomic_load_n(&req->unfinished, __ATOMIC_ACQUIRE);
        }
        serve(me);          // a CPU we wait for may be waiting for us
        cpu_relax();
    }
    return 0;
}

void smp_ipi(enum ipi_kind kind)
{
    if (unlikely(panicking))
        arch_halt();
    if (kind == IPI_CALL)
        serve(arch_cpu_id());
    else if (kind == IPI_RESCHEDULE)
        sched_reschedule_ipi();
}

void smp_stop_others(void)
{
    if (!smp_active || panicking)
        return;
    panicking = true;
    unsigned me = arch_cpu_id();
    for (unsigned c = 0; c < cpu_count; c++)
        if (c != me)
            arch_send_ipi(c, IPI_CALL);
}

// ------------------------------------------------------------ start-up

_Noreturn void smp_secondary_entry(void)
{
    struct cpu *c = this_cpu();
    sched_adopt_boot_context();         // before anyone may wake a thread onto us
    __atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
    sched_run_idle();
}

void smp_init(void)
{
    (void)tag_enabled();        // the TLB tag pools exist before any CPU races to set them up
    reported = arch_cpu_count_reported();
    unsigned want = reported < MAX_CPUS ? reported : MAX_CPUS;
    if (reported > MAX_CPUS)
        kprintf("manifold: %u CPUs reported; using %u (MAX_CPUS)\n", reported, MAX_CPUS);
    cpus[0].online = true;
    smp_active = want > 1;
    unsigned up = 1;
    for (unsigned cpu = 1; cpu < want; cpu++) {
        paddr_t stack = pmm_alloc_contig(KSTACK_PAGES, PAGE_SIZE);
        if (!stack || !sched_init_cpu(cpu) || !co_prepare_cpu(cpu)) {
            kprintf("manifold: no memory to start CPU %u\n", cpu);
            break;
        }
        // The start-up stack stays the CPU's: its boot context is abandoned
        // there once the idle thread runs.
        int r = arch_cpu_start(cpu, (uintptr_t)P2V(stack) + KSTACK_PAGES * PAGE_SIZE);
        uint64_t deadline = arch_cycles() + ms_to_cycles(1000);
        while (r == 0 && !__atomic_load_n(&cpus[cpu].online, __ATOMIC_ACQUIRE) && arch_cycles() < deadline)
            cpu_relax();
        if (r || !cpus[cpu].online) {
            kprintf("manifold: CPU %u did not come up (%s)\n", cpu, r ? "start refused" : "no answer in 1 s");
            break;
        }
        __atomic_fetch_or(&online_mask, 1ull << cpu, __ATOMIC_RELEASE);
        up++;
    }
    cpu_count = up;
    kprintf("manifold: %u of %u CPU(s) online\n", up, reported);
}
