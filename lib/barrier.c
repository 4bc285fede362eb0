// Spinning barriers; contracts and the memory-ordering argument in barrier.h.
// Every algorithm is sense-reversing: a participant's private sense flips
// each episode, and "released" means a shared word equals the sense of the
// current episode, so nothing needs resetting between episodes except
// counters, which are reset before the release that ends the episode.
#include "lib/barrier.h"
#include <stddef.h>

_Static_assert(sizeof(struct barrier_local) == CACHE_LINE_SIZE, "one line each");
_Static_assert(sizeof(struct combining_node) == CACHE_LINE_SIZE, "one line each");
_Static_assert(sizeof(struct mcs_tree_node) == CACHE_LINE_SIZE, "one line each");
_Static_assert(sizeof(struct tournament_row) == CACHE_LINE_SIZE, "one line each");
_Static_assert(sizeof(struct dissemination_node) == CACHE_LINE_SIZE, "one line each");
_Static_assert((1u << (TOURNAMENT_ROUNDS - 1)) >= BARRIER_MAX_PARTICIPANTS, "rounds");
_Static_assert((1u << DISSEMINATION_ROUNDS) >= BARRIER_MAX_PARTICIPANTS, "rounds");

static bool participants_ok(uint32_t n)
{
    return n >= 1 && n <= BARRIER_MAX_PARTICIPANTS;
}

// ceil(log2(n)) for n >= 1.
static uint32_t log2_ceil(uint32_t n)
{
    uint32_t k = 0;
    while ((1u << k) < n)
        k++;
    return k;
}

static void spin_until_equal(uint32_t *word, uint32_t value)
{
    // Acquire: pairs with the release store that wrote `value`.
    while (__atomic_load_n(word, __ATOMIC_ACQUIRE) != value)
        cpu_relax();
}

static void notify(uint32_t *word, uint32_t value)
{
    __atomic_store_n(word, value, __ATOMIC_RELEASE);
}

// Flips and returns the participant's sense for this episode.
static uint32_t next_sense(struct barrier_local *local)
{
    local->sense ^= 1;
    return local->sense;
}

// ---------------------------------------------------- centralized counter

bool barrier_counter_init(struct barrier_counter *b, uint32_t n)
{
    if (!participants_ok(n))
        return false;
    b->arrive.count = n;
    b->arrive.n = n;
    b->release.sense = 0;
    for (uint32_t i = 0; i < BARRIER_MAX_PARTICIPANTS; i++)
        b->local[i].sense = 0;
    return true;
}

void barrier_counter_wait(struct barrier_counter *b, uint32_t id)
{
    uint32_t sense = next_sense(&b->local[id]);
    // acq_rel: the decrements form one release sequence, so the last
    // arrival's decrement acquires every earlier arrival's writes.
    if (__atomic_fetch_sub(&b->arrive.count, 1, __ATOMIC_ACQ_REL) == 1) {
        // Reset before the release below: the next episode's decrements
        // happen after their callers see the new sense.
        __atomic_store_n(&b->arrive.count, b->arrive.n, __ATOMIC_RELAXED);
        notify(&b->release.sense, sense);
    } else {
        spin_until_equal(&b->release.sense, sense);
    }
}

// ---------------------------------------------------------- combining tree

bool barrier_combining_init(struct barrier_combining *b, uint32_t n)
{
    if (!participants_ok(n))
        return false;
    // Level by level from the leaves: `children` things (participants, then
    // nodes) grouped COMBINING_FANIN to a node, until one node remains.
    uint32_t first = 0, children = n;
    for (;;) {
        uint32_t width = (children + COMBINING_FANIN - 1) / COMBINING_FANIN;
        for (uint32_t k = 0; k < width; k++) {
            struct combining_node *node = &b->node[first + k];
            uint32_t left = children - k * COMBINING_FANIN;
            node->fanin = left < COMBINING_FANIN ? left : COMBINING_FANIN;
            node->count = node->fanin;
            node->sense = 0;
            node->parent = width == 1 ? -1 : (int32_t)(first + width + k / COMBINING_FANIN);
        }
        if (width == 1)
            break;
        first += width;
        children = width;
    }
    for (uint32_t i = 0; i < BARRIER_MAX_PARTICIPANTS; i++)
        b->local[i].sense = 0;
    b->n = n;
    return true;
}

void barrier_combining_wait(struct barrier_combining *b, uint32_t id)
{
    uint32_t sense = next_sense(&b->local[id]);
    int32_t completed[COMBINING_DEPTH];     // nodes we arrived at last
    int depth = 0;
    int32_t i = (int32_t)(id / COMBINING_FANIN);
    for (;;) {
        struct combining_node *node = &b->node[i];
        // acq_rel as in the counter barrier: the last arrival at a node
        // acquires the writes of everyone who arrived there (and, through
        // them, of their whole subtree).
        if (__atomic_fetch_sub(&node->count, 1, __ATOMIC_ACQ_REL) != 1) {
            spin_until_equal(&node->sense, sense);
            break;
        }
        completed[depth++] = i;
        if (node->parent < 0)
            break;          // last at the root: the episode is complete
        i = node->parent;
    }
    // Release the nodes we completed, top-down, resetting each count first.
    while (depth > 0) {
        struct combining_node *node = &b->node[completed[--depth]];
        __atomic_store_n(&node->count, node->fanin, __ATOMIC_RELAXED);
        notify(&node->sense, sense);
    }
}

// ---------------------------------------------------------------- MCS tree

bool barrier_mcs_tree_init(struct barrier_mcs_tree *b, uint32_t n)
{
    if (!participants_ok(n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        struct mcs_tree_node *node = &b->node[i];
        for (uint32_t j = 0; j < 4; j++) {
            node->have_child[j] = 4 * i + j + 1 < n;
            node->child_not_ready[j] = node->have_child[j];
        }
        node->parent_sense = 0;
        node->sense = 1;
    }
    b->n = n;
    return true;
}

void barrier_mcs_tree_wait(struct barrier_mcs_tree *b, uint32_t id)
{
    struct mcs_tree_node *node = &b->node[id];
    uint32_t sense = node->sense;
    // Arrival: wait for our 4-ary children (each acquire pairs with the
    // child's release below), re-arm their flags for the next episode, then
    // report to our parent.
    for (uint32_t j = 0; j < 4; j++) {
        if (node->have_child[j])
            spin_until_equal(&node->child_not_ready[j], 0);
    }
    for (uint32_t j = 0; j < 4; j++)
        __atomic_store_n(&node->child_not_ready[j], node->have_child[j], __ATOMIC_RELAXED);
    if (id != 0) {
        notify(&b->node[(id - 1) / 4].child_not_ready[(id - 1) % 4], 0);
        spin_until_equal(&node->parent_sense, sense);
    }
    // Wake-up: our binary-tree children.
    for (uint32_t c = 2 * id + 1; c <= 2 * id + 2 && c < b->n; c++)
        notify(&b->node[c].parent_sense, sense);
    node->sense = !sense;
}

// -------------------------------------------------------------- tournament

enum { ROLE_UNUSED, ROLE_WINNER, ROLE_LOSER, ROLE_BYE, ROLE_CHAMPION, ROLE_DROPOUT };

// Role of participant i in round k (Mellor-Crummey & Scott, fig. 10).
static uint8_t tournament_role(uint32_t i, uint32_t k, uint32_t n)
{
    if (k == 0)
        return ROLE_DROPOUT;
    uint32_t half = 1u << (k - 1), full = 1u << k;
    if (i == 0 && full >= n)
        return ROLE_CHAMPION;
    if (i % full == 0)
        return i + half < n ? ROLE_WINNER : ROLE_BYE;
    if (i % full == half)
        return ROLE_LOSER;
    return ROLE_UNUSED;
}

bool barrier_tournament_init(struct barrier_tournament *b, uint32_t n)
{
    if (!participants_ok(n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        struct tournament_row *row = &b->row[i];
        for (uint32_t k = 0; k < TOURNAMENT_ROUNDS; k++) {
            row->role[k] = tournament_role(i, k, n);
            row->flag[k] = 0;
        }
        row->sense = 1;
    }
    b->n = n;
    return true;
}

void barrier_tournament_wait(struct barrier_tournament *b, uint32_t id)
{
    // Alone there is no opponent, and the champion would wait for none.
    if (b->n == 1)
        return;
    struct tournament_row *row = &b->row[id];
    uint32_t sense = row->sense;
    uint32_t k = 1;
    // Arrival: climb while winning; a loser reports, the champion finishes.
    for (;; k++) {
        uint32_t half = 1u << (k - 1);
        if (row->role[k] == ROLE_LOSER) {
            notify(&b->row[id - half].flag[k], sense);
            spin_until_equal(&row->flag[k], sense);     // woken by the winner
            break;
        }
        if (row->role[k] == ROLE_WINNER)
            spin_until_equal(&row->flag[k], sense);     // the loser arrived
        if (row->role[k] == ROLE_CHAMPION) {
            spin_until_equal(&row->flag[k], sense);
            notify(&b->row[id + half].flag[k], sense);  // wake-up starts
            break;
        }
        // ROLE_BYE: no opponent this round
    }
    // Wake-up: the opponents we beat, latest round first.
    while (row->role[--k] != ROLE_DROPOUT) {
        if (row->role[k] == ROLE_WINNER)
            notify(&b->row[id + (1u << (k - 1))].flag[k], sense);
    }
    row->sense = !sense;
}

// ----------------------------------------------------------- dissemination

bool barrier_dissemination_init(struct barrier_dissemination *b, uint32_t n)
{
    if (!participants_ok(n))
        return false;
    for (uint32_t i = 0; i < n; i++) {
        struct dissemination_node *node = &b->node[i];
        for (uint32_t r = 0; r < DISSEMINATION_ROUNDS; r++)
            node->flag[0][r] = node->flag[1][r] = 0;
        node->parity = 0;
        node->sense = 1;
    }
    b->n = n;
    b->rounds = log2_ceil(n);
    return true;
}

void barrier_dissemination_wait(struct barrier_dissemination *b, uint32_t id)
{
    struct dissemination_node *node = &b->node[id];
    uint32_t parity = node->parity, sense = node->sense;
    for (uint32_t r = 0; r < b->rounds; r++) {
        uint32_t partner = (id + (1u << r)) % b->n;
        // Release carries everything we have heard so far to the partner.
        notify(&b->node[partner].flag[parity][r], sense);
        spin_until_equal(&node->flag[parity][r], sense);
    }
    // Parity alternates every episode; sense flips every second one, when
    // the flag set is about to be reused.
    if (parity == 1)
        node->sense = !sense;
    node->parity = 1 - parity;
}

// ---------------------------------------------------------- any of the five

bool any_barrier_init(struct any_barrier *b, enum barrier_kind kind, uint32_t n)
{
    bool ok;
    switch (kind) {
    case BARRIER_COUNTER:       ok = barrier_counter_init(&b->u.counter, n); break;
    case BARRIER_COMBINING:     ok = barrier_combining_init(&b->u.combining, n); break;
    case BARRIER_MCS_TREE:      ok = barrier_mcs_tree_init(&b->u.mcs_tree, n); break;
    case BARRIER_TOURNAMENT:    ok = barrier_tournament_init(&b->u.tournament, n); break;
    case BARRIER_DISSEMINATION: ok = barrier_dissemination_init(&b->u.dissemination, n); break;
    default:                    ok = false; break;
    }
    if (ok)
        b->kind = kind;
    return ok;
}

void any_barrier_wait(struct any_barrier *b, uint32_t id)
{
    switch (b->kind) {
    case BARRIER_COUNTER:       barrier_counter_wait(&b->u.counter, id); break;
    case BARRIER_COMBINING:     barrier_combining_wait(&b->u.combining, id); break;
    case BARRIER_MCS_TREE:      barrier_mcs_tree_wait(&b->u.mcs_tree, id); break;
    case BARRIER_TOURNAMENT:    barrier_tournament_wait(&b->u.tournament, id); break;
    default:                    barrier_dissemination_wait(&b->u.dissemination, id); break;
    }
}

const char *barrier_kind_name(enum barrier_kind kind)
{
    switch (kind) {
    case BARRIER_COUNTER:       return "counter";
    case BARRIER_COMBINING:     return "combining";
    case BARRIER_MCS_TREE:      return "mcs-tree";
    case BARRIER_TOURNAMENT:    return "tournament";
    case BARRIER_DISSEMINATION: return "dissemination";
    default:                    return "?";
    }
}
