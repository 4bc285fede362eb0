// The Jacobi grid shared by the one-machine benchmark (apps.c) and the
// cross-machine run (cluster_app.c): one layout and one relaxation step, so
// both compute the same numbers. A JN x JN interior with fixed borders (the
// top row hot), rows of 512 bytes; row r (0 and JN + 1 are the borders)
// lives at (r + 7) * 512 from the grid's start, so the interior starts on a
// page boundary and each node's rows are whole pages when the node count
// divides JN / 8. Two grids (g = 0, 1) alternate as source and destination.
#pragma once
#include "dsm.h"

#define JN 64
#define ROW_BYTES (JN * 8)
#define GRID(g) (DSM_BASE + (uint64_t)(g) * 16 * DSM_PAGE)
#define CELL(g, r, c) (((volatile int64_t *)(GRID(g) + ((uint64_t)(r) + 7) * ROW_BYTES))[c])

// The hot top border of both grids (node 0 writes it; the rest starts 0).
static inline void jacobi_hot_border(void)
{
    for (unsigned g = 0; g < 2; g++)
        for (unsigned c = 0; c < JN; c++)
            CELL(g, 0, c) = 1 << 20;
}

// One step over rows [first, last): grid src to grid dst.
static inline void jacobi_relax(unsigned src, unsigned dst, unsigned first, unsigned last)
{
    for (unsigned r = first; r < last; r++)
        for (unsigned c = 1; c < JN - 1; c++)
            CELL(dst, r, c) = (CELL(src, r - 1, c) + CELL(src, r + 1, c) + CELL(src, r, c - 1) +
                               CELL(src, r, c + 1)) / 4;
}
