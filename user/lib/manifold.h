// libmanifold: the user-space interface to the Manifold kernel.
//
// Every call returns a value >= 0 on success or -E_* (see errors.h);
// mf_strerror() names an error, mf_strerror_detail() also says which
// check refused the caller's latest capability operation.
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "include/manifold/cap.h"
#include "include/manifold/device.h"
#include "include/manifold/errors.h"
#include "include/manifold/reclaim.h"
#include "include/manifold/snapshot.h"
#include "include/manifold/net.h"
#include "include/manifold/slots.h"
#include "include/manifold/syscall.h"

long mf_syscall6(long number, long a0, long a1, long a2, long a3, long a4, long a5);
static inline long mf_syscall(long number, long a0, long a1, long a2)
{
    return mf_syscall6(number, a0, a1, a2, 0, 0, 0);
}

// "permission denied (cptr 21, notification: the notification cap lacks
// WRITE)": err's name and, when err is what the kernel recorded for this
// thread's latest refused capability operation, the cptr, what its slot
// held and the check that failed. A static buffer: not thread-safe.
const char *mf_strerror_detail(long err);
const char *mf_type_name(unsigned type);     // MF_OBJ_* as a word

// Console: through the Console cap in slot mf_console_cap (MF_CAP_CONSOLE
// unless the program sets another); without one, output is dropped
// (mf_write returns -E_BADCAP) and mf_getc fails.
extern long mf_console_cap;
long mf_write(const char *buf, size_t len);
int mf_getc(void);                     // blocks until a byte arrives
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int puts(const char *s);               // writes s and a newline

// Threads and programs
_Noreturn void mf_exit(int code);
long mf_yield(void);
// Programs (user/lib/loader.c, docs/programs.md): a parent loads a boot
// image into objects it carves from its own untyped memory; the kernel
// loads only the root task.
struct mf_load_args {
    const char *name;      // the boot image (mf_boot_dir_read lists them)
    uint64_t arg;          // the program's first argument register
    long cspace;           // a CNode cptr of ours: the program's CSpace (0: none)
    long untyped;          // every object comes from here; revoke it to take all back
    long slots;            // the first of MF_PROGRAM_SLOTS empty slots of our CSpace
    long images;           // the boot images CNode (0: MF_CAP_BOOT_IMAGES)
    // A split process (docs/split.md): this image is loaded too, as the
    // lower half, into the same home; `name` is the upper half, which
    // starts with a struct mf_split_info * as its argument (user/lib/split.h).
    // The process's CSpace (cspace, required) gets the thread and each
    // half's VAS and home caps at MF_CAP_SPLIT_FIRST on.
    const char *lower;
};
#define MF_PROGRAM_SLOTS 7
struct mf_program {
    long objects;          // a CNode of ours: its VAS (slot 1), home segment (2), frames (3..)
    long thread;           // its thread (inactive until mf_program_start)
    long exit;             // a notification its thread signals when it ends
    uint32_t pages;        // frames it was given
    uint64_t split_info;   // a split process: where its struct mf_split_info is (else 0)
};
// Loads; -E_NOENT: no such image; -E_NOEXEC: not an ELF for this machine
// (or a writable and executable segment); -E_NOMEM: the untyped is full;
// a split process: -E_HALF when the halves' images overlap, -E_BUSY when
// its CSpace's split slots are taken. A program with thread-local storage
// (__thread, PT_TLS) starts with its thread pointer on a block made from
// the template, after its image (docs/split.md).
// On failure nothing is left in the slots. Not reentrant: one load at a
// time per program.
long mf_program_load(struct mf_program *p, const struct mf_load_args *args);
long mf_program_start(struct mf_program *p);
// Blocks until the program's thread ends (exit, fault, lost address space);
// -E_DEAD when its thread is gone (the untyped it came from was revoked).
long mf_program_wait(struct mf_program *p, struct mf_exit_status *status);
// Stops it and deletes its caps; its memory returns when the untyped is revoked.
long mf_program_destroy(struct mf_program *p);
// The boot images' directory (a 4 KiB struct mf_boot_dir); `scratch` is an
// empty slot of ours, empty again afterwards.
long mf_boot_dir_read(long images, long scratch, struct mf_boot_dir *dir);
// The simple form: programs from a pool (an untyped and room for up to 8
// programs' slots, MF_PROGRAM_SLOTS each). mf_spawn returns a handle for
// mf_wait, which also destroys the program; when the pool has no program
// left, its untyped is revoked. -E_NOMEM: no pool, or it is full.
void mf_spawn_pool(long untyped, long first_slot, long slot_count);
long mf_spawn(const char *name, uint64_t arg);
long mf_spawn_with(const char *name, uint64_t arg, long cspace);
// From `untyped` instead of the pool's (the caller revokes it when done).
long mf_spawn_from(const char *name, uint64_t arg, long cspace, long untyped);
// A CSpace like the one the shell's `run` gives (docs/tutorial/2-capabilities.md),
// carved from `untyped` into our empty slot cnode_slot: a CNode of
// 2^MF_CHILD_CNODE_BITS slots with itself in slot 1, `nameserver` (a cptr of
// ours; 0: none) in 2 (call and grant only), copies of what we hold of the
// console (3), the System cap (4, read-only), the boot images (5,
// read-only) and PCI devices (from 224), and a 2^MF_CHILD_UNTYPED_BITS-byte
// untyped in slot 16. Revoking `untyped` takes all of it back.
#define MF_CHILD_CNODE_BITS 8
#define MF_CHILD_UNTYPED_BITS 22
long mf_child_cspace(long untyped, long cnode_slot, long nameserver);
// mf_child_cspace, then the program loaded from `untyped` too (mf_spawn_from,
// so a spawn pool must be set up): the shell's `run`. An mf_wait handle.
long mf_spawn_child(const char *name, uint64_t arg, long untyped, long cnode_slot, long nameserver);
// -E_DEAD: the program was taken away (its untyped revoked) before it ended;
// its handle is free again either way.
long mf_wait(long handle, struct mf_exit_status *status);
long mf_kill(long handle);             // ends it now and frees its handle
long mf_spawned_thread(long handle);   // the program's thread cap, for suspend, priority...
// Threads: our own (MF_THREAD_SELF, no capability needed), or the index-th
// of the system through the System cap in MF_CAP_SYSTEM (READ).
long mf_thread_info(unsigned index, struct mf_thread_info *info);
// Through the System cap in MF_CAP_SYSTEM (READ): programs the shell
// starts get a read-only copy.
long mf_system_info(struct mf_system_info *info);
// The kernel's event counters (MF_KSTAT_*), through the System cap in
// MF_CAP_SYSTEM (READ).
long mf_kstats(struct mf_kstats *out);
long mf_time(void);                    // timer ticks since boot
long mf_sleep(long ticks);

// The System cap (MF_CAP_SYSTEM in the root task; docs/capabilities.md).
// mf_poweroff returns only when `system` is not a System cap with WRITE.
long mf_system_poweroff(long system, int status);
_Noreturn void mf_poweroff(int status);    // through MF_CAP_SYSTEM; exits if that fails
long mf_ktest_count(long system);
long mf_ktest_run(long system, long index, long number);   // 1 passed, 0 failed
long mf_kbench(long system);               // -E_BUSY: a test or benchmark runs already

// Capabilities (include/manifold/cap.h, docs/capabilities.md). `cnode` and
// `ut` are cptrs in the caller's CSpace; slot indices are in that CNode.
long mf_invoke(long cptr, long op, long a0, long a1, long a2, long a3);
long mf_cnode_copy(long cnode, long src, long dst, unsigned rights);
long mf_cnode_mint(long cnode, long src, long dst, unsigned rights, uint64_t badge);
long mf_cnode_move(long cnode, long src, long dst);
long mf_cnode_delete(long cnode, long slot);     // repeats while -E_AGAIN
long mf_cnode_revoke(long cnode, long slot);     // repeats while -E_AGAIN
// type | rights << 8 | size_bits << 16 of the cap in slot; 0 if empty.
long mf_cnode_identify(long cnode, long slot);
// What slot holds, for checkpointers and debuggers: the cap, its object's
// name and state (struct mf_cap_info in cap.h), and the next occupied
// slot (info->next); needs READ on the CNode.
long mf_cnode_describe(long cnode, long slot, struct mf_cap_info *info);
// Copies src of `cnode` into slot dst of another CNode we hold.
long mf_cnode_copy_to(long cnode, long src, long dst_cnode, long dst, unsigned rights);
// Moves src of `cnode` into slot dst of another CNode (a mapping stays).
long mf_cnode_move_to(long cnode, long src, long dst_cnode, long dst);
// Carves `count` objects of `type` (size_bits as the type wants) into
// dst_cnode[dst_index ...].
long mf_untyped_retype(long ut, unsigned type, unsigned size_bits, unsigned count,
                       long dst_cnode, long dst_index);

// Slots and objects (user/lib/alloc.c): no hand-numbered slots. The
// allocator hands out empty slots of a range of our CSpace and makes
// objects from one untyped. Defaults: untyped MF_CAP_UNTYPED_BASE, slots
// MF_CAP_ALLOC_FIRST.. (MF_ALLOC_SLOT_COUNT), right for programs the shell
// starts; libmanifold's drivers draw on it too. Thread-safe. A slot emptied
// any way (mf_slot_free, a delete, a revoke) is free again; deleting frees
// the slot, not the memory: that returns when the untyped is revoked.
void mf_alloc_init(long untyped, long first_slot, long slot_count);
long mf_alloc_untyped(void);
long mf_slot_alloc(void);                   // an empty slot, ours until filled or freed; -E_NOMEM: none left
long mf_slot_free(long slot);               // deletes what it holds, gives the slot back
// `count` consecutive slots (for retyping several objects at once, or a
// loader's MF_PROGRAM_SLOTS): the first, or -E_NOMEM.
long mf_slot_range(unsigned count);
long mf_slot_free_range(long first, unsigned count);
long mf_new(unsigned type, unsigned size_bits);   // a new object: its cptr, or -E_*
// `count` new objects in consecutive slots (one retype): the first cptr.
long mf_new_range(unsigned type, unsigned size_bits, unsigned count);
long mf_copy(long src, unsigned rights);           // a copy of src with fewer rights: its cptr
long mf_mint(long src, unsigned rights, uint64_t badge);   // a badged copy: its cptr

// Thread objects (retyped from untyped). A configured thread runs in the
// caller's address space; give it a stack and an entry with write_regs.
// ipc_buffer: a page-aligned page of the thread's own for long messages
// (NULL: messages to it are cut to four words).
long mf_thread_configure(long thread, long cspace, void *ipc_buffer);
// As configure, in the VAS `vas` (it becomes the thread's home) and with a
// name (32 bytes, or NULL) for `ps`.
long mf_thread_configure_in(long thread, long cspace, void *ipc_buffer, long vas, const char name[32]);
// `notification` (0: none) is signalled whenever the thread ends; then
// exit_status tells how (-E_BUSY while it has not ended).
long mf_thread_bind_exit(long thread, long notification);
long mf_thread_exit_status(long thread, struct mf_exit_status *status);
long mf_thread_write_regs(long thread, uint64_t pc, uint64_t sp, uint64_t arg);
// Exceptions to the thread itself (docs/exokernel.md "Exceptions"): a fault
// no pager resolves runs handler(record, arg) on [stack, stack + size) of
// the same thread, which is not its normal stack; the handler may change
// the record and ends with mf_exception_return(record) (it must not
// return). handler NULL: none (faults kill, as before).
typedef void (*mf_exception_handler)(struct mf_exception *record, uint64_t arg);
long mf_thread_set_exception(long thread, mf_exception_handler handler, void *stack, size_t size, uint64_t arg);
// Resumes the context in `record`; returns only on an error (not in a
// handler: -E_INVAL; a record that is not ours or a pc/sp outside user
// space: -E_FAULT / -E_RANGE).
long mf_exception_return(struct mf_exception *record);
// An inactive (suspended, or not yet resumed) thread's whole user context:
// read -> 0 if in user code, 1 if it stopped inside a system call (it
// finishes the call when resumed), 2 if at a blocking call it makes again
// when resumed (pc on the call); write: pc and sp in user space, only the
// status flags taken (docs/api.md).
long mf_thread_read_context(long thread, struct mf_regs *regs);
long mf_thread_write_context(long thread, const struct mf_regs *regs);
// An inactive thread stopped at a blocking call it would make again when
// resumed (READ_CONTEXT says 2) returns `result` from that call instead:
// 1 when it was at one, 0 when not (nothing changed), or -E_*. What a
// supervisor uses to break a thread out of a wait nobody will end.
long mf_thread_abort_call(long thread, long result);
// Moves an inactive thread into `vas` (0: its home), as its own
// mf_vas_switch would (a checkpointer restoring a switched thread).
long mf_thread_set_vas(long thread, long vas);
// A thread pointer (MF_TLS_THREAD: C's __thread variables; MF_TLS_OTHER):
// on the caller at once, on another thread while it is inactive. Where
// mf_system_info.flags has MF_SYSTEM_USER_TLS, user code writes its own
// without a call (mf_tp_write, user/lib/split.h).
static inline long mf_thread_set_tls(long thread, unsigned which, uint64_t value)
{
    return mf_invoke(thread, MF_THREAD_SET_TLS, which, (long)value, 0, 0);
}
long mf_thread_read_reg(long thread, unsigned reg);   // MF_REG_PC / MF_REG_SP
long mf_thread_resume(long thread);
long mf_thread_suspend(long thread);
long mf_thread_set_priority(long thread, unsigned priority);
// MF_SCHED_* policy; `cpu` is the CPU for MF_SCHED_FIXED (ignored otherwise).
long mf_thread_set_sched(long thread, unsigned policy, unsigned cpu);
// The CPU running the caller right now (SYS_THREAD_INFO of MF_THREAD_SELF).
long mf_cpu_id(void);
// Configures `thread` with the caller's CSpace (and IPC buffer, may be
// NULL), sets it to run fn(arg) on [stack, stack+size) and resumes it. When
// fn returns the thread exits.
long mf_thread_start(long thread, void (*fn)(uint64_t), void *stack, size_t size, uint64_t arg);
long mf_thread_start_buffer(long thread, void (*fn)(uint64_t), void *stack, size_t size, uint64_t arg,
                            void *ipc_buffer);
// As mf_thread_start_buffer, with the CNode `cspace` (a cptr of ours) as
// the thread's CSpace instead of ours.
long mf_thread_start_cspace(long thread, long cspace, void (*fn)(uint64_t), void *stack, size_t size,
                            uint64_t arg, void *ipc_buffer);
// As mf_thread_start, with a name (up to 31 characters) for `ps`, fault
// lines and mf_thread_info; the others leave the name "thread".
long mf_thread_start_named(long thread, const char *name, void (*fn)(uint64_t), void *stack, size_t size,
                           uint64_t arg);
// The IPC buffer the kernel gave a loaded program (words 4..63 of long
// messages, at index word - 4). Threads started by a program have their own.
static inline uint64_t *mf_ipc_buffer(void) { return (uint64_t *)MF_IPC_BUFFER_VA; }

// IPC on endpoints (include/manifold/ipc.h). On return *msg holds the
// message received (or the reply); the result is the sender's badge (>= 0)
// or -E_*.
long mf_ipc(long number, long cptr, struct mf_msg *msg);
static inline long mf_send(long ep, struct mf_msg *m) { return mf_ipc(SYS_SEND, ep, m); }
static inline long mf_recv(long ep, struct mf_msg *m) { return mf_ipc(SYS_RECV, ep, m); }
static inline long mf_call(long ep, struct mf_msg *m) { return mf_ipc(SYS_CALL, ep, m); }
static inline long mf_reply_recv(long ep, struct mf_msg *m) { return mf_ipc(SYS_REPLY_RECV, ep, m); }

// Notifications: signal ORs the cap's badge in; wait blocks for a non-zero
// word and returns it (cleared); poll returns it without blocking.
long mf_notification_signal(long n);
long mf_notification_wait(long n);
long mf_notification_poll(long n);
// As wait, but gives up after `ticks` timer ticks (> 0) with -E_AGAIN.
long mf_notification_wait_timeout(long n, uint64_t ticks);

// PCI devices (include/manifold/device.h, docs/devices.md). `dev` is a PCI
// device cap: the root task has mf_system_info.device_count of them from
// MF_CAP_DEVICE_BASE; programs the shell starts get copies there.
long mf_pci_config_read(long dev, unsigned offset, unsigned size);   // the value, or -E_*
long mf_pci_set_command(long dev, unsigned bits);   // MF_PCI_COMMAND_SAFE bits -> new register
long mf_pci_bar_info(long dev, unsigned bar, struct mf_pci_bar *out);
// Maps [offset, offset+size) of a memory BAR at va in our home region
// (inside [MF_DEVICE_WINDOW_BASE, MF_DEVICE_WINDOW_END)); flags MF_PCI_MAP_*.
long mf_pci_map_bar(long dev, unsigned bar, unsigned flags, uint64_t offset, uint64_t size, uint64_t va);
long mf_pci_unmap_bar(long dev, unsigned bar, uint64_t va, uint64_t size);
long mf_pci_get_irq(long dev, long dst_cnode, long dst_index);
// The bus address of `frame` (held with WRITE) for DMA by `dev`, or -E_*.
long mf_pci_dma_address(long dev, long frame);
// Whether dev is a virtio-net NIC, which the kernel drives itself (its
// frames reach packet-filter bindings: docs/exokernel.md).
bool mf_pci_is_virtio_net(long dev);
// The n-th virtio-net NIC's device cap among ours (in MF_CAP_DEVICE_BASE
// order), or -E_NOENT.
long mf_virtio_net_nic(unsigned n);
// IRQ caps: bind to a notification; after handling the cause at the
// device, ack to unmask the line.
long mf_irq_bind(long irq, long notification);
long mf_irq_ack(long irq);
long mf_irq_unbind(long irq);
long mf_irq_info(long irq);    // line | delivered << 32

// Addresses for device mappings in the window, 2 MiB aligned from 2 MiB
// up; 0 when the window is full. Giving back the latest one reuses it.
uint64_t mf_device_va_alloc(uint64_t size);
void mf_device_va_free(uint64_t va, uint64_t size);

// Address spaces (docs/vas.md). A VAS needs the caller attached (its home
// region: code, data, stack) before the caller can switch into it.
long mf_vas_attach(long vas, long thread);          // thread 0 = the caller
long mf_vas_attach_segment(long vas, long segment, unsigned rights);
long mf_vas_detach_segment(long vas, long segment);
long mf_vas_detach(long vas, long thread);          // unlink the home; nobody may be inside
long mf_vas_switch(long vas);                       // 0 = back home
long mf_segment_configure(long segment, uint64_t base, uint64_t size);
long mf_segment_set_pager(long segment, long endpoint);   // 0 = none
// A home segment's [base, base + size) belongs to half MF_HALF_LOWER or
// MF_HALF_UPPER of a split process (docs/split.md); before it is attached.
static inline long mf_segment_set_half(long segment, unsigned half, uint64_t base, uint64_t size)
{
    return mf_invoke(segment, MF_SEGMENT_SET_HALF, half, (long)base, (long)size, 0);
}
long mf_frame_map(long frame, long segment, uint64_t va, unsigned rights);
long mf_frame_unmap(long frame);
// Many mappings in one invocation of the segment (docs/exokernel.md), all
// or none: the count, or the error of the first entry refused (which one:
// mf_strerror_detail, or mf_thread_info's refused_index - 1).
static inline long mf_segment_map_batch(long segment, const struct mf_map_entry *entries, unsigned count)
{
    return mf_invoke(segment, MF_SEGMENT_MAP_BATCH, (long)entries, count, 0, 0);
}
static inline long mf_segment_unmap_batch(long segment, const uint64_t *frames, unsigned count)
{
    return mf_invoke(segment, MF_SEGMENT_UNMAP_BATCH, (long)frames, count, 0, 0);
}
// Changes the rights (READ, READ|WRITE or READ|MF_MAP_EXEC) of the frame
// cap's mapping in place, flushing the TLBs; -E_NOENT when the cap maps nothing.
long mf_frame_protect(long frame, unsigned rights);
// Copies between a frame and our memory without mapping it (needs READ /
// WRITE on the frame cap); offset + len within the frame.
long mf_frame_read(long frame, uint64_t offset, void *buf, uint64_t len);
long mf_frame_write(long frame, uint64_t offset, const void *buf, uint64_t len);

// A zero-fill pager (user/lib/pager.c): serves the page faults of the
// segments attached to it by mapping fresh (zeroed) frames retyped from
// `untyped`, with caps kept in cnode[first_slot, first_slot + slot_count).
struct mf_pager {
    long endpoint;          // faults arrive here
    long untyped;
    long cnode;
    long first_slot, slot_count;
    volatile long used;     // slots used so far
    volatile uint64_t faults, refused;
};
// Sends `segment`'s faults to the pager: mints its endpoint into badge_slot
// with the segment's cptr as badge, and makes that the segment's pager.
long mf_pager_attach(struct mf_pager *p, long segment, long badge_slot);
// The pager's loop; run it in a thread of its own:
//   mf_thread_start(t, mf_pager_thread, stack, size, (uint64_t)(uintptr_t)&pager)
void mf_pager_thread(uint64_t pager);

// Names (user/root/names.c): the root task's name service, reached through
// MF_CAP_NAMESERVER in a program's CSpace (the shell's `run` puts it there).
#define MF_CAP_NAMESERVER 2
#define MF_NAME_MAX 16
// Names are at most MF_NAME_MAX - 1 bytes (-E_RANGE). An entry goes away
// by itself when its capability does (its program ended and was revoked).
long mf_ns_register(long nameserver, const char *name, long cap);   // 0, or -E_*
// Finds `name` and puts a copy of its capability in our empty slot
// recv_slot (-E_BUSY: the slot is occupied; -E_NOENT: no such name).
long mf_ns_lookup(long nameserver, const char *name, long recv_slot);

// LRPC (include/manifold/lrpc.h, docs/lrpc.md).
// Server side: procedures run on the calling client's thread, in our
// address space, on the E-stack of the A-stack the client chose; each gets
// the A-stack and returns the call's result (>= 0, or -E_*).
typedef int64_t (*mf_lrpc_procedure)(void *astack);
void mf_lrpc_export(const mf_lrpc_procedure *procedures, unsigned count);
void mf_lrpc_entry(void);      // the binding's entry point (assembly)
// The Binding's operations: configure it once (the server VAS, the A-stack
// segment attached there, the number of procedures, the entry point; the
// caller's CSpace is what threads use inside the server, or with
// _cspace the CNode server_cspace names, W needed: a checkpointer
// restoring a server), give each A-stack its address, size and E-stack;
// map the A-stacks into a client VAS.
long mf_binding_configure(long binding, long server_vas, long astack_segment, unsigned procedures,
                          void (*entry)(void));
long mf_binding_configure_cspace(long binding, long server_vas, long astack_segment, unsigned procedures,
                                 void (*entry)(void), long server_cspace);
long mf_binding_set_astack(long binding, unsigned index, uint64_t va, uint64_t size, void *estack_top);
long mf_binding_attach_client(long binding, long client_vas);
long mf_binding_astack(long binding, unsigned index);     // the A-stack's address
// Client side: a binding and its A-stacks, handed out one per call in progress.
struct mf_lrpc_client {
    long binding;
    unsigned count;
    uint64_t astack[MF_LRPC_MAX_ASTACKS];
    volatile uint32_t busy;    // bit i: A-stack i is in use
};
// Maps the binding's A-stacks into client_vas and learns where they are.
long mf_lrpc_bind(struct mf_lrpc_client *c, long binding, long client_vas);
void *mf_lrpc_acquire(struct mf_lrpc_client *c, unsigned *index);  // NULL: all busy
void mf_lrpc_release(struct mf_lrpc_client *c, unsigned index);
// The procedure's result, or the kernel's -E_* when it refused the call
// or ended it (the server went away, a fault): the two look alike.
static inline long mf_lrpc_call(long binding, unsigned procedure, unsigned astack)
{
    return mf_syscall(SYS_LRPC_CALL, binding, procedure, astack);
}
// The same call, telling the two apart: 0 when the procedure ran and
// returned, its result (an error of its own included) in *result; else the
// kernel's refusal (-E_BADCAP, -E_RANGE, -E_BUSY, ...; mf_strerror_detail
// says which check) or -E_DEAD when the call ended without the procedure
// returning (the server was destroyed, or faulted).
struct mf_syscall_pair { int64_t value; uint64_t second; };
struct mf_syscall_pair mf_syscall_pair(long number, long a0, long a1, long a2);
static inline long mf_lrpc_invoke(long binding, unsigned procedure, unsigned astack, int64_t *result)
{
    struct mf_syscall_pair r = mf_syscall_pair(SYS_LRPC_CALL, binding, procedure, astack);
    if (!r.second)
        return r.value < 0 ? r.value : -E_INVAL;
    *result = r.value;
    return 0;
}

// Copy-on-write snapshots (include/manifold/snapshot.h, docs/checkpoint.md).
static inline long mf_snapshot_configure(long snapshot, uint64_t frames)
{
    return mf_invoke(snapshot, MF_SNAPSHOT_CONFIGURE, (long)frames, 0, 0, 0);
}
static inline long mf_snapshot_add_segment(long snapshot, long segment)
{
    return mf_invoke(snapshot, MF_SNAPSHOT_ADD_SEGMENT, segment, 0, 0, 0);
}
static inline long mf_snapshot_add_frame(long snapshot, long frame)
{
    return mf_invoke(snapshot, MF_SNAPSHOT_ADD_FRAME, frame, 0, 0, 0);
}
static inline long mf_snapshot_read(long snapshot, long frame, uint64_t offset, void *buf, uint64_t len)
{
    return mf_invoke(snapshot, MF_SNAPSHOT_READ, frame, (long)offset, (long)buf, (long)len);
}
static inline long mf_snapshot_release(long snapshot, long frame)
{
    return mf_invoke(snapshot, MF_SNAPSHOT_RELEASE, frame, 0, 0, 0);
}
static inline long mf_snapshot_info(long snapshot, struct mf_snapshot_info *info)
{
    return mf_invoke(snapshot, MF_SNAPSHOT_INFO, (long)info, 0, 0, 0);
}

// Visible revocation (include/manifold/reclaim.h, docs/exokernel.md).
// The manager's side: the Reclaim object's operations.
static inline long mf_reclaim_configure(long reclaim, long page_frame, long notification)
{
    return mf_invoke(reclaim, MF_RECLAIM_CONFIGURE, page_frame, notification, 0, 0);
}
// Lends `frame` (a copy with `rights`) into slot `index` of `cnode` as
// entry `entry`; `flags`: 0 or MF_RECLAIM_GUARANTEED.
static inline long mf_reclaim_grant(long reclaim, long frame, long cnode, long index, unsigned entry,
                                    unsigned rights, unsigned flags)
{
    return mf_invoke(reclaim, MF_RECLAIM_GRANT, frame, cnode, index, (long)(entry | rights << 8 | flags));
}
static inline long mf_reclaim_request(long reclaim, uint32_t entries, uint64_t ticks)
{
    return mf_invoke(reclaim, MF_RECLAIM_REQUEST, entries, (long)ticks, 0, 0);
}
// -> released | taken << 8 | pending << 16 (this call's), or -E_*; loops
// over -E_AGAIN (more revocation work) itself.
long mf_reclaim_collect(long reclaim);
// The library OS's side: a consistent copy of the page the kernel keeps
// (mapped read-only at `page`).
void mf_reclaim_read(const volatile struct mf_reclaim_page *page, struct mf_reclaim_page *out);

// Packet-filter bindings (include/manifold/net.h, docs/exokernel.md).
static inline long mf_filter_configure(long filter, long nic_device, const struct mf_filter_program *program,
                                       long ring_frame, long notification)
{
    return mf_invoke(filter, MF_FILTER_CONFIGURE, nic_device, (long)program, ring_frame, notification);
}
// Sends the frame at [offset, offset + length) of the ring frame (its
// transmit half: offset >= MF_NET_TX_OFFSET); -E_AGAIN: the NIC's transmit
// buffers are all in use.
static inline long mf_filter_transmit(long filter, uint64_t offset, uint64_t length)
{
    return mf_invoke(filter, MF_FILTER_TRANSMIT, (long)offset, (long)length, 0, 0);
}
static inline long mf_filter_info(long filter, struct mf_filter_info *info)
{
    return mf_invoke(filter, MF_FILTER_INFO, (long)info, 0, 0, 0);
}

// CPU slots (include/manifold/slots.h, docs/exokernel.md): `thread` holds
// the slots in `mask` of CPU `cpu`, with upcalls on `notification`; the
// CPU Time cap (MF_CAP_CPU_TIME in the root task) is the authority.
static inline long mf_slots_configure(long slots, long cpu_time, long thread, unsigned cpu, uint32_t mask,
                                      long notification)
{
    return mf_invoke(slots, MF_SLOTS_CONFIGURE, cpu_time, thread, (long)(cpu | (uint64_t)mask << 8), notification);
}
static inline long mf_slots_done(long slots) { return mf_invoke(slots, MF_SLOTS_DONE, 0, 0, 0, 0); }
static inline long mf_slots_info(long slots, struct mf_slots_info *info)
{
    return mf_invoke(slots, MF_SLOTS_INFO, (long)info, 0, 0, 0);
}

// User-level threads (user/lib/uthread.c): contexts a library OS switches
// between without the kernel. A context runs fn(arg) on [stack, stack +
// size) from its first switch; fn must never return.
struct mf_uctx {
    void *sp;
};
void mf_uctx_init(struct mf_uctx *c, void *stack, size_t size, void (*fn)(uint64_t), uint64_t arg);
void mf_uctx_switch(struct mf_uctx *from, const struct mf_uctx *to);

// The program's entry point, called with the spawner's argument.
int main(uint64_t arg);

// Benchmarks (user/lib/bench.c, docs/benchmarks.md): the one BENCH
// formatter. mf_bench_report sorts the samples and prints
//   BENCH {"name":..,"arch":..,"system":"manifold","unit":..,"n":..,"min":..,"median":..,"max":..[,extra]}
// where `extra` is more JSON fields ("\"verified\":true", ...; NULL: none),
// and keeps name, median and verdict for mf_bench_summary, which prints
// them as a table and starts a new one.
void mf_bench_sort(uint64_t *samples, unsigned n);
void mf_bench_report(const char *name, const char *unit, uint64_t *samples, unsigned n, const char *extra);
void mf_bench_summary(void);

// A counter readable in user mode: the TSC (rdtsc) on x86_64; on aarch64
// the PMU cycle counter PMCCNTR_EL0 when the kernel enabled EL0 reads of it
// (it says so in x1 at the program's start), else the generic timer's
// CNTVCT_EL0. Ticks per second: mf_system_info's counter_hz.
uint64_t mf_arch_cycles(void);

// Architecture helpers for tests.
void mf_arch_undefined_instruction(void);
void mf_arch_privileged_instruction(void);
