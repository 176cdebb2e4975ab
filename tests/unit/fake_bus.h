/* fake_bus.h: the Redis broker replaced at link time (-Wl,--wrap, FAKE_BUS in the Makefile)
 * for the cluster's unit tests: every command the daemon sends is recorded, argv joined by
 * spaces, with its callback, and the test answers it (in the order Redis would run them).
 * Header-only: each test binary is one .c file; include it after <cmocka.h>. */
#ifndef JG_TEST_FAKE_BUS_H
#define JG_TEST_FAKE_BUS_H
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "cluster/broker.h"

#define MAX_CMDS 64

struct cmd {
    char text[8192];                /* argv joined by spaces */
    jg_broker_reply_fn *cb;
    void *priv;
};

static struct cmd cmds[MAX_CMDS];
static size_t ncmds;
static struct jg_server *the_srv;

void __wrap_jg_broker_command(struct jg_broker *b, jg_broker_reply_fn *cb, void *priv, bool requeue, int argc,
                              const char *const *argv, const size_t *lens);
bool __wrap_jg_broker_ready(const struct jg_broker *b);
bool __wrap_jg_broker_subscribed(const struct jg_broker *b);
double __wrap_jg_broker_down_for(const struct jg_broker *b);

void __wrap_jg_broker_command(struct jg_broker *b, jg_broker_reply_fn *cb, void *priv, bool requeue, int argc,
                              const char *const *argv, const size_t *lens)
{
    assert_true(ncmds < MAX_CMDS);
    struct cmd *c = &cmds[ncmds++];
    size_t off = 0;
    for (int i = 0; i < argc && off < sizeof c->text - 1; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        if (n > sizeof c->text - 2 - off)
            n = sizeof c->text - 2 - off;
        if (i)
            c->text[off++] = ' ';
        memcpy(c->text + off, argv[i], n);
        off += n;
    }
    c->text[off] = '\0';
    c->cb = cb;
    c->priv = priv;
}

bool __wrap_jg_broker_ready(const struct jg_broker *b)
{
    return true;
}

bool __wrap_jg_broker_subscribed(const struct jg_broker *b)
{
    return true;
}

double __wrap_jg_broker_down_for(const struct jg_broker *b)
{
    return 0;
}

#endif /* JG_TEST_FAKE_BUS_H */
