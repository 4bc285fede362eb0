// Client stubs of the demonstration interface (lrpc_demo.h).
#include "lrpc_demo.h"
#include "lib/string.h"

long demo_call(struct mf_lrpc_client *c, enum demo_procedure p)
{
    unsigned i;
    if (!mf_lrpc_acquire(c, &i))
        return -E_BUSY;
    long r = mf_lrpc_call(c->binding, p, i);
    mf_lrpc_release(c, i);
    return r;
}

long demo_null(struct mf_lrpc_client *c)
{
    return demo_call(c, DEMO_NULL);
}

long demo_add(struct mf_lrpc_client *c, int64_t a, int64_t b)
{
    unsigned i;
    struct demo_astack *s = mf_lrpc_acquire(c, &i);
    if (!s)
        return -E_BUSY;
    s->a = a;
    s->b = b;
    long r = mf_lrpc_call(c->binding, DEMO_ADD, i);
    mf_lrpc_release(c, i);
    return r;
}

long demo_bigin(struct mf_lrpc_client *c, const uint8_t in[DEMO_BIG])
{
    unsigned i;
    struct demo_astack *s = mf_lrpc_acquire(c, &i);
    if (!s)
        return -E_BUSY;
    memcpy(s->in, in, DEMO_BIG);
    long r = mf_lrpc_call(c->binding, DEMO_BIGIN, i);
    mf_lrpc_release(c, i);
    return r;
}

long demo_biginout(struct mf_lrpc_client *c, const uint8_t in[DEMO_BIG], uint8_t out[DEMO_BIG])
{
    unsigned i;
    struct demo_astack *s = mf_lrpc_acquire(c, &i);
    if (!s)
        return -E_BUSY;
    memcpy(s->in, in, DEMO_BIG);
    long r = mf_lrpc_call(c->binding, DEMO_BIGINOUT, i);
    if (r >= 0)
        memcpy(out, s->out, DEMO_BIG);
    mf_lrpc_release(c, i);
    return r;
}
