// User-level contexts (manifold.h, "User-level threads"): what a library
// OS's threads package switches between inside its own CPU slots, with
// no system call (arch/ARCH uctx.S saves the callee-saved registers).
#include "manifold.h"

void mf_uctx_start(void);

void mf_uctx_init(struct mf_uctx *c, void *stack, size_t size, void (*fn)(uint64_t), uint64_t arg)
{
    uint64_t *top = (uint64_t *)(((uintptr_t)stack + size) & ~(uintptr_t)15);
#if defined(__x86_64__)
    // Popped by mf_uctx_switch: r15, r14, r13, r12, rbx, rbp; then ret.
    uint64_t *sp = top - 8;
    for (int i = 0; i < 8; i++)
        sp[i] = 0;
    sp[2] = arg;                        // r13
    sp[3] = (uint64_t)(uintptr_t)fn;    // r12
    sp[6] = (uint64_t)(uintptr_t)mf_uctx_start;
#else
    // Loaded by mf_uctx_switch: x19..x30 from sp[0..11].
    uint64_t *sp = top - 12;
    for (int i = 0; i < 12; i++)
        sp[i] = 0;
    sp[0] = (uint64_t)(uintptr_t)fn;    // x19
    sp[1] = arg;                        // x20
    sp[11] = (uint64_t)(uintptr_t)mf_uctx_start;   // x30
#endif
    c->sp = sp;
}
