// Kernel self-tests: numbered and self-registering. A test is a function
// returning NULL on success or a short reason on failure:
//
//   KTEST(pmm_alloc_free) { KCHECK(pmm_alloc() != 0); return NULL; }
//
// Tests land in the .ktests section in link order; the root task runs them
// through its System cap (MF_SYSTEM_KTEST_RUN) so kernel and user tests share one numbered report.
#pragma once
#include "kernel/types.h"

struct ktest {
    const char *name;
    const char *(*fn)(void);
};

#define KTEST(id)                                                        \
    static const char *ktest_##id(void);                                 \
    static const struct ktest ktest_entry_##id                           \
        __attribute__((used, section(".ktests"), aligned(8))) = {#id, ktest_##id}; \
    static const char *ktest_##id(void)

#define KSTR2(x) #x
#define KSTR(x) KSTR2(x)
// Fails the current test with "file:line: expression".
#define KCHECK(c) do { if (!(c)) return __FILE__ ":" KSTR(__LINE__) ": " #c; } while (0)

unsigned ktest_count(void);
// Runs test idx, printing "ok N - name" or "not ok N - name # reason".
bool ktest_run(unsigned idx, unsigned number);
