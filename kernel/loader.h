// Loading ELF programs carried as boot modules into new address spaces.
#pragma once
#include "kernel/types.h"
#include "include/manifold/syscall.h"

struct boot_info;
struct thread;

// The stack ends 1 MiB below the top of the home region (MF_HOME_SIZE), so
// that code, data and stack are all shared when a thread enters a VAS.
#define USER_STACK_TOP  MF_STACK_TOP
#define USER_STACK_SIZE MF_STACK_SIZE

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
// Only the root task is loaded by the kernel: every other program is
// loaded by libmanifold's loader (user/lib/loader.c) from the images
// boot_images_grant hands the root task.
int program_spawn(const char *name, uint64_t arg, struct thread **out);
struct slot;
// At boot: a CNode holding a directory frame and every boot module's
// pages as read-only frames goes into the empty slot dst.
int boot_images_grant(struct slot *dst);
