// Lightweight RPC (ABI). A server exports procedures through a Binding: its
// address space, a segment of argument stacks (A-stacks) that clients map
// too, and one execution stack (E-stack) per A-stack. A client thread calls
//
//   SYS_LRPC_CALL(binding cptr, procedure, A-stack index)
//
// and itself moves into the server's VAS, running the server's entry point
// with (A-stack address, procedure) as its two arguments on the E-stack; the
// server ends with SYS_LRPC_RETURN(value), which brings the thread back with
// `value` as the call's result. Arguments and results travel on the A-stack:
// nothing is copied by the kernel.
#pragma once

#define MF_LRPC_MAX_ASTACKS 16
#define MF_LRPC_MAX_PROCEDURES 64

enum mf_binding_op {
    // (server VAS cptr, A-stack segment cptr, procedures | server CSpace
    // cptr << 32, entry pc): once; the segment must be attached to the
    // server VAS. The CNode the third argument's high half names (W
    // needed) becomes the CSpace threads use while inside the server; 0
    // there: the caller's own CSpace (a checkpointer restoring a server
    // names the server's, not its own).
    MF_BINDING_CONFIGURE = 0,
    MF_BINDING_SET_ASTACK,     // (index, A-stack address, size, E-stack top)
    MF_BINDING_ATTACH_CLIENT,  // (client VAS cptr): map the A-stack segment there
    MF_BINDING_ASTACK,         // (index) -> the A-stack's address
    MF_BINDING_OP_COUNT
};

// MF_BINDING_CONFIGURE's third argument.
#define MF_BINDING_PROCEDURES(procedures, cspace) ((uint64_t)(procedures) | (uint64_t)(cspace) << 32)
