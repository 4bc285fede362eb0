// Lock-order validation catches what it is for: a direct inversion, a
// cycle through three classes, and a lock taken with interrupts on; and
// stays quiet for a consistent order.
#include "kernel/ktest.h"
#include "kernel/lockdep.h"
#include "lib/spinlock.h"

static void pair(struct mcs_lock *first, struct mcs_lock *second)
{
    struct mcs_qnode q1, q2;
    mcs_lock(first, &q1);
    mcs_lock(second, &q2);
    mcs_unlock(second, &q2);
    mcs_unlock(first, &q1);
}

KTEST(lockdep_catches_inversions_and_interrupt_state)
{
    KCHECK(lockdep_enabled());      // make test runs with it on
    struct mcs_lock a = {.lock_class = LOCK_CLASS_TEST_A}, b = {.lock_class = LOCK_CLASS_TEST_B},
                    c = {.lock_class = LOCK_CLASS_TEST_C};
    unsigned v0 = lockdep_self_test_violations(), real0 = lockdep_violations();
    pair(&a, &b);                   // A then B
    pair(&a, &b);                   // again: nothing new
    pair(&b, &c);                   // B then C
    unsigned consistent = lockdep_self_test_violations() - v0;
    pair(&c, &a);                   // C then A closes A -> B -> C -> A
    unsigned cycle = lockdep_self_test_violations() - v0 - consistent;
    pair(&b, &a);                   // B then A: the direct inversion
    unsigned inversion = lockdep_self_test_violations() - v0 - consistent - cycle;
    struct mcs_qnode q;
    lockdep_self_test_irqs(true);
    mcs_lock(&a, &q);               // "with interrupts on": against the kernel's rule
    mcs_unlock(&a, &q);
    lockdep_self_test_irqs(false);
    unsigned irq_on = lockdep_self_test_violations() - v0 - consistent - cycle - inversion;
    lockdep_forget(LOCK_CLASS_TEST_A);
    lockdep_forget(LOCK_CLASS_TEST_B);
    lockdep_forget(LOCK_CLASS_TEST_C);
    KCHECK(consistent == 0);
    KCHECK(cycle == 1);
    KCHECK(inversion == 1);
    KCHECK(irq_on == 1);
    KCHECK(lockdep_violations() == real0);     // none of it counted as a real one
    return NULL;
}
