// Capabilities: object types, rights and invocation operations (ABI).
//
// A thread names capabilities by index (a "cptr") into its CSpace, a single
// CNode of 2^n slots. Slot 0 is never a capability. Objects are invoked with
// SYS_INVOKE(cptr, operation, a0, a1, a2, a3); see docs/capabilities.md.
#pragma once
#include <stdint.h>

enum mf_object_type {
    MF_OBJ_NULL = 0,
    MF_OBJ_UNTYPED,        // physical memory that retype carves into objects
    MF_OBJ_CNODE,          // a table of 2^size_bits capability slots
    MF_OBJ_FRAME,          // a 4 KiB (size_bits 12) or 2 MiB (21) page
    MF_OBJ_THREAD,         // a thread (size_bits 0: fixed size, 16 KiB)
    MF_OBJ_ENDPOINT,       // a synchronous IPC rendezvous (size_bits 0)
    MF_OBJ_NOTIFICATION,   // a word of asynchronous signal bits (size_bits 0)
    MF_OBJ_VAS,            // an address space; size_bits >= 13: header, root, page-table pool
    MF_OBJ_SEGMENT,        // frames at a fixed virtual range; size_bits >= 13: header + table pool
    MF_OBJ_BINDING,        // an LRPC binding (size_bits 0); see lrpc.h
    MF_OBJ_PCI_DEVICE,     // one PCI function found at boot (not retypable; device.h)
    MF_OBJ_IRQ,            // the interrupt line of a PCI device (not retypable)
    MF_OBJ_SYSTEM,         // power-off, kernel self-tests and benchmarks (root task; not retypable)
    MF_OBJ_CONSOLE,        // the serial console: READ to read, WRITE to write (not retypable)
    MF_OBJ_RECLAIM,        // visible revocation of lent frames (size_bits 0); see reclaim.h
    MF_OBJ_PACKET_FILTER,  // a packet-filter binding to a NIC (size_bits 0); see net.h
    MF_OBJ_CPU_TIME,       // the authority to hold CPU slots (one; the root task's; not retypable)
    MF_OBJ_SLOTS,          // CPU slots held for a thread (size_bits 0); see slots.h
    MF_OBJ_SNAPSHOT,       // copy-on-write copies of armed frames (size_bits 14..26); see snapshot.h
    MF_OBJ_TYPE_COUNT
};

#define MF_RIGHT_READ  1u
#define MF_RIGHT_WRITE 2u
#define MF_RIGHT_GRANT 4u  // may be passed on through IPC
#define MF_RIGHTS_ALL  7u

// Halves of a split process (docs/split.md). A home segment's ranges say
// which addresses belong to which half; a VAS or segment cap minted with a
// half as its badge (mf_cnode_mint) maps and attaches only inside that
// half's ranges (else -E_HALF), and a segment attached inside a half's range
// belongs to that half from then on: no VAS takes it in the other's.
#define MF_HALF_LOWER 1
#define MF_HALF_UPPER 2
#define MF_HALF_RANGES_MAX 8

// Operations, by the type of the invoked capability.
enum mf_cnode_op {
    MF_CNODE_COPY = 0,     // (src, dst, rights): dst = src with rights masked, derived from src
    MF_CNODE_MINT,         // (src, dst, rights, badge): as copy, and set the badge
    MF_CNODE_MOVE,         // (src, dst): move a capability; derivation links move with it
    MF_CNODE_DELETE,       // (slot): empty a slot; its derived caps stay, linked to its parent
    MF_CNODE_REVOKE,       // (slot): delete everything derived from slot; -E_AGAIN = call again
    MF_CNODE_IDENTIFY,     // (slot): -> type | rights << 8 | size_bits << 16; 0 for an empty slot
    MF_CNODE_COPY_TO,      // (src, dst CNode cptr, dst index, rights): copy into another CNode (READ on this one)
    MF_CNODE_MOVE_TO,      // (src, dst CNode cptr, dst index): move into another CNode (a mapped frame stays mapped)
    MF_CNODE_DESCRIBE,     // (slot, struct mf_cap_info *, next): what the cap and its object hold; needs READ
    MF_CNODE_OP_COUNT
};

// MF_CNODE_DESCRIBE: one slot, as a checkpointer needs it (docs/checkpoint.md).
// `object` names the object: the same for every cap to it while it lives,
// another for every other live object, never 0; it is opaque (a keyed
// permutation of the object's place), and other objects' fields name
// objects the same way. The state (the union) is given only when the
// described cap has READ; it is a snapshot: stop the threads that could
// change it first. An empty slot: type 0, nothing else.
#define MF_DESCRIBE_SEGMENTS 16
#define MF_DESCRIBE_ASTACKS 16      // MF_LRPC_MAX_ASTACKS (lrpc.h)
struct mf_cap_info {
    uint32_t type, rights, size_bits;
    // Asked for with next = 1: the next occupied slot of the CNode after
    // this one (0: none), or after 1,024 empty ones the first slot not
    // looked at; else 0.
    uint32_t next;

    uint64_t badge;                 // endpoints and notifications (0: none); VAS and segment caps: MF_HALF_*
    uint64_t object;
    union {
        struct {                    // MF_OBJ_FRAME: this cap's mapping
            uint64_t segment;       // the segment's object, 0 when unmapped
            uint64_t va, rights;    // rights: MF_RIGHT_READ [| WRITE | MF_MAP_EXEC]
        } frame;
        struct {                    // MF_OBJ_SEGMENT (size 0: not configured)
            uint64_t base, size;
            uint64_t pager, pager_badge;    // the pager endpoint's object, 0: none
            uint64_t home;          // 1: a home segment (at 0, MF_HOME_SIZE)
            uint64_t half;          // MF_HALF_* it was attached in, 0: none
            uint64_t ranges;        // a home segment: how many half ranges
            uint64_t range_base[MF_HALF_RANGES_MAX], range_size[MF_HALF_RANGES_MAX];
            uint8_t range_half[MF_HALF_RANGES_MAX];
        } segment;
        struct {                    // MF_OBJ_VAS
            uint64_t home;          // the address space whose home it shares (MF_VAS_ATTACH), 0: none
            uint64_t count;         // segments attached
            uint64_t segment[MF_DESCRIBE_SEGMENTS];
            uint8_t rights[MF_DESCRIBE_SEGMENTS];
        } vas;
        struct {                    // MF_OBJ_NOTIFICATION
            uint64_t word;          // bits signalled and not yet taken
        } notification;
        struct {                    // MF_OBJ_THREAD
            uint64_t cspace;        // its CNode's object, 0: none
            uint64_t home, vas;     // the VAS it was configured in / runs in now (0: none)
            uint64_t ipc_buffer;
            uint64_t exit, exit_badge;      // the exit notification's object and badge
            uint64_t exception_pc, exception_stack, exception_arg;
            uint32_t state;         // MF_THREAD_STATE_*
            uint32_t priority, policy, fixed_cpu;
            uint32_t has_context, in_lrpc;
            char name[32];
        } thread;
        struct {                    // MF_OBJ_BINDING (procedures 0: not configured)
            uint64_t server;        // the server VAS's object
            uint64_t astacks;       // the A-stack segment's object
            uint64_t cspace;        // the CNode threads use inside the server, 0: none
            uint64_t entry;
            uint32_t procedures;
            uint32_t set;           // bit i: A-stack i was given its place (SET_ASTACK)
            uint32_t busy;          // bit i: a call in progress holds A-stack i
            uint32_t reserved;
            struct {
                uint64_t va, size, estack_top;
            } astack[MF_DESCRIBE_ASTACKS];
        } binding;
        uint64_t raw[54];
    };
};
_Static_assert(sizeof(struct mf_cap_info) == 464, "MF_CNODE_DESCRIBE writes this many bytes");
#define MF_THREAD_STATE_INACTIVE 0  // never started, suspended or ended
#define MF_THREAD_STATE_RUNNABLE 1
#define MF_THREAD_STATE_BLOCKED  2
#define MF_THREAD_STATE_DEAD     3

enum mf_untyped_op {
    // (type | size_bits << 8 | count << 16, dst_cnode, dst_index):
    // carve `count` objects into dst_cnode[dst_index ...]
    MF_UNTYPED_RETYPE = 0,
    MF_UNTYPED_OP_COUNT
};

enum mf_thread_op {
    // (cspace cptr or 0, IPC buffer address or 0, VAS cptr or 0, name or 0):
    // the thread will run with this CSpace in that VAS, which becomes its
    // home (0: in the caller's current VAS, with the caller's home); name
    // points at 32 bytes (NUL-terminated within them). Only while inactive.
    MF_THREAD_CONFIGURE = 0,
    MF_THREAD_WRITE_REGS,  // (pc, sp, arg): initial user registers; only while inactive
    MF_THREAD_READ_REG,    // (MF_REG_*): a register of an inactive thread
    MF_THREAD_RESUME,      // (): run it (configured, registers set)
    // (report): stop it; a blocking call it was in is made again when
    // resumed (a call's wait for its reply: -E_AGAIN). report 1: -> 1 if it
    // was running or waiting, 0 if inactive already (else always 0).
    MF_THREAD_SUSPEND,
    MF_THREAD_SET_PRIORITY,// (priority 0..255, at most the caller's own)
    MF_THREAD_SET_SCHED,   // (MF_SCHED_* policy, cpu for MF_SCHED_FIXED): where it runs
    MF_THREAD_BIND_EXIT,   // (notification cptr or 0): signalled (its badge, or 1) whenever the thread ends
    MF_THREAD_EXIT_STATUS, // (struct mf_exit_status *): how it ended; -E_BUSY until it has
    // (handler pc or 0, exception stack top, arg): the thread's exceptions
    // go to handler(struct mf_exception *, arg) on that stack (0: none;
    // they go to a pager or kill it, as before); see struct mf_exception.
    MF_THREAD_SET_EXCEPTION,
    // (struct mf_regs *): an inactive thread's whole user context (read:
    // READ right; -> 0 if in user code; 1 if inside a system call it
    // finishes when resumed; 2 if at a blocking call it makes again when
    // resumed: pc on the call instruction, MF_SYSCALL_INSN_BYTES long). Write: WRITE right, not
    // the caller; pc and sp in user space; only the status flags are
    // taken. For checkpointers and debuggers (docs/api.md).
    MF_THREAD_READ_CONTEXT,
    MF_THREAD_WRITE_CONTEXT,
    // (VAS cptr or 0): an inactive thread is moved into that VAS (0: back
    // to its home), as its own SYS_VAS_SWITCH would move it, with the same
    // checks (its home attached there, the SpaceJMP locks free). WRITE on
    // the thread, READ on the VAS. For a checkpointer restoring a thread
    // that was switched into another VAS.
    MF_THREAD_SET_VAS,
    // (MF_TLS_*, value): a thread pointer, any value user code could set
    // itself (x86_64: canonical, else -E_RANGE; aarch64: any). WRITE on the
    // thread; on itself at once, else only while it is inactive and not in
    // an LRPC call (-E_BUSY). An LRPC procedure starts on 0s. User
    // code that may write its own (mf_system_info.flags & MF_SYSTEM_USER_TLS)
    // needs no call to switch it.
    MF_THREAD_SET_TLS,
    MF_THREAD_OP_COUNT
};
#define MF_TLS_THREAD 0     // x86_64: FS base; aarch64: TPIDR_EL0 (C's __thread variables)
#define MF_TLS_OTHER  1     // x86_64: GS base; aarch64: TPIDRRO_EL0 (read-only to the thread)
#define MF_REG_PC 0
#define MF_REG_SP 1

// Cache-affinity scheduling policies (docs/smp.md): which CPU a thread
// runs on when it starts or wakes, and how much it prefers that CPU.
// The kernel command line's sched=fcfs|fixed|last|min-intervening sets
// the policy of threads left at MF_SCHED_DEFAULT (default: last).
#define MF_SCHED_DEFAULT          0   // the boot-time policy
#define MF_SCHED_FCFS             1   // ignore affinity: the CPU that can run it soonest
#define MF_SCHED_FIXED            2   // always on one CPU (the `cpu` argument)
#define MF_SCHED_LAST             3   // the CPU it last ran on
#define MF_SCHED_MIN_INTERVENING  4   // the CPU where fewest other threads ran since it did
#define MF_SCHED_POLICIES         5

enum mf_notification_op {
    MF_NOTIFICATION_SIGNAL = 0,  // (): OR the cap's badge (or 1 if none) into the word
    MF_NOTIFICATION_WAIT,        // (): block until the word is non-zero; return and clear it
    MF_NOTIFICATION_POLL,        // (): return and clear the word without blocking
    MF_NOTIFICATION_WAIT_TIMEOUT,// (ticks): as WAIT, or -E_AGAIN after `ticks` timer ticks
    MF_NOTIFICATION_OP_COUNT
};

// Address spaces. Every VAS has the home region [0, MF_HOME_SIZE) of the
// threads attached to it (their code, data and stack, shared page tables);
// segments live above it.
#define MF_HOME_SIZE (1ul << 30)
enum mf_vas_op {
    MF_VAS_ATTACH = 0,         // (thread cptr, 0 = the caller): share its home; it may switch in
    MF_VAS_ATTACH_SEGMENT,     // (segment cptr, rights): map the segment at its base
    MF_VAS_DETACH_SEGMENT,     // (segment cptr)
    MF_VAS_DETACH,             // (thread cptr, 0 = the caller): unlink its home; no thread may be inside
    MF_VAS_OP_COUNT
};

// Segments: base and size 2 MiB aligned (1 GiB aligned ones also take 2 MiB
// frames); page tables are the segment's own, shared by every VAS it is
// attached to.
enum mf_segment_op {
    MF_SEGMENT_CONFIGURE = 0,  // (base, size): once
    MF_SEGMENT_SET_PAGER,      // (endpoint cptr or 0): faults become calls to it
    // Secure bindings in batches (docs/exokernel.md): all entries or none.
    MF_SEGMENT_MAP_BATCH,      // (const struct mf_map_entry *, count 1..MF_MAP_BATCH_MAX) -> count
    MF_SEGMENT_UNMAP_BATCH,    // (const uint64_t *frame cptrs, count): frames mapped in this segment -> count
    // (MF_HALF_*, base, size): a home segment's range [base, base + size)
    // belongs to that half of a split process (docs/split.md); page aligned,
    // below 2^47, overlapping no other range; at most MF_HALF_RANGES_MAX;
    // WRITE on a cap of no half, before the home is attached anywhere.
    MF_SEGMENT_SET_HALF,
    MF_SEGMENT_OP_COUNT
};
// One mapping of MF_SEGMENT_MAP_BATCH: as MF_FRAME_MAP(frame, segment, va, rights).
struct mf_map_entry {
    uint64_t frame;            // a frame cptr of the caller's
    uint64_t va;
    uint64_t rights;
};
#define MF_MAP_BATCH_MAX 64

enum mf_frame_op {
    MF_FRAME_MAP = 0,          // (segment cptr, va, rights): one mapping per frame cap
    MF_FRAME_UNMAP,            // ()
    MF_FRAME_PROTECT,          // (rights): change the rights of the cap's mapping in place
    MF_FRAME_READ,             // (offset, buf, len): copy frame bytes out; needs READ
    MF_FRAME_WRITE,            // (offset, buf, len): copy bytes into the frame; needs WRITE
    MF_FRAME_OP_COUNT
};
// Rights of a mapping (MAP, PROTECT): MF_RIGHT_READ, plus MF_RIGHT_WRITE
// or MF_MAP_EXEC (never both: W^X). Execution is a property of the
// mapping, not a right of the cap: a cap that may be read may be executed.
#define MF_MAP_EXEC 8u

// PCI devices (docs/devices.md, include/manifold/device.h). Rights: READ
// to look (config space, BAR info), WRITE to act (command register, map
// BARs, take the interrupt).
enum mf_pci_op {
    MF_PCI_CONFIG_READ = 0,    // (offset, size 1/2/4): -> value; offset aligned, below 256
    MF_PCI_SET_COMMAND,        // (bits): set MF_PCI_COMMAND_SAFE bits of the command register -> new value
    MF_PCI_BAR_INFO,           // (bar, struct mf_pci_bar *): base, size, flags
    MF_PCI_MAP_BAR,            // (bar | MF_PCI_MAP_* flags, offset, size, va): map into the caller's home
    MF_PCI_UNMAP_BAR,          // (bar, va, size): undo MAP_BAR's pages in that range
    MF_PCI_GET_IRQ,            // (dst CNode cptr, dst index): an IRQ cap for the device's INTx line
    // (frame cptr, with WRITE): the address the device reaches the frame at
    // (docs/devices.md "DMA": no IOMMU, so a driver that programs a
    // device may reach all memory; the device cap is that authority).
    MF_PCI_DMA_ADDRESS,
    MF_PCI_OP_COUNT
};

enum mf_irq_op {
    MF_IRQ_BIND = 0,           // (notification cptr): each interrupt signals it (its badge, or 1)
    MF_IRQ_ACK,                // (): the interrupt was handled at the device: unmask the line
    MF_IRQ_UNBIND,             // (): stop signalling; the line stays masked
    MF_IRQ_INFO,               // (): -> line (23:0) | MF_IRQ_INFO_MSI | delivered count << 32
    MF_IRQ_OP_COUNT
};
#define MF_IRQ_INFO_MSI (1ul << 31)  // a message-signalled (MSI-X) line: never shared

// The machine itself (docs/capabilities.md, "Authority"): what used to be
// ambient is a capability the root task holds and may pass on.
enum mf_system_op {
    MF_SYSTEM_POWEROFF = 0,    // (status): stop the machine; needs WRITE; does not return
    MF_SYSTEM_KTEST_COUNT,     // (): -> number of kernel self-tests; needs READ
    MF_SYSTEM_KTEST_RUN,       // (index, number): -> 1 passed, 0 failed, prints the result line; needs WRITE
    MF_SYSTEM_KBENCH,          // (): prints the in-kernel SMP benchmarks' BENCH lines; needs WRITE
    MF_SYSTEM_INFO,            // (struct mf_system_info *): version, CPUs, memory, clock; needs READ
    MF_SYSTEM_THREAD_INFO,     // (index, struct mf_thread_info *): the index-th thread; -E_NOENT past the end; needs READ
    MF_SYSTEM_KSTATS,          // (struct mf_kstats *): the kernel's event counters, summed over CPUs; needs READ
    MF_SYSTEM_OP_COUNT
};

enum mf_console_op {
    MF_CONSOLE_WRITE = 0,      // (buf, len): -> len; needs WRITE
    MF_CONSOLE_GETC,           // (): -> a byte; blocks until input arrives; needs READ
    MF_CONSOLE_OP_COUNT
};

// Capabilities the root task finds in its CSpace at start.
#define MF_CAP_SELF_CNODE   1    // its own CSpace (2^MF_ROOT_CNODE_BITS slots)
#define MF_CAP_CONSOLE      3    // the Console cap; libmanifold prints through this slot (any program)
#define MF_CAP_SYSTEM       4    // the System cap (all rights; programs: READ, for mf_system_info)
#define MF_CAP_BOOT_IMAGES  5    // a CNode of the boot modules' pages (struct mf_boot_dir, syscall.h)
#define MF_CAP_CPU_TIME     6    // the CPU Time cap: configuring Slots needs it (slots.h)
#define MF_CAP_UNTYPED_BASE 16   // untyped memory: mf_system_info.untyped_count caps
#define MF_ROOT_CNODE_BITS  12
#define MF_REVOKE_BUDGET    256  // capabilities deleted per revoke call at most
// PCI device caps: mf_system_info.device_count of them from here, in the
// root task's CSpace and (as copies) in programs the shell starts.
#define MF_CAP_DEVICE_BASE  224
#define MF_DEVICE_MAX       16
// The slots libmanifold's allocator (mf_slot_alloc, mf_new; its drivers
// too) hands out in a program the shell starts, by default: 128..223.
#define MF_CAP_ALLOC_FIRST  128
#define MF_ALLOC_SLOT_COUNT 96
