// The name service: servers register a capability under a name (sending it
// with the grant right), clients look it up and receive a copy. It runs as a
// thread of the root task; programs reach it through MF_CAP_NAMESERVER.
#include "manifold.h"
#include "root.h"
#include "lib/string.h"

#define NS_REGISTER 1
#define NS_LOOKUP 2
#define NAMES 32

static struct {
    uint64_t name[2];
    bool used;
} names[NAMES];
static uint8_t ns_stack[8192] __attribute__((aligned(16)));

// An entry whose capability is gone (revoked with the program that
// registered it, which is how programs end) is free again.
static bool live(int i)
{
    if (names[i].used && mf_cnode_identify(MF_CAP_SELF_CNODE, NS_SLOTS + i) <= 0) {
        mf_cnode_delete(MF_CAP_SELF_CNODE, NS_SLOTS + i);
        names[i].used = false;
    }
    return names[i].used;
}

static int find(const uint64_t name[2])
{
    for (int i = 0; i < NAMES; i++)
        if (live(i) && names[i].name[0] == name[0] && names[i].name[1] == name[1])
            return i;
    return -1;
}

static int free_entry(void)
{
    for (int i = 0; i < NAMES; i++)
        if (!live(i) && mf_cnode_identify(MF_CAP_SELF_CNODE, NS_SLOTS + i) == 0)
            return i;
    return -1;
}

static void nameserver(uint64_t ep)
{
    int slot = free_entry();
    struct mf_msg m = {.info = MF_INFO_RECV_SLOT(NS_SLOTS + slot)};
    mf_recv((long)ep, &m);
    for (;;) {
        unsigned status = 0;
        uint64_t reply_info = 0;
        if (MF_INFO_LABEL(m.info) == NS_REGISTER) {
            if (!(m.info & MF_INFO_CAP) || slot < 0) {
                status = slot < 0 ? E_NOMEM : E_INVAL;
            } else {
                int old = find(m.mr);
                if (old >= 0) {       // a name registered again replaces the old entry
                    mf_cnode_delete(MF_CAP_SELF_CNODE, NS_SLOTS + old);
                    names[old].used = false;
                }
                names[slot].name[0] = m.mr[0];
                names[slot].name[1] = m.mr[1];
                names[slot].used = true;
            }
        } else if (MF_INFO_LABEL(m.info) == NS_LOOKUP) {
            int i = find(m.mr);
            if (i < 0)
                status = E_NOENT;     // never registered, or its object is gone
            else
                reply_info = MF_INFO_SEND_CAP(NS_SLOTS + i);
        } else {
            status = E_INVAL;
        }
        slot = free_entry();
        m.info = MF_INFO(status, 0) | reply_info | MF_INFO_RECV_SLOT(slot < 0 ? 0 : NS_SLOTS + slot);
        mf_reply_recv((long)ep, &m);
    }
}

bool names_start(void)
{
    return mf_untyped_retype(NS_UNTYPED, MF_OBJ_THREAD, 0, 1, MF_CAP_SELF_CNODE, NS_THREAD) == 0 &&
           mf_untyped_retype(NS_UNTYPED, MF_OBJ_ENDPOINT, 0, 1, MF_CAP_SELF_CNODE, NS_ENDPOINT) == 0 &&
           mf_thread_start(NS_THREAD, nameserver, ns_stack, sizeof(ns_stack), NS_ENDPOINT) == 0;
}

long spawn_with_resources(const char *name, uint64_t arg, long untyped, long cnode_slot)
{
    return mf_spawn_child(name, arg, untyped, cnode_slot, NS_ENDPOINT);
}
