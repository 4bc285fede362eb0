// Split processes (docs/split.md): two programs in one address space, as
// MANA splits an MPI process. The lower half is a library (MANA's MPI and
// its libc); the upper half is the application, which calls the lower
// half's functions directly through the entry table the lower half
// publishes. Each half is linked on its own, with its own copy of
// libmanifold and its own thread-local storage; a call from one half into
// the other switches the thread pointer in user mode, without a system
// call where the CPU allows it (mf_system_info.flags & MF_SYSTEM_USER_TLS).
//
// The loader (mf_program_load with args.lower) puts both images in one
// home, tags each half's address ranges in the home segment (the kernel
// then refuses a half's caps mapping or attaching in the other half's
// range: -E_HALF), gives the process's CSpace each half's caps, and starts
// the upper half's main with a struct mf_split_info * as its argument.
#pragma once
#include "user/lib/manifold.h"

// Where each half attaches segments of its own, above the home.
#define MF_SPLIT_LOWER_SEGMENTS 0x100000000ul     // [4 GiB, 8 GiB)
#define MF_SPLIT_UPPER_SEGMENTS 0x200000000ul     // [8 GiB, 16 GiB)
#define MF_SPLIT_LOWER_SEGMENTS_SIZE 0x100000000ul
#define MF_SPLIT_UPPER_SEGMENTS_SIZE 0x200000000ul

// The split process's CSpace, from MF_CAP_SPLIT_FIRST on: its thread (READ
// and WRITE: for MF_THREAD_SET_TLS where the CPU has no user-mode switch),
// then each half's VAS and home segment caps, minted with the half.
#define MF_CAP_SPLIT_FIRST 8
#define MF_CAP_SPLIT_THREAD 8
#define MF_CAP_SPLIT_VAS(half) (7 + 2 * (half))     // 9 lower, 11 upper
#define MF_CAP_SPLIT_HOME(half) (8 + 2 * (half))    // 10 lower, 12 upper
#define MF_SPLIT_CAPS 5

#define MF_SPLIT_MAGIC 0x54494c5053464dul   // "MFSPLIT"

// What the loader leaves for the upper half (its main's argument). Arrays
// are indexed by MF_HALF_LOWER and MF_HALF_UPPER (index 0 unused).
struct mf_split_info {
    uint64_t magic;                 // MF_SPLIT_MAGIC
    uint64_t arg;                   // the loader's caller's argument
    // The lower half's ELF entry: const struct mf_split_table *
    // entry(const struct mf_split_info *), to be called on its thread pointer.
    uint64_t lower_entry;
    uint64_t user_tls;              // 1: thread pointers are written in user mode
    uint64_t tp[3];                 // each half's thread pointer for the first thread
    uint64_t image_base[3], image_end[3];   // each half's image and TLS block in the home
    uint64_t segments_base[3], segments_end[3];  // where each half attaches its own segments
    // 1 from the loader; one more each time the lower half is loaded
    // afresh (mf_split_reload_lower, after a restart): mf_split_call then
    // calls the new lower half's entry again before its call, as MANA
    // re-initializes MPI after a restart.
    uint64_t generation;
};

// What the lower half publishes: functions the upper half calls.
#define MF_SPLIT_TABLE_MAGIC 0x454c4241544653ul   // "STABLE"
#define MF_SPLIT_TABLE_MAX 16
typedef uint64_t (*mf_split_fn)(uint64_t, uint64_t, uint64_t, uint64_t);
struct mf_split_table {
    uint64_t magic;                 // MF_SPLIT_TABLE_MAGIC
    uint32_t version, count;        // count <= MF_SPLIT_TABLE_MAX entries in fn
    const char *name;
    mf_split_fn fn[MF_SPLIT_TABLE_MAX];
};

// The thread pointer (C's __thread variables find their block through it;
// on x86_64 the word it points at holds its own address, as the ABI asks).
static inline uint64_t mf_tp_read(void)
{
    uint64_t tp;
#if defined(__x86_64__)
    __asm__ volatile("movq %%fs:0, %0" : "=r"(tp));     // the block's first word points at itself
#else
    __asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp));
#endif
    return tp;
}

// Upper half: calls the lower half's entry on its own thread pointer and
// keeps the table it returns (0, or -E_NOEXEC when it returns none or a
// malformed one, -E_INVAL when info is not the loader's). Once per process.
long mf_split_init(const struct mf_split_info *info);
// Upper half: lower-half function `index` of the table, called with the
// lower half's thread pointer in place and ours back after it returns
// (-E_NOENT: no such entry; the error of MF_THREAD_SET_TLS if the pointer
// could not be switched). From the process's first thread only: the
// loader makes thread-local blocks for it alone, and the by-call switch
// names it (MF_CAP_SPLIT_THREAD).
uint64_t mf_split_call(unsigned index, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3);
// The table mf_split_init keeps (NULL before it).
const struct mf_split_table *mf_split_table(void);
// After a checkpoint that left the lower half out (struct mf_ckpt_process
// .fresh_half) and its restore: loads the lower half's image again into
// the restored home, inside the lower half's range, with a fresh TLS
// block, and advances the info page's generation. `objects`: the restored
// loader's objects CNode (the home in slot 2, the frames; the new frames
// go in its empty slots); info_va: where the info page is (struct
// mf_program.split_info); frames come from `untyped`; scratch: two empty
// slots of ours (four). -E_HALF: the image does not fit the lower half's range;
// -E_NOEXEC: not a lower half (no thread-local storage); -E_NOENT: no
// frame mapped at info_va; -E_INVAL: that page is no split info.
struct mf_split_reload {
    const char *image;
    long images;                    // 0: MF_CAP_BOOT_IMAGES
    long objects;
    uint64_t info_va;
    long untyped, scratch;
};
long mf_split_reload_lower(const struct mf_split_reload *a);

// Writes the first thread's thread pointer: one instruction where the CPU
// allows it (info->user_tls), else MF_THREAD_SET_TLS on the thread cap at
// MF_CAP_SPLIT_THREAD (its error, if it fails).
long mf_split_tp_write(uint64_t tp);
// Switches by MF_THREAD_SET_TLS from now on even where the CPU allows the
// user-mode switch (on = false: back to it). For tests and benchmarks.
void mf_split_switch_by_call(bool on);
