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
    unsigned long flags;
};

// A test that makes threads fault (or LRPC calls end in a fault) on
// purpose: the runner says so before it runs, so the kernel's
// "manifold: thread N ... killed" lines until its result read as expected;
// tools/testlog.py lists fault lines in any other test.
#define UTEST_PROVOKES_FAULTS 1ul

#define UTEST_FLAGS(id, flags)                                           \
    static const char *utest_##id(void);                                 \
    static const struct utest utest_entry_##id                           \
        __attribute__((used, section(".utests"), aligned(8))) = {#id, utest_##id, flags}; \
    static const char *utest_##id(void)
#define UTEST(id) UTEST_FLAGS(id, 0)
#define UTEST_FAULTS(id) UTEST_FLAGS(id, UTEST_PROVOKES_FAULTS)

#define USTR2(x) #x
#define USTR(x) USTR2(x)
#define UCHECK(c) do { if (!(c)) return __FILE__ ":" USTR(__LINE__) ": " #c; } while (0)
// Waits up to `ticks` timer ticks for c to hold: for effects another
// thread, perhaps running on another CPU, has to produce first.
#define UWAIT(c, ticks) do { for (long _w = 0; _w < (ticks) && !(c); _w++) mf_sleep(1); } while (0)

extern const struct utest __utests_start[], __utests_end[];
