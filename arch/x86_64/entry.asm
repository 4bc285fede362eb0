; Kernel entry and exit: exception/interrupt stubs, the syscall entry,
; context switch, and user-memory copies with fault recovery.
;
; Every entry builds a struct trap_frame (trapframe.h) on the kernel stack.
; GS: in kernel mode GS.base points at the per-CPU block; swapgs on every
; crossing from or to user mode.

bits 64
default rel

%define VECTOR_SYSCALL 0x100
%define SEL_USER_DATA (0x18 | 3)
%define SEL_USER_CODE (0x20 | 3)

extern x86_trap
extern syscall_entry
extern x86_smap_enabled

%macro PUSH_REGS 0
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
%endmacro

%macro POP_REGS 0
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
%endmacro

; Vectors the CPU pushes an error code for.
%macro VECTOR 1
vector_%1:
%if %1 == 8 || %1 == 10 || %1 == 11 || %1 == 12 || %1 == 13 || %1 == 14 || %1 == 17 || %1 == 21 || %1 == 29 || %1 == 30
%else
    push 0
%endif
    push %1
    jmp trap_common
%endmacro

section .text
%assign i 0
%rep 256
VECTOR i
%assign i i + 1
%endrep

trap_common:
    test qword [rsp + 24], 3        ; cs of the interrupted context
    jz .from_kernel
    swapgs
.from_kernel:
    PUSH_REGS
    cld
    mov rdi, rsp
    push qword [rdi + 17 * 8]       ; a frame record {rbp, rip} so that
    push qword [rdi + 8 * 8]        ; backtraces continue past the trap
    mov rbp, rsp
    call x86_trap
    add rsp, 16
global trap_return
trap_return:
    POP_REGS
    add rsp, 16                     ; vector, error
    test qword [rsp + 8], 3
    jz .to_kernel
    swapgs
.to_kernel:
    iretq

; _Noreturn void arch_trap_frame_return(struct trap_frame *tf): tf is the
; user frame at the top of this thread's kernel stack; iretq restores all of
; it (sysret would take rcx and r11).
global arch_trap_frame_return
arch_trap_frame_return:
    mov rsp, rdi
    jmp trap_return

; syscall: rcx = user rip, r11 = user rflags, interrupts masked by FMASK.
global syscall_entry_asm
syscall_entry_asm:
    swapgs
    mov [gs:16], rsp
    mov rsp, [gs:8]
    push SEL_USER_DATA              ; ss
    push qword [gs:16]              ; rsp
    push r11                        ; rflags
    push SEL_USER_CODE              ; cs
    push rcx                        ; rip
    push 0                          ; error
    push VECTOR_SYSCALL             ; vector
    PUSH_REGS
    cld
    mov rdi, rsp
    xor ebp, ebp
    call syscall_entry
    ; Return with sysret unless the saved rip is non-canonical (sysret would
    ; then fault in ring 0 on the user stack).
    mov rcx, [rsp + 17 * 8]         ; saved rip
    mov rax, rcx
    sar rax, 47
    jz .fast
    cmp rax, -1
    jne trap_return
.fast:
    POP_REGS
    add rsp, 16
    pop rcx                         ; rip
    add rsp, 8                      ; cs
    pop r11                         ; rflags
    pop rsp                         ; user rsp (ss is implied)
    swapgs
    o64 sysret

; void arch_context_switch(struct thread *from, struct thread *to)
; thread->kernel_sp is at offset 0, thread->on_cpu at 8: cleared once from's
; context is saved (x86 stores are seen in order), so that another CPU may
; then resume it.
global arch_context_switch
arch_context_switch:
    push rbp
    push rbx
    push r12
    push r13
    push r14
    push r15
    mov [rdi], rsp
    mov dword [rdi + 8], 0
    mov rsp, [rsi]
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbx
    pop rbp
    ret

; First run of a kernel thread: r12 = function, r13 = argument.
global kernel_thread_start
kernel_thread_start:
    mov rdi, r13
    xor ebp, ebp
    call r12
.hang:
    cli
    hlt
    jmp .hang

; int arch_copy_from_user(void *dst, const void *src, size_t n)
; int arch_copy_to_user(void *dst, const void *src, size_t n)
; A fault between usercopy_start and usercopy_end resumes at usercopy_fault.
global arch_copy_from_user
global arch_copy_to_user
global usercopy_start
global usercopy_end
global usercopy_fault
arch_copy_from_user:
arch_copy_to_user:
    cmp byte [x86_smap_enabled], 0
    je .copy
    stac
.copy:
    mov rcx, rdx
usercopy_start:
    rep movsb
usercopy_end:
    xor eax, eax
    jmp usercopy_done
usercopy_fault:
    mov eax, -1
usercopy_done:
    cmp byte [x86_smap_enabled], 0
    je usercopy_ret
    clac
usercopy_ret:
    ret

section .rodata
global x86_vectors
align 8
x86_vectors:
%assign i 0
%rep 256
    dq vector_ %+ i
%assign i i + 1
%endrep
