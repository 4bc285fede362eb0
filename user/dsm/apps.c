// Two applications on 1, 2 and 4 nodes, each result checked against the
// single-node run's: Jacobi relaxation and a matrix multiply, on release
// pages with barriers (the write notices of a barrier drop exactly the
// neighbours' rows that changed). Integer arithmetic (user code has no
// floating point), so results compare exactly.
//
// Until the kernel is SMP the nodes share one CPU, so more nodes cannot
// run faster: what the figures show is the protocol's cost on top of the
// computation, per iteration.
#include "bench.h"
#include "jacobi.h"

#define WORDS(page) ((volatile int64_t *)(DSM_BASE + (page) * DSM_PAGE))
#define WARMUP 5
#define STEPS 100

// ------------------------------------------------------------------ Jacobi
// The grid and its step: jacobi.h.
#define GRID_PAGES 10

static int64_t jacobi_result[3][JN + 2][JN];    // per run: 1, 2, 4 nodes

static void jacobi(struct dsm_thread *t, uint64_t run)
{
    unsigned me = dsm_self(t), nodes = dsm_nodes(t), rows = JN / nodes;
    unsigned first = 1 + me * rows, last = first + rows;    // [first, last)
    if (me == 0)
        jacobi_hot_border();
    dsm_barrier(t);
    uint64_t previous = mf_arch_cycles();
    for (unsigned step = 0; step < WARMUP + STEPS; step++) {
        unsigned src = step % 2;
        jacobi_relax(src, 1 - src, first, last);
        dsm_barrier(t);
        uint64_t now = mf_arch_cycles();
        if (me == 0 && step >= WARMUP)
            dsm_samples[step - WARMUP] = now - previous;
        previous = now;
    }
    if (me == 0) {
        unsigned final = (WARMUP + STEPS) % 2;
        for (unsigned r = 0; r < JN + 2; r++)
            for (unsigned c = 0; c < JN; c++)
                jacobi_result[run][r][c] = CELL(final, r, c);
    }
}

// ---------------------------------------------------------- matrix multiply
// C = A x B for 64 x 64 matrices (8 pages each). Every step node 0 writes
// new A and B; after a barrier each node computes its rows of C.
#define MN 64
#define MAT(page0, i, j) (WORDS(page0)[(i) * MN + (j)])
#define A_PAGE 0
#define B_PAGE 8
#define C_PAGE 16

static int64_t matmul_result[3][MN][MN];

static int64_t a_value(unsigned i, unsigned j, unsigned step) { return (int64_t)((i * 7 + j * 3 + step) % 17) - 8; }
static int64_t b_value(unsigned i, unsigned j, unsigned step) { return (int64_t)((i * 5 + j * 11 + 2 * step) % 13) - 6; }

static void matmul(struct dsm_thread *t, uint64_t run)
{
    unsigned me = dsm_self(t), rows = MN / dsm_nodes(t), first = me * rows;
    uint64_t previous = mf_arch_cycles();
    for (unsigned step = 0; step < WARMUP + STEPS; step++) {
        if (me == 0)
            for (unsigned i = 0; i < MN; i++)
                for (unsigned j = 0; j < MN; j++) {
                    MAT(A_PAGE, i, j) = a_value(i, j, step);
                    MAT(B_PAGE, i, j) = b_value(i, j, step);
                }
        dsm_barrier(t);
        for (unsigned i = first; i < first + rows; i++)
            for (unsigned j = 0; j < MN; j++) {
                int64_t sum = 0;
                for (unsigned k = 0; k < MN; k++)
                    sum += MAT(A_PAGE, i, k) * MAT(B_PAGE, k, j);
                MAT(C_PAGE, i, j) = sum;
            }
        dsm_barrier(t);
        uint64_t now = mf_arch_cycles();
        if (me == 0 && step >= WARMUP)
            dsm_samples[step - WARMUP] = now - previous;
        previous = now;
    }
    if (me == 0)
        for (unsigned i = 0; i < MN; i++)
            for (unsigned j = 0; j < MN; j++)
                matmul_result[run][i][j] = MAT(C_PAGE, i, j);
}

// The last step's product, computed here without the DSM.
static bool matmul_reference_matches(void)
{
    unsigned step = WARMUP + STEPS - 1;
    for (unsigned i = 0; i < MN; i++)
        for (unsigned j = 0; j < MN; j++) {
            int64_t sum = 0;
            for (unsigned k = 0; k < MN; k++)
                sum += a_value(i, k, step) * b_value(k, j, step);
            if (sum != matmul_result[0][i][j])
                return false;
        }
    return true;
}

// ---------------------------------------------------------------- driver

static uint64_t median(uint64_t *s, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && s[j - 1] > s[j]; j--) {
            uint64_t v = s[j];
            s[j] = s[j - 1];
            s[j - 1] = v;
        }
    return s[n / 2];
}

// Runs `app` on 1, 2 and 4 nodes; each run's result must equal the
// single-node run's (and that one `reference` when given).
static void scale(const char *name, const char *suffix, dsm_app app, unsigned pages, const void *results,
                  size_t result_bytes, bool (*reference)(void))
{
    static const unsigned node_counts[3] = {1, 2, 4};
    uint64_t one_node = 0;
    for (unsigned run = 0; run < 3; run++) {
        if (!dsm_bench_start(node_counts[run], pages, DSM_RELEASE, 0))
            return;
        dsm_reset_stats();
        long r = dsm_run(app, run);
        struct dsm_stats s;
        dsm_get_stats(DSM_MAX_NODES, &s);
        dsm_stop();
        if (r != 0) {
            printf("bench: %s on %u nodes did not finish\n", name, node_counts[run]);
            return;
        }
        const uint8_t *mine = (const uint8_t *)results + run * result_bytes;
        bool verified = memcmp(mine, results, result_bytes) == 0 && (!reference || reference());
        uint64_t m = median(dsm_samples, STEPS);
        if (run == 0)
            one_node = m;
        char line[48], extra[200];
        snprintf(line, sizeof(line), "dsm.%s%s.n%u", name, suffix, node_counts[run]);
        snprintf(extra, sizeof(extra),
                 "\"nodes\":%u,\"per\":\"step\",\"speedup_permille\":%lu,\"messages\":%lu,\"bytes\":%lu,"
                 "\"verified\":%s",
                 node_counts[run], (unsigned long)(m ? one_node * 1000 / m : 0), (unsigned long)s.sent,
                 (unsigned long)s.bytes, verified ? "true" : "false");
        dsm_report(line, "cycles", dsm_samples, STEPS, extra);
    }
}

void run_dsm_applications(const char *suffix)
{
    scale("jacobi", suffix, jacobi, 2 * 16, jacobi_result, sizeof(jacobi_result[0]), NULL);
    scale("matmul", suffix, matmul, 24, matmul_result, sizeof(matmul_result[0]), matmul_reference_matches);
}
