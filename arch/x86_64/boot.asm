; x86_64 boot: multiboot2 header, 32-bit protected-mode entry from GRUB,
; switch to long mode with a temporary page table, jump to the higher half.
;
; Temporary mappings (2 MiB pages): the low 4 GiB at 0 (identity, for the
; switch) and at PHYS_MAP, the low 1 GiB at KERNEL_BASE. vm_init() replaces them.

KERNEL_BASE equ 0xffffffff80000000

section .multiboot
align 8
mb2_header:
    dd 0xe85250d6                   ; multiboot2 magic
    dd 0                            ; architecture: i386 protected mode
    dd mb2_header_end - mb2_header
    dd -(0xe85250d6 + 0 + (mb2_header_end - mb2_header))
    dw 0, 0                         ; end tag
    dd 8
mb2_header_end:

section .boot.bss nobits alloc write
align 4096
global boot_pml4                 ; secondary CPUs start on these tables (smp.c)
boot_pml4:      resb 4096
boot_pdpt_low:  resb 4096          ; pml4[0] and pml4[256] (PHYS_MAP)
boot_pdpt_high: resb 4096          ; pml4[511]
boot_pd:        resb 4 * 4096      ; 4 GiB of 2 MiB pages
boot_pt_end:

section .boot.data
align 16
boot_gdt:
    dq 0
    dq 0x00af9a000000ffff           ; 0x08: 64-bit kernel code
    dq 0x00cf92000000ffff           ; 0x10: kernel data
boot_gdt_end:
boot_gdt_ptr:
    dw boot_gdt_end - boot_gdt - 1
    dd boot_gdt

no_lm_msg: db "Manifold: this CPU has no long mode", 13, 10, 0

section .boot.text
bits 32
global _start
_start:
    cli
    cld
    mov edi, eax                    ; multiboot2 magic
    mov esi, ebx                    ; multiboot2 information (physical)

    ; Long mode available?
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .no_long_mode
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29
    jz .no_long_mode

    ; Zero the temporary tables.
    mov ebx, edi
    mov edi, boot_pml4
    mov ecx, (boot_pt_end - boot_pml4) / 4
    xor eax, eax
    rep stosd
    mov edi, ebx

    ; Entries: present | writable (0x3); leaves add PS (0x80).
    mov dword [boot_pml4 + 0 * 8], boot_pdpt_low + 3
    mov dword [boot_pml4 + 256 * 8], boot_pdpt_low + 3
    mov dword [boot_pml4 + 511 * 8], boot_pdpt_high + 3
    mov dword [boot_pdpt_low + 0 * 8], boot_pd + 0 * 4096 + 3
    mov dword [boot_pdpt_low + 1 * 8], boot_pd + 1 * 4096 + 3
    mov dword [boot_pdpt_low + 2 * 8], boot_pd + 2 * 4096 + 3
    mov dword [boot_pdpt_low + 3 * 8], boot_pd + 3 * 4096 + 3
    mov dword [boot_pdpt_high + 510 * 8], boot_pd + 3
    ; 2048 PD entries: entry i maps i * 2 MiB (the upper dword holds bits 32+).
    xor ecx, ecx
.fill_pd:
    mov eax, ecx
    shl eax, 21
    or eax, 0x83
    mov [boot_pd + ecx * 8], eax
    mov eax, ecx
    shr eax, 11
    mov [boot_pd + ecx * 8 + 4], eax
    inc ecx
    cmp ecx, 2048
    jb .fill_pd

    mov eax, cr4
    or eax, 1 << 5                  ; PAE
    mov cr4, eax
    mov eax, boot_pml4
    mov cr3, eax
    mov ecx, 0xc0000080             ; EFER
    rdmsr
    or eax, 1 << 8                  ; LME
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16) | 1   ; PG, WP, PE
    mov cr0, eax

    lgdt [boot_gdt_ptr]
    jmp 0x08:.long_mode

.no_long_mode:
    mov esi, no_lm_msg
.print:
    lodsb
    test al, al
    jz .halt
    mov dx, 0x3f8
    out dx, al
    jmp .print
.halt:
    hlt
    jmp .halt

bits 64
.long_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov rax, high_entry
    jmp rax

section .text
extern x86_boot
high_entry:
    mov rsp, boot_stack_top
    xor ebp, ebp                    ; terminates backtraces
    ; rdi = magic, rsi = multiboot information (physical)
    call x86_boot
.hang:
    cli
    hlt
    jmp .hang

section .bss
align 16
boot_stack:
    resb 16384
boot_stack_top:
