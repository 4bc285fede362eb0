// Tutorial 6 (docs/tutorial/6-ipc.md), the server: an endpoint made from
// our untyped, registered with the name service as "tut-square", then
// answering calls until it is killed.
#include "manifold.h"

#define SELF MF_CAP_SELF_CNODE
#define UNTYPED MF_CAP_UNTYPED_BASE
enum { EP = 20 };

int main(uint64_t arg)
{
    (void)arg;
    long r = mf_untyped_retype(UNTYPED, MF_OBJ_ENDPOINT, 0, 1, SELF, EP);
    if (r == 0)
        r = mf_ns_register(MF_CAP_NAMESERVER, "tut-square", EP);
    if (r < 0) {
        printf("tut_server: %s\n", mf_strerror(r));
        return 1;
    }
    printf("tut_server: serving tut-square\n");
    struct mf_msg m = {0};
    long badge = mf_recv(EP, &m);
    for (uint64_t served = 1;; served++) {
        if (badge < 0)
            return 2;
        m.mr[0] = m.mr[0] * m.mr[0];
        m.mr[1] = served;
        m.info = MF_INFO(0, 2);
        badge = mf_reply_recv(EP, &m);
    }
}
