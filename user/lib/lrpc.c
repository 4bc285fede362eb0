// LRPC in user space: the server's dispatcher and the client's A-stack
// allocation; and the client side of the name service.
#include "manifold.h"
#include "lib/string.h"

// ------------------------------------------------------------------ server

static const mf_lrpc_procedure *exported;
static unsigned exported_count;

void mf_lrpc_export(const mf_lrpc_procedure *procedures, unsigned count)
{
    exported = procedures;
    exported_count = count;
}

// Called by mf_lrpc_entry on the E-stack; the kernel checked `procedure`
// against the binding's count, the table is checked against ours.
int64_t mf_lrpc_dispatch(void *astack, uint64_t procedure);
int64_t mf_lrpc_dispatch(void *astack, uint64_t procedure)
{
    if (procedure >= exported_count || !exported[procedure])
        return -E_NOSYS;
    return exported[procedure](astack);
}

_Noreturn void mf_lrpc_finish(int64_t value);
_Noreturn void mf_lrpc_finish(int64_t value)
{
    mf_syscall(SYS_LRPC_RETURN, value, 0, 0);
    for (;;)
        ;   // not reached: the thread is back in its client
}

// ------------------------------------------------------------------ client

long mf_lrpc_bind(struct mf_lrpc_client *c, long binding, long client_vas)
{
    long r = mf_binding_attach_client(binding, client_vas);
    if (r < 0)
        return r;
    c->binding = binding;
    c->count = 0;
    c->busy = 0;
    for (unsigned i = 0; i < MF_LRPC_MAX_ASTACKS; i++) {
        long va = mf_binding_astack(binding, i);
        if (va < 0)
            break;
        c->astack[c->count++] = (uint64_t)va;
    }
    return c->count ? 0 : -E_RANGE;
}

void *mf_lrpc_acquire(struct mf_lrpc_client *c, unsigned *index)
{
    for (;;) {
        uint32_t busy = c->busy;
        unsigned i = 0;
        while (i < c->count && busy & (1u << i))
            i++;
        if (i == c->count)
            return NULL;
        if (__atomic_compare_exchange_n(&c->busy, &busy, busy | 1u << i, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED)) {
            *index = i;
            return (void *)(uintptr_t)c->astack[i];
        }
    }
}

void mf_lrpc_release(struct mf_lrpc_client *c, unsigned index)
{
    __atomic_and_fetch(&c->busy, ~(1u << index), __ATOMIC_RELEASE);
}

// ------------------------------------------------------------ name service

#define NS_REGISTER 1
#define NS_LOOKUP 2

// A name of at most MF_NAME_MAX - 1 bytes, in two words; false if longer.
static bool pack_name(const char *name, uint64_t out[2])
{
    char buf[MF_NAME_MAX] = {0};
    if (strlen(name) >= sizeof(buf))
        return false;
    strlcpy(buf, name, sizeof(buf));
    memcpy(out, buf, sizeof(buf));
    return true;
}

long mf_ns_register(long nameserver, const char *name, long cap)
{
    struct mf_msg m = {.info = MF_INFO(NS_REGISTER, 2) | MF_INFO_SEND_CAP(cap)};
    if (!pack_name(name, m.mr))
        return -E_RANGE;
    long r = mf_call(nameserver, &m);
    return r < 0 ? r : -(long)MF_INFO_LABEL(m.info);
}

long mf_ns_lookup(long nameserver, const char *name, long recv_slot)
{
    struct mf_msg m = {.info = MF_INFO(NS_LOOKUP, 2) | MF_INFO_RECV_SLOT(recv_slot)};
    if (!pack_name(name, m.mr))
        return -E_RANGE;
    long id = mf_cnode_identify(MF_CAP_SELF_CNODE, recv_slot);
    if (id != 0)
        return id < 0 ? id : -E_BUSY;   // the cap could not be received there
    long r = mf_call(nameserver, &m);
    if (r < 0)
        return r;
    if (MF_INFO_LABEL(m.info))
        return -(long)MF_INFO_LABEL(m.info);
    return m.info & MF_INFO_CAP ? 0 : -E_NOENT;
}

long mf_binding_configure(long binding, long server_vas, long astack_segment, unsigned procedures,
                          void (*entry)(void))
{
    return mf_binding_configure_cspace(binding, server_vas, astack_segment, procedures, entry, 0);
}

long mf_binding_configure_cspace(long binding, long server_vas, long astack_segment, unsigned procedures,
                                 void (*entry)(void), long server_cspace)
{
    return mf_invoke(binding, MF_BINDING_CONFIGURE, server_vas, astack_segment,
                     (long)MF_BINDING_PROCEDURES(procedures, (uint32_t)server_cspace), (long)entry);
}

long mf_binding_set_astack(long binding, unsigned index, uint64_t va, uint64_t size, void *estack_top)
{
    return mf_invoke(binding, MF_BINDING_SET_ASTACK, index, (long)va, (long)size, (long)estack_top);
}

long mf_binding_attach_client(long binding, long client_vas)
{
    return mf_invoke(binding, MF_BINDING_ATTACH_CLIENT, client_vas, 0, 0, 0);
}

long mf_binding_astack(long binding, unsigned index) { return mf_invoke(binding, MF_BINDING_ASTACK, index, 0, 0, 0); }
