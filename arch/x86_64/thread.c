// x86_64 thread set-up: initial kernel stacks for user and kernel threads.
#include "arch/x86_64/trapframe.h"
#include "arch/x86_64/x86.h"
#include "kernel/arch.h"
#include "kernel/thread.h"
#include "lib/string.h"

extern char trap_return[], kernel_thread_start[];

// The callee-saved frame arch_context_switch pops, then its return address.
struct switch_frame {
    uint64_t r15, r14, r13, r12, rbx, rbp, rip;
};

static uintptr_t stack_top(struct thread *t) { return t->kstack + KSTACK_PAGES * PAGE_SIZE; }

void arch_thread_init_user(struct thread *t, vaddr_t entry, vaddr_t sp, uint64_t arg)
{
    struct trap_frame *tf = (struct trap_frame *)(stack_top(t) - sizeof(*tf));
    memset(tf, 0, sizeof(*tf));
    tf->rip = entry;
    tf->cs = SEL_USER_CODE;
    tf->rflags = 0x202;          // IF
    tf->rsp = sp;
    tf->ss = SEL_USER_DATA;
    tf->rdi = arg;
    struct switch_frame *sf = (struct switch_frame *)tf - 1;
    memset(sf, 0, sizeof(*sf));
    sf->rip = (uint64_t)trap_return;
    t->kernel_sp = (uintptr_t)sf;
    t->user_frame = tf;
}

void arch_thread_init_kernel(struct thread *t, void (*fn)(void *), void *arg)
{
    struct switch_frame *sf = (struct switch_frame *)(stack_top(t) - 16) - 1;
    memset(sf, 0, sizeof(*sf));
    sf->r12 = (uint64_t)fn;
    sf->r13 = (uint64_t)arg;
    sf->rip = (uint64_t)kernel_thread_start;
    t->kernel_sp = (uintptr_t)sf;
}

void arch_thread_activate(struct thread *t)
{
    x86_tss_set_rsp0(stack_top(t));
}

// Thread pointers: FS base and the user's GS base. In the kernel the user's
// GS base sits in MSR_KERNEL_GS (the entry paths swapgs). User code may
// change either at any time: with FSGSBASE by wrfsbase / wrgsbase, and
// without it too, by loading a selector into FS or GS (the base becomes 0).
// So both are read back as a thread leaves its CPU: the live values are the
// truth, and the next thread's are written wherever they differ from them.
void arch_tls_save(struct thread *t)
{
    uint64_t fs;
    if (x86_cpu.fsgsbase)
        __asm__ volatile("rdfsbase %0" : "=r"(fs));
    else
        fs = rdmsr(MSR_FS_BASE);
    t->user_tls[0] = fs;
    t->user_tls[1] = rdmsr(MSR_KERNEL_GS);
}

bool arch_tls_valid(uint64_t value)
{
    return value < 0x0000800000000000ul || value >= 0xffff800000000000ul;     // canonical
}

void arch_tls_write(const uint64_t tls[2], const uint64_t live[2])
{
    if (tls[0] != live[0]) {
        if (x86_cpu.fsgsbase)
            __asm__ volatile("wrfsbase %0" ::"r"(tls[0]));
        else
            wrmsr(MSR_FS_BASE, tls[0]);
    }
    if (tls[1] != live[1])
        wrmsr(MSR_KERNEL_GS, tls[1]);
}
