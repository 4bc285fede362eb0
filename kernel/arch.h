// The architecture interface: the one list of names that arch/x86_64/ and
// arch/aarch64/ must both define. Portable code in kernel/ calls nothing else
// that is architecture specific; a name missing from one tree is a link error,
// never a silent fallback.
#pragma once

#include "kernel/types.h"

struct boot_info;
struct trap_frame;   // defined by each arch in arch/<arch>/trapframe.h
struct thread;

// ---------------------------------------------------------------- identity
extern const char arch_name[];          // "x86_64" or "aarch64"

// ------------------------------------------------------------ early console
// Polled UART: 16550 on x86_64, PL011 on aarch64.
void arch_console_init(const struct boot_info *bi);
void arch_console_putc(char c);
// Returns a received byte, or -1 when none is waiting. Never blocks.
int arch_console_getc(void);

// ------------------------------------------------------------- CPU control
void arch_cpu_init(struct boot_info *bi);   // traps, features, per-CPU state
void arch_interrupts_enable(void);
void arch_interrupts_disable(void);
bool arch_interrupts_enabled(void);
void arch_wait_for_interrupt(void);         // hlt / wfi with interrupts on
_Noreturn void arch_halt(void);             // stop this CPU for good
_Noreturn void arch_poweroff(int status);   // power the machine off (QEMU exits)
uint64_t arch_cycles(void);                 // rdtsc / cntvct_el0
extern const uint16_t arch_elf_machine;     // ELF e_machine of user programs
uint64_t arch_cycles_per_second(void);
// Rate of the counter user programs read (mf_arch_cycles): the TSC on
// x86_64; on aarch64 the PMU cycle counter (measured) or the generic timer.
uint64_t arch_user_counter_hz(void);
// Fills buf with a printable list of detected CPU features.
void arch_cpu_features(char *buf, size_t len);
// Architecture-level feature bits used by portable code (see ARCH_FEAT_*).
uint64_t arch_feature_bits(void);
#define ARCH_FEAT_TAGGED_TLB (1u << 0)      // PCID or ASID available and used
#define ARCH_FEAT_HUGE_1G    (1u << 1)
#define ARCH_FEAT_USER_TLS   (1u << 2)      // user code writes its thread pointer itself

// ------------------------------------------------------------------ timer
// Starts the periodic tick on the boot CPU (calibrating it where needed);
// each tick calls timer_tick() from interrupt context with interrupts
// disabled. Secondary CPUs start their own tick in their start-up path.
void arch_timer_init(unsigned hz);

// -------------------------------------------------------------------- SMP
// CPUs are numbered 0..cpu_count-1 in the order they came up; 0 booted.
// The calling CPU's number, read from its per-CPU block (GS base on x86_64,
// TPIDR_EL1 on aarch64). Valid from arch_cpu_init() on. Inline, from
// arch/<arch>/include/arch_cpu.h:
//   unsigned arch_cpu_id(void);
#include "arch_cpu.h"
// How many CPUs the firmware describes, the boot CPU included (x86_64: the
// enabled local APICs of the ACPI MADT; aarch64: the device tree's cpu
// nodes or the MADT's GICC entries). At least 1.
unsigned arch_cpu_count_reported(void);
// Starts CPU number `cpu` (1..reported-1). It sets up its own state (page
// tables, vectors, per-CPU block with arch_cpu_id() == cpu, interrupt
// controller, tick) and calls smp_secondary_entry() on the stack ending at
// stack_top with interrupts disabled. Returns 0 once the start was requested
// (the CPU reports itself through smp_secondary_entry), negative when the
// firmware or hardware refused.
int arch_cpu_start(unsigned cpu, uintptr_t stack_top);
// Interrupts between CPUs. The target's handler acknowledges the interrupt
// and calls smp_ipi(kind) with interrupts disabled.
enum ipi_kind { IPI_CALL, IPI_RESCHEDULE, IPI_KINDS };
void arch_send_ipi(unsigned cpu, enum ipi_kind kind);
// The counter user programs read (rdtsc; PMCCNTR_EL0 or CNTVCT_EL0), at
// arch_user_counter_hz(); in-kernel benchmarks use it so that their figures
// share the user benchmarks' unit. Enabled on every CPU.
uint64_t arch_user_counter(void);

// -------------------------------------------------------------- page tables
// Both architectures use 4 KiB granules and four levels of 512 entries
// (48-bit virtual addresses), so one walker in kernel/vm.c serves both.
// Level 3 is the root (PML4 / L0), level 0 holds 4 KiB leaves.
typedef uint64_t pte_t;
#define VM_READ   (1u << 0)
#define VM_WRITE  (1u << 1)
#define VM_EXEC   (1u << 2)
#define VM_USER   (1u << 3)
#define VM_DEVICE (1u << 4)     // uncached device memory
#define VM_GLOBAL (1u << 5)     // not tagged: kernel mappings
// Writable but write-protected for a snapshot (kernel/snapshot.c): the
// entry has no write permission and a software bit that says so. Never
// with VM_WRITE.
#define VM_COW    (1u << 6)

pte_t arch_pte_table(paddr_t next_table);          // entry pointing to a table
// A table entry through which nothing below can be written (a read-only
// attachment of a shared segment subtree).
pte_t arch_pte_table_readonly(paddr_t next_table);
pte_t arch_pte_leaf(paddr_t pa, unsigned flags, int level); // 4K, 2M or 1G leaf
bool arch_pte_valid(pte_t pte);
bool arch_pte_is_leaf(pte_t pte, int level);
paddr_t arch_pte_addr(pte_t pte);
unsigned arch_pte_flags(pte_t pte, int level);
// The VM_WRITE / VM_USER / VM_EXEC rights a table entry lets through to
// everything below it (hierarchical permissions); vm_lookup ANDs them
// with the leaf's.
unsigned arch_pte_table_rights(pte_t table_entry);

// The kernel half of the address space. On x86_64 the kernel's top-level
// entries are copied into each user root; on aarch64 it lives in TTBR1.
void arch_vm_init_user_root(pte_t *root_virt);
// Called by vm_init() before the new kernel root is installed: map the
// devices the arch code uses (UART, interrupt controller) with vm_map_device().
void arch_vm_init_devices(const struct boot_info *bi);
void arch_vm_install_kernel_root(paddr_t root);
// Switch the user half to `root` tagged with `tag` (PCID/ASID; 0 = untagged,
// which flushes non-global TLB entries).
void arch_vm_switch(paddr_t root, unsigned tag, bool flush);
void arch_tlb_flush_page(vaddr_t va, unsigned tag);
void arch_tlb_flush_tag(unsigned tag);
void arch_tlb_flush_all(void);
// Makes instructions written through the data side at [kva, kva + len)
// (the kernel's direct map) visible to instruction fetch on every CPU,
// before the page is mapped executable: aarch64 cleans the data cache to
// the point of unification and invalidates the instruction caches;
// x86_64 keeps them coherent and does nothing.
void arch_sync_icache(const void *kva, size_t len);
// TLB shootdown without the other CPU's help: drops the entries tagged
// `tag` (as CPU `cpu` uses it) for [va, va + len) on CPU `cpu`, from this
// CPU. aarch64: TLBI ...IS broadcasts (also dropping the same ASID's entries
// on the other CPUs, which is harmless). Returns false where the
// architecture cannot (x86_64): the caller then interrupts that CPU.
bool arch_tlb_flush_remote(unsigned cpu, unsigned tag, vaddr_t va, size_t len);
// Number of non-zero tags: tags 1..count are handed out, 0 is reserved
// (untagged / kernel). 0 when the CPU has no tags.
unsigned arch_tlb_tag_count(void);

// -------------------------------------------------------------------- PCI
// A function's address: bus << 8 | device << 3 | function.
// Sets up configuration-space access (x86_64: ports 0xCF8/0xCFC; aarch64:
// the ECAM window from ACPI MCFG or the device tree, mapped uncached).
// Returns how many buses can be reached (0: no PCI).
unsigned arch_pci_init(const struct boot_info *bi);
// Config-space access; size 1, 2 or 4 and offset aligned to it, below 256.
// A function that does not exist reads as all ones.
uint32_t arch_pci_config_read(uint32_t bdf, unsigned offset, unsigned size);
void arch_pci_config_write(uint32_t bdf, unsigned offset, unsigned size, uint32_t value);
// The interrupt-controller line (x86_64: IOAPIC GSI; aarch64: GIC INTID)
// of INTx `pin` (1 = INTA .. 4) of the function at bdf on bus 0, whose
// interrupt-line register reads `line`; -1 when it cannot be routed.
int arch_pci_intx_line(uint32_t bdf, unsigned pin, unsigned line);

// ------------------------------------------------------- device interrupts
// Lines are arch_pci_intx_line() numbers. configure: level-triggered (with
// the polarity the firmware describes), delivered to CPU 0, masked; false
// when the controller has no such line. The arch trap code calls
// irq_handler(line) with the line already masked and the controller's
// end-of-interrupt done; the line stays masked until arch_irq_unmask.
bool arch_irq_configure(unsigned line);
// A line for a message-signalled interrupt (PCI MSI-X): the address and
// data the device is to write, and the line irq_handler() will be called
// with; false when the arch has none left or no MSI target (x86_64: a LAPIC
// vector; aarch64: an edge-triggered SPI of the GICv2m frame, or an LPI
// through the GICv3 ITS). The trap
// code ends the interrupt at the controller and calls irq_handler; mask
// and unmask act on the line at the controller where it has a mask (GIC)
// and do nothing where it has none (x86_64).
// `bdf` is the function that will send (the GICv3 ITS needs its DeviceID).
bool arch_msi_allocate(uint32_t bdf, unsigned *line, uint64_t *address, uint32_t *data);
void arch_irq_mask(unsigned line);
void arch_irq_unmask(unsigned line);
void irq_handler(unsigned line);

// ------------------------------------------------------------ user threads
// Prepare a new thread's kernel stack so that its first arch_context_switch
// lands in user mode at `entry` with stack `sp` and first argument `arg`.
void arch_thread_init_user(struct thread *t, vaddr_t entry, vaddr_t sp, uint64_t arg);
// Prepare a kernel thread that runs fn(arg) on its own stack.
void arch_thread_init_kernel(struct thread *t, void (*fn)(void *), void *arg);
// Save callee-saved state into `from`, resume `to`.
void arch_context_switch(struct thread *from, struct thread *to);
// Called when `t` becomes current: kernel stack for traps (TSS.rsp0 / SP_EL1).
void arch_thread_activate(struct thread *t);
// User thread pointers (MF_TLS_*: x86_64 FS and GS bases, aarch64
// TPIDR_EL0 and TPIDRRO_EL0), switched by kernel/thread.c (tls_switch,
// tls_load). arch_tls_save: the current thread's live ones into
// t->user_tls. arch_tls_write: makes `tls` live, writing only those that
// differ from `live` (what is live now). arch_tls_valid: a value user code
// could have put there itself (x86_64: canonical; aarch64: any), the only
// ones the kernel writes on its behalf.
void arch_tls_save(struct thread *t);
void arch_tls_write(const uint64_t tls[2], const uint64_t live[2]);
bool arch_tls_valid(uint64_t value);

// ------------------------------------------------------- trap frame access
// System-call registers, inline from each architecture's
// arch/<arch>/include/arch_syscall_regs.h (the IPC paths use them per word):
//   uint64_t arch_syscall_number(const struct trap_frame *tf);
//   uint64_t arch_syscall_arg(const struct trap_frame *tf, int i);   // i = 0..5
//   void arch_syscall_return(struct trap_frame *tf, int64_t value);
//   // Both result registers (x86_64 rax:rdx, aarch64 x0:x1, as a C function
//   // returns a pair): SYS_LRPC_CALL's result and whether a procedure gave it.
//   void arch_syscall_return_pair(struct trap_frame *tf, int64_t value, uint64_t second);
//   // Sets argument register i (1..5) as the thread will see it after the
//   // call returns: IPC delivers message registers this way. Register 0 is
//   // left alone (on aarch64 it is also the return register).
//   void arch_syscall_set_arg(struct trap_frame *tf, int i, uint64_t value);
//   void arch_syscall_rewind(struct trap_frame *tf);   // pc back on the call instruction
//   // What an LRPC call keeps of its client's registers (ARCH_LRPC_SAVED
//   // words): those a C function call preserves, the stack and program
//   // counter and the flags; restoring them zeroes the others, which the
//   // server may have left values in (kernel/lrpc.c writes the results).
//   void arch_lrpc_save(uint64_t *saved, const struct trap_frame *tf);
//   void arch_lrpc_restore(struct trap_frame *tf, const uint64_t *saved);
#include "arch_syscall_regs.h"
uint64_t arch_trap_pc(const struct trap_frame *tf);
// Size of struct trap_frame (portable code saves and restores whole frames).
extern const size_t arch_trap_frame_size;
// Makes the frame resume user mode at pc with stack sp and the first two
// argument registers a0, a1 (an LRPC entering the server); every other
// general-purpose register is zeroed and the flags are a new thread's, so
// the server sees nothing of its client's but the arguments (and code it
// jumps to cannot return into the client's: the link register and frame
// pointer are 0 too; x86_64's direction flag is clear, as the ABI wants).
void arch_trap_set_entry(struct trap_frame *tf, uint64_t pc, uint64_t sp, uint64_t a0, uint64_t a1);
uint64_t arch_trap_sp(const struct trap_frame *tf);
// A user frame into struct mf_regs (pc, sp, status flags, registers), and
// back: the restore keeps the frame a user one (privilege, interrupt and
// trace bits are the kernel's; only the status flags come from r).
struct mf_regs;
void arch_regs_save(const struct trap_frame *tf, struct mf_regs *r);
void arch_regs_restore(struct trap_frame *tf, const struct mf_regs *r);
// Returns to user mode through the path that restores every register of
// tf (the system-call return may not: x86_64's sysret takes rcx and r11).
_Noreturn void arch_trap_frame_return(struct trap_frame *tf);
void arch_trap_dump(const struct trap_frame *tf);   // registers to console

// Copy to/from user memory with fault recovery: returns 0, or -1 when an
// address faults. The caller has already range-checked against USER_TOP.
int arch_copy_from_user(void *dst, const void *usrc, size_t n);
int arch_copy_to_user(void *udst, const void *src, size_t n);

// Frame-pointer backtrace: both ABIs keep {prev fp, return address} at fp.
uintptr_t arch_frame_pointer(void);

// ---------------------------------------------------- kernel entry points
// The arch trap code calls these portable handlers.
void timer_tick(void);
void syscall_entry(struct trap_frame *tf);
// The one way back to user mode, called last on every entry from user mode
// (system call, fault, interrupt): runs the scheduler if the thread stopped
// or a more important one is waiting here (need_resched), and unwinds LRPC
// calls that were aborted meanwhile (kernel/syscall.c).
void return_to_user(struct trap_frame *tf);
// A user-mode exception. kind is one of FAULT_*; addr the faulting address
// (page faults) or pc; access a VM_* mask of the attempted access.
void user_fault(struct trap_frame *tf, int kind, vaddr_t addr, unsigned access);
_Noreturn void kernel_fault(struct trap_frame *tf, const char *what, vaddr_t addr);
void kmain(struct boot_info *bi);
// A secondary CPU, set up by arch_cpu_start, interrupts disabled (kernel/smp.c).
_Noreturn void smp_secondary_entry(void);
// An inter-processor interrupt arrived (kernel/smp.c).
void smp_ipi(enum ipi_kind kind);

enum fault_kind {
    FAULT_PAGE = 1,          // #PF / data or instruction abort
    FAULT_UNDEFINED,         // #UD / undefined instruction
    FAULT_PROTECTION,        // #GP / privileged instruction, alignment
    FAULT_ARITHMETIC,        // #DE etc.
    FAULT_OTHER,
};
