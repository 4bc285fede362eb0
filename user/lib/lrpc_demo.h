// The demonstration LRPC interface of user/programs/lrpc_server.c: the LRPC
// paper's four benchmark procedures, and two that misbehave on purpose. The
// client stubs below are plain C functions: they take an A-stack, put the
// arguments there, call, and read the results back from it.
#pragma once
#include "manifold.h"

#define DEMO_BINDING_NAME "lrpc-demo"
#define DEMO_IPC_NAME "ipc-demo"

enum demo_procedure {
    DEMO_NULL = 0,       // ()                        -> 0
    DEMO_ADD,            // (a, b)                    -> a + b
    DEMO_BIGIN,          // (200 bytes)               -> their sum
    DEMO_BIGINOUT,       // (200 bytes) -> 200 bytes  -> their sum; out[i] = in[199 - i]
    DEMO_FAULT,          // faults in the server
    DEMO_DESTROY,        // the server revokes everything it has, itself included
    DEMO_SPIN,           // (a) sets b = 1, then spins until a != 0 (at most ~2^32 turns) -> a
    DEMO_TLS,            // (a: 1 = may write its thread pointer in user mode) -> the thread pointer it
                         // started on (0 if a = 0); then sets it to DEMO_TLS_SERVER (if a = 1)
    DEMO_PROCEDURES
};

#define DEMO_BIG 200
#define DEMO_TLS_SERVER 0x5e0000ul
struct demo_astack {
    int64_t a, b;
    uint8_t in[DEMO_BIG];
    uint8_t out[DEMO_BIG];
};

long demo_null(struct mf_lrpc_client *c);
long demo_add(struct mf_lrpc_client *c, int64_t a, int64_t b);
long demo_bigin(struct mf_lrpc_client *c, const uint8_t in[DEMO_BIG]);
long demo_biginout(struct mf_lrpc_client *c, const uint8_t in[DEMO_BIG], uint8_t out[DEMO_BIG]);
// Calls procedure p with no arguments (for DEMO_FAULT, DEMO_DESTROY).
long demo_call(struct mf_lrpc_client *c, enum demo_procedure p);
