// PCI devices given to user space by capability (docs/devices.md): what
// MF_PCI_BAR_INFO returns and the flags of the device operations in cap.h.
#pragma once
#include <stdint.h>

// A base address register as the kernel sized it at boot.
struct mf_pci_bar {
    uint64_t base;             // physical address (memory) or port (I/O); 0 = not assigned
    uint64_t size;             // bytes; 0 = not implemented
    uint32_t flags;            // MF_PCI_BAR_*
    uint32_t reserved;
};
#define MF_PCI_BAR_MEM      1u    // memory space (else I/O ports)
#define MF_PCI_BAR_64       2u    // 64-bit: takes this BAR and the next
#define MF_PCI_BAR_PREFETCH 4u    // prefetchable
#define MF_PCI_BAR_COUNT    6

// MF_PCI_SET_COMMAND may change only these command-register bits.
#define MF_PCI_COMMAND_IO          0x0001u
#define MF_PCI_COMMAND_MEMORY      0x0002u
#define MF_PCI_COMMAND_BUS_MASTER  0x0004u
#define MF_PCI_COMMAND_INTX_OFF    0x0400u
#define MF_PCI_COMMAND_SAFE        0x0407u

// MF_PCI_MAP_BAR flags (bits 8.. of its first argument).
#define MF_PCI_MAP_READONLY (1u << 8)
#define MF_PCI_MAP_CACHED   (1u << 9)   // write-back; only for prefetchable BARs

// Where MF_PCI_MAP_BAR may map, in every program's home region (below
// MF_HOME_SIZE, so every VAS the home is attached to sees the mapping too):
// above code and data, below the stack and IPC buffer.
#define MF_DEVICE_WINDOW_BASE 0x20000000ul
#define MF_DEVICE_WINDOW_END  0x3c000000ul

// Config-space offsets.
#define MF_PCI_VENDOR_ID   0x00
#define MF_PCI_DEVICE_ID   0x02
#define MF_PCI_COMMAND     0x04
#define MF_PCI_CLASS       0x08    // revision (7:0), class code (31:8)
#define MF_PCI_INTR_LINE   0x3c
#define MF_PCI_INTR_PIN    0x3d
