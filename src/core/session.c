/* session.c: socket.io session lifecycle (protocol.md §6, §11): sids, timers, the poll
 * queue, the current transport, and incoming packets. What a message means is pubsub.c's
 * business; how bytes reach the client is the transport's (ws.c, poll.c). */
#include "core/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "core/channel.h"
#include "cluster/cluster.h"
#include "transport/conn.h"
#include "base/log.h"
#include "core/pubsub.h"
#include "app/server.h"
#include "proto/sid.h"
#include "proto/sio.h"
#include "base/xalloc.h"

/* A signed sid whose session ended here: it cannot be adopted again while its signature
 * is still accepted (first use wins; a third party replaying it gets an unknown session). */
struct spent {
    char sid[JG_SID_MAX + 1];
    double until;                 /* ev_now after which the signature has expired anyway */
    struct jg_list node;          /* in spent_fifo, oldest first */
    UT_hash_handle hh;
};

#define SPENT_MAX 65536           /* ~7 MB at most; beyond, the oldest are forgotten */
#define SPENT_SKEW 60.0           /* s of clock skew jg_sid_verify tolerates */

/* Handshaken, unused sessions from one client address (max-unused-sessions-per-ip). */
struct unused_addr {
    char addr[64];                /* the peer without its port */
    size_t n;
    UT_hash_handle hh;
};

struct jg_session_table {
    struct jg_session *by_sid;    /* uthash head */
    size_t count;
    size_t unused;                /* handshaken, no transport request yet */
    struct unused_addr *unused_by_addr;   /* uthash head */
    struct jg_list end_later;     /* sessions to end from the check phase */
    struct spent *spent;          /* uthash head */
    struct jg_list spent_fifo;
    size_t nspent;
};

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* (Re)arms the session's one timer; its meaning follows from the transport state. */
static void set_timer(struct jg_session *s, double seconds)
{
    ev_timer_stop(s->srv->loop, &s->timer);
    ev_timer_set(&s->timer, seconds, 0);
    ev_timer_start(s->srv->loop, &s->timer);
}

/* What the timer means in the session's current state, running or not. */
static enum jg_session_timer_kind timer_meaning(const struct jg_session *s)
{
    if (!s->transport)
        return JG_TIMER_CLOSE;
    return s->ops->streaming ? JG_TIMER_HEARTBEAT : JG_TIMER_POLL;
}

enum jg_session_timer_kind jg_session_timer_kind(const struct jg_session *s)
{
    return ev_is_active(&s->timer) ? timer_meaning(s) : JG_TIMER_NONE;
}

struct jg_session_table *jg_session_table_new(void)
{
    struct jg_session_table *t = jg_xcalloc(1, sizeof *t);
    jg_list_init(&t->end_later);
    jg_list_init(&t->spent_fifo);
    return t;
}

static void spent_remove(struct jg_session_table *t, struct spent *e)
{
    HASH_DEL(t->spent, e);
    jg_list_remove(&e->node);
    t->nspent--;
    free(e);
}

/* Forgets the entries whose signature expired, and the oldest beyond SPENT_MAX. */
static void spent_expire(struct jg_session_table *t, double now)
{
    while (!jg_list_empty(&t->spent_fifo)) {
        struct spent *e = jg_container_of(t->spent_fifo.next, struct spent, node);
        if (e->until > now && t->nspent <= SPENT_MAX)
            break;
        spent_remove(t, e);
    }
}

static void remember_spent(struct jg_server *srv, const char *sid)
{
    struct jg_session_table *t = srv->sessions;
    struct spent *e = NULL;
    HASH_FIND_STR(t->spent, sid, e);
    if (e)
        return;
    e = jg_xcalloc(1, sizeof *e);
    snprintf(e->sid, sizeof e->sid, "%s", sid);
    e->until = ev_now(srv->loop) + srv->cfg->handshake_expiry + SPENT_SKEW;
    HASH_ADD_STR(t->spent, sid, e);
    jg_list_add_tail(&t->spent_fifo, &e->node);
    t->nspent++;
    spent_expire(t, ev_now(srv->loop));
}

static bool is_spent(struct jg_server *srv, const char *sid)
{
    struct jg_session_table *t = srv->sessions;
    spent_expire(t, ev_now(srv->loop));
    struct spent *e = NULL;
    HASH_FIND_STR(t->spent, sid, e);
    return e != NULL;
}

void jg_session_forget_spent(struct jg_server *srv)
{
    while (!jg_list_empty(&srv->sessions->spent_fifo))
        spent_remove(srv->sessions, jg_container_of(srv->sessions->spent_fifo.next, struct spent, node));
}

void jg_session_table_free(struct jg_session_table *t)
{
    if (!t)
        return;
    /* jg_session_end removes the session from the table; callers end them first. */
    while (!jg_list_empty(&t->spent_fifo))
        spent_remove(t, jg_container_of(t->spent_fifo.next, struct spent, node));
    free(t);
}

size_t jg_session_count(const struct jg_session_table *t)
{
    return t->count;
}

size_t jg_session_unused_count(const struct jg_session_table *t)
{
    return t->unused;
}

/* The address part of a peer "1.2.3.4:5678" or "[::1]:5678". */
static void peer_address(const char *peer, char *out, size_t len)
{
    const char *end = peer[0] == '[' ? strchr(peer, ']') : strrchr(peer, ':');
    size_t n = end ? (size_t)(end - peer) + (peer[0] == '[') : strlen(peer);
    snprintf(out, len, "%.*s", (int)n, peer);
}

/* S was used (a transport request) or ended: it no longer counts as unused. */
static void unused_release(struct jg_session *s)
{
    if (!s->unused_counted)
        return;
    struct jg_session_table *t = s->srv->sessions;
    s->unused_counted = false;
    t->unused--;
    s->srv->stats.unused_sessions--;
    struct unused_addr *a = s->unused_addr;
    s->unused_addr = NULL;
    if (a && --a->n == 0) {
        HASH_DEL(t->unused_by_addr, a);
        free(a);
    }
}

static struct jg_session *session_new(struct jg_server *srv, const char *sid)
{
    struct jg_session_table *t = srv->sessions;
    static uint64_t serial;
    struct jg_session *s = jg_xcalloc(1, sizeof *s);
    s->srv = srv;
    s->serial = ++serial;
    jg_list_init(&s->subs);
    jg_list_init(&s->end_node);
    if (sid) {
        snprintf(s->sid, sizeof s->sid, "%s", sid);
    } else {
        do {
            jg_sid_new(jg_server_sid_secret(srv), ev_now(srv->loop), s->sid);
        } while (jg_session_find(srv, s->sid));
    }
    HASH_ADD_STR(t->by_sid, sid, s);
    t->count++;
    srv->stats.sessions++;
    ev_timer_init(&s->timer, timer_cb, 0, 0);
    s->timer.data = s;
    set_timer(s, srv->cfg->handshake_expiry);
    return s;
}

struct jg_session *jg_session_create(struct jg_server *srv)
{
    struct jg_session *s = session_new(srv, NULL);
    /* A signed sid (a cluster-secret, or the secret the instances share through Redis):
     * the record waits for the first transport request (a flood of handshakes costs Redis
     * nothing; another instance adopts the signed sid without a lookup). A plain sid (only
     * before this instance has read the shared secret): another instance can only find the
     * session by its record. */
    if (srv->cluster && !jg_server_sid_secret(srv))
        jg_cluster_session_opened(s, false);
    return s;
}

struct jg_session *jg_session_handshake(struct jg_server *srv, const char *peer, const char **limit)
{
    struct jg_session_table *t = srv->sessions;
    if (t->unused >= srv->cfg->max_unused_sessions) {
        *limit = "max-unused-sessions";
        return NULL;
    }
    char addr[64];
    peer_address(peer, addr, sizeof addr);
    struct unused_addr *a = NULL;
    size_t per_ip = srv->cfg->max_unused_sessions_per_ip;
    if (per_ip) {
        HASH_FIND_STR(t->unused_by_addr, addr, a);
        if (a && a->n >= per_ip) {
            *limit = "max-unused-sessions-per-ip";
            return NULL;
        }
    }
    struct jg_session *s = jg_session_create(srv);
    if (per_ip) {
        if (!a) {
            a = jg_xcalloc(1, sizeof *a);
            snprintf(a->addr, sizeof a->addr, "%s", addr);
            HASH_ADD_STR(t->unused_by_addr, addr, a);
        }
        a->n++;
        s->unused_addr = a;
    }
    s->unused_counted = true;
    t->unused++;
    srv->stats.unused_sessions++;
    return s;
}

struct jg_session *jg_session_claimed(struct jg_server *srv, const char *sid, bool connected)
{
    struct jg_session *s = session_new(srv, sid);
    s->used = true;
    s->recorded = true;
    s->connected = connected;
    set_timer(s, srv->cfg->close_timeout);
    return s;
}

bool jg_session_adoptable(struct jg_server *srv, const char *sid)
{
    /* ev_now is close to wall time: libev's loop clock is the realtime clock */
    const char *secret = jg_server_sid_secret(srv);
    return secret && !jg_session_find(srv, sid) &&
           jg_sid_verify(secret, sid, ev_now(srv->loop), srv->cfg->handshake_expiry) &&
           !is_spent(srv, sid);
}

struct jg_session *jg_session_adopt(struct jg_server *srv, const char *sid)
{
    const char *secret = jg_server_sid_secret(srv);
    if (!secret || jg_session_find(srv, sid))
        return NULL;
    if (!jg_sid_verify(secret, sid, ev_now(srv->loop), srv->cfg->handshake_expiry))
        return NULL;
    if (is_spent(srv, sid)) {
        srv->stats.sids_replayed++;
        jg_info("session " JG_SID_LOG ": refused: its session ended here (a replayed sid)", sid);
        return NULL;
    }
    jg_debug("session %s: adopted (issued by another instance)", sid);
    srv->stats.sessions_adopted++;
    return session_new(srv, sid);   /* cluster mode adopts by its claim instead (router.c) */
}

struct jg_session *jg_session_find(struct jg_server *srv, const char *sid)
{
    struct jg_session *s = NULL;
    HASH_FIND_STR(srv->sessions->by_sid, sid, s);
    return s && !s->ended ? s : NULL;
}

static bool records_answers(const struct jg_session *s)
{
    /* cluster mode: a polling answer with sequenced messages is recorded before it goes out */
    return s->srv->cluster && s->transport && !s->ops->streaming;
}

static void queue_clear(struct jg_session *s)
{
    for (size_t i = 0; i < s->queue_len; i++)
        jg_buf_unref(s->queue[i]);
    s->queue_len = 0;
}

static void queue_push_seq(struct jg_session *s, struct jg_buf *pkt, uint64_t seq)
{
    if (s->queue_len == s->queue_cap) {
        s->queue_cap = s->queue_cap ? s->queue_cap * 2 : 4;
        s->queue = jg_xrealloc(s->queue, s->queue_cap * sizeof *s->queue);
        s->queue_seq = jg_xrealloc(s->queue_seq, s->queue_cap * sizeof *s->queue_seq);
    }
    s->queue_seq[s->queue_len] = seq;
    s->queue[s->queue_len++] = jg_buf_ref(pkt);
}

static void queue_push(struct jg_session *s, struct jg_buf *pkt)
{
    queue_push_seq(s, pkt, 0);
}

/* Delivers, in order, the queued packets with no seq or a seq up to UPTO; keeps the others. */
static void deliver_queue(struct jg_session *s, uint64_t upto)
{
    struct jg_server *srv = s->srv;
    size_t n = 0, kept = 0;
    struct jg_buf **q = jg_xmalloc((s->queue_len ? s->queue_len : 1) * sizeof *q);
    for (size_t i = 0; i < s->queue_len; i++) {
        if (s->queue_seq[i] <= upto)
            q[n++] = s->queue[i];
        else {
            s->queue_seq[kept] = s->queue_seq[i];
            s->queue[kept++] = s->queue[i];
        }
    }
    s->queue_len = kept;
    if (n) {
        struct jg_buf *connect_frame_cache = NULL;
        struct jg_buf **cache = (n == 1 && q[0] == srv->consts.pkt_connect) ? &srv->consts.frame_connect
                                                                            : &connect_frame_cache;
        s->ops->deliver(s->transport, q, n, cache);   /* a polling transport detaches */
        for (size_t i = 0; i < n; i++)
            jg_buf_unref(q[i]);
        jg_buf_unref(connect_frame_cache);
    }
    free(q);
}

/* Cluster mode, a GET is held: answer it with the queue, recording it first if it carries
 * sequenced messages. */
/* While a subscription backfills (history, presence), live messages after its start wait
 * in the ring: an answer must not confirm past them, or a session that moves would never
 * get them. Returns the highest seq an answer may carry. */
static uint64_t answer_cap(const struct jg_session *s)
{
    uint64_t cap = UINT64_MAX;
    for (struct jg_list *pos = s->subs.next; pos != &s->subs; pos = pos->next) {
        const struct jg_sub *sub = jg_container_of(pos, struct jg_sub, session_node);
        if (sub->backfilling && sub->seq_hi < cap)
            cap = sub->seq_hi;
    }
    return cap;
}

static void poll_flush(struct jg_session *s)
{
    if (s->answering || !s->transport || !s->queue_len)
        return;
    uint64_t to = 0, cap = answer_cap(s);
    bool plain = false;   /* packets without a seq (acks, refusals) */
    for (size_t i = 0; i < s->queue_len; i++) {
        if (s->queue_seq[i] > to && s->queue_seq[i] <= cap)
            to = s->queue_seq[i];
        plain = plain || !s->queue_seq[i];
    }
    if (to == 0) {
        if (plain)
            deliver_queue(s, 0);   /* the rest waits for the backfill */
        return;
    }
    s->answering = true;
    jg_cluster_record_answer(s, to);
}

void jg_session_flush(struct jg_session *s)
{
    if (records_answers(s))
        poll_flush(s);
}

void jg_session_poll_recorded(struct jg_session *s, bool ok, uint64_t to)
{
    s->answering = false;
    if (!s->transport || s->ops->streaming)
        return;   /* the GET went away meanwhile: the queue waits for the next one */
    if (!ok) {
        struct jg_buf *noop = s->srv->consts.pkt_noop;
        s->ops->deliver(s->transport, &noop, 1, NULL);
        return;
    }
    deliver_queue(s, to);
}

uint64_t jg_session_poll_key(const char *t, size_t len)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && i < 19 && t[i] >= '0' && t[i] <= '9')
        v = v * 10 + (uint64_t)(t[i++] - '0');
    if (i == len && len > 0)
        return v;
    v = 1469598103934665603ULL;   /* FNV-1a of anything else */
    for (i = 0; i < len; i++)
        v = (v ^ (unsigned char)t[i]) * 1099511628211ULL;
    return v;
}

void jg_session_confirm(struct jg_session *s, uint64_t cursor)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->queue_len; i++) {
        if (s->queue_seq[i] && s->queue_seq[i] <= cursor) {
            jg_buf_unref(s->queue[i]);
            continue;
        }
        s->queue_seq[kept] = s->queue_seq[i];
        s->queue[kept++] = s->queue[i];
    }
    s->queue_len = kept;
}

static void start_heartbeat(struct jg_session *s)
{
    s->hb_waiting = false;
    set_timer(s, s->srv->cfg->heartbeat_interval);
}

/* Detaches the current transport without touching its connection. */
static struct jg_conn *detach(struct jg_session *s)
{
    struct jg_conn *c = s->transport;
    if (!c)
        return NULL;
    struct ev_loop *loop = s->srv->loop;
    if (!s->ops->streaming)
        s->srv->stats.polls_pending--;
    else if (s->ops == &jg_ws_ops)
        s->srv->stats.ws_connections--;
    else
        s->srv->stats.htmlfile_streams--;
    s->transport = NULL;
    c->session = NULL;
    ev_timer_stop(loop, &s->timer);
    s->hb_waiting = false;
    return c;
}

static void start_close_timeout(struct jg_session *s)
{
    set_timer(s, s->srv->cfg->close_timeout);
}

bool jg_session_open_transport(struct jg_session *s, struct jg_conn *c, const struct jg_transport_ops *ops)
{
    struct jg_server *srv = s->srv;
    if (s->transport && s->transport != c) {
        /* Protocol.md §7.5 Fix: an older held GET is answered 8:: rather than orphaned;
         * an older stream is closed (the session carries on on C). */
        const struct jg_transport_ops *old_ops = s->ops;
        struct jg_conn *old = s->transport;
        if (!old_ops->streaming) {
            struct jg_buf *noop = srv->consts.pkt_noop;
            old_ops->deliver(old, &noop, 1, NULL);   /* answers and detaches */
        }
        if (s->transport == old) {
            detach(s);
            jg_conn_close_after_flush(old);
        }
    }
    ev_timer_stop(srv->loop, &s->timer);
    s->used = true;
    unused_release(s);
    s->transport = c;
    s->ops = ops;
    c->session = s;
    if (!ops->streaming)
        srv->stats.polls_pending++;
    else if (ops == &jg_ws_ops)
        srv->stats.ws_connections++;
    else
        srv->stats.htmlfile_streams++;

    if (!s->connected) {
        /* "1::" goes first, ahead of anything queued (protocol.md §6.2) */
        s->connected = true;
        queue_push(s, srv->consts.pkt_connect);
        if (s->queue_len > 1) {
            memmove(s->queue + 1, s->queue, (s->queue_len - 1) * sizeof *s->queue);
            memmove(s->queue_seq + 1, s->queue_seq, (s->queue_len - 1) * sizeof *s->queue_seq);
            s->queue[0] = srv->consts.pkt_connect;
            s->queue_seq[0] = 0;
        }
    }
    if (ops->streaming)
        start_heartbeat(s);
    if (records_answers(s)) {
        poll_flush(s);
    } else if (s->queue_len) {
        /* Hand the queue over before delivering: delivery may detach (polling). */
        struct jg_buf **q = s->queue;
        size_t n = s->queue_len;
        free(s->queue_seq);
        s->queue = NULL;
        s->queue_seq = NULL;
        s->queue_len = s->queue_cap = 0;
        struct jg_buf *connect_frame_cache = NULL;
        struct jg_buf **cache = (n == 1 && q[0] == srv->consts.pkt_connect) ? &srv->consts.frame_connect
                                                                            : &connect_frame_cache;
        ops->deliver(c, q, n, cache);
        for (size_t i = 0; i < n; i++)
            jg_buf_unref(q[i]);
        free(q);
        jg_buf_unref(connect_frame_cache);
    }
    if (s->transport == c && !ops->streaming)
        set_timer(s, srv->cfg->polling_duration);
    return s->transport == c;
}

void jg_session_transport_done(struct jg_session *s, struct jg_conn *c)
{
    if (s->transport != c)
        return;
    detach(s);
    if (!s->ended)
        start_close_timeout(s);
}

void jg_session_transport_lost(struct jg_session *s, struct jg_conn *c)
{
    if (s->transport != c)
        return;
    /* Streams end with their connection; so does a held GET (0.8.7 behaviour kept on
     * purpose, protocol.md §7.5: page unloads then fire unsubscribe events at once). */
    detach(s);
    jg_session_end(s, "transport closed", false);
}

void jg_session_send(struct jg_session *s, struct jg_buf *pkt, struct jg_buf **frame_cache)
{
    jg_session_send_seq(s, pkt, frame_cache, 0);
}

void jg_session_send_seq(struct jg_session *s, struct jg_buf *pkt, struct jg_buf **frame_cache, uint64_t seq)
{
    if (s->ended)
        return;
    s->srv->stats.deliveries++;
    if (seq > s->seq_hi)
        s->seq_hi = seq;
    if (s->transport && records_answers(s) && (seq || s->answering || s->queue_len)) {
        queue_push_seq(s, pkt, seq);   /* in order behind what is being recorded */
        poll_flush(s);
        return;
    }
    if (s->transport) {
        s->ops->deliver(s->transport, &pkt, 1, frame_cache);
        return;
    }
    if (s->queue_len >= s->srv->cfg->max_session_queue) {
        if (!jg_list_linked(&s->end_node)) {
            s->srv->stats.session_queue_overflows++;
            jg_warn("session " JG_SID_LOG ": %zu packets waiting for a poll (max-session-queue); ending it",
                    s->sid, s->queue_len);
            jg_session_end_later(s, "poll queue overflow");
        }
        return;
    }
    queue_push_seq(s, pkt, seq);
}

void jg_session_packet_in(struct jg_session *s, const char *pkt, size_t len)
{
    struct jg_sio_packet p;
    if (s->ended)
        return;
    if (jg_sio_packet_parse(pkt, len, &p) != 0) {
        jg_debug("session %s: ignoring a string that is not a socket.io packet", s->sid);
        return;
    }
    /* Acks are sent before processing for ids without '+' (protocol.md §4.3). */
    if (p.id && !p.ack_data &&
        (p.type == JG_SIO_MESSAGE || p.type == JG_SIO_JSON || p.type == JG_SIO_EVENT)) {
        struct jg_sb ack = JG_SB_INIT;
        jg_sb_appendf(&ack, "6::%.*s:%.*s", (int)p.endpoint_len, p.endpoint, (int)p.id_len, p.id);
        struct jg_buf *b = jg_buf_new(ack.data, ack.len);
        jg_sb_free(&ack);
        jg_session_send(s, b, NULL);
        jg_buf_unref(b);
    }
    switch (p.type) {
    case JG_SIO_HEARTBEAT:
        if (s->transport && s->ops->streaming)
            start_heartbeat(s);
        else
            s->hb_waiting = false;
        break;
    case JG_SIO_DISCONNECT:
        if (p.endpoint_len == 0)
            jg_session_end(s, "client disconnect", true);
        break;
    case JG_SIO_MESSAGE:
    case JG_SIO_JSON:
        /* 4::: JSON packets carry the same messages (socket.json.send); the original
         * ignored them, juggernaut.js never sends them */
        if (p.endpoint_len == 0)
            jg_pubsub_client_message(s, p.data, p.data_len);
        break;
    default:
        /* 1 (namespace connect), 4, 5, 6, 7, 8: nothing for Juggernaut to do (§4.2, J6) */
        break;
    }
}

struct payload_ctx {
    struct jg_server *srv;
    char sid[JG_SID_MAX + 1];
};

static void payload_packet(void *ctx, const char *pkt, size_t len)
{
    struct payload_ctx *pc = ctx;
    /* looked up per packet: a "0::" earlier in the payload ends (and frees) the session */
    struct jg_session *s = jg_session_find(pc->srv, pc->sid);
    if (s)
        jg_session_packet_in(s, pkt, len);
}

void jg_session_payload_in(struct jg_session *s, const char *body, size_t len)
{
    struct jg_sb clean = JG_SB_INIT;
    const char *text = body;
    /* Decode the whole body once (protocol.md §5.3 Fix); bad sequences become U+FFFD. */
    if (!jg_sio_utf8_sanitize(body, len, &clean)) {
        text = clean.data;
        len = clean.len;
    }
    struct payload_ctx pc;
    pc.srv = s->srv;
    memcpy(pc.sid, s->sid, sizeof pc.sid);
    if (jg_sio_payload_decode(text, len, payload_packet, &pc) != 0)
        jg_info("session " JG_SID_LOG ": malformed payload framing; ignored the rest of the POST", pc.sid);
    jg_sb_free(&clean);
}

void jg_session_end(struct jg_session *s, const char *reason, bool send_disconnect)
{
    if (s->ended)
        return;
    struct jg_server *srv = s->srv;
    s->ended = true;
    jg_debug("session %s ended: %s", s->sid, reason);
    ev_timer_stop(srv->loop, &s->timer);
    if (s->transport) {
        const struct jg_transport_ops *ops = s->ops;
        struct jg_conn *c = s->transport;
        if (send_disconnect) {
            struct jg_buf *disc = srv->consts.pkt_disconnect;
            ops->deliver(c, &disc, 1, &srv->consts.frame_disconnect);
        }
        if (s->transport == c) {
            detach(s);
            ops->end(c);
        }
    }
    ev_timer_stop(srv->loop, &s->timer);
    jg_pubsub_session_ended(s);
    queue_clear(s);
    free(s->queue);
    free(s->queue_seq);
    jg_list_remove(&s->end_node);
    unused_release(s);
    if (jg_server_sid_secret(srv) && !s->moved)
        remember_spent(srv, s->sid);   /* a signed sid: never adopted again */
    HASH_DEL(srv->sessions->by_sid, s);
    srv->sessions->count--;
    srv->stats.sessions--;
    if (s->meta)
        json_decref(s->meta);
    free(s);
}

void jg_session_end_later(struct jg_session *s, const char *reason)
{
    if (s->ended || jg_list_linked(&s->end_node))
        return;
    s->end_reason = reason;
    jg_list_add_tail(&s->srv->sessions->end_later, &s->end_node);
}

void jg_session_reap(struct jg_server *srv)
{
    struct jg_list *head = &srv->sessions->end_later;
    while (!jg_list_empty(head)) {
        struct jg_session *s = jg_container_of(head->next, struct jg_session, end_node);
        jg_list_remove(&s->end_node);
        jg_session_end(s, s->end_reason, false);
    }
}

void jg_session_each(struct jg_server *srv, void (*fn)(struct jg_session *s, void *arg), void *arg)
{
    struct jg_session *s, *tmp;
    HASH_ITER(hh, srv->sessions->by_sid, s, tmp) {
        fn(s, arg);
    }
}

void jg_session_end_some(struct jg_server *srv, size_t n, const char *reason)
{
    struct jg_session *s, *tmp;
    HASH_ITER(hh, srv->sessions->by_sid, s, tmp) {
        if (n-- == 0)
            break;
        if (srv->cluster && (!s->transport || !s->ops->streaming))
            jg_cluster_hand_off(s);   /* its next poll goes to another instance */
        else
            jg_session_end(s, reason, false);
    }
}

void jg_session_end_all(struct jg_server *srv, const char *reason)
{
    struct jg_session *s, *tmp;
    HASH_ITER(hh, srv->sessions->by_sid, s, tmp) {
        jg_session_end(s, reason, false);
    }
}

static void close_timeout(struct jg_session *s)
{
    if (s->srv->cluster && jg_cluster_claim_pending(s->srv->cluster, s->sid)) {
        /* a request of the client is waiting for Redis: the client is there */
        start_close_timeout(s);
        return;
    }
    if (!s->used) {
        jg_debug("session %s: handshake expired unused", s->sid);
        jg_session_end(s, "handshake expired", false);
        return;
    }
    s->srv->stats.close_timeouts++;
    jg_session_end(s, "close timeout", false);
}

static void heartbeat_due(struct jg_session *s)
{
    struct jg_server *srv = s->srv;
    if (s->hb_waiting) {
        srv->stats.heartbeat_timeouts++;
        jg_debug("session %s: no heartbeat reply within %g s", s->sid, srv->cfg->heartbeat_timeout);
        jg_session_end(s, "heartbeat timeout", false);
        return;
    }
    struct jg_buf *hb = srv->consts.pkt_heartbeat;
    s->ops->deliver(s->transport, &hb, 1, &srv->consts.frame_heartbeat);
    if (srv->cluster)
        jg_cluster_session_touch(s);
    s->hb_waiting = true;
    set_timer(s, srv->cfg->heartbeat_timeout);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_session *s = w->data;
    switch (timer_meaning(s)) {
    case JG_TIMER_CLOSE:
        close_timeout(s);
        break;
    case JG_TIMER_HEARTBEAT:
        heartbeat_due(s);
        break;
    case JG_TIMER_POLL: {
        struct jg_buf *noop = s->srv->consts.pkt_noop;
        s->ops->deliver(s->transport, &noop, 1, NULL);   /* answers 8:: and detaches */
        break;
    }
    default:
        break;
    }
}
