/* cluster_session.c: sessions in cluster mode (cluster_int.h). A session's record lives in
 * Redis (jg:session:<sid>); whichever instance gets a request of the session claims it
 * (jg_claim) and serves it from a local copy, rebuilt from the record and the ring when the
 * session comes from elsewhere. The old owner is told (a "drop" notice, with the claim's
 * generation) and lets its copy go without events. Polling answers are recorded before
 * they are written, so a retried request re-sends them. Subscriptions, meta, history
 * backfills and presence go through the record too. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include "base/hash.h"

#include "base/buf.h"
#include "base/log.h"
#include "base/sb.h"
#include "base/xalloc.h"
#include "cluster/broker.h"
#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "core/channel.h"
#include "core/session.h"
#include "proto/juggernaut.h"
#include "proto/sid.h"

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
        t->at = ev_now(c->loop);
    return t;
}

static void tombstone_free(struct jg_cluster *c, struct tombstone *t)
{
    HASH_DEL(c->tombstones, t);
    jg_sb_free(&t->notices);
    free(t);
}

bool jg_cluster_claim_pending(void *bp, const char *sid)
{
    struct jg_cluster *c = bp;
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

void jg_cluster_session_opened(struct jg_cluster *c, struct jg_session *s, bool adopted)
{
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", record_ttl_ms(c->cfg));
    const char *args[] = { jg_session_sid(s), c->id, ttl, adopted ? "1" : "0" };
    jg_session_bp_state(s)->recorded = true;
    jg_cluster_fcall(c, NULL, NULL, true, "jg_session_open", 4, args, NULL);
}

/* A signed sid (a cluster-secret, or the secret the instances share through Redis): the
 * record waits for the first transport request (a flood of handshakes costs Redis nothing;
 * another instance adopts the signed sid without a lookup). A plain sid (only before this
 * instance has read the shared secret): another instance can only find the session by its
 * record. */
void jg_cluster_session_created(void *bp, struct jg_session *s)
{
    struct jg_cluster *c = bp;
    if (!jg_core_sid_secret(c->core))
        jg_cluster_session_opened(c, s, false);
}

void jg_cluster_session_ended(void *bp, struct jg_session *s)
{
    struct jg_cluster *c = bp;
    if (!jg_session_bp_state(s)->recorded)
        return;   /* never used: Redis never heard of it */
    const char *args[] = { jg_session_sid(s), c->id };
    jg_cluster_fcall(c, NULL, NULL, true, "jg_end", 2, args, NULL);
}

void jg_cluster_touch(void *bp, struct jg_session *s)
{
    struct jg_cluster *c = bp;
    char ttl[24], cursor[24];
    snprintf(ttl, sizeof ttl, "%lld", record_ttl_ms(c->cfg));
    snprintf(cursor, sizeof cursor, "%llu", (unsigned long long)jg_session_seq_hi(s));
    const char *args[] = { jg_session_sid(s), c->id, cursor, ttl };
    jg_cluster_fcall(c, NULL, NULL, true, "jg_touch", 4, args, NULL);
}

/* Another instance owns S now: a held GET is answered 8:: (the client polls again, maybe
 * there), and the copy here goes without events. */
static void end_moved(struct jg_session *s, const char *why, bool now)
{
    if (!now && jg_session_answering(s) && jg_session_holds_poll(s)) {
        /* Redis is recording this GET's answer (jg_pend): the client's next request will
         * confirm it, so the answer must carry those messages, not 8::. The copy goes once
         * the record's reply came and the answer went out (pend_reply). */
        jg_session_bp_state(s)->end_when_answered = why;
        return;
    }
    jg_session_end_moved(s, why);
}

void jg_cluster_end_moved(struct jg_session *s, const char *why)
{
    end_moved(s, why, false);
}

static void reregister(struct jg_cluster *c, const char *sid);
static void apply_notice(struct jg_cluster *c, const char *text, size_t len, bool keep);

void jg_cluster_hand_off(void *bp, struct jg_session *s)
{
    jg_cluster_end_moved(s, "handed off (shutting down)");
}

struct answer_ctx {
    char sid[JG_SID_MAX + 1];
    uint64_t serial;                /* the copy that answered */
    uint64_t to;
};

static void pend_reply(void *user, redisReply *r, void *priv)
{
    struct answer_ctx *a = priv;
    struct jg_cluster *c = user;
    struct jg_session *s = c ? jg_session_find(c->core, a->sid) : NULL;
    if (s && jg_session_serial(s) == a->serial) {   /* not a newer copy of the session (that one has no answer pending) */
        long long rc = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        jg_debug("session %s: answer up to %llu recorded: %lld", a->sid, (unsigned long long)a->to, rc);
        bool ok = rc == 1 || rc == -1;   /* -1: no record to protect; it is registered again */
        jg_session_poll_recorded(s, ok, a->to);
        if (rc == -1)
            reregister(c, a->sid);
        const char *why = jg_session_bp_state(s)->end_when_answered;
        if (r && r->type == REDIS_REPLY_INTEGER && rc == 0)
            jg_cluster_end_moved(s, "taken over by another instance");
        else if (why)
            jg_cluster_end_moved(s, why);
    }
    free(a);
}

void jg_cluster_record_answer(void *bp, struct jg_session *s, uint64_t to)
{
    struct jg_cluster *c = bp;
    if (!jg_broker_ready(c->broker)) {
        /* Redis away: no cursor can be kept; the answer goes out as is */
        jg_session_poll_recorded(s, true, to);
        return;
    }
    struct answer_ctx *a = jg_xcalloc(1, sizeof *a);
    snprintf(a->sid, sizeof a->sid, "%s", jg_session_sid(s));
    a->serial = jg_session_serial(s);
    a->to = to;
    char tos[24];
    snprintf(tos, sizeof tos, "%llu", (unsigned long long)to);
    char t[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)jg_session_poll_t(s));
    const char *args[] = { jg_session_sid(s), c->id, t, tos };
    c->stats->answers_recorded++;
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

/* The session as the record says, here: a fresh copy, or ours brought up to date. */
static struct jg_session *adopt_record(struct jg_cluster *c, const char *sid, const redisReply *r)
{
    const redisReply *old = field(r, "old_owner");
    bool was_ours = old && old->type == REDIS_REPLY_STRING && !strcmp(old->str, c->id);
    uint64_t cursor = field_u64(r, "cursor");
    uint64_t gen = field_u64(r, "gen");
    struct jg_session *s = jg_session_find(c->core, sid);
    if (!s && field_u64(r, "short") == 1)
        return NULL;   /* ended here while the claim was on its way (a short record: no subs) */
    if (s && !was_ours) {
        /* it moved away and back: rebuild. At once, even while an answer is being
         * recorded: the new copy takes its sid now, and two copies must never share it. */
        end_moved(s, "stale copy replaced", true);
    } else if (s) {
        jg_session_bp_state(s)->end_when_answered = NULL;   /* ours after all: it stays */
        jg_session_bp_state(s)->claim_gen = gen;
        jg_session_confirm(s, cursor);
        return s;
    }
    s = jg_session_claimed(c->core, sid, field_u64(r, "connected") == 1);
    if (field_u64(r, "created") == 1) {
        c->stats->sessions_adopted++;   /* a signed sid another instance issued, first used here */
        jg_debug("session %s: adopted (issued by another instance)", sid);
    }
    jg_session_bp_state(s)->claim_gen = gen;
    jg_session_set_seq_hi(s, cursor);
    c->stats->takeovers++;
    const redisReply *meta = field(r, "meta");
    if (meta && meta->type == REDIS_REPLY_STRING)
        jg_session_set_meta(s, json_loadb(meta->str, meta->len, JSON_DECODE_ANY, NULL));
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const redisReply *k = r->element[i], *v = r->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || strncmp(k->str, "sub:", 4))
            continue;
        const char *sp = strchr(v->str, ' ');
        uint64_t sub_seq = parse_u64(v->str, v->len);
        bool presence = sp && sp[1] == '1';
        jg_cluster_local_subscribe(c, s, k->str + 4, sub_seq > cursor ? sub_seq : cursor, presence);
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
    struct jg_session *s = jg_session_find(c->core, sid);
    if (!s)
        return;
    jg_warn("session " JG_SID_LOG ": its record is gone from Redis (Redis lost its data?); registering it again", sid);
    jg_cluster_session_opened(c, s, true);
    if (jg_session_meta(s))
        jg_cluster_meta_changed(c, s);
    const struct jg_subscribe_req none = { 0 };
    for (struct jg_sub *sub = jg_sub_first(s); sub; sub = jg_sub_next(s, sub))
        jg_cluster_subscribed(c, s, sub, &none);
}

struct claim_ctx {
    jg_claim_done_fn *done;         /* NULL once called (the patience ran out first) */
    void *arg;
    struct jg_cluster *c;
    char sid[JG_SID_MAX + 1];
    char t[24];                     /* the poll's t key, "" for none */
    bool connects, polling, create; /* jg_claim's flags, kept to ask again */
    ev_timer patience;              /* Redis slower than a poll may take */
};

static void claim_done(struct claim_ctx *cl, enum jg_claim_result result)
{
    jg_claim_done_fn *done = cl->done;
    cl->done = NULL;
    if (done)
        done(cl->arg, result);
}

/* Redis did not answer the claim within the polling duration (a socket.io client gives up
 * on a request after close-timeout): the request is served as things are here (or 503);
 * the claim still completes. */
static void claim_patience_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    claim_done(w->data, JG_CLAIM_LATE);
}

static void claim_reply(void *user, redisReply *r, void *priv);

/* HAVE: a copy of the session is here, so a short reply will do if we own it */
static void send_claim(struct jg_cluster *c, struct claim_ctx *cl, bool have)
{
    tombstone_get(c, cl->sid, true)->claims++;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", record_ttl_ms(c->cfg));
    const char *args[] = { cl->sid, c->id, cl->t, ttl, cl->connects ? "1" : "0", cl->polling ? "1" : "0",
                           cl->create ? "1" : "0", have ? "1" : "0" };
    c->stats->claims++;
    jg_debug("session %s: claim sent (t %s, have %d, create %d)", cl->sid, cl->t, have, cl->create);
    jg_cluster_fcall(c, claim_reply, cl, true, "jg_claim", 8, args, NULL);
}

static void claim_reply(void *user, redisReply *r, void *priv)
{
    struct claim_ctx *cl = priv;
    struct jg_cluster *c = user;
    if (c && r && r->type == REDIS_REPLY_ARRAY && field_u64(r, "short") == 1 && !jg_session_find(c->core, cl->sid)) {
        /* a short record (we owned it and had a copy), but the copy ended while the claim
         * was on its way: another instance took the session over after our claim, and its
         * notice came first. Ask again for the whole record: this request is the newest. */
        struct tombstone *t = tombstone_get(c, cl->sid, false);
        if (t && t->claims)
            t->claims--;
        send_claim(c, cl, false);
        return;
    }
    ev_timer_stop(cl->c->loop, &cl->patience);
    if (!c) {   /* shutting down */
        claim_done(cl, JG_CLAIM_FAILED);
        free(cl);
        return;
    }
    uint64_t superseded_by = 0;
    struct tombstone *t = tombstone_get(c, cl->sid, false);
    if (t && t->claims)
        t->claims--;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        const redisReply *old = field(r, "old_owner");
        jg_debug("session %s: claim reply (t %s): gen %llu, old owner %s%s; here: copy %d, noticed drop gen %llu, "
                 "%zu bytes of notices kept", cl->sid, cl->t, (unsigned long long)field_u64(r, "gen"),
                 old && old->type == REDIS_REPLY_STRING ? old->str : "?", field_u64(r, "short") == 1 ? ", short" : "",
                 jg_session_find(c->core, cl->sid) != NULL, (unsigned long long)(t ? t->gen : 0),
                 t ? t->notices.len : 0);
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
    if (!r || r->type == REDIS_REPLY_ERROR)
        claim_done(cl, JG_CLAIM_FAILED);
    else if (r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "SPENT"))
        claim_done(cl, JG_CLAIM_SPENT);   /* its session ended: not adopted again (first use wins) */
    else
        claim_done(cl, JG_CLAIM_DONE);
    if (superseded_by) {
        /* the request was served (a POST's packets went to the owner's record); the copy
         * here goes, a held GET answered 8:: so the client polls the owner */
        struct jg_session *s = jg_session_find(c->core, cl->sid);
        if (s)
            jg_cluster_end_moved(s, "taken over by another instance");
    }
    /* a tombstone that only counted this claim has nothing left to say: it goes now, not
     * seconds later (a burst of claims would hold one per session meanwhile) */
    t = tombstone_get(c, cl->sid, false);
    if (t && !t->claims && !t->gen && !t->notices.len)
        tombstone_free(c, t);
    free(cl);
}

/* Unrecorded: S was handshaken here and has no record yet (its first transport request
 * writes it, by a claim that creates it). */
static bool unrecorded(const struct jg_claim *cl, struct jg_session *s)
{
    return s && !jg_session_bp_state(s)->recorded && !cl->disconnect;
}

bool jg_cluster_claim_needed(void *bp, const struct jg_claim *cl, struct jg_session *s)
{
    struct jg_cluster *c = bp;
    bool ready = jg_broker_ready(c->broker);
    if (unrecorded(cl, s) && !ready) {
        /* Redis away: the record is queued, and the request served here */
        jg_cluster_session_opened(c, s, false);
    }
    /* a session not here, or a polling GET (its record confirms the last answer), or any
     * request while a claim of the session from here is on its way: that claim's reply may
     * replace the copy here (the session moved meanwhile) with one built from the record as
     * it was before this request's subscribe, unsubscribe or meta, which Redis then tells no
     * one (this instance owns the session by then). A claim sent behind it resumes the
     * request on the copy that stays. With Redis away, the instance that holds a session
     * serves it as it is (no message can be sequenced meanwhile anyway). A draining
     * instance claims only what it holds. */
    bool need = !s || unrecorded(cl, s) || (ready && (cl->polling_get || jg_cluster_claim_pending(c, cl->sid)));
    return need && (!c->core->draining || s);
}

void jg_cluster_claim(void *bp, const struct jg_claim *cl, struct jg_session *s, jg_claim_done_fn *done, void *arg)
{
    struct jg_cluster *c = bp;
    struct claim_ctx *ctx = jg_xcalloc(1, sizeof *ctx);
    ctx->done = done;
    ctx->arg = arg;
    ctx->c = c;
    snprintf(ctx->sid, sizeof ctx->sid, "%s", cl->sid);
    if (cl->has_t)
        snprintf(ctx->t, sizeof ctx->t, "%llu", (unsigned long long)cl->t);
    ctx->connects = cl->connects;
    ctx->polling = cl->polling;
    /* the first request of a sid handshaken here, or of a signed sid another instance
     * issued: the claim writes the record if there is none (whichever instance comes first;
     * the other takes it over from the record) */
    bool fresh = unrecorded(cl, s);
    if (fresh)
        jg_session_bp_state(s)->recorded = true;   /* by this claim, ahead of anything else of it */
    ctx->create = fresh || (!s && jg_session_adoptable(c->core, cl->sid));
    ev_timer_init(&ctx->patience, claim_patience_cb, c->cfg->polling_duration, 0);
    ctx->patience.data = ctx;
    ev_timer_start(c->loop, &ctx->patience);
    send_claim(c, ctx, s != NULL);
}

/* A plain sid in cluster mode (issued before this instance read the shared secret from
 * Redis) is found by another instance only by its record, written at the handshake
 * (jg_cluster_session_created). A signed sid needs no record to be adopted. */
bool jg_cluster_sid_unknown(void *bp, const struct jg_session *s)
{
    struct jg_cluster *c = bp;
    return !jg_core_sid_secret(c->core) && jg_broker_ready(c->broker);
}

struct after_ctx {
    jg_claim_done_fn *done;
    void *arg;
};

static void after_reply(void *user, redisReply *r, void *priv)
{
    struct after_ctx *a = priv;
    a->done(a->arg, r ? JG_CLAIM_DONE : JG_CLAIM_FAILED);
    free(a);
}

/* A PING queued behind what was sent: Redis runs one connection's commands in order. */
void jg_cluster_after_record(void *bp, jg_claim_done_fn *done, void *arg)
{
    struct jg_cluster *c = bp;
    struct after_ctx *a = jg_xcalloc(1, sizeof *a);
    a->done = done;
    a->arg = arg;
    const char *argv[] = { "PING" };
    jg_broker_command(c->broker, after_reply, a, false, 1, argv, NULL);
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
    jg_debug("notice%s: %s", keep ? "" : " (kept)", copy);
    char *verb = copy, *sid = strchr(copy, ' ');
    struct jg_session *s = NULL;
    if (sid) {
        *sid++ = '\0';
        char *rest = strchr(sid, ' ');
        if (rest)
            *rest++ = '\0';
        s = jg_session_find(c->core, sid);
        if (!strcmp(verb, "drop")) {
            uint64_t gen = rest ? parse_u64(rest, strlen(rest)) : 0;
            /* remembered even when ending the copy here: a claim of ours still on its way
             * is superseded too, and must not bring the session back */
            remember_drop(c, sid, gen);
            if (s && gen > jg_session_bp_state(s)->claim_gen)
                jg_cluster_end_moved(s, "taken over by another instance");
        } else if (keep && buffer_notice(c, sid, text, len) && !s) {
            /* kept for the claim on its way */
        } else if (s && !strcmp(verb, "sub") && rest) {
            uint64_t seq = parse_u64(rest, strlen(rest));
            char *p = strchr(rest, ' ');
            char *channel = p ? strchr(p + 1, ' ') : NULL;
            if (channel) {
                struct jg_sub *sub = jg_cluster_local_subscribe(c, s, channel + 1, seq, p[1] == '1');
                if (sub)
                    jg_cluster_replay_sub(c, sub, 0);
            }
        } else if (s && !strcmp(verb, "unsub") && rest) {
            jg_channel_unsubscribe(c->core->channels, rest, s);
        } else if (s && !strcmp(verb, "meta") && rest) {
            jg_session_set_meta(s, *rest ? json_loads(rest, JSON_DECODE_ANY, NULL) : NULL);
        }
    }
    free(copy);
}

void jg_cluster_notice(struct jg_cluster *c, const char *text, size_t len)
{
    apply_notice(c, text, len, true);
}

