// TLB tag pools: one per CPU, recycled with generations (see tag.h).
#include "kernel/lockdep.h"
#include "kernel/tag.h"
#include "kernel/arch.h"
#include "kernel/version.h"
#include "lib/string.h"

struct tag_pool tag_pools[MAX_CPUS];
static unsigned tag_max;        // tags per pool the CPU allows (0 = untagged)
static bool ready;

void tag_pool_init(struct tag_pool *p, unsigned limit)
{
    memset(p, 0, sizeof(*p));
    p->lock.lock_class = LOCK_CLASS_TAG_POOL;
    p->generation = 1;
    p->limit = limit < TAG_POOL_MAX ? limit : TAG_POOL_MAX - 1;
    p->next = 1;
}

// Lowest tag given back in this generation, removed from the set; 0 if none.
static unsigned take_given_back(struct tag_pool *p)
{
    for (unsigned w = 0; w < ARRAY_SIZE(p->given_back); w++) {
        if (p->given_back[w]) {
            unsigned bit = (unsigned)__builtin_ctzll(p->given_back[w]);
            p->given_back[w] &= p->given_back[w] - 1;
            return w * 64 + bit;
        }
    }
    return 0;
}

// An untagged switch: counted, as one that flushes, with tag 0.
static inline unsigned untagged(struct tag_pool *p, bool *flush)
{
    p->switches++;
    p->flushes++;
    *flush = true;
    return 0;
}

unsigned tag_pool_get(struct tag_pool *p, struct tag_slot *s, bool *flush)
{
    if (unlikely(p->limit == 0))
        return untagged(p, flush);
    p->switches++;
    // Fast path: s was handed its tag in this generation.
    if (likely(s->generation == p->generation)) {
        *flush = false;
        return s->tag;
    }
    unsigned tag = take_given_back(p);
    if (!tag) {
        if (p->next > p->limit) {
            // Exhausted: every tag recorded so far becomes stale. Nothing is
            // flushed here; each tag is flushed when it is next handed out.
            p->generation++;
            p->rollovers++;
            p->next = 1;
            memset(p->given_back, 0, sizeof(p->given_back));
        }
        tag = p->next++;
    }
    s->tag = (uint16_t)tag;
    s->generation = p->generation;
    p->flushes++;
    *flush = true;
    return tag;
}

void tag_pool_put(struct tag_pool *p, struct tag_slot *s)
{
    unsigned tag = tag_pool_valid(p, s);
    if (tag)
        p->given_back[tag / 64] |= 1ull << (tag % 64);
    s->generation = 0;
    s->tag = 0;
}

// ---------------------------------------------------------------- per CPU

// Runs once, on first use: after arch_cpu_init() and vm_init(), when the
// arch knows whether it tags TLB entries.
static void tags_init(void)
{
    char value[8];
    // The arch offers tags 1..count; 0 is reserved on top of them.
    tag_max = arch_tlb_tag_count();
    if (tag_max >= TAG_POOL_MAX)
        tag_max = TAG_POOL_MAX - 1;
    if (cmdline_option("tlbtags", value, sizeof(value)) && strcmp(value, "off") == 0)
        tag_max = 0;
    for (unsigned c = 0; c < MAX_CPUS; c++)
        tag_pool_init(&tag_pools[c], tag_max);
    ready = true;
}

static inline struct tag_pool *this_pool(void)
{
    if (unlikely(!ready))
        tags_init();
    return &tag_pools[this_cpu()->id];
}

bool tag_enabled(void) { return this_pool()->limit != 0; }

unsigned tag_acquire(struct vas_tags *t, bool *flush)
{
    struct tag_pool *p = this_pool();
    struct tag_slot *s = &t->cpu[this_cpu()->id];
    if (likely(p->limit && s->generation == p->generation)) {
        p->switches++;
        *flush = false;
        return s->tag;
    }
    if (!p->limit)
        return untagged(p, flush);      // x86_64 under TCG: no tags to guard, no lock
    ticket_lock(&p->lock);
    unsigned tag = tag_pool_get(p, s, flush);
    ticket_unlock(&p->lock);
    return tag;
}

unsigned tag_valid(const struct vas_tags *t)
{
    return tag_pool_valid(this_pool(), &t->cpu[this_cpu()->id]);
}

unsigned tag_valid_on(const struct vas_tags *t, unsigned cpu)
{
    if (unlikely(!ready))
        tags_init();
    const struct tag_slot *s = &t->cpu[cpu];
    uint64_t generation = __atomic_load_n(&tag_pools[cpu].generation, __ATOMIC_RELAXED);
    return s->generation && s->generation == generation ? s->tag : 0;
}

void tag_release(struct vas_tags *t)
{
    if (unlikely(!ready))
        tags_init();
    // The VAS is loaded nowhere (vas.c made every CPU leave it).
    for (unsigned c = 0; c < MAX_CPUS; c++) {
        if (!t->cpu[c].generation)
            continue;
        ticket_lock(&tag_pools[c].lock);
        tag_pool_put(&tag_pools[c], &t->cpu[c]);
        ticket_unlock(&tag_pools[c].lock);
    }
}

void tag_get_stats(struct tag_stats *out)
{
    const struct tag_pool *p = this_pool();
    *out = (struct tag_stats){
        .limit = p->limit, .generation = p->generation, .switches = p->switches,
        .flushes = p->flushes, .rollovers = p->rollovers,
    };
}

unsigned tag_set_limit(unsigned limit)
{
    struct tag_pool *p = this_pool();
    ticket_lock(&p->lock);
    unsigned old = p->limit;
    p->limit = (uint16_t)(limit < tag_max ? limit : tag_max);
    // A new generation: no tag above the new limit stays in use.
    p->generation++;
    p->rollovers++;
    p->next = 1;
    memset(p->given_back, 0, sizeof(p->given_back));
    ticket_unlock(&p->lock);
    return old;
}
