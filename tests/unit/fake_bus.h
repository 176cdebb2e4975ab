/* fake_bus.h: the Redis broker replaced at link time (-Wl,--wrap, FAKE_BUS in the Makefile)
 * for the cluster's unit tests: every command the daemon sends is recorded, argv joined by
 * spaces, with its callback, and the test answers it (in the order Redis would run them).
 * Header-only: each test binary is one .c file; include it after <cmocka.h> and
 * server_fixture.h. */
#ifndef JG_TEST_FAKE_BUS_H
#define JG_TEST_FAKE_BUS_H
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "app/server.h"
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

/* The index of the first recorded command starting with PREFIX at or after FROM, or -1. */
static inline int find_cmd(const char *prefix, size_t from)
{
    for (size_t i = from; i < ncmds; i++)
        if (!strncmp(cmds[i].text, prefix, strlen(prefix)))
            return (int)i;
    return -1;
}

/* Command I's reply R (NULL: given up), to its callback, once. */
static inline void answer(int i, redisReply *r)
{
    assert_true(i >= 0);
    assert_non_null(cmds[i].cb);
    jg_broker_reply_fn *cb = cmds[i].cb;
    cmds[i].cb = NULL;
    cb(the_srv->cluster, r, cmds[i].priv);   /* the broker's user: the cluster */
}

static inline void answer_int(int i, long long v)
{
    redisReply r = { .type = REDIS_REPLY_INTEGER, .integer = v };
    answer(i, &r);
}

static inline void answer_error(int i, const char *text)
{
    redisReply r = { .type = REDIS_REPLY_ERROR, .str = (char *)text, .len = strlen(text) };
    answer(i, &r);
}

static inline void answer_empty_array(int i)
{
    redisReply r = { .type = REDIS_REPLY_ARRAY, .elements = 0, .element = NULL };
    answer(i, &r);
}

/* A claim's reply: the record of a session (cursor 100, generation GEN) owned until now by
 * OWNER, with no subscription; SHORT as jg_claim answers an owner that has a copy. */
static inline void answer_record(int i, const char *owner, const char *gen, bool is_short)
{
    redisReply k[10], *el[10];
    const char *kv[10] = { "cursor", "100", "gen", gen, "connected", "1", "old_owner", owner, "short", "1" };
    size_t n = is_short ? 10 : 8;
    for (size_t j = 0; j < n; j++) {
        k[j] = (redisReply){ .type = REDIS_REPLY_STRING, .str = (char *)kv[j], .len = strlen(kv[j]) };
        el[j] = &k[j];
    }
    redisReply rec = { .type = REDIS_REPLY_ARRAY, .elements = n, .element = el };
    answer(i, &rec);
}

/* A cluster-mode server whose Redis is this bus (fixture_server_prepare with TAG, cluster on,
 * fixture_server_start); no command recorded yet. */
static inline int fake_bus_server_start(const char *tag, struct ev_loop **loop, struct jg_server *srv,
                                        struct jg_config *cfg, char dir[64], char index[96])
{
    if (fixture_server_prepare(tag, dir, index, cfg) != 0)
        return -1;
    cfg->cluster = true;
    if (fixture_server_start(loop, srv, cfg) != 0)
        return -1;
    the_srv = srv;
    ncmds = 0;
    return 0;
}

/* Commands never answered are given up (as on shutdown). */
static inline void fake_bus_give_up_all(void)
{
    for (size_t i = 0; i < ncmds; i++)
        if (cmds[i].cb)
            answer((int)i, NULL);
}

#endif /* JG_TEST_FAKE_BUS_H */
