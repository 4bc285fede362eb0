// Tutorial 6 (docs/tutorial/6-ipc.md), the client: finds "tut-square" with
// the name service and calls it with our argument.
#include "manifold.h"

#define SELF MF_CAP_SELF_CNODE
enum { SERVER = 20 };

int main(uint64_t arg)
{
    long r = mf_ns_lookup(MF_CAP_NAMESERVER, "tut-square", SERVER);
    if (r < 0) {
        printf("tut_client: tut-square: %s (start tut_server first: run tut_server &)\n", mf_strerror(r));
        return 1;
    }
    struct mf_msg m = {.info = MF_INFO(0, 1), .mr = {arg}};
    r = mf_call(SERVER, &m);
    if (r < 0) {
        printf("tut_client: call: %s\n", mf_strerror(r));
        return 2;
    }
    printf("tut_client: %lu squared is %lu (call %lu to this server)\n", (unsigned long)arg,
           (unsigned long)m.mr[0], (unsigned long)m.mr[1]);
    return m.mr[0] == arg * arg ? 0 : 3;
}
