/* cluster_session.c: sessions in cluster mode (cluster.h). A session's record lives in
 * Redis (jg:session:<sid>); whichever instance gets a request of the session claims it
 * (jg_claim) and serves it from a local copy, rebuilt from the record and the ring when the
 * session comes from elsewhere. The old owner is told (a "drop" notice, with the claim's
 * generation) and lets its copy go without events. Polling answers are recorded before
 * they are written, so a retried request re-sends them. Subscriptions, meta, history
 * backfills and presence go through the record too. */
#include "cluster/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include "base/hash.h"

#include "cluster/broker.h"
#include "base/buf.h"
#include "core/channel.h"
#include "cluster/cluster_int.h"
#include "transport/conn.h"
#include "transport/http.h"
#include "proto/juggernaut.h"
#include "base/log.h"
#include "app/router.h"
#include "base/sb.h"
#include "app/server.h"
#include "core/session.h"
#include "proto/sid.h"
#include "proto/sio.h"
#include "base/xalloc.h"

static struct tombstone *tombstone_get(struct jg_cluster *c, const char *sid, bool create)
{
    struct tombstone *t = NULL;
    HASH_FIND_STR(c->tombstones, sid, t);
    if (!t && create) {
        t = jg_xcalloc(1, sizeof *t);
        snprintf(t->sid, sizeof t->sid, "%s", sid);
        HASH_ADD_STR(c->tombstones, sid, t);
    }
    if (t && create)
        t->at = ev_now(c->srv->loop);
    return t;
}

static void tombstone_free(struct jg_cluster *c, struct tombstone *t)
{
    HASH_DEL(c->tombstones, t);
    jg_sb_free(&t->notices);
    free(t);
}

bool jg_cluster_claim_pending(struct jg_cluster *c, const char *sid)
{
    struct tombstone *t = tombstone_get(c, sid, false);
    return t && t->claims;
}

static void remember_drop(struct jg_cluster *c, const char *sid, uint64_t gen)
{
    struct tombstone *t = tombstone_get(c, sid, true);
    if (gen > t->gen)
        t->gen = gen;
}

void jg_cluster_forget_drops(struct jg_cluster *c, double older_than)
{
    struct tombstone *t, *tmp;
    HASH_ITER(hh, c->tombstones, t, tmp) {
        if (t->at < older_than && !t->claims)
            tombstone_free(c, t);
    }
}

/* ---- sessions ---- */

void jg_cluster_session_opened(struct jg_session *s, bool adopted)
{
    struct jg_cluster *c = s->srv->cluster;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", record_ttl_ms(cfg_of(c)));
    const char *args[] = { s->sid, c->id, ttl, adopted ? "1" : "0" };
    s->recorded = true;
    jg_cluster_fcall(c, NULL, NULL, true, "jg_session_open", 4, args, NULL);
}

void jg_cluster_session_ended(struct jg_session *s)
{
    struct jg_cluster *c = s->srv->cluster;
    if (!s->recorded)
        return;   /* never used: Redis never heard of it */
    const char *args[] = { s->sid, c->id };
    jg_cluster_fcall(c, NULL, NULL, true, "jg_end", 2, args, NULL);
}

void jg_cluster_session_touch(struct jg_session *s)
{
    struct jg_cluster *c = s->srv->cluster;
    char ttl[24], cursor[24];
    snprintf(ttl, sizeof ttl, "%lld", record_ttl_ms(cfg_of(c)));
    snprintf(cursor, sizeof cursor, "%llu", (unsigned long long)s->seq_hi);
    const char *args[] = { s->sid, c->id, cursor, ttl };
    jg_cluster_fcall(c, NULL, NULL, true, "jg_touch", 4, args, NULL);
}

/* Another instance owns S now: a held GET is answered 8:: (the client polls again, maybe
 * there), and the copy here goes without events. */
static void end_moved(struct jg_session *s, const char *why, bool now)
{
    if (!now && s->answering && s->transport && !s->ops->streaming) {
        /* Redis is recording this GET's answer (jg_pend): the client's next request will
         * confirm it, so the answer must carry those messages, not 8::. The copy goes once
         * the record's reply came and the answer went out (pend_reply). */
        s->end_when_answered = why;
        return;
    }
    if (s->transport && !s->ops->streaming) {
        struct jg_buf *noop = s->srv->consts.pkt_noop;
        s->ops->deliver(s->transport, &noop, 1, NULL);
    }
    s->moved = true;
    s->srv->stats.sessions_moved++;
    jg_session_end(s, why, false);
}

void jg_cluster_end_moved(struct jg_session *s, const char *why)
{
    end_moved(s, why, false);
}

static void reregister(struct jg_cluster *c, const char *sid);
static void apply_notice(struct jg_cluster *c, const char *text, size_t len, bool keep);

void jg_cluster_hand_off(struct jg_session *s)
{
    jg_cluster_end_moved(s, "handed off (shutting down)");
}

struct answer_ctx {
    char sid[JG_SID_MAX + 1];
    uint64_t serial;                /* the copy that answered */
    uint64_t to;
};

static void pend_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct answer_ctx *a = priv;
    struct jg_session *s = srv->cluster ? jg_session_find(srv, a->sid) : NULL;
    if (s && s->serial == a->serial) {   /* not a newer copy of the session (that one has no answer pending) */
        long long rc = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        bool ok = rc == 1 || rc == -1;   /* -1: no record to protect; it is registered again */
        jg_session_poll_recorded(s, ok, a->to);
        if (rc == -1)
            reregister(srv->cluster, a->sid);
        if (r && r->type == REDIS_REPLY_INTEGER && rc == 0)
            jg_cluster_end_moved(s, "taken over by another instance");
        else if (s->end_when_answered)
            jg_cluster_end_moved(s, s->end_when_answered);
    }
    free(a);
}

void jg_cluster_record_answer(struct jg_session *s, uint64_t to)
{
    struct jg_cluster *c = s->srv->cluster;
    if (!jg_broker_ready(c->srv->broker)) {
        /* Redis away: no cursor can be kept; the answer goes out as is */
        jg_session_poll_recorded(s, true, to);
        return;
    }
    struct answer_ctx *a = jg_xcalloc(1, sizeof *a);
    snprintf(a->sid, sizeof a->sid, "%s", s->sid);
    a->serial = s->serial;
    a->to = to;
    char tos[24];
    snprintf(tos, sizeof tos, "%llu", (unsigned long long)to);
    char t[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)s->poll_t);
    const char *args[] = { s->sid, c->id, t, tos };
    c->srv->stats.answers_recorded++;
    jg_cluster_fcall(c, pend_reply, a, false, "jg_pend", 4, args, NULL);
}

/* Record field value of NAME in an HGETALL-style reply, or NULL. */
static const redisReply *field(const redisReply *r, const char *name)
{
    for (size_t i = 0; i + 1 < r->elements; i += 2)
        if (r->element[i]->type == REDIS_REPLY_STRING && !strcmp(r->element[i]->str, name))
            return r->element[i + 1];
    return NULL;
}

static uint64_t field_u64(const redisReply *r, const char *name)
{
    const redisReply *v = field(r, name);
    return v && v->type == REDIS_REPLY_STRING ? parse_u64(v->str, v->len) : 0;
}

/* Subscribes S here to CHANNEL as recorded ("<sub-seq> <presence> <json>") or noticed. */
static struct jg_sub *local_subscribe(struct jg_cluster *c, struct jg_session *s, const char *channel,
                                      uint64_t sub_seq, bool presence)
{
    struct jg_server *srv = c->srv;
    jg_channel_subscribe(srv->channels, channel, s, false);
    struct jg_channel *ch = jg_channel_find(srv->channels, channel);
    struct jg_sub *sub = ch ? jg_channel_find_sub(ch, s) : NULL;
    if (sub) {
        sub->presence = presence;
        if (sub->seq_hi < sub_seq)
            sub->seq_hi = sub_seq;
    }
    return sub;
}

/* The session as the record says, here: a fresh copy, or ours brought up to date. */
static struct jg_session *adopt_record(struct jg_cluster *c, const char *sid, const redisReply *r)
{
    struct jg_server *srv = c->srv;
    const redisReply *old = field(r, "old_owner");
    bool was_ours = old && old->type == REDIS_REPLY_STRING && !strcmp(old->str, c->id);
    uint64_t cursor = field_u64(r, "cursor");
    uint64_t gen = field_u64(r, "gen");
    struct jg_session *s = jg_session_find(srv, sid);
    if (!s && field_u64(r, "short") == 1)
        return NULL;   /* ended here while the claim was on its way (a short record: no subs) */
    if (s && !was_ours) {
        /* it moved away and back: rebuild. At once, even while an answer is being
         * recorded: the new copy takes its sid now, and two copies must never share it. */
        end_moved(s, "stale copy replaced", true);
    } else if (s) {
        s->end_when_answered = NULL;   /* ours after all: it stays */
        s->claim_gen = gen;
        jg_session_confirm(s, cursor);
        return s;
    }
    s = jg_session_claimed(srv, sid, field_u64(r, "connected") == 1);
    if (field_u64(r, "created") == 1) {
        srv->stats.sessions_adopted++;   /* a signed sid another instance issued, first used here */
        jg_debug("session %s: adopted (issued by another instance)", sid);
    }
    s->claim_gen = gen;
    s->seq_hi = cursor;
    srv->stats.takeovers++;
    const redisReply *meta = field(r, "meta");
    if (meta && meta->type == REDIS_REPLY_STRING)
        s->meta = json_loadb(meta->str, meta->len, JSON_DECODE_ANY, NULL);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || strncmp(k->str, "sub:", 4))
            continue;
        const char *sp = strchr(v->str, ' ');
        uint64_t sub_seq = parse_u64(v->str, v->len);
        bool presence = sp && sp[1] == '1';
        local_subscribe(c, s, k->str + 4, sub_seq > cursor ? sub_seq : cursor, presence);
    }
    jg_cluster_replay_session(c, s);
    jg_debug("session %s: taken over from instance %s (cursor %llu)", sid,
             old && old->type == REDIS_REPLY_STRING ? old->str : "?", (unsigned long long)cursor);
    return s;
}

/* No record, yet the session is here: Redis lost its data (restarted without persistence).
 * The session is registered again, subscriptions and all (their subscribe events and
 * presence go out again: presence was lost with the data). */
static void reregister(struct jg_cluster *c, const char *sid)
{
    struct jg_session *s = jg_session_find(c->srv, sid);
    if (!s)
        return;
    jg_warn("session " JG_SID_LOG ": its record is gone from Redis (Redis lost its data?); registering it again", sid);
    jg_cluster_session_opened(s, true);
    if (s->meta)
        jg_cluster_meta_changed(s);
    for (struct jg_list *pos = s->subs.next; pos != &s->subs; pos = pos->next) {
        struct jg_sub *sub = jg_container_of(pos, struct jg_sub, session_node);
        jg_cluster_subscribed(s, sub, false, 0, 0, false);
    }
}

struct claim_ctx {
    struct jg_conn *conn;           /* NULL once the connection closed (conn->waiter) or the
                                       request went on without the claim */
    char sid[JG_SID_MAX + 1];
    char t[24];                     /* the poll's t key, "" for none */
    bool connects, polling, create; /* jg_claim's flags, kept to ask again */
    ev_timer patience;              /* Redis slower than a poll may take */
    struct jg_server *srv;
};

/* Redis did not answer the claim within the polling duration (a socket.io client gives up
 * on a request after close-timeout): a session held here is served as it is; a request for
 * a session held elsewhere gets 503 (the balancer retries it). The claim still completes. */
static void claim_patience_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct claim_ctx *cl = w->data;
    struct jg_conn *conn = cl->conn;
    if (!conn)
        return;
    conn->waiter = NULL;
    cl->conn = NULL;
    struct jg_session *s = jg_session_find(cl->srv, cl->sid);
    jg_warn("session " JG_SID_LOG ": Redis did not answer its claim in time; %s", cl->sid,
            s ? "served by this instance as it is" : "answered 503");
    if (s) {
        jg_router_resume_claimed(conn);
        if (s == jg_session_find(cl->srv, cl->sid) && s->transport == conn && !s->ops->streaming) {
            /* this GET already waited a polling duration: answer it now */
            struct jg_buf *noop = cl->srv->consts.pkt_noop;
            s->ops->deliver(conn, &noop, 1, NULL);
        }
    } else {
        conn->held = false;
        conn->req->keep_alive = false;
        jg_http_respond(conn, 503, "text/plain", "Retry-After: 1\r\n", "redis unavailable\n", 18);
    }
}

static void claim_reply(struct jg_server *srv, redisReply *r, void *priv);

/* HAVE: a copy of the session is here, so a short reply will do if we own it */
static void send_claim(struct jg_cluster *c, struct claim_ctx *cl, bool have)
{
    tombstone_get(c, cl->sid, true)->claims++;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", record_ttl_ms(cfg_of(c)));
    const char *args[] = { cl->sid, c->id, cl->t, ttl, cl->connects ? "1" : "0", cl->polling ? "1" : "0",
                           cl->create ? "1" : "0", have ? "1" : "0" };
    c->srv->stats.claims++;
    jg_cluster_fcall(c, claim_reply, cl, true, "jg_claim", 8, args, NULL);
}

static void claim_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct claim_ctx *cl = priv;
    struct jg_conn *conn = cl->conn;
    struct jg_cluster *c = srv->cluster;
    if (c && r && r->type == REDIS_REPLY_ARRAY && field_u64(r, "short") == 1 && !jg_session_find(srv, cl->sid)) {
        /* a short record (we owned it and had a copy), but the copy ended while the claim
         * was on its way: another instance took the session over after our claim, and its
         * notice came first. Ask again for the whole record: this request is the newest. */
        struct tombstone *t = tombstone_get(c, cl->sid, false);
        if (t && t->claims)
            t->claims--;
        send_claim(c, cl, false);
        return;
    }
    ev_timer_stop(srv->loop, &cl->patience);
    if (conn)
        conn->waiter = NULL;
    if (!c) {   /* shutting down */
        free(cl);
        return;
    }
    uint64_t superseded_by = 0;
    struct tombstone *t = tombstone_get(c, cl->sid, false);
    if (t && t->claims)
        t->claims--;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        struct jg_session *s = adopt_record(c, cl->sid, r);
        if (t && t->gen > field_u64(r, "gen"))
            superseded_by = t->gen;   /* another instance claimed it after us */
        if (t && t->notices.len && s) {
            /* changes another instance made after our snapshot, noticed before it came */
            struct jg_sb notices = t->notices;
            t->notices = (struct jg_sb)JG_SB_INIT;
            for (size_t off = 0; off < notices.len; off += strlen(notices.data + off) + 1)
                apply_notice(c, notices.data + off, strlen(notices.data + off), false);
            jg_sb_free(&notices);
        }
    } else if (r && r->type == REDIS_REPLY_NIL) {
        reregister(c, cl->sid);
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        jg_error("cluster: jg_claim failed: %s", r->str);
    }
    if (conn && r && r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "SPENT"))
        conn->sid_spent = true;   /* its session ended: not adopted again (first use wins) */
    if (conn && !conn->closing) {
        if (!r || r->type == REDIS_REPLY_ERROR) {
            conn->held = false;
            conn->req->keep_alive = false;
            jg_http_respond(conn, 503, "text/plain", "Retry-After: 1\r\n", "redis unavailable\n", 18);
        } else {
            jg_router_resume_claimed(conn);
        }
    }
    if (superseded_by) {
        /* the request was served (a POST's packets went to the owner's record); the copy
         * here goes, a held GET answered 8:: so the client polls the owner */
        struct jg_session *s = jg_session_find(srv, cl->sid);
        if (s)
            jg_cluster_end_moved(s, "taken over by another instance");
    }
    free(cl);
}

void jg_cluster_claim(struct jg_conn *conn, const char *sid, const char *t, bool connects, bool polling,
                      bool create)
{
    struct jg_cluster *c = conn->srv->cluster;
    struct claim_ctx *cl = jg_xcalloc(1, sizeof *cl);
    cl->conn = conn;
    cl->srv = conn->srv;
    snprintf(cl->sid, sizeof cl->sid, "%s", sid);
    conn->waiter = &cl->conn;
    ev_timer_init(&cl->patience, claim_patience_cb, cfg_of(c)->polling_duration, 0);
    cl->patience.data = cl;
    ev_timer_start(conn->srv->loop, &cl->patience);
    jg_http_hold(conn);
    snprintf(cl->t, sizeof cl->t, "%s", t ? t : "");
    cl->connects = connects;
    cl->polling = polling;
    cl->create = create;
    send_claim(c, cl, jg_session_find(conn->srv, sid) != NULL);
}

/* ---- subscriptions ---- */

static struct jg_sub *find_sub(struct jg_server *srv, const char *sid, const char *channel,
                               struct jg_session **out)
{
    struct jg_session *s = jg_session_find(srv, sid);
    struct jg_channel *ch = s ? jg_channel_find(srv->channels, channel) : NULL;
    *out = s;
    return ch ? jg_channel_find_sub(ch, s) : NULL;
}

struct backfill_ctx {
    struct jg_list node;            /* in c->backfills while waiting for the stream */
    char sid[JG_SID_MAX + 1];
    char *channel;
    bool has_since;
    uint64_t since;
    uint64_t now;                   /* the seq the backfill is consistent with */
};

static void backfill_free(struct backfill_ctx *b)
{
    free(b->channel);
    free(b);
}

/* The backfill is delivered and this instance has applied the stream up to its point:
 * live delivery resumes with the ring's messages after it (presence changes up to that
 * point are in the snapshot already). */
static void backfill_finish(struct jg_server *srv, struct backfill_ctx *b)
{
    struct jg_session *s;
    struct jg_sub *sub = find_sub(srv, b->sid, b->channel, &s);
    if (sub) {
        sub->backfilling = false;
        jg_cluster_replay_sub(srv->cluster, sub, b->now);
        jg_session_flush(s);
    }
    backfill_free(b);
}

void jg_cluster_backfills_ready(struct jg_cluster *c)
{
    struct jg_list *pos, *n;
    jg_list_each_safe(pos, n, &c->backfills) {
        struct backfill_ctx *b = jg_container_of(pos, struct backfill_ctx, node);
        if (b->now <= c->last_seq) {
            jg_list_remove(&b->node);
            backfill_finish(c->srv, b);
        }
    }
}

void jg_cluster_backfills_free(struct jg_cluster *c)
{
    while (!jg_list_empty(&c->backfills)) {
        struct backfill_ctx *b = jg_container_of(c->backfills.next, struct backfill_ctx, node);
        jg_list_remove(&b->node);
        backfill_free(b);
    }
}


static void send_text(struct jg_session *s, const char *text, size_t len)
{
    struct jg_buf *pkt = jg_buf_new(text, len);
    jg_session_send(s, pkt, NULL);
    jg_buf_unref(pkt);
}

/* {"presence":"snapshot","members":[meta,...],"channel":C,"at":SEQ}: one entry per identity. */
static void send_snapshot(struct jg_session *s, const char *channel, const redisReply *const *kv, size_t npairs,
                          uint64_t at, bool truncated)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_appends(&sb, "3:::{\"presence\":\"snapshot\",\"members\":[");
    json_t *seen = json_object();
    bool first = true;
    for (size_t i = 0; i < npairs; i++) {
        const redisReply *sid = kv[2 * i], *meta = kv[2 * i + 1];
        if (sid->type != REDIS_REPLY_STRING || meta->type != REDIS_REPLY_STRING)
            continue;
        bool none = !strcmp(meta->str, "null");
        if (!none) {
            if (json_object_get(seen, meta->str))
                continue;
            json_object_set_new(seen, meta->str, json_true());
        }
        if (!first)
            jg_sb_appendc(&sb, ',');
        first = false;
        jg_sb_append(&sb, meta->str, meta->len);
    }
    json_decref(seen);
    jg_sb_appends(&sb, "],\"channel\":");
    jg_sio_js_string_append(&sb, channel, strlen(channel), false);
    jg_sb_appendf(&sb, ",\"at\":%llu%s}", (unsigned long long)at, truncated ? ",\"truncated\":true" : "");
    send_text(s, sb.data, sb.len);
    jg_sb_free(&sb);
}

static void backfill_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct backfill_ctx *b = priv;
    struct jg_session *s;
    struct jg_sub *sub = srv->cluster ? find_sub(srv, b->sid, b->channel, &s) : NULL;
    if (!sub)
        goto out;
    uint64_t now = 0;
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 4) {
        now = parse_u64(r->element[0]->str ? r->element[0]->str : "", r->element[0]->len);
        bool trimmed = r->element[1]->type == REDIS_REPLY_INTEGER && r->element[1]->integer == 1;
        size_t nhist = r->element[2]->type == REDIS_REPLY_INTEGER ? (size_t)r->element[2]->integer : 0;
        if (trimmed) {
            struct jg_sb sb = JG_SB_INIT;
            jg_sb_appends(&sb, "3:::{\"error\":\"history trimmed\",\"request\":{\"type\":\"subscribe\",\"channel\":");
            jg_sio_js_string_append(&sb, b->channel, strlen(b->channel), false);
            if (b->has_since)
                jg_sb_appendf(&sb, ",\"since\":%llu", (unsigned long long)b->since);
            jg_sb_appends(&sb, "}}");
            send_text(s, sb.data, sb.len);
            jg_sb_free(&sb);
        }
        size_t i = 3;
        for (size_t k = 0; k < nhist && i + 1 < r->elements; k++, i += 2) {
            const redisReply *sq = r->element[i], *m = r->element[i + 1];
            if (sq->type != REDIS_REPLY_STRING || m->type != REDIS_REPLY_STRING)
                continue;
            struct jg_ring_entry e = { .seq = parse_u64(sq->str, sq->len), .kind = 'D' };
            const char *error;
            if (jg_jug_publish_parse(m->str, m->len, &e.p, &error) != 0)
                continue;
            uint64_t keep = sub->seq_hi;
            sub->seq_hi = 0;   /* history is older than what the subscription has seen live */
            jg_cluster_deliver_to_sub(&e, b->channel, sub);
            sub->seq_hi = keep > e.seq ? keep : e.seq;
            jg_jug_publish_deinit(&e.p);
        }
        if (i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER) {
            size_t npres = (size_t)r->element[i]->integer;
            if (sub->presence && npres <= (r->elements - i - 1) / 2) {   /* no overflow of 2 * npres */
                /* the channel's presence, cut at presence-max-members: "truncated" says so */
                size_t ti = i + 1 + 2 * npres;
                bool truncated = ti < r->elements && r->element[ti]->type == REDIS_REPLY_INTEGER &&
                                 (size_t)r->element[ti]->integer > npres;
                if (truncated)
                    srv->stats.presence_truncated++;
                send_snapshot(s, b->channel, (const redisReply *const *)&r->element[i + 1], npres, now, truncated);
            }
        }
    }
    b->now = now;
    if (now > srv->cluster->last_seq) {
        /* the reply overtook the stream: what was sequenced up to NOW is still on its way
         * here, and must not arrive as live messages after the snapshot */
        jg_list_add_tail(&srv->cluster->backfills, &b->node);
        return;
    }
    backfill_finish(srv, b);
    return;
out:
    backfill_free(b);
}

static void subscribe_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        jg_error("cluster: jg_subscribe failed: %s", r->str);
}

void jg_cluster_subscribed(struct jg_session *s, struct jg_sub *sub, bool has_since, uint64_t since, long history,
                           bool presence)
{
    struct jg_cluster *c = s->srv->cluster;
    const char *channel = sub->channel->name;
    struct jg_sb chjson = JG_SB_INIT;
    jg_sio_js_string_append(&chjson, channel, strlen(channel), false);
    char from[24];   /* where this copy began delivering it (see jg_subscribe) */
    snprintf(from, sizeof from, "%llu", (unsigned long long)sub->seq_hi);
    const char *args[] = { s->sid, c->id, channel, chjson.data, presence ? "1" : "0", from };
    jg_cluster_fcall(c, subscribe_reply, NULL, true, "jg_subscribe", 6, args, NULL);
    jg_sb_free(&chjson);
    if (!has_since && history <= 0 && !presence)
        return;
    struct backfill_ctx *b = jg_xcalloc(1, sizeof *b);
    snprintf(b->sid, sizeof b->sid, "%s", s->sid);
    b->channel = jg_xstrdup(channel);
    b->has_since = has_since;
    b->since = since;
    sub->backfilling = true;
    char sinces[24] = "", counts[24], ages[24];
    if (has_since)
        snprintf(sinces, sizeof sinces, "%llu", (unsigned long long)since);
    snprintf(counts, sizeof counts, "%ld", history > 0 ? history : 0);
    snprintf(ages, sizeof ages, "0");
    char maxp[24];
    snprintf(maxp, sizeof maxp, "%zu", cfg_of(c)->presence_max_members);
    const char *bargs[] = { channel, sinces, counts, presence ? "1" : "0", ages, maxp };
    jg_cluster_fcall(c, backfill_reply, b, true, "jg_backfill", 6, bargs, NULL);
}

void jg_cluster_unsubscribed(struct jg_session *s, const char *channel)
{
    struct jg_cluster *c = s->srv->cluster;
    const char *args[] = { s->sid, c->id, channel };
    jg_cluster_fcall(c, NULL, NULL, true, "jg_unsubscribe", 3, args, NULL);
}

void jg_cluster_meta_changed(struct jg_session *s)
{
    struct jg_cluster *c = s->srv->cluster;
    size_t n = 0;
    char *json = s->meta ? jg_jug_json_dump(s->meta, &n) : NULL;
    const char *args[] = { s->sid, c->id, json ? json : "" };
    size_t lens[] = { strlen(s->sid), strlen(c->id), n };
    jg_cluster_fcall(c, NULL, NULL, true, "jg_meta", 3, args, lens);
    free(json);
}

/* A claim of SID is on its way: keep the notice TEXT, to apply once the claim's snapshot
 * arrives (the copy here, if any, may be replaced by it). True if kept. */
static bool buffer_notice(struct jg_cluster *c, const char *sid, const char *text, size_t len)
{
    struct tombstone *t = tombstone_get(c, sid, false);
    if (!t || !t->claims)
        return false;
    jg_sb_append(&t->notices, text, len);
    jg_sb_appendc(&t->notices, '\0');
    return true;
}

/* "drop <sid> <gen>", "sub <sid> <seq> <presence> <channel>", "unsub <sid> <channel>",
 * "meta <sid> <json>". KEEP: a change for a session whose claim is on its way is also kept
 * for after the claim (false when applying what was kept). */
static void apply_notice(struct jg_cluster *c, const char *text, size_t len, bool keep)
{
    char *copy = jg_xstrndup(text, len);
    char *verb = copy, *sid = strchr(copy, ' ');
    struct jg_session *s = NULL;
    if (sid) {
        *sid++ = '\0';
        char *rest = strchr(sid, ' ');
        if (rest)
            *rest++ = '\0';
        s = jg_session_find(c->srv, sid);
        if (!strcmp(verb, "drop")) {
            uint64_t gen = rest ? parse_u64(rest, strlen(rest)) : 0;
            /* remembered even when ending the copy here: a claim of ours still on its way
             * is superseded too, and must not bring the session back */
            remember_drop(c, sid, gen);
            if (s && gen > s->claim_gen)
                jg_cluster_end_moved(s, "taken over by another instance");
        } else if (keep && buffer_notice(c, sid, text, len) && !s) {
            /* kept for the claim on its way */
        } else if (s && !strcmp(verb, "sub") && rest) {
            uint64_t seq = parse_u64(rest, strlen(rest));
            char *p = strchr(rest, ' ');
            char *channel = p ? strchr(p + 1, ' ') : NULL;
            if (channel) {
                struct jg_sub *sub = local_subscribe(c, s, channel + 1, seq, p[1] == '1');
                if (sub)
                    jg_cluster_replay_sub(c, sub, 0);
            }
        } else if (s && !strcmp(verb, "unsub") && rest) {
            jg_channel_unsubscribe(c->srv->channels, rest, s);
        } else if (s && !strcmp(verb, "meta") && rest) {
            if (s->meta)
                json_decref(s->meta);
            s->meta = *rest ? json_loads(rest, JSON_DECODE_ANY, NULL) : NULL;
        }
    }
    free(copy);
}

void jg_cluster_notice(struct jg_cluster *c, const char *text, size_t len)
{
    apply_notice(c, text, len, true);
}

