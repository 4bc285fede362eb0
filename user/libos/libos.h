// The library OS's network stack (docs/exokernel.md): lwIP on packet-filter
// bindings. One IPv4 address per stack, on one of the NICs the kernel
// drives; two bindings carry its traffic, ARP (frames whose target is our
// address) and IPv4 (frames to our address), each with a transmit filter
// that holds our address as the source. One thread drives everything from
// libos_net_run's loop (lwIP's raw API, NO_SYS).
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "lwip/netif.h"

struct libos_net {
    struct netif netif;
    uint32_t ip;                    // host order
    long nic;                       // the NIC's device cap
    long filter[2];                 // 0: ARP, 1: IPv4
    uint8_t *ring[2];               // their ring frames, mapped
    unsigned tx_next[2];            // next frame buffer in each ring's transmit half
    long notification;              // both bindings signal it (badges 1 and 2)
    uint64_t received, sent, send_refused;
};

// Sets the stack up on `nic` with address `ip` (host order, /24): its
// objects from libmanifold's allocator, the rings mapped in a new VAS (with
// our home) at ring_base (1 GiB aligned), which we then run in. 0 or -E_*.
long libos_net_open(struct libos_net *n, long nic, uint32_t ip, uint64_t ring_base);
// Delivers what the rings hold to lwIP and runs its timers; waits up to
// `ticks` for a frame when there was none (0: does not wait).
void libos_net_poll(struct libos_net *n, unsigned ticks);

#define LIBOS_IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
