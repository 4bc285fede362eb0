// IPC message layout (ABI). A message is an info word plus up to 64 words:
// the first four (mr0..mr3) travel in registers, the rest (words 4..63) in
// the sender's and receiver's IPC buffers (word i at buffer[i - 4]).
//
//   info bits  0..6   length: words used (0..64)
//            bit 7    a capability is transferred (sender sets; the receiver
//                     sees it set only if the capability arrived)
//            16..31   label (free for the protocol)
//            32..47   sender: cptr of the capability to transfer
//            48..63   receiver (recv, reply_recv, and call for the reply):
//                     empty slot in its CSpace for a received cap, 0 = none
#pragma once
#include <stdint.h>

#define MF_MSG_MAX_REGS 4
#define MF_MSG_MAX_WORDS 64
#define MF_IPC_BUFFER_WORDS (MF_MSG_MAX_WORDS - MF_MSG_MAX_REGS)
#define MF_INFO(label, length) ((uint64_t)(label) << 16 | (uint64_t)(length))
#define MF_INFO_LENGTH(i) ((unsigned)((i) & 0x7f))
#define MF_INFO_LABEL(i) ((unsigned)((i) >> 16 & 0xffff))
#define MF_INFO_CAP 0x80ull
#define MF_INFO_SEND_CAP(cptr) (MF_INFO_CAP | (uint64_t)((cptr) & 0xffff) << 32)
#define MF_INFO_RECV_SLOT(slot) ((uint64_t)((slot) & 0xffff) << 48)
#define MF_INFO_SEND_CPTR(i) ((unsigned)((i) >> 32 & 0xffff))
#define MF_INFO_RECV_INDEX(i) ((unsigned)((i) >> 48 & 0xffff))

// Where the kernel puts the IPC buffer of a program it loads (mf_spawn, the
// root task): the page above the stack, in the home region.
#define MF_IPC_BUFFER_VA 0x3ff00000ul

struct mf_msg {
    uint64_t info;
    uint64_t mr[MF_MSG_MAX_REGS];
    uint64_t badge;          // filled on receipt
};

// A page fault in a segment with a pager arrives as a call from the faulting
// thread: label MF_FAULT_LABEL, mr0 = address, mr1 = access (MF_ACCESS_*),
// mr2 = pc; the badge is the one of the pager cap given to the segment.
// Replying (any message) resumes the thread, which retries the access;
// replying with label MF_FAULT_KILL kills it instead.
#define MF_FAULT_LABEL 0xfa17
#define MF_FAULT_KILL  0xdead
#define MF_ACCESS_READ  1
#define MF_ACCESS_WRITE 2
#define MF_ACCESS_EXEC  4
