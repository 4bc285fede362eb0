// DSM tests (user/dsm/, docs/dsm.md).
#include "manifold.h"
#include "utest.h"
#include "user/dsm/dsm.h"

static volatile uint64_t result[DSM_MAX_NODES][8];
#define WORDS(page) ((volatile uint64_t *)(DSM_BASE + (page) * DSM_PAGE))

static void smoke_app(struct dsm_thread *t, uint64_t arg)
{
    (void)arg;
    unsigned me = dsm_self(t);
    if (me == 0)
        WORDS(1)[0] = 0x1234;           // page 1 starts at node 1: a write fault, a migration
    dsm_barrier(t);
    result[me][0] = WORDS(1)[0];
    dsm_barrier(t);
}

UTEST(dsm_smoke)
{
    struct dsm_config c = {.nodes = 2, .pages = 8, .model = DSM_STRONG};
    UCHECK(dsm_start(&c));
    UCHECK(dsm_run(smoke_app, 0) == 0);
    UCHECK(result[0][0] == 0x1234 && result[1][0] == 0x1234);
    const char *bad = dsm_check();
    if (bad)
        printf("# dsm_check: %s\n", bad);
    UCHECK(bad == NULL);
    dsm_stop();
    return NULL;
}
