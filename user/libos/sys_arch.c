// What lwIP needs from its platform (NO_SYS): a millisecond clock, a
// random number, atoi, and an assertion that ends the program.
#include "manifold.h"
#include "lwip/sys.h"

u32_t sys_now(void) { return (u32_t)mf_time() * 10; }    // the timer runs at 100 Hz

uint32_t libos_rand(void)
{
    static uint64_t x;
    if (!x)
        x = mf_arch_cycles() | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return (uint32_t)(x >> 16);
}

int atoi(const char *s)
{
    int v = 0, sign = 1;
    if (*s == '-')
        sign = -1, s++;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return sign * v;
}

void libos_assert(const char *what, const char *file, int line)
{
    printf("libos: lwIP assertion \"%s\" failed at %s:%d\n", what, file, line);
    mf_exit(99);
}
