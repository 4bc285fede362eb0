// Checked access to user memory. Every pointer from user space goes through
// these: the range must lie in [USER_BASE, USER_TOP) and be mapped with the
// needed rights in the current address space, else -E_FAULT.
#pragma once
#include "kernel/types.h"

int copy_from_user(void *dst, uint64_t usrc, size_t n);
int copy_to_user(uint64_t udst, const void *src, size_t n);
