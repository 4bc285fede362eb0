// lib/string.c's memcpy, memmove and memset (built under other names here)
// against the host C library's: every length 0..300 at every alignment
// 0..15 of source and destination, and bytes around the target untouched.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *lib_memcpy(void *dst, const void *src, size_t n);
void *lib_memmove(void *dst, const void *src, size_t n);
void *lib_memset(void *dst, int c, size_t n);

#define SIZE 512
static unsigned char a[SIZE], b[SIZE], want[SIZE], src[SIZE];

static int failures;

static void check(const char *what, size_t n, unsigned da, unsigned sa)
{
    if (memcmp(b, want, SIZE) != 0) {
        if (failures++ < 10)
            printf("not ok - %s: length %zu, destination +%u, source +%u\n", what, n, da, sa);
    }
}

int main(void)
{
    for (unsigned i = 0; i < SIZE; i++)
        src[i] = (unsigned char)(i * 131 + 7);
    unsigned long cases = 0;
    for (size_t n = 0; n <= 300; n++)
        for (unsigned da = 0; da < 16; da++)
            for (unsigned sa = 0; sa < 16; sa++, cases++) {
                memset(a, 0xee, SIZE);
                memcpy(b, a, SIZE);
                memcpy(want, a, SIZE);
                lib_memcpy(b + 64 + da, src + sa, n);
                memcpy(want + 64 + da, src + sa, n);
                check("memcpy", n, da, sa);
                // Overlapping moves, both directions.
                memcpy(b, src, SIZE);
                memcpy(want, src, SIZE);
                lib_memmove(b + 64 + da, b + 64 + sa, n);
                memmove(want + 64 + da, want + 64 + sa, n);
                check("memmove", n, da, sa);
                if (sa == 0) {
                    memcpy(b, src, SIZE);
                    memcpy(want, src, SIZE);
                    lib_memset(b + 64 + da, (int)(n * 3 + 1), n);
                    memset(want + 64 + da, (int)(n * 3 + 1), n);
                    check("memset", n, da, 0);
                }
            }
    printf("%s - lib/string.c memcpy, memmove, memset: %lu cases\n", failures ? "not ok" : "ok", cases);
    return failures != 0;
}
