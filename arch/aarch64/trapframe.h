// The register frame every exception entry builds on the kernel stack
// (arch/aarch64/entry.S). Offsets are shared with the assembly.
#pragma once

#define TF_X30     (30 * 8)
#define TF_SP      (31 * 8)     // SP_EL0 (from EL0) or the interrupted SP_EL1
#define TF_PC      (32 * 8)     // ELR_EL1
#define TF_PSTATE  (33 * 8)     // SPSR_EL1
#define TF_ESR     (34 * 8)
#define TF_FAR     (35 * 8)
#define TF_FRAME   (36 * 8)     // frame record {x29, pc}: backtraces continue past the trap
#define TF_SIZE    (38 * 8)     // a multiple of 16: SP stays aligned

// SPSR_EL1 / PSTATE bits.
#define PSR_MODE_MASK 0xf       // M[3:0]: 0 = EL0t, 4 = EL1t, 5 = EL1h
#define PSR_MODE_EL0T 0x0
#define PSR_F  (1 << 6)         // FIQ masked
#define PSR_I  (1 << 7)         // IRQ masked
#define PSR_A  (1 << 8)         // SError masked
#define PSR_D  (1 << 9)         // debug exceptions masked

#ifndef __ASSEMBLY__
#include <stdint.h>

struct trap_frame {
    uint64_t x[31];             // x0-x30 (x29 = fp, x30 = lr)
    uint64_t sp;
    uint64_t pc;
    uint64_t pstate;
    uint64_t esr, far;          // syndrome and fault address of this exception
    uint64_t frame[2];
};
_Static_assert(sizeof(struct trap_frame) == TF_SIZE, "entry.S frame layout");
_Static_assert(__builtin_offsetof(struct trap_frame, sp) == TF_SP, "entry.S frame layout");
_Static_assert(__builtin_offsetof(struct trap_frame, pc) == TF_PC, "entry.S frame layout");
_Static_assert(__builtin_offsetof(struct trap_frame, esr) == TF_ESR, "entry.S frame layout");
_Static_assert(__builtin_offsetof(struct trap_frame, frame) == TF_FRAME, "entry.S frame layout");
#endif
