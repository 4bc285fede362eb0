// Tutorial 1 (docs/tutorial/1-hello.md): a program, its argument, its exit
// status, and the one thing it may always ask without a capability.
#include "manifold.h"

int main(uint64_t arg)
{
    struct mf_thread_info me;
    if (mf_thread_info(MF_THREAD_SELF, &me) < 0)
        return 1;
    printf("tut_hello: I am thread %u (%s) on CPU %u, my argument is %lu\n", me.id, me.name, me.cpu,
           (unsigned long)arg);
    return (int)(arg % 100);     // the shell prints it: "tut_hello exited with status ..."
}
