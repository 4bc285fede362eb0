// A library OS with a TCP/IP stack (lwIP, user/libos/) on packet-filter
// bindings, and its two applications (docs/exokernel.md):
//   server: UDP echo on port 7 and a small HTTP server on port 80;
//   client: echoes datagrams off each server and fetches its page, and
//           exits 0 when every answer was right.
// arg = role | nic << 8 | host << 16 | servers << 24 | requests << 32:
// address 10.0.0.host on the nic-th virtio-net NIC (NIC 2, QEMU's user
// network: 10.0.2.host); a client talks to 10.0.0.2 .. 10.0.0.(1 +
// servers); a server with `requests` > 0 exits after serving that many
// HTTP requests. From the shell: `run libos_net 0x020101 &` (a server,
// 10.0.0.2 on NIC 1), then `run libos_net 0x01010002` (the client); or
// `run libos_net 0x0f0201 &` and, on the host, curl http://127.0.0.1:8080/
// (docs/exokernel.md).
#include "manifold.h"
#include "libos.h"
#include "lib/fmt.h"
#include "lib/string.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

enum { SERVER = 1, CLIENT = 2 };
#define RING_BASE (16ul << 30)
#define STEP_TICKS 500          // 5 s for each answer

static struct libos_net net;
static char me[16];

// ------------------------------------------------------------- the server

static void echo_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    udp_sendto(pcb, p, addr, port);
    pbuf_free(p);
}

static char page[128];
static uint64_t requests_left;      // 0: serve forever
static unsigned served, finished;   // requests answered; answers closed (the FIN queued)

static err_t http_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    if (pcb->snd_queuelen == 0) {
        tcp_close(pcb);
        finished++;
    }
    return ERR_OK;
}

// A request is answered once its blank line has come, and the connection
// closed behind the answer.
static err_t http_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    if (!p) {
        tcp_close(pcb);
        return ERR_OK;
    }
    tcp_recved(pcb, p->tot_len);
    bool complete = pbuf_memfind(p, "\r\n\r\n", 4, 0) != 0xffff;
    pbuf_free(p);
    if (complete && !arg) {
        served++;
        tcp_arg(pcb, (void *)1);
        tcp_write(pcb, page, (u16_t)strlen(page), TCP_WRITE_FLAG_COPY);
        // The FIN goes out with the page (as a close() after write() does);
        // if lwIP has no memory for it now, we close once the page is
        // acknowledged. After a close the pcb is lwIP's, not ours.
        if (tcp_close(pcb) == ERR_OK) {
            finished++;
        } else {
            tcp_sent(pcb, http_sent);
            tcp_output(pcb);
        }
    }
    return ERR_OK;
}

static err_t http_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, http_recv);
    return ERR_OK;
}

static int serve(void)
{
    struct udp_pcb *u = udp_new();
    struct tcp_pcb *t = tcp_new();
    if (!u || !t || udp_bind(u, IP_ADDR_ANY, 7) != ERR_OK || tcp_bind(t, IP_ADDR_ANY, 80) != ERR_OK)
        return 10;
    udp_recv(u, echo_recv, NULL);
    t = tcp_listen(t);
    if (!t)
        return 11;
    tcp_accept(t, http_accept);
    snprintf(page, sizeof(page), "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nHello from %s\n", me);
    printf("libos_net: %s serving UDP echo on port 7 and HTTP on port 80%s\n", me,
           net.ip >> 8 == LIBOS_IP(10, 0, 2, 0) >> 8 ? ", ready for the host (QEMU hostfwd)" : "");
    // With a request count: until the last answer is sent and closed, and
    // a little longer for the peer's acknowledgements.
    while (!requests_left || finished < requests_left)
        libos_net_poll(&net, 10);
    for (long end = mf_time() + 50; mf_time() < end;)
        libos_net_poll(&net, 1);
    printf("libos_net: %s served %u HTTP request(s)\n", me, served);
    return 0;
}

// ------------------------------------------------------------- the client

static volatile unsigned echoes;
static char echoed[64];

static void client_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    memset(echoed, 0, sizeof(echoed));
    pbuf_copy_partial(p, echoed, sizeof(echoed) - 1, 0);
    echoes++;
    pbuf_free(p);
}

// Polls until *done or STEP_TICKS pass.
static bool until(volatile bool *done)
{
    for (long end = mf_time() + STEP_TICKS; !*done && mf_time() < end;)
        libos_net_poll(&net, 1);
    return *done;
}

static struct {
    char text[512];
    unsigned length;
    bool closed, connected, failed;
} reply;

static err_t get_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    if (!p) {
        reply.closed = true;
        tcp_close(pcb);
        return ERR_OK;
    }
    unsigned room = sizeof(reply.text) - 1 - reply.length;
    reply.length += pbuf_copy_partial(p, reply.text + reply.length, p->tot_len < room ? p->tot_len : room, 0);
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    return ERR_OK;
}

static void get_error(void *arg, err_t err) { reply.failed = reply.closed = true; }

static err_t get_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    static const char request[] = "GET / HTTP/1.0\r\nHost: manifold\r\n\r\n";
    reply.connected = true;
    tcp_write(pcb, request, sizeof(request) - 1, 0);
    tcp_output(pcb);
    return ERR_OK;
}

static bool contains(const char *text, const char *part)
{
    for (size_t n = strlen(part); *text; text++)
        if (strncmp(text, part, n) == 0)
            return true;
    return false;
}

static int talk_to(unsigned host)
{
    char server[16], want[64];
    snprintf(server, sizeof(server), "10.0.0.%u", host);
    ip_addr_t addr;
    IP4_ADDR(&addr, 10, 0, 0, host);
    // UDP: five datagrams, each echoed back with its own words.
    struct udp_pcb *u = udp_new();
    if (!u || udp_bind(u, IP_ADDR_ANY, 0) != ERR_OK)
        return 20;
    udp_recv(u, client_recv, NULL);
    for (unsigned i = 0; i < 5; i++) {
        char words[48];
        snprintf(words, sizeof(words), "datagram %u from %s to %s", i, me, server);
        struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)strlen(words), PBUF_RAM);
        if (!p)
            return 21;
        memcpy(p->payload, words, strlen(words));
        unsigned before = echoes;
        // The first may wait for ARP (lwIP queues it); resend if it is lost.
        bool got = false;
        for (int attempt = 0; attempt < 3 && !got; attempt++) {
            udp_sendto(u, p, &addr, 7);
            for (long end = mf_time() + STEP_TICKS / 3; echoes == before && mf_time() < end;)
                libos_net_poll(&net, 1);
            got = echoes != before;
        }
        pbuf_free(p);
        if (!got) {
            printf("libos_net: no echo from %s (datagram %u)\n", server, i);
            return 22;
        }
        if (strcmp(echoed, words) != 0) {
            printf("libos_net: %s echoed \"%s\" for \"%s\"\n", server, echoed, words);
            return 23;
        }
    }
    udp_remove(u);
    printf("libos_net: %s echoed 5 datagrams\n", server);
    // TCP: GET / and the whole answer until the server closes.
    memset(&reply, 0, sizeof(reply));
    struct tcp_pcb *t = tcp_new();
    if (!t)
        return 24;
    tcp_recv(t, get_recv);
    tcp_err(t, get_error);
    if (tcp_connect(t, &addr, 80, get_connected) != ERR_OK)
        return 25;
    if (!until(&reply.closed) || reply.failed) {
        printf("libos_net: HTTP to %s: %s\n", server, reply.failed ? "connection failed" : "no answer in time");
        return 26;
    }
    snprintf(want, sizeof(want), "Hello from %s\n", server);
    if (strncmp(reply.text, "HTTP/1.0 200 OK\r\n", 17) != 0 || !contains(reply.text, want)) {
        printf("libos_net: HTTP to %s answered \"%s\"\n", server, reply.text);
        return 27;
    }
    printf("libos_net: GET http://%s/ -> 200, \"Hello from %s\"\n", server, server);
    return 0;
}

int main(uint64_t arg)
{
    unsigned role = arg & 0xff, nic_index = arg >> 8 & 0xff, host = arg >> 16 & 0xff, servers = arg >> 24 & 0xff;
    requests_left = arg >> 32;
    if ((role != SERVER && role != CLIENT) || host < 2 - (role == CLIENT) || host > 254) {
        printf("libos_net: arg = role (1 server, 2 client) | nic << 8 | host << 16 | servers << 24\n");
        return 1;
    }
    unsigned subnet = nic_index == 2 ? 2 : 0;      // NIC 2 is QEMU's user network, 10.0.2.0/24
    snprintf(me, sizeof(me), "10.0.%u.%u", subnet, host);
    long nic = mf_virtio_net_nic(nic_index);
    if (nic < 0) {
        printf("libos_net: no virtio-net NIC %u\n", nic_index);
        return 2;
    }
    long r = libos_net_open(&net, nic, LIBOS_IP(10, 0, subnet, host), RING_BASE);
    if (r) {
        printf("libos_net: %s on NIC %u: %s\n", me, nic_index, mf_strerror_detail(r));
        return 3;
    }
    if (role == SERVER)
        return serve();
    for (unsigned s = 0; s < servers; s++) {
        int status = talk_to(2 + s);
        if (status)
            return status;
    }
    return 0;
}
