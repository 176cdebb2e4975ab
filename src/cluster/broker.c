/* broker.c: Redis I/O with hiredis' async API on libev. Two links: "sub" (SUBSCRIBE
 * juggernaut) and "pub" (PUBLISH juggernaut:*). Each reconnects on its own with backoff;
 * events wait in a bounded FIFO while "pub" is down, and an event whose PUBLISH got no
 * reply (the link broke) goes back to that FIFO instead of being lost.
 * hiredis 0.14: the context frees itself after the disconnect callback, and pending
 * callbacks then get reply == NULL. */
#include "cluster/broker.h"

#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "base/config.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/xalloc.h"

#define BACKOFF_MIN 0.1      /* s */
#define BACKOFF_MAX 2.0      /* s */
#define CONNECT_TIMEOUT 5.0  /* s: hiredis 0.14's libev adapter has no timeout of its own */
#define PING_EVERY 1.0       /* s between two PINGs on the publisher link */

/* One command for the publisher link: a juggernaut:* event (PUBLISH) or a cluster call. */
struct event {
    struct event *next;
    int argc;
    char **argv;             /* owned, each owned */
    size_t *lens;            /* owned */
    jg_broker_reply_fn *cb;  /* NULL for fire-and-forget events */
    void *priv;
    bool requeue;            /* sent again on the next link if this one broke first */
    size_t bytes;            /* what it holds (redis-queue-bytes) */
};

struct link {
    struct jg_broker *broker;    /* borrowed: the owner */
    const char *name;            /* "subscriber" or "publisher", for logs */
    redisAsyncContext *ac;       /* NULL while down; hiredis owns it */
    bool ready;                  /* connected, authenticated (and subscribed) */
    bool was_ready;              /* for one log line per state change */
    ev_timer timer;              /* reconnect backoff, or connect timeout */
    double backoff;              /* s */
    double ping_sent;            /* ev_now of the PING awaiting its reply; 0 = none */
    char last_error[160];        /* last refusal logged, so a retry loop logs it once */
};

struct jg_broker {
    struct ev_loop *loop;        /* borrowed */
    const struct jg_config *cfg; /* borrowed */
    struct jg_stats *stats;      /* borrowed */
    struct jg_broker_hooks hooks;    /* what the links' events go to */
    char **channels;             /* owned: what the subscriber link subscribes to */
    size_t nchannels;
    struct link sub;
    struct link pub;
    struct event *head, *tail;   /* events waiting for the publisher link */
    size_t queued;
    size_t bytes;                /* of every command queued or awaiting its reply */
    size_t in_flight;            /* PUBLISHes sent, reply not yet received */
    double down_since;           /* ev_now when a link last went down; 0 when both up */
    ev_timer watchdog;           /* PINGs Redis: a paused or wedged server is noticed */
    bool closing;
};

static void link_connect(struct link *l);

static void update_connected(struct jg_broker *b)
{
    bool up = b->sub.ready && b->pub.ready;
    b->stats->redis_connected = up;
    if (up)
        b->down_since = 0;
    else if (b->down_since == 0)
        b->down_since = ev_now(b->loop);
}

static void schedule_reconnect(struct link *l)
{
    struct jg_broker *b = l->broker;
    if (b->closing)
        return;
    ev_timer_stop(b->loop, &l->timer);
    ev_timer_set(&l->timer, l->backoff, 0);
    ev_timer_start(b->loop, &l->timer);
    l->backoff = l->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : l->backoff * 2;
}

static void link_down(struct link *l, const char *why)
{
    struct jg_broker *b = l->broker;
    l->ac = NULL;
    if (l->was_ready || !l->ready) {
        if (l->was_ready)
            jg_warn("redis %s link to %s:%d lost: %s; reconnecting", l->name,
                    b->cfg->redis_host, b->cfg->redis_port, why);
    }
    if (!l->was_ready && l->backoff == BACKOFF_MIN)
        jg_warn("redis %s link to %s:%d: %s; retrying with backoff", l->name,
                b->cfg->redis_host, b->cfg->redis_port, why);
    l->ready = false;
    l->was_ready = false;
    update_connected(b);
    schedule_reconnect(l);
}

static void event_free(struct jg_broker *b, struct event *e)
{
    b->bytes -= e->bytes;
    b->stats->redis_queue_bytes = (int64_t)b->bytes;
    for (int i = 0; i < e->argc; i++)
        free(e->argv[i]);
    free(e->argv);
    free(e->lens);
    free(e);
}

/* The command is given up (queue full, link broke without requeue, shutdown). */
static void event_drop(struct jg_broker *b, struct event *e)
{
    if (e->cb)
        e->cb(b->closing ? NULL : b->hooks.user, NULL, e->priv);
    event_free(b, e);
}

static struct event *queue_pop(struct jg_broker *b)
{
    struct event *e = b->head;
    if (e) {
        b->head = e->next;
        if (!b->head)
            b->tail = NULL;
        b->queued--;
    }
    return e;
}

static void queue_push(struct jg_broker *b, struct event *e)
{
    if (b->queued >= b->cfg->redis_queue_limit) {
        b->stats->events_dropped++;
        if (b->stats->events_dropped == 1 || b->stats->events_dropped % 1000 == 0)
            jg_warn("redis away: event queue full (redis-queue-limit %zu); dropping events (%lld so far)",
                    b->cfg->redis_queue_limit, (long long)b->stats->events_dropped);
        event_drop(b, e);
        return;
    }
    e->next = NULL;
    if (b->tail)
        b->tail->next = e;
    else
        b->head = e;
    b->tail = e;
    b->queued++;
}

static void publish_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct event *e = privdata;
    struct link *l = ac->data;
    struct jg_broker *b = l->broker;
    b->in_flight--;
    redisReply *r = reply;
    if (!r) {
        /* The link broke before Redis answered: keep the command for the next link. */
        if (b->closing || !e->requeue) {
            event_drop(b, e);
            return;
        }
        queue_push(b, e);
        return;
    }
    if (e->cb) {
        e->cb(b->closing ? NULL : b->hooks.user, r, e->priv);
    } else if (r->type == REDIS_REPLY_ERROR) {
        jg_warn("redis %s %s failed: %s", e->argv[0], e->argc > 1 ? e->argv[1] : "", r->str);
    } else {
        b->stats->events_published++;
    }
    event_free(b, e);
}

static void send_event(struct jg_broker *b, struct event *e)
{
    b->in_flight++;
    if (redisAsyncCommandArgv(b->pub.ac, publish_reply, e, e->argc, (const char **)e->argv, e->lens) != REDIS_OK) {
        b->in_flight--;
        queue_push(b, e);
    }
}

static void flush_queue(struct jg_broker *b)
{
    struct event *e;
    while (b->pub.ready && b->pub.ac && (e = queue_pop(b)) != NULL)
        send_event(b, e);
}

void jg_broker_command(struct jg_broker *b, jg_broker_reply_fn *cb, void *priv, bool requeue, int argc,
                       const char *const *argv, const size_t *lens)
{
    /* every command is held here or in hiredis's output buffer until Redis answers: a slow
     * or away Redis must not grow that without bound (handshake floods, presence, claims) */
    size_t bytes = sizeof(struct event) + 16 * (size_t)argc;
    for (int i = 0; i < argc; i++)
        bytes += lens ? lens[i] : strlen(argv[i]);
    if (b->bytes + bytes > b->cfg->redis_queue_bytes) {
        struct jg_stats *st = b->stats;
        st->redis_commands_dropped_bytes++;
        st->events_dropped++;
        if (st->redis_commands_dropped_bytes % 1000 == 1)
            jg_warn("redis: %zu bytes of commands waiting (redis-queue-bytes %zu); dropping %s (%lld so far)",
                    b->bytes, b->cfg->redis_queue_bytes, argc > 1 ? argv[1] : argv[0],
                    (long long)st->redis_commands_dropped_bytes);
        if (cb)
            cb(b->closing ? NULL : b->hooks.user, NULL, priv);
        return;
    }
    struct event *e = jg_xcalloc(1, sizeof *e);
    e->bytes = bytes;
    b->bytes += bytes;
    b->stats->redis_queue_bytes = (int64_t)b->bytes;
    e->argc = argc;
    e->argv = jg_xcalloc((size_t)argc, sizeof *e->argv);
    e->lens = jg_xcalloc((size_t)argc, sizeof *e->lens);
    for (int i = 0; i < argc; i++) {
        e->lens[i] = lens ? lens[i] : strlen(argv[i]);
        e->argv[i] = jg_xstrndup(argv[i], e->lens[i]);
    }
    e->cb = cb;
    e->priv = priv;
    e->requeue = requeue;
    if (b->pub.ready && b->pub.ac && !b->head)
        send_event(b, e);
    else
        queue_push(b, e);
}

void jg_broker_publish(struct jg_broker *b, const char *channel, const char *text, size_t len)
{
    const char *argv[3] = { "PUBLISH", channel, text };
    size_t lens[3] = { 7, strlen(channel), len };
    jg_broker_command(b, NULL, NULL, true, 3, argv, lens);
}

bool jg_broker_ready(const struct jg_broker *b)
{
    return b->pub.ready && b->pub.ac;
}

bool jg_broker_subscribed(const struct jg_broker *b)
{
    return b->sub.ready && b->sub.ac;
}

static void set_ready(struct link *l)
{
    struct jg_broker *b = l->broker;
    ev_timer_stop(b->loop, &l->timer);   /* connect timeout no longer applies */
    l->ready = true;
    l->was_ready = true;
    l->last_error[0] = '\0';
    l->backoff = BACKOFF_MIN;
    b->stats->redis_reconnects++;
    jg_info("redis %s link up (%s:%d)", l->name, b->cfg->redis_host, b->cfg->redis_port);
    update_connected(b);
    if (l == &b->pub) {
        if (b->hooks.publisher_ready)
            b->hooks.publisher_ready(b->hooks.user, l->ac);   /* ahead of anything queued */
        flush_queue(b);
    } else if (b->hooks.subscriber_ready) {
        b->hooks.subscriber_ready(b->hooks.user);
    }
}

static void subscribe_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = ac->data;
    struct jg_broker *b = l->broker;
    redisReply *r = reply;
    if (!r || l->ac != ac)
        return;   /* link going down; the disconnect callback handles it */
    if (r->type == REDIS_REPLY_ERROR) {
        jg_error("redis SUBSCRIBE juggernaut failed: %s", r->str);
        redisAsyncDisconnect(ac);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 || r->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = r->element[0]->str;
    if (!strcmp(kind, "subscribe")) {
        /* ready once every channel is subscribed: the count is the third element */
        long long want = (long long)b->nchannels;
        if (r->element[2]->type == REDIS_REPLY_INTEGER && r->element[2]->integer >= want)
            set_ready(&b->sub);
    } else if (!strcmp(kind, "message") && r->element[2]->type == REDIS_REPLY_STRING &&
               r->element[1]->type == REDIS_REPLY_STRING) {
        const char *channel = r->element[1]->str;
        const char *text = r->element[2]->str;
        size_t len = r->element[2]->len;
        bool legacy = !strcmp(channel, "juggernaut");
        if (legacy && len > b->cfg->max_publish_size) {
            b->stats->messages_oversized++;
            jg_warn("redis: dropped a %zu-byte message on \"juggernaut\" (max-publish-size %zu)", len,
                    b->cfg->max_publish_size);
            return;
        }
        b->hooks.message(b->hooks.user, channel, text, len);
    }
}

/* The publisher is up once Redis answered a round trip (a paused Redis accepts TCP
 * connections but answers nothing). */
static void first_ping_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = ac->data;
    if (reply && l->ac == ac && !l->ready)
        set_ready(l);
}

static void after_auth(struct link *l)
{
    struct jg_broker *b = l->broker;
    if (l == &b->sub) {
        const char **argv = jg_xcalloc(b->nchannels + 1, sizeof *argv);
        argv[0] = "SUBSCRIBE";
        for (size_t i = 0; i < b->nchannels; i++)
            argv[1 + i] = b->channels[i];
        redisAsyncCommandArgv(l->ac, subscribe_reply, NULL, (int)b->nchannels + 1, argv, NULL);
        free(argv);
    }
    else
        redisAsyncCommand(l->ac, first_ping_reply, NULL, "PING");
}

static void auth_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = privdata;
    redisReply *r = reply;
    if (!r || l->ac != ac)
        return;
    if (r->type == REDIS_REPLY_ERROR) {
        if (strncmp(l->last_error, r->str, sizeof l->last_error - 1) != 0) {
            jg_error("redis %s link: AUTH/SELECT refused: %s (check the password and db in redis-url); "
                     "retrying with backoff", l->name, r->str);
            snprintf(l->last_error, sizeof l->last_error, "%s", r->str);
        }
        redisAsyncDisconnect(ac);
        return;
    }
    after_auth(l);
}

static void on_connect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct link *l = ac->data;
    if (l->ac != ac)
        return;   /* abandoned (connect timeout, shutdown) */
    struct jg_broker *b = l->broker;
    /* the connect timer keeps running until the link is ready (set_ready) */
    if (status != REDIS_OK) {
        link_down(l, ac->errstr[0] ? ac->errstr : "connect failed");
        return;   /* hiredis frees the context */
    }
    const struct jg_config *cfg = b->cfg;
    redisEnableKeepAlive(&ac->c);   /* a vanished host is noticed even when idle */
    if (cfg->redis_password)
        redisAsyncCommand(ac, auth_reply, l, "AUTH %s", cfg->redis_password);
    if (cfg->redis_db && l == &b->pub)
        redisAsyncCommand(ac, auth_reply, l, "SELECT %d", cfg->redis_db);
    if (!cfg->redis_password && !(cfg->redis_db && l == &b->pub))
        after_auth(l);
}

static void on_disconnect(const redisAsyncContext *cac, int status)
{
    redisAsyncContext *ac = (redisAsyncContext *)cac;
    struct link *l = ac->data;
    if (l->ac != ac)
        return;   /* we dropped it ourselves (watchdog, shutdown) */
    link_down(l, status == REDIS_OK ? "closed" : (ac->errstr[0] ? ac->errstr : "error"));
}

/* Drops the link's connection from outside hiredis' callbacks. Pending PUBLISHes get
 * their NULL reply and go back to the queue. */
static void link_kill(struct link *l, const char *why)
{
    redisAsyncContext *ac = l->ac;
    if (!ac)
        return;
    l->ac = NULL;
    redisAsyncFree(ac);
    link_down(l, why);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct link *l = w->data;
    if (l->ac && !l->ready) {
        link_kill(l, "connect timed out (no answer)");
        return;
    }
    if (!l->ac)
        link_connect(l);
}

static void link_connect(struct link *l)
{
    struct jg_broker *b = l->broker;
    const struct jg_config *cfg = b->cfg;
    redisAsyncContext *ac = redisAsyncConnect(cfg->redis_host, cfg->redis_port);
    if (!ac || ac->err) {
        const char *why = ac ? ac->errstr : "out of memory";
        if (!l->was_ready && l->backoff == BACKOFF_MIN)
            jg_warn("redis %s link to %s:%d: %s; retrying with backoff", l->name, cfg->redis_host,
                    cfg->redis_port, why);
        if (ac)
            redisAsyncFree(ac);
        schedule_reconnect(l);
        return;
    }
    ac->data = l;
    l->ac = ac;
    l->ping_sent = 0;
    redisLibevAttach(b->loop, ac);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    ev_timer_stop(b->loop, &l->timer);
    ev_timer_set(&l->timer, CONNECT_TIMEOUT, 0);
    ev_timer_start(b->loop, &l->timer);
}

static void ping_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
    struct link *l = ac->data;
    if (reply && l->ac == ac)
        l->ping_sent = 0;
}

/* Every PING_EVERY: a PING on the publisher link; no answer within redis-timeout means a
 * paused or wedged Redis (TCP still up): both links are dropped and reconnected, and the
 * events in flight go back to the bounded queue. */
static void watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_broker *b = w->data;
    struct link *l = &b->pub;
    if (!l->ac || !l->ready)
        return;
    double now = ev_now(loop);
    if (l->ping_sent && now - l->ping_sent > b->cfg->redis_timeout) {
        char why[96];
        snprintf(why, sizeof why, "no answer to PING within %g s (redis-timeout)", b->cfg->redis_timeout);
        link_kill(&b->pub, why);
        link_kill(&b->sub, why);
        return;
    }
    if (!l->ping_sent && redisAsyncCommand(l->ac, ping_reply, NULL, "PING") == REDIS_OK)
        l->ping_sent = now;
}

static void link_init(struct jg_broker *b, struct link *l, const char *name)
{
    l->broker = b;
    l->name = name;
    l->backoff = BACKOFF_MIN;
    ev_timer_init(&l->timer, timer_cb, 0, 0);
    l->timer.data = l;
}

struct jg_broker *jg_broker_new(struct ev_loop *loop, const struct jg_config *cfg, struct jg_stats *stats)
{
    struct jg_broker *b = jg_xcalloc(1, sizeof *b);
    b->loop = loop;
    b->cfg = cfg;
    b->stats = stats;
    b->down_since = ev_now(loop);
    link_init(b, &b->sub, "subscriber");
    link_init(b, &b->pub, "publisher");
    return b;
}

void jg_broker_start(struct jg_broker *b, const struct jg_broker_hooks *hooks, const char *const *channels,
                     size_t nchannels)
{
    b->hooks = *hooks;
    b->channels = jg_xcalloc(nchannels, sizeof *b->channels);
    b->nchannels = nchannels;
    for (size_t i = 0; i < nchannels; i++)
        b->channels[i] = jg_xstrdup(channels[i]);
    link_connect(&b->sub);
    link_connect(&b->pub);
    ev_timer_init(&b->watchdog, watchdog_cb, PING_EVERY, PING_EVERY);
    b->watchdog.data = b;
    ev_timer_start(b->loop, &b->watchdog);
}

void jg_broker_free(struct jg_broker *b)
{
    if (!b)
        return;
    b->closing = true;
    ev_timer_stop(b->loop, &b->watchdog);
    struct link *links[2] = { &b->sub, &b->pub };
    for (int i = 0; i < 2; i++) {
        ev_timer_stop(b->loop, &links[i]->timer);
        if (links[i]->ac) {
            redisAsyncContext *ac = links[i]->ac;
            links[i]->ac = NULL;
            redisAsyncFree(ac);
        }
    }
    struct event *e;
    while ((e = queue_pop(b)) != NULL) {
        b->stats->events_dropped++;
        event_drop(b, e);
    }
    for (size_t i = 0; i < b->nchannels; i++)
        free(b->channels[i]);
    free(b->channels);
    free(b);
}

double jg_broker_down_for(const struct jg_broker *b)
{
    return b->down_since ? ev_now(b->loop) - b->down_since : 0;
}

bool jg_broker_idle(const struct jg_broker *b)
{
    return b->queued == 0 && b->in_flight == 0;
}
