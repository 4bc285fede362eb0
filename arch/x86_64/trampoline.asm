; Secondary CPU start-up code. smp.c copies it to TRAMPOLINE (below 1 MiB,
; page aligned: the SIPI vector is its page number) and fills the data
; words at the end; the started CPU runs it from there in real mode:
; 16-bit -> 32-bit protected mode -> long mode on the boot page tables
; (boot.asm: identity map of the low 4 GiB, PHYS_MAP, the kernel), then
; jumps to x86_ap_entry(cpu) in the higher half on its own stack.
;
; Never executed where the linker put it: every address is computed for the
; copy (REL), and memory operands are absolute (no `default rel`).

%define TRAMPOLINE 0x8000
%define REL(x) (TRAMPOLINE + (x) - x86_trampoline_start)

section .rodata
align 16
global x86_trampoline_start, x86_trampoline_end
global x86_trampoline_cr3, x86_trampoline_efer, x86_trampoline_stack
global x86_trampoline_entry, x86_trampoline_cpu

bits 16
x86_trampoline_start:
    cli
    cld
    xor ax, ax
    mov ds, ax
    o32 lgdt [REL(gdt_ptr)]
    mov eax, cr0
    or eax, 1                       ; PE
    mov cr0, eax
    jmp dword 0x18:REL(protected)

bits 32
protected:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, 1 << 5                  ; PAE
    mov cr4, eax
    mov eax, [REL(x86_trampoline_cr3)]
    mov cr3, eax
    mov ecx, 0xc0000080             ; EFER: LME (and NXE, SCE as the boot CPU)
    mov eax, [REL(x86_trampoline_efer)]
    xor edx, edx
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16)   ; PG, WP
    mov cr0, eax
    jmp 0x08:REL(long_mode)

bits 64
long_mode:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor ax, ax
    mov fs, ax
    mov gs, ax
    mov rsp, [REL(x86_trampoline_stack)]
    mov rdi, [REL(x86_trampoline_cpu)]
    xor ebp, ebp                    ; ends backtraces
    mov rax, [REL(x86_trampoline_entry)]
    call rax                        ; never returns
.hang:
    cli
    hlt
    jmp .hang

align 8
gdt:
    dq 0
    dq 0x00af9a000000ffff           ; 0x08: 64-bit code
    dq 0x00cf92000000ffff           ; 0x10: data
    dq 0x00cf9a000000ffff           ; 0x18: 32-bit code
gdt_end:
gdt_ptr:
    dw gdt_end - gdt - 1
    dd REL(gdt)

; Filled in by smp.c for each CPU started.
align 8
x86_trampoline_cr3:   dq 0          ; physical, below 4 GiB
x86_trampoline_efer:  dq 0
x86_trampoline_stack: dq 0
x86_trampoline_entry: dq 0
x86_trampoline_cpu:   dq 0
x86_trampoline_end:
