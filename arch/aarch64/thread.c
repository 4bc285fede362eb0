// aarch64 thread set-up: initial kernel stacks for user and kernel threads.
#include "arch/aarch64/aarch64.h"
#include "arch/aarch64/trapframe.h"
#include "kernel/arch.h"
#include "kernel/thread.h"
#include "lib/string.h"

// What arch_context_switch (entry.S) pops: x19-x28, x29 (fp), x30 (where
// the thread resumes).
struct switch_frame {
    uint64_t x19_x28[10];
    uint64_t fp, lr;
};
_Static_assert(sizeof(struct switch_frame) == 96, "entry.S switch frame");

// EL0t with debug exceptions and FIQ masked (neither is used); IRQ and
// SError are taken.
#define SPSR_USER (PSR_MODE_EL0T | PSR_D | PSR_F)

static uintptr_t stack_top(struct thread *t) { return t->kstack + KSTACK_PAGES * PAGE_SIZE; }

void arch_thread_init_user(struct thread *t, vaddr_t entry, vaddr_t sp, uint64_t arg)
{
    struct trap_frame *tf = (struct trap_frame *)(stack_top(t) - sizeof(*tf));
    memset(tf, 0, sizeof(*tf));
    tf->pc = entry;
    tf->sp = sp;
    tf->pstate = SPSR_USER;
    tf->x[0] = arg;
    tf->x[1] = a64_feat.user_pmccntr ? A64_USER_PMCCNTR : 0;
    struct switch_frame *sf = (struct switch_frame *)tf - 1;
    memset(sf, 0, sizeof(*sf));
    sf->lr = (uint64_t)a64_trap_return;
    t->kernel_sp = (uintptr_t)sf;
    t->user_frame = tf;
}

void arch_thread_init_kernel(struct thread *t, void (*fn)(void *), void *arg)
{
    struct switch_frame *sf = (struct switch_frame *)(stack_top(t) - 16) - 1;
    memset(sf, 0, sizeof(*sf));
    sf->x19_x28[0] = (uint64_t)fn;
    sf->x19_x28[1] = (uint64_t)arg;
    sf->lr = (uint64_t)a64_kernel_thread_start;
    t->kernel_sp = (uintptr_t)sf;
}

// SP_EL1 already is t's stack top whenever t runs at EL0 (entry.S), so
// nothing is loaded here; the top is recorded for trap.c's check.
void arch_thread_activate(struct thread *t)
{
    a64_this_cpu()->kernel_stack_top = stack_top(t);
}

// Thread pointers: TPIDR_EL0, which EL0 writes at will (read back as a
// thread leaves its CPU), and TPIDRRO_EL0, which only MF_THREAD_SET_TLS
// writes (the saved value is the live one).
void arch_tls_save(struct thread *t) { t->user_tls[0] = read_sysreg(tpidr_el0); }

bool arch_tls_valid(uint64_t value) { (void)value; return true; }   // any value: EL0 writes any itself

void arch_tls_write(const uint64_t tls[2], const uint64_t live[2])
{
    if (tls[0] != live[0])
        write_sysreg(tpidr_el0, tls[0]);
    if (tls[1] != live[1])
        write_sysreg(tpidrro_el0, tls[1]);
}
