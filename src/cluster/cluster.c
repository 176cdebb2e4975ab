/* cluster.c: cluster mode's sequence side (cluster.h). Every message gets its number in
 * Redis (redis/juggernaut.lua): the leader, which holds a lease, sequences the legacy
 * `PUBLISH juggernaut` messages; every instance keeps those it heard until it sees them
 * come back sequenced (so a new leader sequences what the old one missed), delivers from
 * juggernaut:sequenced in order (filling gaps from the log) and keeps a ring of recent
 * messages for sessions that move here (cluster_session.c). Also the instance's heartbeat,
 * the reaping of dead instances, and the lifetime of it all. */
#include "cluster/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "cluster/broker.h"
#include "base/buf.h"
#include "core/channel.h"
#include "cluster/cluster_int.h"
#include "base/hash.h"
#include "proto/juggernaut.h"
#include "base/log.h"
#include "core/pubsub.h"
#include "app/server.h"
#include "core/session.h"
#include "proto/sid.h"
#include "proto/sio.h"
#include "base/xalloc.h"

extern const char jg_lua_library[];   /* redis/juggernaut.lua, embedded by the Makefile */

#define CATCHUP_BATCH 1000     /* log entries per XRANGE */
#define LEGACY_MAX 100000      /* legacy messages kept until seen sequenced (a burst) */
#define BEAT_EVERY 1.0         /* s: heartbeat, lease renewal, reaping */
#define REAP_BATCH 1000        /* sessions of a dead instance looked at per Redis call */
#define SECRET_KEY "jg:secret"  /* the sid secret the instances share (no cluster-secret) */

/* FCALL NAME 0 ARGS... on the publisher link. */
void jg_cluster_fcall(struct jg_cluster *c, jg_broker_reply_fn *cb, void *priv, bool requeue, const char *name,
                  int nargs, const char *const *args, const size_t *lens)
{
    const char **argv = jg_xcalloc((size_t)nargs + 3, sizeof *argv);
    size_t *alens = jg_xcalloc((size_t)nargs + 3, sizeof *alens);
    argv[0] = "FCALL";
    argv[1] = name;
    argv[2] = "0";
    for (int i = 0; i < 3; i++)
        alens[i] = strlen(argv[i]);
    for (int i = 0; i < nargs; i++) {
        argv[3 + i] = args[i];
        alens[3 + i] = lens ? lens[i] : strlen(args[i]);
    }
    jg_broker_command(c->srv->broker, cb, priv, requeue, 3 + nargs, argv, alens);
    free(argv);
    free(alens);
}

/* ---- delivery and replay from the ring (ring.h) ---- */

static bool targets(const struct jg_ring_entry *e, const char *channel)
{
    for (size_t i = 0; i < e->p.nchannels; i++)
        if (!strcmp(e->p.channels[i], channel))
            return true;
    return false;
}

/* Message E on CHANNEL to one subscription, unless it had it already. */
void jg_cluster_deliver_to_sub(const struct jg_ring_entry *e, const char *channel, struct jg_sub *sub)
{
    if (e->seq <= sub->seq_hi || (e->kind == 'P' && !sub->presence))
        return;
    sub->seq_hi = e->seq;
    if (jg_jug_publish_excepts(&e->p, sub->session->sid))
        return;
    size_t n;
    char *text = jg_jug_publish_packet_seq(&e->p, channel, e->seq, &n);
    struct jg_buf *pkt = jg_buf_new(text, n);
    free(text);
    jg_session_send_seq(sub->session, pkt, NULL, e->seq);
    jg_buf_unref(pkt);
}

/* The ring's messages on SUB's channel after seq AFTER (presence ones after P_AFTER). */
void jg_cluster_replay_sub(struct jg_cluster *c, struct jg_sub *sub, uint64_t p_after)
{
    const char *name = sub->channel->name;
    for (size_t i = jg_ring_after(&c->ring, sub->seq_hi); i < c->ring.len; i++) {
        struct jg_ring_entry *e = jg_ring_at(&c->ring, i);
        if (e->kind == 'P' && e->seq <= p_after)
            continue;
        if (targets(e, name))
            jg_cluster_deliver_to_sub(e, name, sub);
    }
}

/* Delivers E to S's subscriptions on E's channels (BACKFILLING ones too when ALL). */
static void deliver_to_session(struct jg_cluster *c, const struct jg_ring_entry *e, struct jg_session *s, bool all)
{
    for (size_t k = 0; k < e->p.nchannels; k++) {
        struct jg_channel *ch = jg_channel_find(c->srv->channels, e->p.channels[k]);
        struct jg_sub *sub = ch ? jg_channel_find_sub(ch, s) : NULL;
        if (sub && (all || !sub->backfilling))
            jg_cluster_deliver_to_sub(e, e->p.channels[k], sub);
    }
}

static uint64_t session_cursor(struct jg_session *s)
{
    uint64_t from = UINT64_MAX;
    for (struct jg_list *pos = s->subs.next; pos != &s->subs; pos = pos->next) {
        struct jg_sub *sub = jg_container_of(pos, struct jg_sub, session_node);
        if (sub->seq_hi < from)
            from = sub->seq_hi;
    }
    return from;
}

static void set_backfilling(struct jg_session *s, bool on, uint64_t seq_floor)
{
    for (struct jg_list *pos = s->subs.next; pos != &s->subs; pos = pos->next) {
        struct jg_sub *sub = jg_container_of(pos, struct jg_sub, session_node);
        sub->backfilling = on;
        if (sub->seq_hi < seq_floor)
            sub->seq_hi = seq_floor;
    }
}

/* {"error":"messages lost","request":{"type":"subscribe","channel":C},"from":A,"to":B}:
 * neither the ring nor the Redis log still holds what S missed from A to B (some of which
 * may have been on C). Shaped like "history trimmed" (no top-level channel, so no channel
 * callback of the original client sees it); our application.js raises "gap". */
static void tell_lost(struct jg_cluster *c, struct jg_session *s, uint64_t from, uint64_t to)
{
    c->srv->stats.replay_gaps++;
    jg_warn("session " JG_SID_LOG ": messages %llu..%llu are neither in the ring nor in the Redis log (cluster-ring-size, "
            "cluster-ring-bytes, cluster-log-size); the client is told", s->sid,
            (unsigned long long)from, (unsigned long long)to);
    for (struct jg_list *pos = s->subs.next; pos != &s->subs; pos = pos->next) {
        struct jg_sub *sub = jg_container_of(pos, struct jg_sub, session_node);
        struct jg_sb sb = JG_SB_INIT;
        jg_sb_appends(&sb, "3:::{\"error\":\"messages lost\",\"request\":{\"type\":\"subscribe\",\"channel\":");
        jg_sio_js_string_append(&sb, sub->channel->name, strlen(sub->channel->name), false);
        jg_sb_appendf(&sb, "},\"from\":%llu,\"to\":%llu}", (unsigned long long)from, (unsigned long long)to);
        struct jg_buf *pkt = jg_buf_new(sb.data, sb.len);
        jg_session_send(s, pkt, NULL);
        jg_buf_unref(pkt);
        jg_sb_free(&sb);
    }
}

struct log_replay {
    char sid[JG_SID_MAX + 1];
    uint64_t from, to;              /* the session missed (FROM, TO]; the ring has what follows */
};

/* The part of a moved session's backlog older than the ring, read from jg:log: delivered
 * in order, then the ring's part (replay_session again, now from TO). */
static void log_replay_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct log_replay *lr = priv;
    struct jg_cluster *c = srv->cluster;
    struct jg_session *s = c ? jg_session_find(srv, lr->sid) : NULL;
    if (!s || s->ended)
        goto out;
    uint64_t next = lr->from + 1;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t k = 0; k < r->elements; k++) {
            struct jg_ring_entry e = { 0 };
            const char *text, *error;
            size_t len;
            if (!jg_cluster_log_entry(r->element[k], &e.seq, &e.kind, &text, &len) || e.seq <= lr->from ||
                e.seq > lr->to || jg_jug_publish_parse(text, len, &e.p, &error) != 0)
                continue;
            if (e.seq > next)
                tell_lost(c, s, next, e.seq - 1);
            deliver_to_session(c, &e, s, true);
            next = e.seq + 1;
            jg_jug_publish_deinit(&e.p);
        }
    }
    if (next <= lr->to)
        tell_lost(c, s, next, lr->to);
    set_backfilling(s, false, lr->to);
    jg_cluster_replay_session(c, s);
    jg_session_flush(s);
out:
    free(lr);
}

/* The ring's messages S has not had on any of its channels, in sequence order; what is
 * older than the ring comes from the Redis log first. */
void jg_cluster_replay_session(struct jg_cluster *c, struct jg_session *s)
{
    uint64_t from = session_cursor(s);
    if (from == UINT64_MAX || !from)
        return;
    uint64_t oldest = c->ring.len ? jg_ring_at(&c->ring, 0)->seq : c->last_seq + 1;
    if (oldest > from + 1 && c->last_seq > from) {
        /* the ring no longer holds everything after the session's cursor: read the rest
         * from jg:log; live messages wait in the ring meanwhile (the subscriptions are
         * backfilling, so no answer confirms past them) */
        struct log_replay *lr = jg_xcalloc(1, sizeof *lr);
        snprintf(lr->sid, sizeof lr->sid, "%s", s->sid);
        lr->from = from;
        lr->to = oldest - 1;
        set_backfilling(s, true, 0);
        c->srv->stats.replays_from_log++;
        char start[48], end[48];
        snprintf(start, sizeof start, "(%llu-0", (unsigned long long)from);
        snprintf(end, sizeof end, "%llu-0", (unsigned long long)lr->to);
        const char *argv[] = { "XRANGE", "jg:log", start, end };
        jg_broker_command(c->srv->broker, log_replay_reply, lr, false, 4, argv, NULL);
        return;
    }
    for (size_t i = jg_ring_after(&c->ring, from); i < c->ring.len; i++)
        deliver_to_session(c, jg_ring_at(&c->ring, i), s, false);
}

/* ---- legacy messages and the leader ---- */

/* Keyed (hash.h): publishers choose the texts, and equal hashes share a table entry and
 * cost a list walk in legacy_seen. */
static uint64_t text_hash(const char *text, size_t len)
{
    return jg_hash(text, len);
}

/* How many pending entries have text hash H (so a text that is not pending costs no scan). */
static struct text_count *text_count(struct jg_cluster *c, uint64_t h, bool create)
{
    struct text_count *t = NULL;
    HASH_FIND(hh, c->pending_texts, &h, sizeof h, t);
    if (!t && create) {
        t = jg_xcalloc(1, sizeof *t);
        t->hash = h;
        HASH_ADD(hh, c->pending_texts, hash, sizeof t->hash, t);
    }
    return t;
}

static void legacy_remove(struct jg_cluster *c, struct legacy *l)
{
    struct text_count *t = text_count(c, l->hash, false);
    if (t && --t->n == 0) {
        HASH_DEL(c->pending_texts, t);
        free(t);
    }
    jg_list_remove(&l->node);
    c->nlegacy--;
    free(l->text);
    free(l);
}

/* An entry no leader sequenced in time: it was heard here but not by the leader. */
static void legacy_give_up(struct jg_cluster *c, struct legacy *l, const char *why)
{
    c->srv->stats.legacy_unsequenced++;
    if (c->srv->stats.legacy_unsequenced == 1 || c->srv->stats.legacy_unsequenced % 1000 == 0)
        jg_warn("cluster: a message on \"juggernaut\" was not sequenced: %s; dropped (%lld so far)", why,
                (long long)c->srv->stats.legacy_unsequenced);
    legacy_remove(c, l);
}

/* Message TEXT came back sequenced: it is no longer pending here. Sequenced messages come
 * back in the order they were heard, so the match is at the head, after entries the
 * leader never heard: those are given up once older than 3 x leader-lease (an entry this
 * instance handed to jg_sequence itself is waited for). */
static void legacy_seen(struct jg_cluster *c, const char *text, size_t len)
{
    uint64_t h = text_hash(text, len);
    if (!text_count(c, h, false))
        return;   /* not heard here */
    double too_old = ev_now(c->srv->loop) - 3 * cfg_of(c)->leader_lease;
    struct jg_list *pos, *n;
    jg_list_each_safe(pos, n, &c->legacy) {
        struct legacy *l = jg_container_of(pos, struct legacy, node);
        if (l->hash == h && l->len == len && !memcmp(l->text, text, len)) {
            legacy_remove(c, l);
            return;
        }
        if (l->at < too_old && !l->sent)
            legacy_give_up(c, l, "no leader sequenced it in time");
    }
}

static void step_down(struct jg_cluster *c, const char *why)
{
    if (c->role != FOLLOWER)
        jg_info("cluster: no longer the leader: %s", why);
    c->role = FOLLOWER;
    c->srv->stats.cluster_leader = 0;
    for (struct jg_list *pos = c->legacy.next; pos != &c->legacy; pos = pos->next)
        jg_container_of(pos, struct legacy, node)->sent = false;
}

static void sequence_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct jg_cluster *c = srv->cluster;
    if (!c)
        return;
    if (!r) {
        step_down(c, "the Redis link broke while sequencing");
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (!strncmp(r->str, "NOTLEADER", 9))
            step_down(c, "another instance holds the lease");
        else
            jg_error("cluster: jg_sequence failed: %s", r->str);
        return;
    }
    srv->stats.messages_sequenced++;
}

static void sequence_legacy(struct jg_cluster *c, struct legacy *l)
{
    struct jg_jug_publish p;
    const char *error = NULL;
    if (jg_jug_publish_parse(l->text, l->len, &p, &error) != 0) {
        legacy_remove(c, l);
        return;
    }
    /* the leader's id, the text, and its channels (for their history) */
    size_t nargs = 2 + p.nchannels;
    const char **args = jg_xcalloc(nargs, sizeof *args);
    size_t *lens = jg_xcalloc(nargs, sizeof *lens);
    args[0] = c->id;
    lens[0] = strlen(c->id);
    args[1] = l->text;
    lens[1] = l->len;
    for (size_t i = 2; i < nargs; i++) {
        args[i] = p.channels[i - 2];
        lens[i] = strlen(args[i]);
    }
    l->sent = true;
    jg_cluster_fcall(c, sequence_reply, NULL, false, "jg_sequence", (int)nargs, args, lens);
    free(args);
    free(lens);
    jg_jug_publish_deinit(&p);
}

static void sequence_pending(struct jg_cluster *c)
{
    struct jg_list *pos, *n;
    jg_list_each_safe(pos, n, &c->legacy) {
        struct legacy *l = jg_container_of(pos, struct legacy, node);
        if (!l->sent) {
            sequence_legacy(c, l);
            if (c->role != LEADER)
                return;
        }
    }
}

void jg_cluster_legacy_message(struct jg_cluster *c, const char *text, size_t len)
{
    struct jg_server *srv = c->srv;
    srv->stats.messages_in++;
    struct jg_jug_publish p;
    const char *error = NULL;
    if (jg_jug_publish_parse(text, len, &p, &error) != 0) {
        srv->stats.messages_invalid++;
        jg_info("redis: dropped a message on \"juggernaut\": %s (%zu bytes)", error ? error : "invalid", len);
        return;
    }
    jg_jug_publish_deinit(&p);
    if (c->nlegacy >= LEGACY_MAX) {
        struct legacy *old = jg_container_of(c->legacy.next, struct legacy, node);
        if (old->sent)
            legacy_remove(c, old);   /* handed to jg_sequence: it is in Redis's hands */
        else
            legacy_give_up(c, old, "too many waiting (a burst with no leader)");
    }
    struct legacy *l = jg_xcalloc(1, sizeof *l);
    l->text = jg_xstrndup(text, len);
    l->len = len;
    l->hash = text_hash(text, len);
    text_count(c, l->hash, true)->n++;
    l->at = ev_now(srv->loop);
    jg_list_add_tail(&c->legacy, &l->node);
    c->nlegacy++;
    if (c->role == LEADER)
        sequence_legacy(c, l);
}

/* ---- sequenced messages ---- */

static void apply(struct jg_cluster *c, uint64_t seq, char kind, const char *text, size_t len, bool fan_out)
{
    struct jg_server *srv = c->srv;
    c->last_seq = seq;
    srv->stats.sequenced_in++;
    if (kind == 'L')
        legacy_seen(c, text, len);
    struct jg_jug_publish p;
    const char *error = NULL;
    if (jg_jug_publish_parse(text, len, &p, &error) != 0) {
        srv->stats.messages_invalid++;
        jg_info("cluster: dropped sequenced message %llu: %s", (unsigned long long)seq, error ? error : "invalid");
        if (!jg_list_empty(&c->backfills))
            jg_cluster_backfills_ready(c);
        return;
    }
    struct jg_ring_entry *e = jg_ring_push(&c->ring, len);
    e->seq = seq;
    e->kind = kind;
    e->p = p;
    if (!fan_out)
        return;
    jg_pubsub_deliver(srv, &e->p, seq, kind == 'P');
    /* after the fan-out, which skipped subscriptions still backfilling */
    if (!jg_list_empty(&c->backfills))
        jg_cluster_backfills_ready(c);
}

static void hold(struct jg_cluster *c, uint64_t seq, char kind, const char *text, size_t len)
{
    struct held_seq *h = jg_xcalloc(1, sizeof *h);
    h->seq = seq;
    h->kind = kind;
    h->text = jg_xstrndup(text, len);
    h->len = len;
    if (c->held_tail)
        c->held_tail->next = h;
    else
        c->held_head = h;
    c->held_tail = h;
}

static void catchup(struct jg_cluster *c);

/* One sequenced message in stream order: applied, or held while a gap is filled. */
static void receive(struct jg_cluster *c, uint64_t seq, char kind, const char *text, size_t len)
{
    if (seq <= c->last_seq)
        return;
    if (c->catching_up) {
        hold(c, seq, kind, text, len);
        return;
    }
    if (c->last_seq && seq != c->last_seq + 1) {
        c->srv->stats.sequence_gaps++;
        hold(c, seq, kind, text, len);
        catchup(c);
        return;
    }
    apply(c, seq, kind, text, len, true);
}

/* "<seq> <kind> <json>" */
static int split_sequenced(const char *text, size_t len, uint64_t *seq, char *kind, const char **json,
                           size_t *jlen)
{
    const char *sp = memchr(text, ' ', len);
    if (!sp || sp == text || (size_t)(sp - text) + 3 > len || sp[2] != ' ')
        return -1;
    *seq = parse_u64(text, (size_t)(sp - text));
    *kind = sp[1];
    *json = sp + 3;
    *jlen = len - (size_t)(sp + 3 - text);
    return *seq ? 0 : -1;
}

void jg_cluster_sequenced_message(struct jg_cluster *c, const char *text, size_t len)
{
    uint64_t seq;
    char kind;
    const char *json;
    size_t jlen;
    if (split_sequenced(text, len, &seq, &kind, &json, &jlen) != 0) {
        jg_warn("cluster: malformed message on %s ignored (%zu bytes)", JG_CLUSTER_SEQUENCED, len);
        return;
    }
    receive(c, seq, kind, json, jlen);
}

static void drain_held(struct jg_cluster *c)
{
    while (c->held_head && !c->catching_up) {
        struct held_seq *h = c->held_head;
        c->held_head = h->next;
        if (!c->held_head)
            c->held_tail = NULL;
        receive(c, h->seq, h->kind, h->text, h->len);
        free(h->text);
        free(h);
    }
}

/* An XRANGE/XREVRANGE entry: [id, [field, value, ...]] */
bool jg_cluster_log_entry(const redisReply *e, uint64_t *seq, char *kind, const char **text, size_t *len)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return false;
    *seq = parse_u64(e->element[0]->str, e->element[0]->len);
    *kind = 'D';
    *text = NULL;
    *len = 0;
    const redisReply *f = e->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        if (f->element[i]->type != REDIS_REPLY_STRING || f->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        if (!strcmp(f->element[i]->str, "k") && f->element[i + 1]->len)
            *kind = f->element[i + 1]->str[0];
        else if (!strcmp(f->element[i]->str, "m")) {
            *text = f->element[i + 1]->str;
            *len = f->element[i + 1]->len;
        }
    }
    return *seq && *text;
}

static void catchup_done(struct jg_cluster *c)
{
    c->catching_up = false;
    if (c->catchup_again) {
        c->catchup_again = false;
        catchup(c);
        return;
    }
    drain_held(c);
    if (!c->catching_up && c->role == ALIGNING) {
        c->role = LEADER;
        c->srv->stats.cluster_leader = 1;
        jg_info("cluster: leader (instance %s); sequencing messages on \"juggernaut\"", c->id);
        sequence_pending(c);
    }
}

static void replay_claimed_early(struct jg_session *s, void *arg)
{
    jg_cluster_replay_session(arg, s);
}

static void catchup_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct jg_cluster *c = srv->cluster;
    bool tail = priv != NULL;   /* XREVRANGE of a fresh instance */
    if (!c)
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY) {
        if (r && r->type == REDIS_REPLY_ERROR)
            jg_error("cluster: reading jg:log failed: %s", r->str);
        c->catching_up = false;   /* the next link-up starts again */
        return;
    }
    size_t n = r->elements;
    for (size_t k = 0; k < n; k++) {
        const redisReply *e = r->element[tail ? n - 1 - k : k];
        uint64_t seq;
        char kind;
        const char *text;
        size_t len;
        if (jg_cluster_log_entry(e, &seq, &kind, &text, &len) && seq > c->last_seq)
            apply(c, seq, kind, text, len, !tail);
    }
    if (!tail && n == CATCHUP_BATCH) {
        c->catching_up = false;
        catchup(c);
        return;
    }
    if (tail) {
        /* sessions claimed before this instance knew where the stream stood (it just
         * started) were replayed from an empty ring: now that the ring holds the log's
         * tail, they get what they missed, before anything held is delivered */
        jg_session_each(srv, replay_claimed_early, c);
    }
    catchup_done(c);
}

/* Reads the log after last_seq (or its tail, for a fresh instance) before delivering more. */
static void catchup(struct jg_cluster *c)
{
    if (c->catching_up) {
        c->catchup_again = true;
        return;
    }
    c->catching_up = true;
    char count[24], start[48];
    if (c->last_seq == 0) {
        snprintf(count, sizeof count, "%zu", c->ring.cap);
        const char *argv[] = { "XREVRANGE", "jg:log", "+", "-", "COUNT", count };
        jg_broker_command(c->srv->broker, catchup_reply, c, false, 6, argv, NULL);
        return;
    }
    snprintf(start, sizeof start, "(%llu-0", (unsigned long long)c->last_seq);
    snprintf(count, sizeof count, "%d", CATCHUP_BATCH);
    const char *argv[] = { "XRANGE", "jg:log", start, "+", "COUNT", count };
    jg_broker_command(c->srv->broker, catchup_reply, NULL, false, 6, argv, NULL);
}

void jg_cluster_subscriber_ready(struct jg_cluster *c)
{
    c->subscribed_since = ev_now(c->srv->loop);
    catchup(c);
}

/* ---- heartbeat, lease, reaping ---- */

static void library_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    redisReply *r = reply;
    if (r && r->type == REDIS_REPLY_ERROR)
        jg_error("cluster: loading redis/juggernaut.lua into Redis failed: %s. Cluster mode needs Redis 7.0 or "
                 "newer; set \"cluster no\" for an older Redis", r->str);
}

/* SET jg:secret NX GET: nil = our candidate is the secret now, else the one another
 * instance set first. */
static void secret_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct jg_cluster *c = srv->cluster;
    if (!c || !r)
        return;
    const char *secret = NULL;
    if (r->type == REDIS_REPLY_NIL)
        secret = c->secret_candidate;
    else if (r->type == REDIS_REPLY_STRING && r->len >= 16 && r->len < sizeof srv->shared_secret &&
             strlen(r->str) == r->len)
        secret = r->str;
    if (!secret) {
        jg_error("cluster: %s holds no usable secret (%s); session ids stay unsigned. Delete the key, or set "
                 "cluster-secret in the config", SECRET_KEY, r->type == REDIS_REPLY_ERROR ? r->str : "16 to 64 characters expected");
        return;
    }
    if (strcmp(srv->shared_secret, secret) != 0) {
        if (srv->shared_secret[0])
            jg_warn("cluster: the shared secret in Redis (%s) changed; session ids issued before are refused by the "
                    "other instances", SECRET_KEY);
        else
            jg_info("cluster: session ids are signed with the secret the instances share in Redis (%s)", SECRET_KEY);
        snprintf(srv->shared_secret, sizeof srv->shared_secret, "%s", secret);
    }
}

/* Without a cluster-secret the instances still sign their sids, with a secret they agree on
 * through Redis: the first to connect sets it, the others read it. So a handshake needs no
 * session record in Redis (another instance adopts the signed sid), and nothing has to be
 * configured. Anyone who can read Redis can forge sids then, as anyone who can write it can
 * already publish or end sessions. */
static void read_shared_secret(struct jg_cluster *c)
{
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return;   /* no secret: sids stay plain, records are written at handshakes */
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(c->secret_candidate + 2 * i, 3, "%02x", rnd[i]);
    const char *argv[] = { "SET", SECRET_KEY, c->secret_candidate, "NX", "GET" };
    jg_broker_command(c->srv->broker, secret_reply, NULL, false, 5, argv, NULL);
}

void jg_cluster_publisher_ready(struct jg_cluster *c, struct redisAsyncContext *ac)
{
    step_down(c, "the Redis link was re-established");
    redisAsyncCommand(ac, library_reply, NULL, "FUNCTION LOAD REPLACE %s", jg_lua_library);
    /* beat before anything queued (session records) runs: an instance that owns sessions is
     * one the reapers know */
    const struct jg_config *cfg = cfg_of(c);
    char ttl[24], logsize[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)(cfg->instance_timeout * 1000));
    snprintf(logsize, sizeof logsize, "%zu", cfg->cluster_log_size);
    char spent[24];
    snprintf(spent, sizeof spent, "%lld", (long long)cfg->handshake_expiry + 60);
    const char *argv[] = { "FCALL", "jg_beat", "0", c->id, ttl, logsize, cfg->history, "young", spent };
    redisAsyncCommandArgv(ac, NULL, NULL, 9, argv, NULL);
    if (!cfg->cluster_secret)
        read_shared_secret(c);
    /* and claim the lease (or see who holds it) now rather than at the next tick */
    ev_feed_event(c->srv->loop, &c->beat, EV_TIMER);
}

static void lease_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct jg_cluster *c = srv->cluster;
    if (!c || !r || r->type != REDIS_REPLY_INTEGER)
        return;
    if (r->integer == 1 && c->role == FOLLOWER && !srv->draining) {
        c->role = ALIGNING;
        catchup(c);
        if (!c->catching_up)
            catchup_done(c);
    } else if (r->integer == 0 && c->role != FOLLOWER) {
        step_down(c, "another instance holds the lease");
    }
}

static void reap_dead(struct jg_cluster *c);

/* {ended, more}: MORE says a dead instance has sessions left to look at: the next batch
 * goes at once (each batch is one bounded call, so neither Redis nor the loop stalls). */
static void reap_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER)
        return;
    long long ended = r->element[0]->integer;
    /* a count of sessions: anything beyond 2^31 is not one (and would overflow the counter) */
    if (ended > 0 && ended < INT32_MAX) {
        srv->stats.sessions_reaped += ended;
        jg_warn("cluster: ended %lld sessions of instances that stopped beating (their unsubscribe events "
                "sent)", ended);
    }
    if (r->element[1]->integer == 1 && srv->cluster && !srv->draining)
        reap_dead(srv->cluster);
}

/* The sessions of instances that stopped beating: ended once their clients had
 * close-timeout to come back (jg_reap in redis/juggernaut.lua). */
static void reap_dead(struct jg_cluster *c)
{
    char close_ms[24], budget[24];
    snprintf(close_ms, sizeof close_ms, "%lld", (long long)(cfg_of(c)->close_timeout * 1000));
    snprintf(budget, sizeof budget, "%d", REAP_BATCH);
    const char *args[] = { c->id, close_ms, budget };
    jg_cluster_fcall(c, reap_reply, NULL, false, "jg_reap_dead", 3, args, NULL);
}

static void beat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_cluster *c = w->data;
    const struct jg_config *cfg = cfg_of(c);
    if (!jg_broker_ready(c->srv->broker))
        return;
    char ttl[24], lease[24], logsize[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)(cfg->instance_timeout * 1000));
    snprintf(lease, sizeof lease, "%lld", (long long)(cfg->leader_lease * 1000));
    snprintf(logsize, sizeof logsize, "%zu", cfg->cluster_log_size);
    /* young: subscribed too recently to have heard every message still waiting to be
     * sequenced; it defers to a mature instance for the lease */
    bool subscribed = jg_broker_subscribed(c->srv->broker);
    bool young = !subscribed || ev_now(loop) - c->subscribed_since < 3 * cfg->leader_lease;
    char state[48] = "young", since[24] = "";
    if (young && subscribed) {
        /* when it began listening: among young instances the oldest listener leads */
        snprintf(since, sizeof since, "%.0f", c->subscribed_since * 1000);
        snprintf(state, sizeof state, "young:%s", since);
    } else if (!young) {
        snprintf(state, sizeof state, "mature");
    }
    char spent[24];   /* how long a signed sid stays valid: its ended session's jg:spent */
    snprintf(spent, sizeof spent, "%lld", (long long)cfg->handshake_expiry + 60);
    const char *beat[] = { c->id, ttl, logsize, cfg->history, state, spent };
    jg_cluster_fcall(c, NULL, NULL, false, "jg_beat", 6, beat, NULL);
    jg_cluster_forget_drops(c, ev_now(loop) - 10);
    if (c->srv->draining) {
        jg_cluster_draining(c);
    } else if (!jg_broker_subscribed(c->srv->broker)) {
        /* a leader that cannot hear "juggernaut" would leave what it misses unsequenced:
         * another instance (which heard it) takes over */
        if (c->role != FOLLOWER) {
            const char *me_id[] = { c->id };
            jg_cluster_fcall(c, NULL, NULL, false, "jg_release", 1, me_id, NULL);
            step_down(c, "the subscriber link to Redis is down");
        }
    } else {
        const char *args[] = { c->id, lease, young ? "1" : "0", since };
        jg_cluster_fcall(c, lease_reply, NULL, false, "jg_lease", 4, args, NULL);
    }
    reap_dead(c);
}

void jg_cluster_draining(struct jg_cluster *c)
{
    if (!c->released) {
        /* hand the lease over now rather than after it runs out */
        const char *me[] = { c->id };
        jg_cluster_fcall(c, NULL, NULL, false, "jg_release", 1, me, NULL);
        c->released = true;
    }
    step_down(c, "shutting down");
}

uint64_t jg_cluster_last_seq(const struct jg_cluster *c)
{
    return c->last_seq;
}

/* ---- lifetime ---- */

struct jg_cluster *jg_cluster_new(struct jg_server *srv)
{
    struct jg_cluster *c = jg_xcalloc(1, sizeof *c);
    c->srv = srv;
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    snprintf(c->id, sizeof c->id, "%d-%02x%02x%02x%02x%02x%02x", srv->cfg->port, rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    jg_list_init(&c->legacy);
    jg_list_init(&c->backfills);
    jg_ring_init(&c->ring, srv->cfg->cluster_ring_size, srv->cfg->cluster_ring_bytes);
    ev_timer_init(&c->beat, beat_cb, 0.05, BEAT_EVERY);
    c->beat.data = c;
    ev_timer_start(srv->loop, &c->beat);
    jg_info("cluster mode: instance %s", c->id);
    return c;
}

void jg_cluster_free(struct jg_cluster *c)
{
    if (!c)
        return;
    ev_timer_stop(c->srv->loop, &c->beat);
    jg_cluster_forget_drops(c, 1e300);
    jg_cluster_backfills_free(c);
    jg_ring_deinit(&c->ring);
    while (!jg_list_empty(&c->legacy))
        legacy_remove(c, jg_container_of(c->legacy.next, struct legacy, node));
    while (c->held_head) {
        struct held_seq *h = c->held_head;
        c->held_head = h->next;
        free(h->text);
        free(h);
    }
    free(c);
}

const char *jg_cluster_id(const struct jg_cluster *c)
{
    return c->id;
}
