#include "lib/fmt.h"
#include <stdint.h>
#include <stdbool.h>

static int emit_number(fmt_sink out, void *ctx, uint64_t v, unsigned base,
                       bool upper, bool negative, int width, bool zero, bool left)
{
    char tmp[24];
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    int n = 0, count = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    int len = n + (negative ? 1 : 0);
    if (!left && !zero)
        for (; len < width; width--, count++)
            out(ctx, ' ');
    if (negative)
        out(ctx, '-'), count++;
    if (!left && zero)
        for (; len < width; width--, count++)
            out(ctx, '0');
    while (n)
        out(ctx, tmp[--n]), count++;
    if (left)
        for (; len < width; width--, count++)
            out(ctx, ' ');
    return count;
}

int fmt_format(fmt_sink out, void *ctx, const char *fmt, va_list ap)
{
    int count = 0;
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            out(ctx, *fmt), count++;
            continue;
        }
        fmt++;
        bool left = false, zero = false, alt = false;
        for (;; fmt++) {
            if (*fmt == '-')
                left = true;
            else if (*fmt == '0')
                zero = true;
            else if (*fmt == '#')
                alt = true;
            else
                break;
        }
        int width = 0;
        if (*fmt == '*') {
            width = va_arg(ap, int);
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        int lng = 0;   // 0 int, 1 long, 2 long long
        while (*fmt == 'l' || *fmt == 'z') {
            lng = *fmt == 'z' ? 1 : lng + 1;
            fmt++;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            int64_t v = lng == 0 ? va_arg(ap, int) : lng == 1 ? va_arg(ap, long) : va_arg(ap, long long);
            uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            count += emit_number(out, ctx, mag, 10, false, v < 0, width, zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v = lng == 0 ? va_arg(ap, unsigned) : lng == 1 ? va_arg(ap, unsigned long)
                                                                   : va_arg(ap, unsigned long long);
            unsigned base = *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16;
            if (alt && base == 16) {
                out(ctx, '0'), out(ctx, 'x'), count += 2;
                width = width > 2 ? width - 2 : 0;
            }
            count += emit_number(out, ctx, v, base, *fmt == 'X', false, width, zero, left);
            break;
        }
        case 'p':
            out(ctx, '0'), out(ctx, 'x'), count += 2;
            count += emit_number(out, ctx, (uintptr_t)va_arg(ap, void *), 16, false, false, 16, true, false);
            break;
        case 'c':
            out(ctx, (char)va_arg(ap, int)), count++;
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int len = 0;
            while (s[len])
                len++;
            if (!left)
                for (; len < width; width--)
                    out(ctx, ' '), count++;
            for (const char *p = s; *p; p++)
                out(ctx, *p), count++;
            if (left)
                for (; len < width; width--)
                    out(ctx, ' '), count++;
            break;
        }
        case '%':
            out(ctx, '%'), count++;
            break;
        case 0:
            return count;
        default:
            out(ctx, '%'), out(ctx, *fmt), count += 2;
            break;
        }
    }
    return count;
}

struct buf_ctx {
    char *buf;
    size_t size, pos;
};

static void buf_sink(void *p, char c)
{
    struct buf_ctx *b = p;
    if (b->pos + 1 < b->size)
        b->buf[b->pos] = c;
    b->pos++;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct buf_ctx b = {buf, size, 0};
    int n = fmt_format(buf_sink, &b, fmt, ap);
    if (size)
        buf[b.pos < size ? b.pos : size - 1] = 0;
    return n;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
