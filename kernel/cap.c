#include "kernel/cap.h"
#include "kernel/console.h"
#include "kernel/locks.h"
#include "kernel/object.h"
#include "include/manifold/errors.h"
#include "lib/string.h"

static struct cnode_header *zombies;    // CNodes whose final cap was deleted

void cnode_init(uintptr_t obj, unsigned size_bits)
{
    struct cnode_header *h = cnode_header(obj);
    h->magic = CNODE_MAGIC;
    h->size_bits = (uint8_t)size_bits;
}

void cap_insert(struct slot *dst, const struct cap *cap, struct slot *parent)
{
    assert(slot_empty(dst));
    dst->cap = *cap;
    dst->parent = parent;
    dst->first_child = NULL;
    dst->prev_sibling = NULL;
    dst->next_sibling = parent ? parent->first_child : NULL;
    if (dst->next_sibling)
        dst->next_sibling->prev_sibling = dst;
    if (parent)
        parent->first_child = dst;
}

static bool same_object(const struct slot *a, const struct slot *b)
{
    return a->cap.obj == b->cap.obj && a->cap.type == b->cap.type;
}

// Caps to one object always form one cluster: a cap, its copies (children)
// and, after deletions re-link them, its former siblings. So looking at the
// parent, the children and the siblings is enough.
bool cap_is_final(const struct slot *s)
{
    if (s->parent && same_object(s->parent, s))
        return false;
    for (const struct slot *c = s->first_child; c; c = c->next_sibling)
        if (same_object(c, s))
            return false;
    const struct slot *first = s->parent ? s->parent->first_child : s;
    while (first->prev_sibling)
        first = first->prev_sibling;
    for (const struct slot *o = first; o; o = o->next_sibling)
        if (o != s && same_object(o, s))
            return false;
    return true;
}

// Removes s from the tree; its children become children of its parent.
static void unlink_slot(struct slot *s)
{
    struct slot *parent = s->parent;
    // Splice the children into s's place among its siblings.
    struct slot *first = s->first_child, *last = first;
    for (struct slot *c = first; c; c = c->next_sibling) {
        c->parent = parent;
        last = c;
    }
    struct slot *prev = s->prev_sibling, *next = s->next_sibling;
    if (first) {
        first->prev_sibling = prev;
        last->next_sibling = next;
        if (next)
            next->prev_sibling = last;
    } else {
        first = next;
        if (next)
            next->prev_sibling = prev;
    }
    if (prev)
        prev->next_sibling = first;
    else if (parent)
        parent->first_child = first;
    memset(s, 0, sizeof(*s));
}

void cnode_finalize(const struct cap *cap)
{
    struct cnode_header *h = cnode_header(cap->obj);
    h->zombie = true;
    h->drain_next = 1;
    h->next_zombie = zombies;
    zombies = h;
}

static int delete_one(struct slot *s, unsigned *budget)
{
    if (slot_empty(s))
        return 0;
    const struct object_type *type = object_types[s->cap.type];
    if (type->cap_deleted)
        type->cap_deleted(s);
    bool final = cap_is_final(s);
    struct cap cap = s->cap;
    unlink_slot(s);
    if (*budget)
        (*budget)--;
    if (final && type->finalize)
        type->finalize(&cap);
    return 0;
}

// The capability a copy or mint of src makes: rights only shrink; untyped
// caps carry the retype watermark and so are moved, never copied; only
// badgeable types take a badge (badge_arg 0 keeps src's, as copy does).
int cap_derive(const struct cap *src, uint64_t rights, uint64_t badge_arg, struct cap *out)
{
    if (src->type == MF_OBJ_UNTYPED)
        return -E_TYPE;
    if (rights & ~(uint64_t)MF_RIGHTS_ALL)
        return -E_INVAL;
    if (badge_arg) {
        // Endpoints and notifications carry badges, set once, below 2^63
        // so that a received badge never looks like an error. VAS and
        // segment caps carry a half of a split process (MF_HALF_*), set
        // once: what they may map and attach (kernel/segment.c, "Halves").
        bool half = src->type == MF_OBJ_VAS || src->type == MF_OBJ_SEGMENT;
        if (src->type != MF_OBJ_ENDPOINT && src->type != MF_OBJ_NOTIFICATION && !half)
            return -E_INVAL;
        if (src->badge || badge_arg >> 63 || (half && badge_arg != MF_HALF_LOWER && badge_arg != MF_HALF_UPPER))
            return -E_INVAL;
    }
    *out = *src;
    out->held = 0;
    out->rights = src->rights & (uint8_t)rights;
    out->badge = badge_arg ? badge_arg : src->badge;
    if (src->type == MF_OBJ_FRAME) {
        out->badge = 0;           // a copy starts unmapped (see segment.c)
        out->reserved1 = 0;
    }
    return 0;
}

bool cap_zombies_pending(void) { return zombies != NULL; }

int cap_drain_zombies(unsigned *budget)
{
    while (zombies) {
        struct cnode_header *h = zombies;
        struct slot *slots = cnode_slots((uintptr_t)h);
        uint32_t count = 1u << h->size_bits;
        while (h->drain_next < count) {
            if (*budget == 0)
                return -E_AGAIN;
            delete_one(&slots[h->drain_next++], budget);
        }
        zombies = h->next_zombie;
        h->zombie = false;
        h->magic = 0;      // the memory now belongs to its untyped only
    }
    return 0;
}

void cap_delete_nested(struct slot *s)
{
    assert(cap_lock_held());
    unsigned budget = 1;
    delete_one(s, &budget);     // a CNode becomes a zombie: drained later, bounded
}

int cap_delete(struct slot *s, unsigned *budget)
{
    delete_one(s, budget);
    return cap_drain_zombies(budget);
}

static bool revoking;       // cap_lock

bool cap_revoking(void) { return revoking; }

int cap_revoke(struct slot *s, unsigned *budget)
{
    while (s->first_child) {
        if (*budget == 0)
            return -E_AGAIN;
        struct slot *leaf = s->first_child;
        while (leaf->first_child)
            leaf = leaf->first_child;
        revoking = true;
        delete_one(leaf, budget);
        revoking = false;
        int r = cap_drain_zombies(budget);
        if (r)
            return r;
    }
    int r = cap_drain_zombies(budget);
    if (r)
        return r;
    if (s->cap.type == MF_OBJ_UNTYPED)
        s->cap.badge = 0;   // every object carved from it is gone
    return 0;
}

void cap_move(struct slot *dst, struct slot *src)
{
    assert(slot_empty(dst) && !slot_empty(src));
    *dst = *src;
    if (dst->prev_sibling)
        dst->prev_sibling->next_sibling = dst;
    else if (dst->parent)
        dst->parent->first_child = dst;
    if (dst->next_sibling)
        dst->next_sibling->prev_sibling = dst;
    for (struct slot *c = dst->first_child; c; c = c->next_sibling)
        c->parent = dst;
    memset(src, 0, sizeof(*src));
}
