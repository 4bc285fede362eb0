// System call numbers and the structures they exchange with user space.
// Calling convention: number in rax (x86_64, `syscall`) or x8 (aarch64,
// `svc #0`); arguments in rdi, rsi, rdx, r10, r8, r9 / x0..x5; the result
// (>= 0, or -E_*) in rax / x0.
#pragma once
#include <stdint.h>
#include "include/manifold/ipc.h"
#include "include/manifold/lrpc.h"

enum mf_syscall {
    SYS_EXIT = 0,          // (int code) -> does not return
    SYS_YIELD,             // () -> 0
    SYS_THREAD_INFO,       // (MF_THREAD_SELF, struct mf_thread_info *) -> 0: the caller's own
    SYS_TIME,              // () -> timer ticks since boot
    SYS_SLEEP,             // (ticks) -> 0
    SYS_INVOKE,            // (cptr, op, a0, a1, a2, a3) -> see cap.h
    // IPC on endpoints (see ipc.h): (ep cptr, info, mr0, mr1, mr2, mr3).
    // A received message returns the sender's badge, with info and mr0..3
    // in the argument registers 1..5.
    SYS_SEND,              // send; blocks until a receiver takes it
    SYS_RECV,              // wait for a message
    SYS_CALL,              // send, then wait for the receiver's reply
    SYS_REPLY_RECV,        // reply to our caller (if any), then wait for a message
    SYS_VAS_SWITCH,        // (vas cptr, 0 = home): the calling thread moves into that VAS
    SYS_LRPC_CALL,         // (binding cptr, procedure, A-stack) -> the procedure's result (lrpc.h)
    SYS_LRPC_RETURN,       // (value): back to the caller of the LRPC in progress
    SYS_EXCEPTION_RETURN,  // (struct mf_exception *): resume the context an exception handler was given
    SYS_COUNT
};

// How a thread ended (MF_THREAD_EXIT_STATUS).
#define EXIT_NORMAL 1      // called SYS_EXIT; code is its argument
#define EXIT_FAULT  2      // killed by an exception; code is a FAULT_* kind
#define EXIT_NO_SPACE 3    // killed: the VAS it ran in and its home were destroyed
struct mf_exit_status {
    int32_t how;
    int32_t code;
    uint64_t address;      // faulting address for EXIT_FAULT
};

#define MF_FAULT_PAGE       1
#define MF_FAULT_UNDEFINED  2
#define MF_FAULT_PROTECTION 3
#define MF_FAULT_ARITHMETIC 4
#define MF_FAULT_OTHER      5

// An exception dispatched to the faulting thread itself (Aegis-style; a
// thread's handler is set with MF_THREAD_SET_EXCEPTION, docs/exokernel.md
// "Exceptions"): the kernel writes this record at the top of the
// thread's exception stack and runs handler(record, arg) there; the
// handler ends with SYS_EXCEPTION_RETURN(record), which resumes the
// context the record holds, as the handler left it (pc, sp, flags and
// regs may be changed; the kernel keeps the privileged bits).
// A thread's user context: what an exception record holds, and what
// MF_THREAD_READ_CONTEXT / WRITE_CONTEXT read and write.
#define MF_CONTEXT_REGS 31
// The system-call instruction's length and the register of a call's
// result, in struct mf_regs (x86_64: syscall, rax; aarch64: svc, x0).
#if defined(__x86_64__)
#define MF_SYSCALL_INSN_BYTES 2
#else
#define MF_SYSCALL_INSN_BYTES 4
#endif
#define MF_REG_RESULT 0
struct mf_regs {
    uint64_t pc, sp;       // where it runs (an exception: where it happened, resumed there)
    uint64_t flags;        // x86_64: RFLAGS' status bits (CF PF AF ZF SF DF OF); aarch64: NZCV
    // x86_64: rax rbx rcx rdx rsi rdi rbp r8 .. r15, then zero;
    // aarch64: x0 .. x30. (No FP/SIMD state: user code is built without it.)
    uint64_t regs[MF_CONTEXT_REGS];
    // The thread pointers (MF_TLS_*): x86_64 the FS and GS bases, aarch64
    // TPIDR_EL0 and TPIDRRO_EL0. Written: x86_64 canonical (-E_RANGE), aarch64 any.
    uint64_t tls[2];
};
struct mf_exception {
    uint64_t kind;         // MF_FAULT_*
    uint64_t address;      // the faulting address (page and protection faults), else 0
    uint64_t access;       // MF_ACCESS_* of the access (page faults), else 0
    struct mf_regs context;
};

struct mf_thread_info {
    uint32_t id;
    uint32_t state;        // MF_THREAD_*
    uint32_t cpu;          // the CPU it runs on (MF_THREAD_SELF: the one running the call)
    uint32_t priority;
    char name[32];
    uint32_t policy;       // MF_SCHED_* in force (never MF_SCHED_DEFAULT)
    uint32_t migrations;   // times it was switched in on another CPU than the time before
    uint64_t switches_in;  // times a CPU switched to it
    // Its latest refused capability operation, and why (mf_strerror_detail):
    // the error, the cptr concerned, what that slot held, what was needed.
    int32_t refused_error;      // -E_*, or 0: none yet
    uint32_t refused_cptr;
    uint8_t refused_found;      // MF_OBJ_* in the slot (MF_OBJ_NULL: empty)
    uint8_t refused_expected;   // MF_OBJ_* wanted (wrong type), or the invoked type (others)
    uint8_t refused_rights;     // MF_RIGHT_* missing (permission)
    uint8_t refused_op;         // the operation invoked
    char refused_why[48];       // the check that failed, when it has words
    uint32_t blocked_on;        // MF_THREAD_BLOCKED: why (the kernel's enum block_reason, for ps and dumps)
    // Its IPC calls and reply-receives (docs/ipc.md, "Fast path"): how many
    // switched straight to the partner, how many took the slow path, and
    // which path the latest took (MF_IPC_FAST or MF_IPC_SLOW_*).
    uint32_t ipc_last_path;
    uint32_t refused_index;     // a batch operation (MF_SEGMENT_MAP_BATCH...): the refused entry + 1; 0: not one
    uint64_t ipc_fast, ipc_slow;
};
#define MF_IPC_FAST            0
#define MF_IPC_SLOW_LONG       1   // more than 4 words, a capability, or a fault message
#define MF_IPC_SLOW_PARTNER    2   // nobody waiting to receive (or no caller to reply to)
#define MF_IPC_SLOW_STATE      3   // the caller could not block at once
#define MF_IPC_SLOW_CPU        4   // the partner belongs to another CPU
#define MF_IPC_SLOW_PRIORITY   5   // the partner's priority differs
#define MF_IPC_SLOW_QUEUED     6   // a thread as important as the partner is queued here
#define MF_IPC_SLOW_LOOKUP     7   // the endpoint was not found without a lock: a capability
                                    // changed meanwhile, the caller is in an LRPC server, or the
                                    // cap is missing, not an endpoint or lacks the right
#define MF_THREAD_SELF 0xffffffffu  // SYS_THREAD_INFO: the calling thread (others: MF_SYSTEM_THREAD_INFO)
#define MF_THREAD_RUNNABLE 0
#define MF_THREAD_BLOCKED  1
#define MF_THREAD_DEAD     2
#define MF_THREAD_INACTIVE 3

// A program's home region (docs/programs.md): its ELF segments from
// MF_PROGRAM_BASE on, its stack below MF_STACK_TOP, its IPC buffer page at
// MF_IPC_BUFFER_VA (= MF_STACK_TOP), all inside [0, MF_HOME_SIZE).
#define MF_PROGRAM_BASE 0x10000ul
#define MF_STACK_TOP    0x3ff00000ul
#define MF_STACK_SIZE   (64 * 1024ul)

// The boot modules (GRUB's module lines), as the root task finds them in
// the CNode at MF_CAP_BOOT_IMAGES: slot MF_BOOT_DIR_SLOT is a read-only
// frame holding this directory; image i's pages are read-only frames in
// slots first_slot .. first_slot + pages - 1.
#define MF_BOOT_DIR_SLOT 1
struct mf_boot_image {
    char name[32];
    uint32_t first_slot;
    uint32_t pages;
    uint64_t size;           // bytes
};
struct mf_boot_dir {
    uint32_t count;
    uint32_t cnode_bits;     // the images CNode has 2^cnode_bits slots
    struct mf_boot_image image[];
};

// The kernel's event counters since boot (MF_SYSTEM_KSTATS). Each CPU
// counts in its own representative of a clustered object (docs/smp.md,
// "Clustered objects"); the call sums them, so a counter another CPU is
// moving may be a few events behind. Only events off the fast paths are
// counted: a count on every system call or IPC cost about 10 instructions
// each (measured; docs/smp.md). Per-thread IPC paths: mf_thread_info.
enum mf_kstat {
    MF_KSTAT_USER_FAULTS = 0,       // exceptions taken from user mode (pager faults included)
    MF_KSTAT_PAGER_FAULTS,          // page faults sent to a user-level pager
    MF_KSTAT_GRACE_PERIODS,         // grace periods waited for (clustered objects destroyed)
    MF_KSTAT_SWITCHES,              // a CPU switched to a thread other than its idle one (the scheduler's per-CPU count)
    MF_KSTAT_TIMER_TICKS,           // timer interrupts, all CPUs (likewise)
    MF_KSTAT_PAGE_CACHE_REFILLS,    // a CPU's free-page cache refilled from the bitmap
    MF_KSTAT_PAGE_CACHE_FLUSHES,    // ... or gave pages back to it
    MF_KSTAT_COW_FAULTS,            // writes that met a copy-on-write mapping (include/manifold/snapshot.h)
    MF_KSTAT_COUNT
};
#define MF_KSTAT_MAX 16
struct mf_kstats {
    uint64_t count[MF_KSTAT_MAX];   // MF_KSTAT_*; the rest 0
    uint64_t page_cache_bytes;      // free memory held in the CPUs' page caches now
    uint32_t cpus_counting;         // CPUs with a representative of the counters
    uint32_t reserved;
};

struct mf_system_info {
    char version[32];
    char arch[16];
    char features[128];
    char cmdline[128];
    uint32_t cpus;
    uint32_t timer_hz;
    uint64_t memory_total;   // bytes of usable RAM
    uint64_t memory_free;
    uint64_t cycles_per_second;  // the kernel's clock (TSC / generic timer)
    uint64_t counter_hz;         // the counter mf_arch_cycles() reads, ticks per second
    uint32_t untyped_count;      // root task: untyped caps from MF_CAP_UNTYPED_BASE on
    uint32_t untyped_size_bits;  // each of 2^untyped_size_bits bytes
    uint32_t device_count;       // root task: PCI device caps from MF_CAP_DEVICE_BASE on
    uint32_t flags;              // MF_SYSTEM_*
};
// mf_system_info.flags: user code writes its thread pointer (MF_TLS_THREAD)
// itself, without a system call (x86_64: wrfsbase, CR4.FSGSBASE on where
// the CPU has it; aarch64: msr tpidr_el0, always). Else MF_THREAD_SET_TLS.
#define MF_SYSTEM_USER_TLS 1u
