// Clustered objects: the miss path, visiting, destruction (clustered.h),
// and the kernel's statistics counters, the first user of the mechanism.
#include "kernel/clustered.h"
#include "kernel/console.h"
#include "kernel/lockdep.h"
#include "kernel/pmm.h"
#include "kernel/smp.h"
#include "lib/string.h"
#include "include/manifold/syscall.h"

_Static_assert(MF_KSTAT_COUNT <= MF_KSTAT_MAX, "the counters fit struct mf_kstats");

// Permanent objects, so that a CPU coming up gets its representative of
// each before it runs anything (co_prepare_cpu).
#define CO_PERMANENT_MAX 8
static struct clustered *permanent[CO_PERMANENT_MAX];
static unsigned permanent_count;

void co_init(struct clustered *co, const struct co_type *type, void *root)
{
    assert(type->rep_size && type->rep_size <= PAGE_SIZE);
    memset(co, 0, sizeof(*co));
    co->type = type;
    co->root = root;
    co->lock.lock_class = LOCK_CLASS_CLUSTERED;
    if (type->permanent) {
        assert(permanent_count < CO_PERMANENT_MAX);
        permanent[permanent_count++] = co;
    }
}

// Makes cpu's representative if it has none; under co->lock, so that two
// CPUs preparing the same one (co_prepare from the boot CPU, a first use)
// make one. The page comes straight from the frame bitmap: the page
// allocator's own cache is a clustered object.
void *co_miss(struct clustered *co, unsigned cpu)
{
    struct mcs_qnode q;
    mcs_lock(&co->lock, &q);
    void *rep = co->slot[cpu].rep;
    if (!rep && !co->dying) {
        paddr_t pa = pmm_alloc_uncached();
        if (pa) {
            rep = P2V(pa);      // zeroed
            if (co->type->init)
                co->type->init(co, rep, cpu);
            co->reps++;
            __atomic_store_n(&co->slot[cpu].rep, rep, __ATOMIC_RELEASE);
        }
    }
    mcs_unlock(&co->lock, &q);
    return rep;
}

bool co_prepare(struct clustered *co, unsigned cpu)
{
    return cpu < MAX_CPUS && co_miss(co, cpu) != NULL;
}

bool co_prepare_cpu(unsigned cpu)
{
    bool ok = true;
    for (unsigned i = 0; i < permanent_count; i++)
        ok = co_prepare(permanent[i], cpu) && ok;
    return ok;
}

void co_for_each(struct clustered *co, void (*fn)(void *rep, unsigned cpu, void *arg), void *arg)
{
    for (unsigned cpu = 0; cpu < MAX_CPUS; cpu++) {
        void *rep = __atomic_load_n(&co->slot[cpu].rep, __ATOMIC_ACQUIRE);
        if (rep)
            fn(rep, cpu, arg);
    }
}

void co_destroy(struct clustered *co)
{
    assert(!co->type->permanent);
    struct mcs_qnode q;
    // No new representative, and no new operation once this is seen; the
    // operations that began before it end by each CPU's next quiescent
    // state (grace_period_wait fences before it reads their counts).
    mcs_lock(&co->lock, &q);
    __atomic_store_n(&co->dying, true, __ATOMIC_RELAXED);
    mcs_unlock(&co->lock, &q);
    grace_period_wait();
    for (unsigned cpu = 0; cpu < MAX_CPUS; cpu++) {
        void *rep = co->slot[cpu].rep;
        if (!rep)
            continue;
        if (co->type->fold)
            co->type->fold(co, rep, cpu);
        co->slot[cpu].rep = NULL;
        pmm_free_uncached(V2P(rep));
        co->reps--;
    }
}

// ------------------------------------------------------ kernel statistics

static const struct co_type kstat_type = {
    .name = "kstats",
    .rep_size = MF_KSTAT_COUNT * sizeof(uint64_t),
    .permanent = true,
};

struct clustered kstats;

void kstat_init(void)
{
    co_init(&kstats, &kstat_type, NULL);
}

uint64_t kstat_read(unsigned counter)
{
    uint64_t sum = 0;
    if (counter >= MF_KSTAT_COUNT)
        return 0;
    // Two the scheduler counts per CPU already (struct cpu): summed from
    // there, not counted twice on the switch and tick paths.
    if (counter == MF_KSTAT_SWITCHES || counter == MF_KSTAT_TIMER_TICKS) {
        for (unsigned c = 0; c < cpu_count; c++)
            sum += counter == MF_KSTAT_SWITCHES ? __atomic_load_n(&cpus[c].switches, __ATOMIC_RELAXED)
                                                : __atomic_load_n(&cpus[c].ticks, __ATOMIC_RELAXED);
        return sum;
    }
    for (unsigned cpu = 0; cpu < MAX_CPUS; cpu++) {
        const uint64_t *rep = __atomic_load_n(&kstats.slot[cpu].rep, __ATOMIC_ACQUIRE);
        if (rep)
            sum += __atomic_load_n(&rep[counter], __ATOMIC_RELAXED);
    }
    return sum;
}
