// Reports an exception taken before the kernel installs its own vectors,
// and what happens when kmain() returns.
#include "arch/aarch64/aarch64.h"
#include "kernel/arch.h"

static const char *const vector_names[4] = {"EL1/SP_EL0", "EL1/SP_EL1", "EL0/AArch64", "EL0/AArch32"};
static const char *const kind_names[4] = {"sync", "IRQ", "FIQ", "SError"};

static void field(const char *name, uint64_t v)
{
    a64_puts(name);
    a64_puthex(v);
}

// fp/lr: the interrupted frame pointer and link register, for a backtrace
// over the {previous fp, return address} records that -fno-omit-frame-pointer keeps.
_Noreturn void a64_boot_trap(uint64_t vector, uint64_t esr, uint64_t elr, uint64_t far,
                             uint64_t spsr, uint64_t fp, uint64_t lr)
{
    a64_puts("PANIC: early exception: ");
    a64_puts(kind_names[vector % 4]);
    a64_puts(" from ");
    a64_puts(vector_names[vector / 4 % 4]);
    field("\n  ESR ", esr);
    field(" (EC ", esr >> 26 & 0x3f);   // exception class; ISS in bits 24:0
    field(") ELR ", elr);
    field("\n  FAR ", far);
    field(" SPSR ", spsr);
    field(" LR ", lr);
    a64_puts("\nbacktrace:\n");
    for (int depth = 0; depth < 16 && fp >= PHYS_MAP && fp % 16 == 0; depth++) {
        const uint64_t *frame = (const uint64_t *)fp;
        field("  ", frame[1]);
        a64_puts("\n");
        fp = frame[0];
    }
    arch_poweroff(1);
}

_Noreturn void a64_kmain_returned(void)
{
    a64_puts("PANIC: a CPU's entry function (kmain) returned\n");
    arch_poweroff(1);
}
