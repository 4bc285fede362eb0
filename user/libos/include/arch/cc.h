// lwIP's port to Manifold's user space (freestanding: libmanifold's string
// routines and printf, no C library). Both architectures are little-endian.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_UNISTD_H 1
#define LWIP_NO_LIMITS_H 1      // GCC's limits.h wants a C library's under it
#define INT_MAX __INT_MAX__
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "lu"

int printf(const char *fmt, ...);
void libos_assert(const char *what, const char *file, int line) __attribute__((noreturn));
uint32_t libos_rand(void);

#define LWIP_RAND() libos_rand()
#define LWIP_PLATFORM_DIAG(x) do { printf x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) libos_assert(x, __FILE__, __LINE__)
