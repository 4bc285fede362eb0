// Busy-loops without yielding for `arg` timer ticks: proves preemption.
#include "manifold.h"

int main(uint64_t arg)
{
    long until = mf_time() + (long)arg;
    while (mf_time() < until)
        ;
    return 0;
}
