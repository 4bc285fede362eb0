// The start of the kernel image: an arm64 Linux Image header that is also a
// PE/COFF EFI application header (GRUB's `linux` command checks the former
// and starts the image through UEFI LoadImage, which parses the latter),
// the EFI entry point, and the switch from UEFI's identity-mapped world to
// the kernel's virtual addresses. Values named __pe_* come from the linker
// script. Image layout: linker/aarch64-kernel.ld.

#define CURRENTEL_EL2   (2 << 2)
#define SCTLR_MMU_BITS  ((1 << 0) | (1 << 2) | (1 << 12))   // M, C, I
#define HCR_RW          (1 << 31)       // EL1 is AArch64
#define SPSR_EL1H_MASKED 0x3c5          // DAIF masked, EL1 with SP_EL1
#define CPACR_FPEN      (3 << 20)       // no FP/SIMD traps at EL0/EL1

    .section .head, "a"
    .globl _head
_head:
    // arm64 Image header (Linux Documentation/arch/arm64/booting.rst).
    .inst 0xfa405a4d                // code0: "MZ" + ccmp x18, #0, #0xd, pl (no effect)
    b       direct_entry            // code1: entry when started without UEFI
    .quad   0                       // text_offset
    .quad   __pe_image_size         // image_size, .bss included
    .quad   0xa                     // flags: little-endian, 4K pages (bits 2:1 = 1), anywhere in RAM (bit 3)
    .quad   0, 0, 0                 // reserved
    .ascii  "ARM\x64"               // magic, at 0x38
    .long   pe_header - _head       // PE header offset, at 0x3c (the DOS e_lfanew)

    .balign 8
pe_header:
    .ascii  "PE\0\0"
    // COFF file header
    .short  0xaa64                  // Machine: ARM64
    .short  3                       // NumberOfSections
    .long   0, 0, 0                 // TimeDateStamp, PointerToSymbolTable, NumberOfSymbols
    .short  section_table - optional_header     // SizeOfOptionalHeader
    .short  0x0206                  // EXECUTABLE_IMAGE | LINE_NUMS_STRIPPED | DEBUG_STRIPPED
optional_header:
    .short  0x20b                   // PE32+
    .byte   0, 0                    // linker version
    .long   __pe_text_size          // SizeOfCode
    .long   __pe_idata_size         // SizeOfInitializedData
    .long   __pe_bss_size           // SizeOfUninitializedData
    .long   __pe_entry              // AddressOfEntryPoint (RVA of efi_entry)
    .long   __pe_text_rva           // BaseOfCode
    .quad   0                       // ImageBase: the firmware picks; there is nothing to relocate
    .long   0x1000                  // SectionAlignment
    .long   0x1000                  // FileAlignment (file offset = RVA throughout)
    .short  0, 0, 0, 0, 0, 0        // OS, image and subsystem versions
    .long   0                       // Win32VersionValue
    .long   __pe_image_size         // SizeOfImage: UEFI allocates and zeroes .bss too
    .long   __pe_text_rva           // SizeOfHeaders: the first page
    .long   0                       // CheckSum
    .short  10                      // Subsystem: EFI application
    .short  0x100                   // DllCharacteristics: NX_COMPAT (no W+X sections)
    .quad   0, 0, 0, 0              // stack and heap reserve/commit
    .long   0                       // LoaderFlags
    .long   6                       // NumberOfRvaAndSizes
    .quad   0, 0, 0, 0, 0, 0        // export, import, resource, exception, security, base relocations: none
section_table:
    .ascii  ".text\0\0\0"
    .long   __pe_text_size, __pe_text_rva       // VirtualSize, VirtualAddress
    .long   __pe_text_size, __pe_text_rva       // SizeOfRawData, PointerToRawData
    .long   0, 0
    .short  0, 0
    .long   0x60000020              // CODE | EXECUTE | READ
    .ascii  ".rodata\0"
    .long   __pe_rodata_size, __pe_rodata_rva
    .long   __pe_rodata_size, __pe_rodata_rva
    .long   0, 0
    .short  0, 0
    .long   0x40000040              // INITIALIZED_DATA | READ
    .ascii  ".data\0\0\0"
    .long   __pe_data_mem_size, __pe_data_rva   // memory size covers ksyms and .bss
    .long   __pe_data_file_size, __pe_data_rva
    .long   0, 0
    .short  0, 0
    .long   0xc0000040              // INITIALIZED_DATA | READ | WRITE

    .text
// EFI entry: x0 = image handle, x1 = system table; MMU on with UEFI's
// identity map, at EL1 (or EL2), running at whatever address UEFI chose.
    .globl efi_entry
    .type efi_entry, %function
efi_entry:
    stp     x29, x30, [sp, #-32]!
    mov     x29, sp
    stp     x0, x1, [sp, #16]
    // Zero .bss: page tables, boot_info and stacks live there.
    adrp    x2, __bss_start
    add     x2, x2, :lo12:__bss_start
    adrp    x3, __bss_end
    add     x3, x3, :lo12:__bss_end
1:  cmp     x2, x3
    b.hs    2f
    stp     xzr, xzr, [x2], #16
    b       1b
2:  ldp     x0, x1, [sp, #16]
    bl      efi_main                // returns only on failure, with an EFI status
    ldp     x29, x30, [sp], #32
    ret
    .size efi_entry, . - efi_entry

// Started as a bare Image (e.g. QEMU -kernel without firmware): unsupported.
direct_entry:
    wfe
    b       direct_entry

// Cleans and invalidates data cache lines over [x1, x2) to the point of
// coherency. Clobbers x1, x3, x4.
dcache_clean_range:
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4         // DminLine: log2 of the line size in words
    mov     x4, #4
    lsl     x4, x4, x3
    sub     x3, x4, #1
    bic     x1, x1, x3
1:  cmp     x1, x2
    b.hs    2f
    dc      civac, x1
    add     x1, x1, x4
    b       1b
2:  ret

// a64_switch(regs): see aarch64.h. x0 = struct a64_boot_regs (physical).
    .globl a64_switch
    .type a64_switch, %function
a64_switch:
    msr     daifset, #0xf
    mov     x19, x0
    add     x20, x19, #0x38         // regs->boot_cpu
    // Data written with caches on must reach memory: the MMU-off code below
    // and the first table walks may read it uncached.
    ldp     x1, x2, [x19, #0x50]
    bl      dcache_clean_range
    ldp     x1, x2, [x19, #0x60]
    bl      dcache_clean_range
    dsb     sy
    b       mmu_enter
    .size a64_switch, . - a64_switch

// Secondary CPUs: PSCI CPU_ON(mpidr, physical address of this, ctx) with ctx
// the physical address of a struct a64_cpu_start, cleaned to PoC. Enters
// with the MMU off at EL1 or EL2; uses the boot CPU's registers and tables.
    .globl a64_secondary_entry
    .type a64_secondary_entry, %function
a64_secondary_entry:
    msr     daifset, #0xf
    adrp    x19, a64_boot_regs      // physical: the MMU is off
    add     x19, x19, :lo12:a64_boot_regs
    mov     x20, x0
    .size a64_secondary_entry, . - a64_secondary_entry
    // fall through

// x19 = struct a64_boot_regs, x20 = struct a64_cpu_start (both physical).
mmu_enter:
    mrs     x0, CurrentEL
    cmp     x0, #CURRENTEL_EL2
    b.ne    1f
    // At EL2 (QEMU virtualization=on): turn the EL2 MMU off and enter EL1.
    mov     x1, #SCTLR_MMU_BITS
    mrs     x0, sctlr_el2
    bic     x0, x0, x1
    msr     sctlr_el2, x0
    isb
    mov     x0, #HCR_RW             // no traps, no stage 2, E2H off
    msr     hcr_el2, x0
    isb
    mrs     x0, cnthctl_el2
    orr     x0, x0, #3              // EL1PCTEN | EL1PCEN: EL1 may use the physical timer
    msr     cnthctl_el2, x0
    msr     cntvoff_el2, xzr
    mov     x0, #0x33ff             // CPTR_EL2: RES1 bits, no FP/SIMD traps
    msr     cptr_el2, x0
    msr     hstr_el2, xzr
    msr     vttbr_el2, xzr
    mrs     x0, midr_el1
    msr     vpidr_el2, x0
    mrs     x0, mpidr_el1
    msr     vmpidr_el2, x0
    mrs     x0, id_aa64pfr0_el1
    ubfx    x0, x0, #24, #4         // GIC system register interface present?
    cbz     x0, 2f
    mrs     x0, S3_4_C12_C9_5       // ICC_SRE_EL2
    mov     x1, #0x9                // SRE | Enable: EL1 may use ICC_* registers
    orr     x0, x0, x1
    msr     S3_4_C12_C9_5, x0
    isb
2:  ldr     x0, [x19, #0x10]
    mov     x1, #SCTLR_MMU_BITS
    bic     x0, x0, x1
    msr     sctlr_el1, x0           // defined value, MMU still off
    mov     x0, #SPSR_EL1H_MASKED
    msr     spsr_el2, x0
    adr     x0, 3f
    msr     elr_el2, x0
    eret

1:  // At EL1: turn UEFI's MMU off (if on). We keep running: it was an identity map.
    mov     x1, #SCTLR_MMU_BITS
    mrs     x0, sctlr_el1
    bic     x0, x0, x1
    msr     sctlr_el1, x0
    isb
3:  // EL1, MMU off, physical addresses.
    ic      iallu
    tlbi    vmalle1
    dsb     nsh
    isb
    mov     x0, #CPACR_FPEN
    msr     cpacr_el1, x0
    ldr     x0, [x19, #0x00]
    msr     mair_el1, x0
    ldr     x0, [x19, #0x08]
    msr     tcr_el1, x0
    ldp     x0, x1, [x19, #0x18]
    msr     ttbr0_el1, x0           // identity map of the image
    msr     ttbr1_el1, x1           // kernel half
    isb
    ldr     x0, [x19, #0x10]
    msr     sctlr_el1, x0           // MMU and caches on
    isb
    ldp     x3, x4, [x19, #0x28]    // empty TTBR0 root, high entry
    ldp     x1, x0, [x20, #0x00]    // fn, arg
    ldr     x2, [x20, #0x10]        // stack
    br      x4
    .size mmu_enter, . - mmu_enter

// Now at KERNEL_BASE addresses: x0 = arg, x1 = fn, x2 = stack, x3 = empty root.
    .globl a64_high_entry
    .type a64_high_entry, %function
a64_high_entry:
    msr     spsel, #1
    mov     sp, x2
    msr     ttbr0_el1, x3           // drop the identity map
    isb
    tlbi    vmalle1
    dsb     nsh
    isb
    adr     x2, a64_boot_vectors
    msr     vbar_el1, x2
    isb
    mov     x29, #0                 // end of the frame chain for backtraces
    mov     x30, #0
    blr     x1
    bl      a64_kmain_returned
    .size a64_high_entry, . - a64_high_entry

    .bss
    .balign 16
    .globl boot_stack_top
boot_stack:
    .space  16384
boot_stack_top:
