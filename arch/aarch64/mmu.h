// VMSAv8-64 translation table formats with a 4 KiB granule and 48-bit
// addresses: four levels of 512 entries (L0 = root, L3 = 4 KiB pages).
#pragma once

// Descriptor bits.
#define PTE_VALID     (1ul << 0)
#define PTE_TABLE     (1ul << 1)      // L0-L2: points to a table (clear = L1/L2 block)
#define PTE_PAGE      (1ul << 1)      // L3: must be set for a 4 KiB page
#define PTE_ATTR(i)   ((uint64_t)(i) << 2)    // AttrIndx: MAIR_EL1 byte
#define PTE_AP_EL0    (1ul << 6)      // AP[1]: EL0 may access
#define PTE_AP_RO     (1ul << 7)      // AP[2]: read-only
#define PTE_SH_INNER  (3ul << 8)      // inner shareable (ignored for Device)
#define PTE_AF        (1ul << 10)     // access flag: clear = fault on first access
#define PTE_NG        (1ul << 11)     // not global: tagged with the ASID
#define PTE_PXN       (1ul << 53)     // no execute at EL1
#define PTE_UXN       (1ul << 54)     // no execute at EL0
#define PTE_COW       (1ul << 55)     // reserved for software: VM_COW
#define PTE_ADDR_MASK 0x0000fffffffff000ul

// MAIR_EL1: one byte per attribute index.
#define MAIR_NORMAL    0              // 0xff: Normal, inner/outer write-back, R/W-allocate
#define MAIR_DEVICE    1              // 0x00: Device-nGnRnE (MMIO)
#define MAIR_DEVICE_E  2              // 0x04: Device-nGnRE (early write ack; PCIe BARs)
#define MAIR_NORMAL_NC 3              // 0x44: Normal non-cacheable (shared buffers)
#define MAIR_VALUE     0x440400fful

// Kernel leaf attributes (global, never user-executable).
#define PTE_KERNEL_NORMAL (PTE_VALID | PTE_AF | PTE_SH_INNER | PTE_ATTR(MAIR_NORMAL) | PTE_UXN)
#define PTE_KERNEL_DEVICE (PTE_VALID | PTE_AF | PTE_ATTR(MAIR_DEVICE) | PTE_PXN | PTE_UXN)

// TCR_EL1 fields.
#define TCR_T0SZ(n)     ((uint64_t)(n) << 0)     // VA size 64-n for TTBR0
#define TCR_T1SZ(n)     ((uint64_t)(n) << 16)
#define TCR_EPD0        (1ul << 7)               // no TTBR0 walks
#define TCR_WALK0       (0x1ul << 8 | 0x1ul << 10 | 0x3ul << 12)  // IRGN0/ORGN0 = WB-WA, SH0 = inner
#define TCR_WALK1       (0x1ul << 24 | 0x1ul << 26 | 0x3ul << 28)
#define TCR_TG0_4K      (0x0ul << 14)
#define TCR_TG1_4K      (0x2ul << 30)
#define TCR_IPS(n)      ((uint64_t)(n) << 32)    // physical address size (ID_AA64MMFR0.PARange)
#define TCR_AS          (1ul << 36)              // 16-bit ASIDs
#define TCR_A1          (1ul << 22)              // ASID from TTBR1 (we keep 0: TTBR0's)

// SCTLR_EL1 fields.
#define SCTLR_M     (1ul << 0)      // MMU on
#define SCTLR_A     (1ul << 1)      // alignment checks (off: unaligned Normal accesses allowed)
#define SCTLR_C     (1ul << 2)      // data caches on
#define SCTLR_SA    (1ul << 3)      // EL1 SP alignment check
#define SCTLR_SA0   (1ul << 4)      // EL0 SP alignment check
#define SCTLR_I     (1ul << 12)     // instruction caches on
#define SCTLR_DZE   (1ul << 14)     // EL0 may use DC ZVA
#define SCTLR_UCT   (1ul << 15)     // EL0 may read CTR_EL0
#define SCTLR_nTWI  (1ul << 16)     // EL0 WFI not trapped
#define SCTLR_nTWE  (1ul << 18)     // EL0 WFE not trapped (user spin-wait loops)
#define SCTLR_UCI   (1ul << 26)     // EL0 may clean/invalidate caches by VA (permission-checked)
#define SCTLR_WXN   (1ul << 19)     // writable implies execute-never
// Bits that are RES1 in ARMv8.0 (EOS, TSCXT, EIS, SPAN, nTLSMD, LSMAOE).
#define SCTLR_RES1  (1ul << 11 | 1ul << 20 | 1ul << 22 | 1ul << 23 | 1ul << 28 | 1ul << 29)

#define TTBR_ASID(a) ((uint64_t)(a) << 48)
