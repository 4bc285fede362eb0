// Capability invocations: thin wrappers over SYS_INVOKE.
#include "manifold.h"
#include "lib/tls.h"
#include "lib/string.h"

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

long mf_cnode_describe(long cnode, long slot, struct mf_cap_info *info)
{
    return mf_invoke(cnode, MF_CNODE_DESCRIBE, slot, (long)info, 1, 0);
}

long mf_cnode_copy_to(long cnode, long src, long dst_cnode, long dst, unsigned rights)
{
    return mf_invoke(cnode, MF_CNODE_COPY_TO, src, dst_cnode, dst, rights);
}

long mf_untyped_retype(long ut, unsigned type, unsigned size_bits, unsigned count,
                       long dst_cnode, long dst_index)
{
    long packed = (long)(type | size_bits << 8 | (unsigned long)count << 16);
    return mf_invoke(ut, MF_UNTYPED_RETYPE, packed, dst_cnode, dst_index, 0);
}

long mf_thread_configure(long thread, long cspace, void *ipc_buffer)
{
    return mf_invoke(thread, MF_THREAD_CONFIGURE, cspace, (long)ipc_buffer, 0, 0);
}

long mf_thread_write_regs(long thread, uint64_t pc, uint64_t sp, uint64_t arg)
{
    return mf_invoke(thread, MF_THREAD_WRITE_REGS, (long)pc, (long)sp, (long)arg, 0);
}

long mf_thread_read_reg(long thread, unsigned reg) { return mf_invoke(thread, MF_THREAD_READ_REG, reg, 0, 0, 0); }
long mf_thread_resume(long thread) { return mf_invoke(thread, MF_THREAD_RESUME, 0, 0, 0, 0); }
long mf_thread_suspend(long thread) { return mf_invoke(thread, MF_THREAD_SUSPEND, 0, 0, 0, 0); }
long mf_thread_set_priority(long thread, unsigned priority)
{
    return mf_invoke(thread, MF_THREAD_SET_PRIORITY, priority, 0, 0, 0);
}
long mf_thread_set_sched(long thread, unsigned policy, unsigned cpu)
{
    return mf_invoke(thread, MF_THREAD_SET_SCHED, policy, cpu, 0, 0);
}

long mf_notification_signal(long n) { return mf_invoke(n, MF_NOTIFICATION_SIGNAL, 0, 0, 0, 0); }
long mf_notification_wait(long n) { return mf_invoke(n, MF_NOTIFICATION_WAIT, 0, 0, 0, 0); }
long mf_notification_poll(long n) { return mf_invoke(n, MF_NOTIFICATION_POLL, 0, 0, 0, 0); }

void mf_thread_trampoline(void);

long mf_thread_start(long thread, void (*fn)(uint64_t), void *stack, size_t size, uint64_t arg)
{
    return mf_thread_start_buffer(thread, fn, stack, size, arg, NULL);
}

long mf_thread_start_buffer(long thread, void (*fn)(uint64_t), void *stack, size_t size, uint64_t arg,
                            void *ipc_buffer)
{
    return mf_thread_start_cspace(thread, MF_CAP_SELF_CNODE, fn, stack, size, arg, ipc_buffer);
}

// The program's thread-local template (linker/ARCH-user.ld): a thread we
// start gets a block of its own, carved from the top of its stack, and
// its thread pointer set on it (docs/split.md, "Thread pointers").
extern const char __tdata_start[], __tdata_size[], __tls_memsz[], __tls_align[];

static long give_tls(long thread, uintptr_t *top, uintptr_t bottom)
{
    uint64_t memsz = (uintptr_t)__tls_memsz, align = (uintptr_t)__tls_align ? (uintptr_t)__tls_align : 1;
    if (!memsz)
        return 0;
    uint64_t a = align > 16 ? align : 16;
    uint64_t need = tls_layout(memsz, align, 0).end + a;
    if (*top - bottom < need + 256)
        return -E_NOMEM;        // the stack cannot hold the block and a little more
    uintptr_t va = (*top - need) & ~(uintptr_t)(a - 1);
    struct tls_layout t = tls_layout(memsz, align, va);
    memset((void *)va, 0, t.end - va);
    memcpy((void *)t.data, __tdata_start, (uintptr_t)__tdata_size);
#if defined(__x86_64__)
    *(uint64_t *)t.tp = t.tp;
#endif
    *top = va & ~(uintptr_t)15;
    return mf_thread_set_tls(thread, MF_TLS_THREAD, t.tp);
}

static long start(long thread, long cspace, void (*fn)(uint64_t), void *stack, size_t size, uint64_t arg,
                  void *ipc_buffer, const char *name)
{
    char padded[32] = {0};      // the kernel reads 32 bytes
    if (name)
        strlcpy(padded, name, sizeof(padded));
    long r = mf_thread_configure_in(thread, cspace, ipc_buffer, 0, name ? padded : NULL);
    if (r < 0)
        return r;
    // Its thread-local block at the stack's top; the trampoline finds fn
    // on top of the 16-byte aligned stack below it.
    uintptr_t top = ((uintptr_t)stack + size) & ~(uintptr_t)15;
    if ((r = give_tls(thread, &top, (uintptr_t)stack)) < 0)
        return r;
    top -= 16;
    *(void (**)(uint64_t))top = fn;
    // A thread that just ended (its exit notification came) may still be
    // leaving its CPU for a moment: its registers cannot be set until it
    // has (-E_BUSY). The kernel must not wait for it there: the ending
    // thread takes the capability lock to signal its exit.
    r = mf_thread_write_regs(thread, (uint64_t)(uintptr_t)mf_thread_trampoline, top, arg);
    for (int tries = 0; r == -E_BUSY && tries < 60; tries++) {
        if (tries < 10)
            mf_yield();
        else
            mf_sleep(1);        // its CPU may be a vCPU the host runs later
        r = mf_thread_write_regs(thread, (uint64_t)(uintptr_t)mf_thread_trampoline, top, arg);
    }
    return r < 0 ? r : mf_thread_resume(thread);
}

long mf_thread_start_cspace(long thread, long cspace, void (*fn)(uint64_t), void *stack, size_t size,
                            uint64_t arg, void *ipc_buffer)
{
    return start(thread, cspace, fn, stack, size, arg, ipc_buffer, NULL);
}

long mf_thread_start_named(long thread, const char *name, void (*fn)(uint64_t), void *stack, size_t size,
                           uint64_t arg)
{
    return start(thread, MF_CAP_SELF_CNODE, fn, stack, size, arg, NULL, name);
}

long mf_vas_attach(long vas, long thread) { return mf_invoke(vas, MF_VAS_ATTACH, thread, 0, 0, 0); }
long mf_vas_attach_segment(long vas, long segment, unsigned rights)
{
    return mf_invoke(vas, MF_VAS_ATTACH_SEGMENT, segment, rights, 0, 0);
}
long mf_vas_detach(long vas, long thread) { return mf_invoke(vas, MF_VAS_DETACH, thread, 0, 0, 0); }
long mf_vas_detach_segment(long vas, long segment) { return mf_invoke(vas, MF_VAS_DETACH_SEGMENT, segment, 0, 0, 0); }
long mf_vas_switch(long vas) { return mf_syscall(SYS_VAS_SWITCH, vas, 0, 0); }
long mf_segment_configure(long segment, uint64_t base, uint64_t size)
{
    return mf_invoke(segment, MF_SEGMENT_CONFIGURE, (long)base, (long)size, 0, 0);
}
long mf_segment_set_pager(long segment, long endpoint) { return mf_invoke(segment, MF_SEGMENT_SET_PAGER, endpoint, 0, 0, 0); }
long mf_frame_map(long frame, long segment, uint64_t va, unsigned rights)
{
    return mf_invoke(frame, MF_FRAME_MAP, segment, (long)va, rights, 0);
}
long mf_frame_unmap(long frame) { return mf_invoke(frame, MF_FRAME_UNMAP, 0, 0, 0, 0); }
long mf_frame_protect(long frame, unsigned rights) { return mf_invoke(frame, MF_FRAME_PROTECT, rights, 0, 0, 0); }

long mf_frame_read(long frame, uint64_t offset, void *buf, uint64_t len)
{
    return mf_invoke(frame, MF_FRAME_READ, (long)offset, (long)buf, (long)len, 0);
}
long mf_frame_write(long frame, uint64_t offset, const void *buf, uint64_t len)
{
    return mf_invoke(frame, MF_FRAME_WRITE, (long)offset, (long)buf, (long)len, 0);
}
long mf_cnode_move_to(long cnode, long src, long dst_cnode, long dst)
{
    return mf_invoke(cnode, MF_CNODE_MOVE_TO, src, dst_cnode, dst, 0);
}
long mf_thread_configure_in(long thread, long cspace, void *ipc_buffer, long vas, const char name[32])
{
    return mf_invoke(thread, MF_THREAD_CONFIGURE, cspace, (long)ipc_buffer, vas, (long)name);
}
long mf_thread_bind_exit(long thread, long notification)
{
    return mf_invoke(thread, MF_THREAD_BIND_EXIT, notification, 0, 0, 0);
}
long mf_thread_exit_status(long thread, struct mf_exit_status *status)
{
    return mf_invoke(thread, MF_THREAD_EXIT_STATUS, (long)status, 0, 0, 0);
}

long mf_thread_set_exception(long thread, mf_exception_handler handler, void *stack, size_t size, uint64_t arg)
{
    uint64_t top = handler ? ((uint64_t)(uintptr_t)stack + size) & ~15ul : 0;
    return mf_invoke(thread, MF_THREAD_SET_EXCEPTION, (long)(uintptr_t)handler, (long)top, (long)arg, 0);
}

long mf_exception_return(struct mf_exception *record)
{
    return mf_syscall(SYS_EXCEPTION_RETURN, (long)(uintptr_t)record, 0, 0);
}

long mf_thread_read_context(long thread, struct mf_regs *regs)
{
    return mf_invoke(thread, MF_THREAD_READ_CONTEXT, (long)(uintptr_t)regs, 0, 0, 0);
}

long mf_thread_write_context(long thread, const struct mf_regs *regs)
{
    return mf_invoke(thread, MF_THREAD_WRITE_CONTEXT, (long)(uintptr_t)regs, 0, 0, 0);
}

long mf_thread_abort_call(long thread, long result)
{
    struct mf_regs regs;
    long r = mf_thread_read_context(thread, &regs);
    if (r != 2)
        return r < 0 ? r : 0;
    regs.pc += MF_SYSCALL_INSN_BYTES;
    regs.regs[MF_REG_RESULT] = (uint64_t)result;
    r = mf_thread_write_context(thread, &regs);
    return r < 0 ? r : 1;
}

long mf_thread_set_vas(long thread, long vas)
{
    return mf_invoke(thread, MF_THREAD_SET_VAS, vas, 0, 0, 0);
}
