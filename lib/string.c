#include "lib/string.h"

// These loops must not be turned into calls to memset/memcpy themselves.
#pragma GCC optimize("no-tree-loop-distribute-patterns")

#include <stdint.h>

// Four words at a time when both pointers are 8-byte aligned (page
// copies, trap frames: an LRPC copies its caller's twice), then words.
// Unrolled, a word costs 3 instructions instead of 5 (bench lrpc, vm).
void *memcpy(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((((uintptr_t)d | (uintptr_t)s) & 7) == 0) {
        for (; n >= 32; n -= 32, d += 32, s += 32) {
            uint64_t a = ((const uint64_t *)s)[0], b = ((const uint64_t *)s)[1];
            uint64_t c = ((const uint64_t *)s)[2], e = ((const uint64_t *)s)[3];
            ((uint64_t *)d)[0] = a;
            ((uint64_t *)d)[1] = b;
            ((uint64_t *)d)[2] = c;
            ((uint64_t *)d)[3] = e;
        }
        for (; n >= 8; n -= 8, d += 8, s += 8)
            *(uint64_t *)d = *(const uint64_t *)s;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else if (d > s) {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    if (((uintptr_t)d & 7) == 0) {
        uint64_t word = 0x0101010101010101ull * (unsigned char)c;
        for (; n >= 32; n -= 32, d += 32) {      // pages zeroed: most of an allocation
            ((uint64_t *)d)[0] = word;
            ((uint64_t *)d)[1] = word;
            ((uint64_t *)d)[2] = word;
            ((uint64_t *)d)[3] = word;
        }
        for (; n >= 8; n -= 8, d += 8)
            *(uint64_t *)d = word;
    }
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            return 0;
    }
    return 0;
}

char *strchr(const char *s, int c)
{
    for (; *s; s++)
        if (*s == (char)c)
            return (char *)s;
    return c ? NULL : (char *)s;
}

size_t strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);
    if (size) {
        size_t n = len < size - 1 ? len : size - 1;
        memcpy(dst, src, n);
        dst[n] = 0;
    }
    return len;
}
