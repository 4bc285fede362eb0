// Self-tests of the derivation tree on a scratch CNode.
#include "kernel/invoke.h"
#include "kernel/object.h"
#include "kernel/cap.h"
#include "kernel/ktest.h"
#include "kernel/pmm.h"
#include "include/manifold/errors.h"

#define BITS 6

static struct slot *scratch(paddr_t *pa)
{
    *pa = pmm_alloc();   // 64 slots of 64 bytes
    if (!*pa)
        return NULL;
    cnode_init((uintptr_t)P2V(*pa), BITS);
    return cnode_slots((uintptr_t)P2V(*pa));
}

static struct cap frame_cap(uintptr_t obj)
{
    return (struct cap){.obj = obj, .type = MF_OBJ_FRAME, .rights = MF_RIGHTS_ALL, .size_bits = 12};
}

KTEST(cap_delete_relinks_children)
{
    paddr_t pa;
    struct slot *s = scratch(&pa);
    KCHECK(s);
    struct cap a = frame_cap(0x1000), b = frame_cap(0x2000);
    cap_insert(&s[1], &a, NULL);        // root
    cap_insert(&s[2], &a, &s[1]);       // copies of a
    cap_insert(&s[3], &a, &s[2]);
    cap_insert(&s[4], &a, &s[2]);
    cap_insert(&s[5], &b, &s[1]);       // unrelated child, for the sibling list
    KCHECK(!cap_is_final(&s[1]) && !cap_is_final(&s[3]));
    unsigned budget = 100;
    KCHECK(cap_delete(&s[2], &budget) == 0);
    // 3 and 4 are now children of 1, beside 5.
    KCHECK(s[3].parent == &s[1] && s[4].parent == &s[1] && s[5].parent == &s[1]);
    unsigned n = 0;
    for (struct slot *c = s[1].first_child; c; c = c->next_sibling) {
        KCHECK(c->next_sibling == NULL || c->next_sibling->prev_sibling == c);
        n++;
    }
    KCHECK(n == 3);
    KCHECK(cap_is_final(&s[5]) && !cap_is_final(&s[4]));
    KCHECK(cap_revoke(&s[1], &budget) == 0);
    KCHECK(slot_empty(&s[3]) && slot_empty(&s[4]) && slot_empty(&s[5]) && !slot_empty(&s[1]));
    KCHECK(s[1].first_child == NULL && budget == 100 - 4);
    KCHECK(cap_is_final(&s[1]));
    pmm_free(pa);
    return NULL;
}

KTEST(cap_zombie_cnode_drains_within_budget)
{
    paddr_t pa, inner_pa;
    struct slot *s = scratch(&pa), *inner = scratch(&inner_pa);
    KCHECK(s && inner);
    struct cap cn = {.obj = (uintptr_t)inner, .type = MF_OBJ_CNODE, .rights = MF_RIGHTS_ALL, .size_bits = BITS};
    cap_insert(&s[1], &cn, NULL);
    struct cap f = frame_cap(0x3000);
    cap_insert(&inner[1], &f, NULL);
    for (unsigned i = 2; i < 40; i++)
        cap_insert(&inner[i], &f, &inner[1]);
    unsigned budget = 10;
    // Deleting the final CNode cap makes it a zombie; 10 units drain part of it.
    KCHECK(cap_delete(&s[1], &budget) == -E_AGAIN);
    KCHECK(slot_empty(&s[1]) && cap_zombies_pending());
    KCHECK(cnode_header((uintptr_t)inner)->zombie);
    budget = 1000;
    KCHECK(cap_drain_zombies(&budget) == 0 && !cap_zombies_pending());
    for (unsigned i = 1; i < 40; i++)
        KCHECK(slot_empty(&inner[i]));
    pmm_free(inner_pa);
    pmm_free(pa);
    return NULL;
}

// Every MF_OBJ_* but NULL has a descriptor with a name; retypable types
// format objects of at least 32 bytes; invocable ones bound their table.
KTEST(object_types_complete)
{
    KCHECK(object_types[MF_OBJ_NULL] == NULL);
    for (unsigned t = MF_OBJ_NULL + 1; t < MF_OBJ_TYPE_COUNT; t++) {
        const struct object_type *ot = object_types[t];
        KCHECK(ot != NULL && ot->name != NULL);
        KCHECK(ot->op_count <= MAX_OPS && (ot->ops != NULL) == (ot->op_count > 0));
        for (unsigned size_bits = 0; ot->object_bits && size_bits < 32; size_bits++) {
            int bits = ot->object_bits(size_bits);
            KCHECK(bits < 0 || bits >= 5);
        }
    }
    return NULL;
}
