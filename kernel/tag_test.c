// Self-tests of the TLB tag pools (on private pools) and of tagged
// address-space switching (on the real per-CPU pool and the real MMU).
#include "kernel/arch.h"
#include "kernel/console.h"
#include "kernel/ktest.h"
#include "kernel/tag.h"
#include "kernel/vas.h"
#include "kernel/version.h"
#include "lib/string.h"

// ------------------------------------------------------- private pools

KTEST(tag_pool_hands_out_distinct_tags)
{
    struct tag_pool p;
    struct tag_slot s[3] = {{0}};
    bool flush;
    tag_pool_init(&p, 3);
    for (unsigned i = 0; i < 3; i++) {
        KCHECK(tag_pool_get(&p, &s[i], &flush) == i + 1);
        KCHECK(flush);                              // a new tag is flushed
    }
    // Valid tags are kept, and switching back to them flushes nothing.
    for (unsigned i = 0; i < 3; i++) {
        KCHECK(tag_pool_get(&p, &s[i], &flush) == i + 1);
        KCHECK(!flush);
        KCHECK(tag_pool_valid(&p, &s[i]) == i + 1);
    }
    KCHECK(p.rollovers == 0 && p.switches == 6 && p.flushes == 3);
    return NULL;
}

KTEST(tag_pool_recycles_with_generations)
{
    struct tag_pool p;
    struct tag_slot s[4] = {{0}};
    bool flush;
    tag_pool_init(&p, 3);
    for (unsigned i = 0; i < 3; i++)
        tag_pool_get(&p, &s[i], &flush);
    uint64_t gen = p.generation;
    // A fourth space exhausts the pool: new generation, tag 1 again, flushed.
    KCHECK(tag_pool_get(&p, &s[3], &flush) == 1 && flush);
    KCHECK(p.generation == gen + 1 && p.rollovers == 1);
    // Everyone else is stale now ...
    for (unsigned i = 0; i < 3; i++)
        KCHECK(tag_pool_valid(&p, &s[i]) == 0);
    // ... and gets a fresh tag with a flushing switch, never tag 1 (s[3]'s).
    KCHECK(tag_pool_get(&p, &s[0], &flush) == 2 && flush);
    KCHECK(tag_pool_get(&p, &s[1], &flush) == 3 && flush);
    KCHECK(tag_pool_get(&p, &s[3], &flush) == 1 && !flush);
    // A stale slot given back frees nothing; a valid one is handed out next.
    tag_pool_put(&p, &s[2]);
    tag_pool_put(&p, &s[0]);
    KCHECK(s[0].generation == 0 && tag_pool_valid(&p, &s[0]) == 0);
    KCHECK(tag_pool_get(&p, &s[2], &flush) == 2 && flush);
    KCHECK(p.generation == gen + 1);
    // Exhausted again: the next newcomer starts generation gen + 2.
    KCHECK(tag_pool_get(&p, &s[0], &flush) == 1 && flush && p.generation == gen + 2);
    return NULL;
}

// Many switches among more spaces than tags, in a scrambled order: at every
// step no two spaces hold the same valid tag, and a switch flushes exactly
// when the space's tag was not valid before it.
KTEST(tag_pool_invariants_under_pressure)
{
    enum { SPACES = 7, LIMIT = 4, STEPS = 2000 };
    struct tag_pool p;
    struct tag_slot s[SPACES] = {{0}};
    tag_pool_init(&p, LIMIT);
    uint32_t x = 12345;
    for (unsigned step = 0; step < STEPS; step++) {
        x = x * 1103515245 + 12345;
        unsigned i = (x >> 16) % SPACES;
        if ((x >> 8) % 17 == 0) {                   // sometimes a space dies
            tag_pool_put(&p, &s[i]);
            continue;
        }
        bool was_valid = tag_pool_valid(&p, &s[i]) != 0, flush;
        unsigned tag = tag_pool_get(&p, &s[i], &flush);
        KCHECK(tag >= 1 && tag <= LIMIT);
        KCHECK(flush == !was_valid);
        for (unsigned j = 0; j < SPACES; j++)
            KCHECK(j == i || tag_pool_valid(&p, &s[j]) != tag);
    }
    KCHECK(p.rollovers > 0);
    return NULL;
}

KTEST(tag_pool_untagged_always_flushes)
{
    struct tag_pool p;
    struct tag_slot s = {0};
    bool flush = false;
    tag_pool_init(&p, 0);
    for (unsigned i = 0; i < 3; i++) {
        KCHECK(tag_pool_get(&p, &s, &flush) == 0 && flush);
        flush = false;
    }
    KCHECK(tag_pool_valid(&p, &s) == 0 && p.flushes == 3);
    return NULL;
}

// ------------------------------------------------- real address spaces

#define SPACES 4
#define SWITCHES 1000
#define TEST_VA 0x0000100000000000ul

// Whether this boot should switch tagged: tags in hardware, not disabled.
static bool tags_expected(void)
{
    char value[8];
    bool off = cmdline_option("tlbtags", value, sizeof(value)) && strcmp(value, "off") == 0;
    return arch_tlb_tag_count() > 0 && !off;
}

// Creates `n` spaces with one page at TEST_VA holding 1000 * (i + 1).
static const char *spaces_create(struct vas **v, unsigned n, uint64_t *expect)
{
    for (unsigned i = 0; i < n; i++) {
        v[i] = vas_create();
        if (!v[i] || vas_map_anonymous(v[i], TEST_VA, PAGE_SIZE, VM_READ | VM_WRITE))
            return "cannot create a test address space";
        vas_activate(v[i]);
        expect[i] = 1000 * (i + 1);
        if (arch_copy_to_user((void *)TEST_VA, &expect[i], sizeof(expect[i])))
            return "write through the user mapping faulted";
    }
    return NULL;
}

static void spaces_destroy(struct vas **v, unsigned n, struct vas *caller)
{
    if (caller)
        vas_activate(caller);
    for (unsigned i = 0; i < n; i++)
        if (v[i])
            vas_release(v[i]);
}

// Switches `count` times, each time to another space in a scrambled order
// (n >= 2), starting from the last one created; each time reads the space's
// own value at the shared address and bumps it. NULL or a reason.
static const char *switch_and_check(struct vas **v, unsigned n, uint64_t *expect, unsigned count)
{
    uint32_t x = 777;
    unsigned i = n - 1;                             // the space loaded now
    for (unsigned k = 0; k < count; k++) {
        x = x * 1103515245 + 12345;
        i = (i + 1 + (x >> 16) % (n - 1)) % n;     // always another space
        vas_activate(v[i]);
        uint64_t got;
        if (arch_copy_from_user(&got, (const void *)TEST_VA, sizeof(got)))
            return "read through the user mapping faulted";
        if (got != expect[i]) {
            kprintf("# switch %u to space %u: read %lu, expected %lu\n", k, i, got, expect[i]);
            return "a space read another space's data";
        }
        expect[i]++;
        if (arch_copy_to_user((void *)TEST_VA, &expect[i], sizeof(expect[i])))
            return "write through the user mapping faulted";
    }
    return NULL;
}

// Thousand switches among four spaces with data at the same address: each
// read sees its own space's value. With tags, only the first switch into
// each space flushes; untagged, every one does.
KTEST(vas_switch_keeps_contents)
{
    struct vas *caller = vas_active(), *v[SPACES] = {0};
    uint64_t expect[SPACES];
    bool tagged = tags_expected();
    KCHECK(tag_enabled() == tagged);
    KCHECK(!!(arch_feature_bits() & ARCH_FEAT_TAGGED_TLB) == (arch_tlb_tag_count() > 0));
    struct tag_stats before, after;
    tag_get_stats(&before);
    const char *why = spaces_create(v, SPACES, expect);
    uint64_t t0 = arch_cycles();
    if (!why)
        why = switch_and_check(v, SPACES, expect, SWITCHES);
    uint64_t cycles = arch_cycles() - t0;
    tag_get_stats(&after);
    spaces_destroy(v, SPACES, caller);
    if (why)
        return why;
    uint64_t switches = after.switches - before.switches;
    uint64_t flushes = after.flushes - before.flushes;
    KCHECK(switches == SWITCHES + SPACES);         // spaces_create switched too
    if (tagged)
        KCHECK(flushes <= SPACES && after.rollovers == before.rollovers);
    else
        KCHECK(flushes == switches && after.limit == 0);
    kprintf("# vas switch: %s (%u tags per CPU): %lu switches among %u spaces at one address, "
            "%lu flushing, %lu cycles per switch and check\n",
            tagged ? "tagged" : "untagged", after.limit, switches, SPACES, flushes,
            cycles / SWITCHES);
    return NULL;
}

// The same with a pool of two tags for four spaces: tags are recycled all
// the time, each recycled tag is flushed on its first use, and no space
// ever sees another's data.
KTEST(vas_switch_recycles_tags)
{
    struct vas *caller = vas_active(), *v[SPACES] = {0};
    uint64_t expect[SPACES];
    bool tagged = tags_expected();
    unsigned old_limit = tag_set_limit(2);
    struct tag_stats before, after;
    tag_get_stats(&before);
    const char *why = spaces_create(v, SPACES, expect);
    if (!why)
        why = switch_and_check(v, SPACES, expect, SWITCHES);
    tag_get_stats(&after);
    tag_set_limit(old_limit);
    spaces_destroy(v, SPACES, caller);
    if (why)
        return why;
    uint64_t switches = after.switches - before.switches;
    uint64_t flushes = after.flushes - before.flushes;
    uint64_t rollovers = after.rollovers - before.rollovers;
    if (tagged)
        KCHECK(after.limit == 2 && rollovers > 0 && flushes > SPACES && flushes < switches);
    else
        KCHECK(flushes == switches && rollovers == 0);
    kprintf("# vas switch: %s, pool cut to %u tags: %lu switches among %u spaces, "
            "%lu flushing, %lu rollovers\n",
            tagged ? "tagged" : "untagged", after.limit, switches, SPACES, flushes, rollovers);
    return NULL;
}
