/* fuzz_cluster.c: everything cluster mode takes from Redis or from other instances, in any
 * order, interleaved with client requests: sequenced messages ("<seq> <kind> <json>" on
 * juggernaut:sequenced), legacy messages, notices from other instances ("drop", "sub",
 * "unsub", "meta"), and the replies of every Redis call the instance made (jg_claim's
 * session record, jg_backfill's history and presence, XRANGE/XREVRANGE of the log, jg_lease,
 * jg_subscribe, jg_pend, HGETALL of presence, POST /publish's jg_publish...), each reply
 * being any tree of strings, integers, arrays, nils, errors and statuses.
 *
 * Redis is replaced at link time (-Wl,--wrap=jg_broker_command, jg_broker_ready,
 * jg_broker_subscribed, jg_broker_down_for): every command the daemon sends is kept with its callback, and the
 * input decides which one is answered when, and with what. Commands still waiting at the end
 * are given up (callback with NULL), as on shutdown. A fresh cluster state every input.
 *
 * Input: a sequence of operations, after fz_subst ("@k" = the k-th sid). Each operation is a
 * byte OP (OP % 14) and its arguments; TEXT is a length byte then that many bytes, REPLY a
 * tree: a type byte (% 7: 0 string TEXT, 1 integer: one byte b, b - 16, or with bit 7 set
 * eight more bytes; 2 array: a count byte % 32 then the elements; 3 nil; 4 error TEXT;
 * 5 status TEXT; 6 integer 1).
 *   0 TEXT: a sequenced message        1 TEXT: a notice        2 TEXT: a legacy message
 *   3 IDX REPLY: answer waiting command IDX % n with REPLY     4 IDX: give command IDX up
 *   5 SLOT TEXT: client HTTP bytes on connection SLOT % 4 (opened on first use)
 *   6 K TEXT: Juggernaut message from session @(K % 8) (if it exists here)
 *   7 FLAGS: Redis ready (bit 0) / subscribed (bit 1), then the heartbeat timer fires
 *   8: a handshake (a new session)     9 W: fire session timers (W % 3)
 *   10: the subscriber link came up (catch-up)     11: read what clients got
 *   12 SLOT TEXT: HTTP bytes on admin connection 4 + SLOT % 4
 *   13: shutdown begins (draining)
 * Oracles: the sanitizers, and fz_end's gauges (every session and channel gone). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "cluster/cluster_int.h"
#include "cluster/broker.h"
#include "cluster/cluster.h"
#include "transport/conn.h"
#include "transport/http.h"
#include "core/pubsub.h"
#include "app/server.h"
#include "core/session.h"

#include "fuzz_common.h"

#define MAX_WAITING 64
#define MAX_OPS 96

/* ---- Redis, replaced ---- */

struct waiting {
    jg_broker_reply_fn *cb;
    void *priv;
};

static struct waiting waiting[MAX_WAITING];
static size_t nwaiting;
static bool redis_ready, redis_subscribed;

void __wrap_jg_broker_command(struct jg_broker *b, jg_broker_reply_fn *cb, void *priv, bool requeue, int argc,
                              const char *const *argv, const size_t *lens);
bool __wrap_jg_broker_ready(const struct jg_broker *b);
bool __wrap_jg_broker_subscribed(const struct jg_broker *b);
double __wrap_jg_broker_down_for(const struct jg_broker *b);
void __wrap_jg_broker_start(struct jg_broker *b, const struct jg_broker_hooks *h, const char *const *channels,
                            size_t nchannels);

/* The cluster's hooks (the subscriber link "comes up" through them); no link connects. */
static struct jg_broker_hooks hooks;

void __wrap_jg_broker_start(struct jg_broker *b, const struct jg_broker_hooks *h, const char *const *channels,
                            size_t nchannels)
{
    (void)b, (void)channels, (void)nchannels;
    hooks = *h;
}

void __wrap_jg_broker_command(struct jg_broker *b, jg_broker_reply_fn *cb, void *priv, bool requeue, int argc,
                              const char *const *argv, const size_t *lens)
{
    (void)b;
    (void)requeue;
    for (int i = 0; i < argc; i++) {   /* the arguments must be readable (ASan checks) */
        size_t n = lens ? lens[i] : strlen(argv[i]);
        volatile char sink = n ? argv[i][n - 1] : 0;
        (void)sink;
    }
    if (!cb)
        return;
    if (nwaiting == MAX_WAITING) {
        cb(fz_server()->cluster, NULL, priv);   /* the queue is full: given up */
        return;
    }
    waiting[nwaiting++] = (struct waiting){ cb, priv };
}

bool __wrap_jg_broker_ready(const struct jg_broker *b)
{
    (void)b;
    return redis_ready;
}

bool __wrap_jg_broker_subscribed(const struct jg_broker *b)
{
    (void)b;
    return redis_subscribed;
}

double __wrap_jg_broker_down_for(const struct jg_broker *b)
{
    (void)b;
    return redis_ready ? 0 : 1000;
}

static void answer(size_t i, redisReply *r)
{
    struct waiting w = waiting[i];
    memmove(&waiting[i], &waiting[i + 1], (nwaiting - i - 1) * sizeof *waiting);
    nwaiting--;
    w.cb(fz_server()->cluster, r, w.priv);
}

static void give_up_all(void)
{
    for (int rounds = 0; nwaiting && rounds < 10000; rounds++)
        answer(0, NULL);
    if (nwaiting)
        fz_fail("commands keep coming while every one is given up");
}

/* ---- input ---- */

struct in {
    const uint8_t *p;
    size_t n;
};

static unsigned byte(struct in *in)
{
    if (!in->n)
        return 0;
    in->n--;
    return *in->p++;
}

static size_t text(struct in *in, const char **out)
{
    size_t len = byte(in);
    if (len > in->n)
        len = in->n;
    *out = (const char *)in->p;
    in->p += len;
    in->n -= len;
    return len;
}

static redisReply *new_reply(int type)
{
    redisReply *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->type = type;
    return r;
}

static redisReply *string_reply(int type, const char *s, size_t len)
{
    redisReply *r = new_reply(type);
    r->str = malloc(len + 1);
    if (!r->str)
        abort();
    memcpy(r->str, s, len);
    r->str[len] = '\0';
    r->len = len;
    return r;
}

static redisReply *read_reply(struct in *in, int depth)
{
    const char *s;
    size_t len;
    switch (byte(in) % 7) {
    case 0:
        len = text(in, &s);
        return string_reply(REDIS_REPLY_STRING, s, len);
    case 1: {
        redisReply *r = new_reply(REDIS_REPLY_INTEGER);
        unsigned b = byte(in);
        if (b & 0x80) {
            uint64_t v = 0;
            for (int i = 0; i < 8; i++)
                v = v << 8 | byte(in);
            r->integer = (long long)v;
        } else {
            r->integer = (long long)b - 16;
        }
        return r;
    }
    case 2: {
        size_t n = depth < 4 ? byte(in) % 32 : 0;
        redisReply *r = new_reply(REDIS_REPLY_ARRAY);
        r->elements = n;
        r->element = n ? calloc(n, sizeof *r->element) : NULL;
        for (size_t i = 0; i < n; i++)
            r->element[i] = read_reply(in, depth + 1);
        return r;
    }
    case 3:
        return new_reply(REDIS_REPLY_NIL);
    case 4:
        len = text(in, &s);
        return string_reply(REDIS_REPLY_ERROR, s, len);
    case 5:
        len = text(in, &s);
        return string_reply(REDIS_REPLY_STATUS, s, len);
    default: {
        redisReply *r = new_reply(REDIS_REPLY_INTEGER);
        r->integer = 1;
        return r;
    }
    }
}

static void http_bytes(unsigned slot, bool admin, const char *s, size_t len)
{
    struct jg_conn *c = fz_conn(slot);
    if (!c)
        c = fz_conn_open(slot, admin);
    if (!c || c->closing)
        return;
    c->net->input(c, s, len);   /* as a read does: by the connection's mode (HTTP, held, WebSocket) */
    fz_hooks();
}

static void drain(void)
{
    for (unsigned i = 0; i < FZ_MAX_CONNS; i++)
        fz_drain(i, NULL, 0, NULL);
}

/* A fresh cluster state (ring, leader role, pending legacy messages, tombstones). */
static void fresh_cluster(struct jg_server *srv)
{
    struct jg_cluster *old = srv->cluster;
    srv->cluster = NULL;
    jg_cluster_free(old);
    srv->cluster = jg_cluster_new(&srv->core, srv->broker);
    fz_timer_fire(&srv->cluster->beat);   /* stopped: no timer of an old input fires */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_cluster_mode = true;
    struct jg_server *srv = fz_server();
    redis_ready = redis_subscribed = false;
    fz_begin();
    fresh_cluster(srv);
    fz_begin();   /* the cluster's id took a random number: sids restart at 0 */
    size_t len;
    char *subst = fz_subst(data, size, &len);
    struct in in = { (const uint8_t *)subst, len };
    const char *s;
    size_t n;
    for (int op = 0; op < MAX_OPS && in.n; op++) {
        switch (byte(&in) % 14) {
        case 0:
            n = text(&in, &s);
            jg_cluster_sequenced_message(srv->cluster, s, n);
            break;
        case 1:
            n = text(&in, &s);
            jg_cluster_notice(srv->cluster, s, n);
            break;
        case 2:
            n = text(&in, &s);
            jg_cluster_legacy_message(srv->cluster, s, n);
            break;
        case 3: {
            unsigned i = byte(&in);
            redisReply *r = read_reply(&in, 0);
            if (nwaiting)
                answer(i % nwaiting, r);
            freeReplyObject(r);
            break;
        }
        case 4: {
            unsigned i = byte(&in);
            if (nwaiting)
                answer(i % nwaiting, NULL);
            break;
        }
        case 5: {
            unsigned slot = byte(&in) % 4;
            n = text(&in, &s);
            http_bytes(slot, false, s, n);
            break;
        }
        case 6: {
            struct jg_session *ses = jg_session_find(&srv->core, fz_sid(byte(&in) % 8));
            n = text(&in, &s);
            if (ses)
                jg_pubsub_client_message(ses, s, n);
            break;
        }
        case 7: {
            unsigned f = byte(&in);
            redis_ready = f & 1;
            redis_subscribed = f & 2;
            ev_feed_event(srv->loop, &srv->cluster->beat, EV_TIMER);
            ev_invoke_pending(srv->loop);
            break;
        }
        case 8:
            if (!srv->core.draining)
                jg_session_create(&srv->core);
            break;
        case 9:
            fz_fire_sessions((enum fz_timer)(byte(&in) % 3));
            break;
        case 10:
            hooks.subscriber_ready(hooks.user);
            break;
        case 11:
            drain();
            break;
        case 12: {
            unsigned slot = 4 + byte(&in) % 4;
            n = text(&in, &s);
            http_bytes(slot, true, s, n);
            break;
        }
        case 13:
            srv->core.draining = true;
            jg_cluster_draining(srv->cluster);
            break;
        }
        fz_hooks();
    }
    drain();
    give_up_all();
    fz_end();
    give_up_all();
    free(subst);
    return 0;
}
