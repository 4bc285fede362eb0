// Commits the fault its argument names, so tests can check that only this
// thread dies: 1 read NULL, 2 write to its own text, 3 undefined
// instruction, 4 privileged instruction, 5 read a kernel address,
// 6 jump to a non-executable page.
#include "manifold.h"

static int data_word = 42;

int main(uint64_t arg)
{
    switch (arg) {
    case 1:
        return *(volatile int *)0;
    case 2:
        *(volatile uint8_t *)(uintptr_t)main = 0;
        return 0;
    case 3:
        mf_arch_undefined_instruction();
        return 0;
    case 4:
        mf_arch_privileged_instruction();
        return 0;
    case 5:
        return *(volatile int *)0xffffffff80100000ul;
    case 6:
        ((void (*)(void))(uintptr_t)&data_word)();
        return 0;
    default:
        return 100;
    }
}
