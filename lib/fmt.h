// printf-style formatting over a character sink, shared by kernel and user.
// Supports %d %i %u %x %X %o %p %s %c %%, flags '-', '0' and '#' (0x prefix), a field width
// (or '*'), and the length modifiers l, ll, z.
#pragma once
#include <stdarg.h>
#include <stddef.h>

typedef void (*fmt_sink)(void *ctx, char c);

// Formats into the sink; returns the number of characters produced.
int fmt_format(fmt_sink out, void *ctx, const char *fmt, va_list ap);
// snprintf semantics: always terminates when size > 0, returns full length.
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
