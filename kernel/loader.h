// Loading ELF programs carried as boot modules into new address spaces.
#pragma once
#include "kernel/types.h"

struct boot_info;
struct thread;

// The stack ends 1 MiB below the top of the home region (MF_HOME_SIZE), so
// that code, data and stack are all shared when a thread enters a VAS.
#define USER_STACK_TOP  0x000000003ff00000ul
#define USER_STACK_SIZE (64 * 1024)

void programs_init(const struct boot_info *bi);
unsigned program_count(void);
// Name and image of the idx-th program; false past the end.
bool program_get(unsigned idx, const char **name, const void **image, size_t *size);
// Loads an ELF image into a fresh address space and creates a thread that
// will enter it with `arg` in the first argument register. On success stores
// the (not yet started) thread in *out and returns 0; otherwise returns
// -E_NOEXEC (malformed image), -E_NOMEM, and leaves nothing behind.
int program_load(const void *image, size_t size, const char *name, uint64_t arg, struct thread **out);
// program_load() by module name; -E_NOENT when there is no such program.
int program_spawn(const char *name, uint64_t arg, struct thread **out);
