// User-level tests: numbered and self-registering, like the kernel's KTEST.
//
//   UTEST(spawn_unknown) { UCHECK(mf_spawn("nope", 0) == -E_NOENT); return NULL; }
//
// A test returns NULL on success or a reason; UCHECK fails with file:line.
// A reason starting with "SKIP" reports the test as skipped (`ok N - name
// # SKIP why`): only for configurations without the hardware it needs.
#pragma once
#include <stddef.h>

struct utest {
    const char *name;
    const char *(*fn)(void);
};

#define UTEST(id)                                                        \
    static const char *utest_##id(void);                                 \
    static const struct utest utest_entry_##id                           \
        __attribute__((used, section(".utests"), aligned(8))) = {#id, utest_##id}; \
    static const char *utest_##id(void)

#define USTR2(x) #x
#define USTR(x) USTR2(x)
#define UCHECK(c) do { if (!(c)) return __FILE__ ":" USTR(__LINE__) ": " #c; } while (0)
// Waits up to `ticks` timer ticks for c to hold: for effects another
// thread, perhaps running on another CPU, has to produce first.
#define UWAIT(c, ticks) do { for (long _w = 0; _w < (ticks) && !(c); _w++) mf_sleep(1); } while (0)

extern const struct utest __utests_start[], __utests_end[];
