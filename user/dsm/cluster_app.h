// Applications for DSM across machines (cluster_app.c), run by the
// cluster mode (user/root/cluster.c) and by the link tests.
#pragma once
#include "dsm.h"

#define CLUSTER_MAX_STEPS 128
#define CLUSTER_JACOBI_PAGES 32         // two 10-page grids, 16 pages apart

// What a node's application thread leaves in its instance's root memory.
struct cluster_result {
    uint64_t checksum;      // jacobi: FNV-1a of the final grid; read faults: wrong words
    uint64_t centre;        // jacobi: the cell in row 8, column 32
    uint64_t cycles;        // the timed part
    uint64_t step_cycles[CLUSTER_MAX_STEPS];   // per step, or per access
    volatile uint64_t done;
};
extern struct cluster_result cluster_results[DSM_MAX_NODES];

// Jacobi, `steps` steps, rows split among the nodes (any count dividing
// 64 or not); every node checksums the whole final grid.
void cluster_jacobi(struct dsm_thread *t, uint64_t steps);
// Node 0 writes 64 pages; node 1 reads each once, timing each access.
void cluster_read_faults(struct dsm_thread *t, uint64_t unused);
// A dead node: every node writes its home page; then (the last node's
// instance gone) the others read its page (checksum = the error, cycles =
// ticks it took) and each other's (centre = 1 if that worked).
void cluster_dead_peer_before(struct dsm_thread *t, uint64_t unused);
void cluster_dead_peer_after(struct dsm_thread *t, uint64_t victim);
