// A minimal program: greets and exits with its argument as status.
#include "manifold.h"

int main(uint64_t arg)
{
    printf("hello from a user program (argument %lu)\n", (unsigned long)arg);
    return (int)arg;
}
