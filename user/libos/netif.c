// lwIP's Ethernet interface on packet-filter bindings (libos.h,
// docs/exokernel.md, "Packet filters"). Received frames wait in the
// bindings' rings until libos_net_poll hands them to lwIP; lwIP's frames
// are copied into a ring's transmit half and sent through the binding whose
// transmit filter they match (ARP or IPv4).
#include "manifold.h"
#include "libos.h"
#include "lib/string.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

enum { ARP, IPV4 };
#define TX_BUFFERS ((MF_NET_RING_SIZE - MF_NET_TX_OFFSET) / MF_NET_SLOT_SIZE)

static struct mf_filter_atom atom(uint16_t offset, uint8_t size, uint32_t value)
{
    uint32_t mask = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    return (struct mf_filter_atom){.offset = offset, .size = size, .mask = mask, .value = value};
}

// ARP: requests and replies whose target is us; we send those whose sender
// is us. IPv4: packets to us; we send those from us. (Ethernet header 14
// bytes: ARP target IP at 38, sender IP at 28; IPv4 destination at 30,
// source at 26.)
static struct mf_filter_program program(int kind, uint32_t ip)
{
    struct mf_filter_program p = {.rx_count = 2, .tx_count = 2, .ring_offset = kind * MF_NET_RING_SIZE};
    uint16_t type = kind == ARP ? 0x0806 : 0x0800;
    p.rx[0] = p.tx[0] = atom(12, 2, type);
    p.rx[1] = atom(kind == ARP ? 38 : 30, 4, ip);
    p.tx[1] = atom(kind == ARP ? 28 : 26, 4, ip);
    return p;
}

static err_t output(struct netif *netif, struct pbuf *p)
{
    struct libos_net *n = netif->state;
    if (p->tot_len < MF_FRAME_MIN || p->tot_len > MF_FRAME_MAX)
        return ERR_VAL;
    uint8_t type[2];
    if (pbuf_copy_partial(p, type, 2, 12) != 2)
        return ERR_VAL;
    int kind = type[0] == 0x08 && type[1] == 0x06 ? ARP : IPV4;
    uint64_t offset = MF_NET_TX_OFFSET + (uint64_t)(n->tx_next[kind]++ % TX_BUFFERS) * MF_NET_SLOT_SIZE;
    pbuf_copy_partial(p, n->ring[kind] + offset, p->tot_len, 0);
    long r;
    for (int tries = 0; (r = mf_filter_transmit(n->filter[kind], offset, p->tot_len)) == -E_AGAIN && tries < 1000;
         tries++)
        mf_yield();
    if (r < 0) {
        n->send_refused++;
        return ERR_IF;
    }
    n->sent++;
    return ERR_OK;
}

static err_t setup(struct netif *netif)
{
    struct libos_net *n = netif->state;
    struct mf_filter_info info;
    if (mf_filter_info(n->filter[IPV4], &info) < 0)
        return ERR_IF;
    netif->name[0] = 'p';
    netif->name[1] = 'f';
    netif->hwaddr_len = ETH_HWADDR_LEN;
    memcpy(netif->hwaddr, info.mac, ETH_HWADDR_LEN);
    netif->mtu = 1500;
    netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_LINK_UP;
    netif->output = etharp_output;
    netif->linkoutput = output;
    return ERR_OK;
}

long libos_net_open(struct libos_net *n, long nic, uint32_t ip, uint64_t ring_base)
{
    static bool lwip_ready;
    memset(n, 0, sizeof(*n));
    n->nic = nic;
    n->ip = ip;
    // Objects: one 2 MiB ring frame (first: it is the largest, retype
    // aligns it) whose halves are the two bindings' rings; a VAS with our
    // home and a 1 GiB segment to map it in; a notification both bindings
    // signal, with their badges.
    long ring = mf_new(MF_OBJ_FRAME, 21), vas = mf_new(MF_OBJ_VAS, 14), seg = mf_new(MF_OBJ_SEGMENT, 13);
    long ntfn = mf_new(MF_OBJ_NOTIFICATION, 0);
    if (ring < 0 || vas < 0 || seg < 0 || ntfn < 0)
        return ring < 0 ? ring : vas < 0 ? vas : seg < 0 ? seg : ntfn;
    long r = mf_vas_attach(vas, 0);
    if (!r)
        r = mf_segment_configure(seg, ring_base, 1ul << 30);
    if (!r)
        r = mf_vas_attach_segment(vas, seg, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (!r)
        r = mf_frame_map(ring, seg, ring_base, MF_RIGHT_READ | MF_RIGHT_WRITE);
    if (r)
        return r;
    n->notification = ntfn;
    for (int kind = ARP; kind <= IPV4; kind++) {
        long filter = mf_new(MF_OBJ_PACKET_FILTER, 0), badged = mf_mint(ntfn, MF_RIGHT_WRITE, (uint64_t)kind + 1);
        if (filter < 0 || badged < 0)
            return filter < 0 ? filter : badged;
        struct mf_filter_program p = program(kind, ip);
        if ((r = mf_filter_configure(filter, nic, &p, ring, badged)))
            return r;
        n->filter[kind] = filter;
        n->ring[kind] = (uint8_t *)ring_base + p.ring_offset;
    }
    if ((r = mf_vas_switch(vas)))
        return r;
    if (!lwip_ready) {
        lwip_init();
        lwip_ready = true;
    }
    ip4_addr_t addr, mask, gw;
    IP4_ADDR(&addr, ip >> 24, ip >> 16 & 0xff, ip >> 8 & 0xff, ip & 0xff);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    IP4_ADDR(&gw, ip >> 24, ip >> 16 & 0xff, ip >> 8 & 0xff, 1);
    if (!netif_add(&n->netif, &addr, &mask, &gw, n, setup, ethernet_input))
        return -E_INVAL;
    netif_set_default(&n->netif);
    netif_set_up(&n->netif);
    return 0;
}

// Hands what ring `kind` holds to lwIP; how many frames.
static unsigned drain(struct libos_net *n, int kind)
{
    struct mf_net_ring *r = (struct mf_net_ring *)n->ring[kind];
    unsigned count = 0;
    for (uint32_t tail = r->tail; tail != __atomic_load_n(&r->head, __ATOMIC_ACQUIRE); tail++, count++) {
        const struct mf_net_slot *s =
            (const struct mf_net_slot *)(n->ring[kind] + MF_NET_SLOT0 + (tail % r->slots) * MF_NET_SLOT_SIZE);
        uint32_t len = s->length;
        struct pbuf *p = len <= MF_FRAME_MAX ? pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL) : NULL;
        if (p) {
            pbuf_take(p, s->data, (u16_t)len);
            if (n->netif.input(p, &n->netif) != ERR_OK)
                pbuf_free(p);
        }
        __atomic_store_n(&r->tail, tail + 1, __ATOMIC_RELEASE);
        n->received++;
    }
    return count;
}

void libos_net_poll(struct libos_net *n, unsigned ticks)
{
    unsigned got = drain(n, ARP) + drain(n, IPV4);
    sys_check_timeouts();
    if (!got && ticks) {
        // The rings were empty when drained: a frame arriving since signals.
        mf_notification_wait_timeout(n->notification, ticks);
        drain(n, ARP);
        drain(n, IPV4);
        sys_check_timeouts();
    }
}
