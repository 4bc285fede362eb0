// Linux's side of http.requests_per_s: the page the library OS serves
// (user/programs/libos_net.c), served by Linux's own TCP/IP stack and
// virtio-net driver from the same address, 10.0.2.15:80, on the same NIC
// (the third, on QEMU's user network), to the same client: tools/bench
// on the host, which sees `http-bench: serving N requests` and sends N
// HTTP/1.0 requests through QEMU's hostfwd port, one connection each, and
// times them on the host's clock (tools/bench/boot.py, HttpLoad). Run last,
// after every other benchmark: until now the NICs had no driver.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define NAME "http.requests_per_s"
// The host's load: HTTP_WARMUP requests it does not time, then HTTP_RUNS.
#define HTTP_WARMUP 20
#define HTTP_RUNS 200
// Without the host's load (it sends none under -icount: tools/bench/boot.py)
// the server gives up after this long without a connection.
#define IDLE_SECONDS 20

static const unsigned char mac[6] = {0x52, 0x54, 0x00, 0x4d, 0x46, 0x03};
static const char page[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nHello from 10.0.2.15\n";

// Loads /NAME for each NAME in /net-modules, in that order.
static bool load_modules(void)
{
    FILE *order = fopen("/net-modules", "r");
    if (!order) {
        skip(NAME, "no /net-modules in the initramfs");
        return false;
    }
    char name[64], path[80];
    while (fscanf(order, "%63s", name) == 1) {
        snprintf(path, sizeof(path), "/%s", name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)) {
            skip(NAME, "cannot load %s: %s", path, strerror(errno));
            fclose(order);
            return false;
        }
        close(fd);
    }
    fclose(order);
    return true;
}

static void set_address(struct ifreq *ifr, unsigned long request, in_addr_t a, int s, bool *ok)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&ifr->ifr_addr;
    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = a;
    *ok = *ok && ioctl(s, request, ifr) == 0;
}

// The interface with the user network's MAC gets 10.0.2.15/24 and comes up.
static bool configure(void)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    for (int attempt = 0; s >= 0 && attempt < 100; attempt++) {
        struct if_nameindex *names = if_nameindex();
        for (struct if_nameindex *n = names; n && n->if_index; n++) {
            struct ifreq ifr = {0};
            snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", n->if_name);
            if (ioctl(s, SIOCGIFHWADDR, &ifr) != 0 || memcmp(ifr.ifr_hwaddr.sa_data, mac, 6) != 0)
                continue;
            bool ok = true;
            set_address(&ifr, SIOCSIFADDR, htonl(0x0a00020f), s, &ok);
            set_address(&ifr, SIOCSIFNETMASK, htonl(0xffffff00), s, &ok);
            ok = ok && ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
            ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
            ok = ok && ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
            if (!ok)
                skip(NAME, "cannot configure %s: %s", n->if_name, strerror(errno));
            if_freenameindex(names);
            close(s);
            return ok;
        }
        if_freenameindex(names);
        usleep(20000);      // the driver may still be probing
    }
    skip(NAME, "no interface with MAC 52:54:00:4d:46:03 (tools/qemu's third NIC)");
    if (s >= 0)
        close(s);
    return false;
}

// Reads until the request's blank line; false if the peer went away first.
static bool read_request(int c)
{
    char buf[1024];
    size_t have = 0;
    while (have < sizeof(buf) - 1) {
        ssize_t n = read(c, buf + have, sizeof(buf) - 1 - have);
        if (n <= 0)
            return false;
        have += (size_t)n;
        buf[have] = 0;
        if (strstr(buf, "\r\n\r\n"))
            return true;
    }
    return false;
}

void bench_http(void)
{
    if (!load_modules() || !configure())
        return;
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (l < 0 || setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 16) != 0) {
        skip(NAME, "cannot listen on port 80: %s", strerror(errno));
        return;
    }
    const unsigned total = HTTP_WARMUP + HTTP_RUNS;
    printf("http-bench: serving %u requests (%u warm-up) at 10.0.2.15:80\n", total, HTTP_WARMUP);
    fflush(stdout);
    unsigned served = 0;
    while (served < total) {
        struct pollfd p = {.fd = l, .events = POLLIN};
        if (poll(&p, 1, IDLE_SECONDS * 1000) != 1)
            break;
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0)
            continue;
        if (read_request(c) && write(c, page, sizeof(page) - 1) == (ssize_t)sizeof(page) - 1)
            served++;
        close(c);
    }
    close(l);
    printf("http-bench: served %u of %u requests\n", served, total);
    if (served == 0)
        skip(NAME, "no requests from the host within %d s (it sends them on the wall clock only)",
             IDLE_SECONDS);
}
