// Capability invocations: thin wrappers over SYS_INVOKE.
#include "manifold.h"

long mf_invoke(long cptr, long op, long a0, long a1, long a2, long a3)
{
    return mf_syscall6(SYS_INVOKE, cptr, op, a0, a1, a2, a3);
}

long mf_cnode_copy(long cnode, long src, long dst, unsigned rights)
{
    return mf_invoke(cnode, MF_CNODE_COPY, src, dst, rights, 0);
}

long mf_cnode_mint(long cnode, long src, long dst, unsigned rights, uint64_t badge)
{
    return mf_invoke(cnode, MF_CNODE_MINT, src, dst, rights, (long)badge);
}

long mf_cnode_move(long cnode, long src, long dst)
{
    return mf_invoke(cnode, MF_CNODE_MOVE, src, dst, 0, 0);
}

// Delete and revoke are bounded per call; -E_AGAIN means "call again".
long mf_cnode_delete(long cnode, long slot)
{
    long r;
    while ((r = mf_invoke(cnode, MF_CNODE_DELETE, slot, 0, 0, 0)) == -E_AGAIN)
        ;
    return r;
}

long mf_cnode_revoke(long cnode, long slot)
{
    long r;
    while ((r = mf_invoke(cnode, MF_CNODE_REVOKE, slot, 0, 0, 0)) == -E_AGAIN)
        ;
    return r;
}

long mf_cnode_identify(long cnode, long slot)
{
    return mf_invoke(cnode, MF_CNODE_IDENTIFY, slot, 0, 0, 0);
}

long mf_untyped_retype(long ut, unsigned type, unsigned size_bits, unsigned count,
                       long dst_cnode, long dst_index)
{
    long packed = (long)(type | size_bits << 8 | (unsigned long)count << 16);
    return mf_invoke(ut, MF_UNTYPED_RETYPE, packed, dst_cnode, dst_index, 0);
}
