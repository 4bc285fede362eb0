// Console output and panics.
//
// Locking: one ticket lock (a leaf: nothing else is taken under it) is held
// for each console_write() and each kprintf(), so lines from different CPUs
// do not interleave. A CPU that panics while it holds the console prints
// anyway; a panic on another CPU waits a bounded time for it, then prints.
#include "kernel/lockdep.h"
#include "kernel/console.h"
#include "kernel/arch.h"
#include "kernel/smp.h"
#include "lib/fmt.h"
#include "lib/spinlock.h"

static struct ticket_lock console_lock = {.lock_class = LOCK_CLASS_CONSOLE};
static volatile int console_owner = -1;     // CPU holding the lock

// Returns whether the lock was taken (false before SMP: one CPU, no lock;
// false when this CPU already holds it, i.e. a panic while printing).
static bool lock_console(void)
{
    if (!smp_active)
        return false;
    int me = (int)arch_cpu_id();
    if (__atomic_load_n(&console_owner, __ATOMIC_RELAXED) == me)
        return false;
    ticket_lock(&console_lock);
    console_owner = me;
    return true;
}

static void unlock_console(bool locked)
{
    if (!locked)
        return;
    console_owner = -1;
    ticket_unlock(&console_lock);
}

static void console_sink(void *ctx, char c)
{
    (void)ctx;
    if (c == '\n')
        arch_console_putc('\r');
    arch_console_putc(c);
}

void console_write(const char *s, size_t len)
{
    bool locked = lock_console();
    for (size_t i = 0; i < len; i++)
        console_sink(NULL, s[i]);
    unlock_console(locked);
}

int kvprintf(const char *fmt, va_list ap)
{
    bool locked = lock_console();
    int n = fmt_format(console_sink, NULL, fmt, ap);
    unlock_console(locked);
    return n;
}

int kprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = kvprintf(fmt, ap);
    va_end(ap);
    return n;
}

// The symbol table is generated from the first link (tools/mksyms) and placed
// in .ksyms by the second; text addresses do not move between the two links.
struct ksym {
    uint64_t addr;
    uint32_t name;      // offset into the string table after the entries
    uint32_t reserved;
};
struct ksym_table {
    uint64_t count;
    struct ksym syms[];
};
extern const char __ksyms_start[], __ksyms_end[];

const char *ksym_lookup(uintptr_t addr, uintptr_t *offset)
{
    if (__ksyms_end - __ksyms_start < (long)sizeof(struct ksym_table))
        return NULL;
    const struct ksym_table *t = (const void *)__ksyms_start;
    const char *strings = (const char *)&t->syms[t->count];
    // Binary search for the last symbol at or below addr.
    uint64_t lo = 0, hi = t->count;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (t->syms[mid].addr <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    *offset = addr - t->syms[lo - 1].addr;
    return strings + t->syms[lo - 1].name;
}

void backtrace_print(uintptr_t fp)
{
    kprintf("backtrace:\n");
    // Frames live on thread stacks (direct map, PHYS_MAP) or the boot stack (image).
    for (int depth = 0; depth < 32 && fp >= PHYS_MAP && !(fp & 7); depth++) {
        const uintptr_t *frame = (const uintptr_t *)fp;
        uintptr_t ret = frame[1];
        if (ret < KERNEL_BASE)
            break;
        uintptr_t off = 0;
        const char *name = ksym_lookup(ret, &off);
        kprintf("  #%d %p %s+0x%lx\n", depth, (void *)ret, name ? name : "?", off);
        if (frame[0] <= fp)
            break;
        fp = frame[0];
    }
}

#define PANIC_STATUS 3

_Noreturn void panic_frame(struct trap_frame *tf, const char *fmt, ...)
{
    arch_interrupts_disable();
    smp_stop_others();
    if (smp_active && console_owner != (int)arch_cpu_id()) {
        // Another CPU may hold the console forever (it was stopped while
        // printing): wait a little, then take it over.
        uint64_t deadline = arch_cycles() + arch_cycles_per_second() / 10;
        while (!ticket_trylock(&console_lock) && arch_cycles() < deadline)
            ;
        console_owner = (int)arch_cpu_id();
    }
    va_list ap;
    va_start(ap, fmt);
    kprintf("\nPANIC: ");
    kvprintf(fmt, ap);
    kprintf("\n");
    va_end(ap);
    if (tf)
        arch_trap_dump(tf);
    backtrace_print(arch_frame_pointer());
    arch_poweroff(PANIC_STATUS);
}
