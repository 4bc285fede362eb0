// Kernel console output (the serial line) and panics.
#pragma once
#include <stdarg.h>
#include "kernel/types.h"

struct trap_frame;

// Formatted output to the console. Safe from any context; never blocks.
int kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int kvprintf(const char *fmt, va_list ap);
void console_write(const char *s, size_t len);

// Prints `PANIC: <message>`, the registers (when tf is given), a symbolized
// backtrace, and powers the machine off with a failure status.
_Noreturn void panic_frame(struct trap_frame *tf, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
#define panic(...) panic_frame(NULL, __VA_ARGS__)

#define assert(c) do { if (unlikely(!(c))) panic("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__); } while (0)

// Symbol lookup in the embedded symbol table: name of the function holding
// addr and the offset into it, or NULL.
const char *ksym_lookup(uintptr_t addr, uintptr_t *offset);
void backtrace_print(uintptr_t fp);
