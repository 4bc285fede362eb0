// Tutorial 2 (docs/tutorial/2-capabilities.md): what is in our CSpace, making
// objects from untyped memory, copying with fewer rights, revoking.
#include "manifold.h"

#define SELF MF_CAP_SELF_CNODE
#define UNTYPED MF_CAP_UNTYPED_BASE
enum { NTFN = 20, NTFN_COPY, NTFN_BADGED };

static const char *type_name(long id)
{
    static const char *const names[MF_OBJ_TYPE_COUNT] = {
        "empty", "untyped", "cnode", "frame", "thread", "endpoint", "notification", "vas",
        "segment", "binding", "pci device", "irq", "system", "console", "reclaim", "packet filter", "cpu time", "slots"};
    unsigned t = (unsigned)(id & 0xff);
    return id >= 0 && t < MF_OBJ_TYPE_COUNT ? names[t] : "?";
}

int main(uint64_t arg)
{
    (void)arg;
    // 1. Look around: slots 1..5 and 16 (docs/capabilities.md).
    static const long slots[] = {1, 2, 3, 4, 5, 16};
    for (unsigned i = 0; i < sizeof(slots) / sizeof(slots[0]); i++) {
        long id = mf_cnode_identify(SELF, slots[i]);
        printf("tut_caps: slot %ld: %s, rights %ld\n", slots[i], type_name(id), (id >> 8) & 0xff);
    }
    // 2. A notification from our untyped memory.
    if (mf_untyped_retype(UNTYPED, MF_OBJ_NOTIFICATION, 0, 1, SELF, NTFN) < 0)
        return 2;
    // 3. A copy without the write right cannot signal; a minted one ORs its badge in.
    if (mf_cnode_copy(SELF, NTFN, NTFN_COPY, MF_RIGHT_READ) < 0 ||
        mf_cnode_mint(SELF, NTFN, NTFN_BADGED, MF_RIGHTS_ALL, 0x40) < 0)
        return 3;
    long refused = mf_notification_signal(NTFN_COPY);
    printf("tut_caps: signal through the read-only copy: %s\n", mf_strerror_detail(refused));
    mf_notification_signal(NTFN_BADGED);
    long word = mf_notification_poll(NTFN);
    printf("tut_caps: the word after a badged signal: %#lx\n", word);
    // 4. Revoking the untyped deletes everything made from it, copies included.
    if (mf_cnode_revoke(SELF, UNTYPED) < 0)
        return 4;
    printf("tut_caps: after revoke, slot %d is %s\n", NTFN_COPY, type_name(mf_cnode_identify(SELF, NTFN_COPY)));
    return refused == -E_PERM && word == 0x40 && mf_cnode_identify(SELF, NTFN_COPY) == 0 ? 0 : 5;
}
