// Packet-filter bindings (ABI; docs/exokernel.md). The kernel drives each
// virtio-net NIC and hands every received frame to the one binding whose
// receive filter matches it; a binding sends only frames its transmit
// filter matches, with the NIC's own source MAC. Filters are conjunctions
// of byte-field tests (DPF-style: no loops, no branches), and no two
// bindings of a NIC may have filters that one frame could match both of.
//
//   filter = retype(MF_OBJ_PACKET_FILTER, 0)
//   CONFIGURE(filter, NIC device cap, &program, ring frame, notification)
//   frames arrive in the ring (struct mf_net_ring), the notification is
//   signalled when the ring goes from empty to not empty;
//   TRANSMIT(filter, offset of a frame in the ring's transmit half, length)
#pragma once
#include <stdint.h>

#define MF_FILTER_ATOMS 16
#define MF_FRAME_MIN 14         // an Ethernet header
#define MF_FRAME_MAX 1514       // without the FCS

// A frame matches an atom when its `size` bytes at `offset` (1, 2 or 4,
// read big-endian as the network sends them) ANDed with mask equal value.
struct mf_filter_atom {
    uint16_t offset;
    uint8_t size;
    uint8_t reserved;
    uint32_t mask;
    uint32_t value;
};

// What a binding receives (every rx atom holds) and may send (every tx
// atom holds). No atoms: every frame, which overlaps any other filter.
// ring_offset: which half of the 2 MiB ring frame is this binding's ring
// (0 or MF_NET_RING_SIZE): two bindings of one library OS can share a frame.
struct mf_filter_program {
    uint32_t rx_count, tx_count;
    struct mf_filter_atom rx[MF_FILTER_ATOMS], tx[MF_FILTER_ATOMS];
    uint32_t ring_offset, reserved;
};

enum mf_filter_op {
    // (NIC device cptr, const struct mf_filter_program *, ring frame cptr,
    // notification cptr): once. The NIC cap needs WRITE; the ring frame is
    // a 2 MiB frame with READ|WRITE, whose half at program.ring_offset is
    // the binding's ring; the binding keeps its own copies of both caps.
    MF_FILTER_CONFIGURE = 0,
    // (offset, length): send the frame at [offset, offset + length) of
    // the binding's ring (offsets from the ring's start), in its transmit half.
    MF_FILTER_TRANSMIT,
    // (struct mf_filter_info *): counters and the NIC's MAC.
    MF_FILTER_INFO,
    MF_FILTER_OP_COUNT
};

// A binding's ring (MF_NET_RING_SIZE bytes at ring_offset in the ring
// frame): the first MF_NET_TX_OFFSET bytes receive, the rest is the
// binding's own space for frames to send. The header is at offset 0; slot
// i at MF_NET_SLOT0 + (i % slots) * MF_NET_SLOT_SIZE. The kernel fills
// slot `head` and then moves head on; the library OS reads from `tail`
// and moves tail on. head - tail == slots: full (frames are dropped and
// counted).
#define MF_NET_FRAME_SIZE (2ul << 20)
#define MF_NET_RING_SIZE (1ul << 20)
#define MF_NET_TX_OFFSET (512ul << 10)
#define MF_NET_SLOT0 4096
#define MF_NET_SLOT_SIZE 2048
#define MF_NET_SLOTS ((MF_NET_TX_OFFSET - MF_NET_SLOT0) / MF_NET_SLOT_SIZE)
struct mf_net_ring {
    volatile uint32_t head;     // kernel
    volatile uint32_t tail;     // library OS
    uint32_t slots, slot_size;
    volatile uint64_t dropped;  // kernel: frames that found the ring full
};
struct mf_net_slot {
    uint32_t length;            // bytes of data
    uint32_t reserved;
    uint8_t data[MF_NET_SLOT_SIZE - 8];
};

struct mf_filter_info {
    uint64_t received, dropped, transmitted, refused;   // refused: TRANSMITs the tx filter or the source MAC refused
    uint64_t nic_unclaimed;     // frames of the NIC that no binding's filter matched
    uint8_t mac[6];
    uint8_t reserved[2];
};
