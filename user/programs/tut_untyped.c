// Tutorial 3 (docs/tutorial/3-untyped.md): what objects cost, the untyped
// as a watermark, running out, retyping several at once, and libmanifold's
// slot allocator (mf_new), which picks the slots so we need not number them.
#include "manifold.h"

#define SELF MF_CAP_SELF_CNODE

static int bad;                     // how many checks failed
static void check(bool ok, const char *what)
{
    if (!ok) {
        printf("tut_untyped: FAILED: %s\n", what);
        bad++;
    }
}

// The types and the sizes docs/capabilities.md gives for them.
static const struct { unsigned type, size_bits; unsigned long bytes; } kinds[] = {
    {MF_OBJ_NOTIFICATION, 0, 64}, {MF_OBJ_ENDPOINT, 0, 64}, {MF_OBJ_CNODE, 4, 1024},
    {MF_OBJ_FRAME, 12, 4096}, {MF_OBJ_BINDING, 0, 4096}, {MF_OBJ_VAS, 13, 8192}, {MF_OBJ_THREAD, 0, 16384},
};

int main(uint64_t arg)
{
    (void)arg;
    // 1. A 64 KiB untyped of our own, carved from the 4 MiB one in slot 16,
    //    and one empty slot; mf_new and mf_slot_alloc choose the slots.
    long small = mf_new(MF_OBJ_UNTYPED, 16), slot = mf_slot_alloc();
    if (small < 0 || slot < 0)
        return 1;

    // 2. Sizes, measured: make an object, delete it, make another in the
    //    same slot... Deleting frees the slot, not the memory: the untyped's
    //    watermark only goes up, until retype says -E_NOMEM. Revoking the
    //    untyped (it has no children left) puts its watermark back to 0.
    for (unsigned k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
        unsigned long n = 0;
        long r;
        while ((r = mf_untyped_retype(small, kinds[k].type, kinds[k].size_bits, 1, SELF, slot)) == 0) {
            n++;
            mf_cnode_delete(SELF, slot);
        }
        printf("tut_untyped: %s (size_bits %u): %lu fit in 64 KiB, %lu bytes each\n",
               mf_type_name(kinds[k].type), kinds[k].size_bits, n, n ? 65536 / n : 0);
        check(r == -E_NOMEM && n * kinds[k].bytes == 65536, "object size");
        mf_cnode_revoke(SELF, small);
    }

    // 3. The allocator: a freed slot is handed out again.
    long a = mf_new(MF_OBJ_NOTIFICATION, 0), b = mf_new(MF_OBJ_NOTIFICATION, 0);
    mf_slot_free(a);
    long again = mf_new(MF_OBJ_NOTIFICATION, 0);
    printf("tut_untyped: mf_new gave slots %ld and %ld; after mf_slot_free(%ld), %ld again\n", a, b, a, again);
    check(a > 0 && b > 0 && again == a, "a freed slot is handed out again");

    // 4. Several objects at once, into consecutive slots we number by hand:
    //    all of them fit or none is made. After one notification (64 bytes)
    //    only three threads fit in 64 KiB: each object is aligned to its size.
    long first = b + 1;
    long n1 = mf_untyped_retype(small, MF_OBJ_NOTIFICATION, 0, 1, SELF, slot);
    long four = mf_untyped_retype(small, MF_OBJ_THREAD, 0, 4, SELF, first);
    long three = mf_untyped_retype(small, MF_OBJ_THREAD, 0, 3, SELF, first);
    printf("tut_untyped: after a notification, 4 threads at once: %s; 3 at once: %s\n", mf_strerror(four),
           mf_strerror(three));
    check(n1 == 0 && four == -E_NOMEM && three == 0, "retype of several, aligned");
    // The allocator skips slots filled by hand inside its range.
    long next = mf_slot_alloc();
    printf("tut_untyped: slots %ld..%ld filled by hand; mf_slot_alloc skips them: %ld\n", first, first + 2, next);
    check(next == first + 3, "filled slots are skipped");
    mf_slot_free(next);

    // 5. Copies in allocated slots: a read-only one cannot signal, a badged one can.
    long ro = mf_copy(b, MF_RIGHT_READ), badged = mf_mint(b, MF_RIGHTS_ALL, 0x5);
    long refused = mf_notification_signal(ro);
    mf_notification_signal(badged);
    long word = mf_notification_poll(b);
    printf("tut_untyped: through mf_copy(READ): %s; through mf_mint(0x5): the word is %#lx\n",
           mf_strerror(refused), word);
    check(refused == -E_PERM && word == 0x5, "copy and mint");

    // 6. Running out: mf_new from the 64 KiB untyped (mf_alloc_init, same slots).
    mf_cnode_revoke(SELF, small);           // the notification and three threads go
    mf_alloc_init(small, MF_CAP_ALLOC_FIRST, MF_ALLOC_SLOT_COUNT);
    long threads[5], made = 0, r;
    while ((r = mf_new(MF_OBJ_THREAD, 0)) > 0 && made < 5)
        threads[made++] = r;
    printf("tut_untyped: threads by mf_new from 64 KiB: %ld, then %s\n", made, mf_strerror_detail(r));
    check(made == 4 && r == -E_NOMEM, "mf_new runs out");

    // 7. Memory comes back on revoke, and the revoke emptied the threads'
    //    slots: the allocator hands them out again.
    mf_cnode_revoke(SELF, small);
    long t = mf_new(MF_OBJ_THREAD, 0);
    printf("tut_untyped: after revoke: a new thread in slot %ld\n", t);
    check(t == threads[0], "memory and slots come back");
    return bad;
}
