// Version and boot parameters visible to the rest of the kernel.
#pragma once
#include "kernel/types.h"

#define MANIFOLD_VERSION "0.1.0"

// The kernel command line given by the boot loader ("mode=test ...").
const char *kernel_cmdline(void);
// Value of `key=value` on the command line copied into buf; false if absent.
bool cmdline_option(const char *key, char *buf, size_t len);
