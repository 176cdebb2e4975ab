/* cluster.c: cluster mode (cluster.h). The sequence, the log, history, session records and
 * presence live in Redis and change only inside redis/juggernaut.lua's functions; this file
 * keeps the local side in step: the leader role, the legacy messages not yet sequenced,
 * the ring of recent sequenced messages every instance delivers from, and the local copies
 * of sessions that move between instances. */
#include "cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <uthash.h>

#include "broker.h"
#include "buf.h"
#include "channel.h"
#include "conn.h"
#include "http.h"
#include "juggernaut.h"
#include "log.h"
#include "router.h"
#include "sb.h"
#include "server.h"
#include "session.h"
#include "sid.h"
#include "sio.h"
#include "xalloc.h"

extern const char jg_lua_library[];   /* redis/juggernaut.lua, embedded by the Makefile */

#define CATCHUP_BATCH 1000     /* log entries per XRANGE */
#define LEGACY_MAX 100000      /* legacy messages kept until seen sequenced (a burst) */
#define BEAT_EVERY 1.0         /* s: heartbeat, lease renewal, reaping */

enum role { FOLLOWER, ALIGNING, LEADER };

struct ring_entry {
    uint64_t seq;
    char kind;                      /* 'L' legacy, 'D' direct, 'P' presence */
    struct jg_jug_publish p;
};

struct legacy {
    struct jg_list node;
    char *text;
    size_t len;
    uint64_t hash;                  /* of the text */
    double at;                      /* ev_now when heard */
    bool sent;                      /* handed to jg_sequence by this instance as leader */
};

struct text_count {
    uint64_t hash;
    size_t n;
    UT_hash_handle hh;
};

struct held_seq {                   /* a sequenced message waiting for a catch-up to finish */
    struct held_seq *next;
    uint64_t seq;
    char kind;
    char *text;
    size_t len;
};

/* Notices about a session this instance does not hold (yet) while its own claim may still
 * be on the way (replies and notices come on different links): a "drop" says the claim is
 * already superseded; "sub"/"unsub"/"meta" changes made after the claim's snapshot are
 * applied once it arrives. Kept a few seconds. */
struct tombstone {
    char sid[JG_SID_MAX + 1];
    uint64_t gen;                   /* highest drop generation noticed */
    struct jg_sb notices;           /* NUL-separated notice texts to apply after the claim */
    unsigned claims;                /* claims of this sid in flight here */
    double at;
    UT_hash_handle hh;
};

struct jg_cluster {
    struct jg_server *srv;          /* borrowed */
    char id[48];
    enum role role;
    uint64_t last_seq;              /* highest seq applied, in order */
    bool catching_up;
    bool catchup_again;
    struct held_seq *held_head, *held_tail;
    struct jg_list legacy;          /* struct legacy, oldest first */
    size_t nlegacy;
    struct text_count *pending_texts;   /* uthash: entries of LEGACY per text hash */
    struct ring_entry *ring;        /* circular, ascending seq */
    size_t ring_cap, ring_start, ring_len;
    ev_timer beat;
    struct tombstone *tombstones;   /* uthash by sid */
    bool released;                  /* the lease was given up (draining) */
    double subscribed_since;        /* ev_now when the subscriber link last came up */
};

static struct jg_config *cfg_of(struct jg_cluster *c)
{
    return c->srv->cfg;
}

static long long record_ttl_ms(const struct jg_config *cfg)
{
    /* a session with no request for this long is gone anyway */
    return (long long)((cfg->close_timeout + cfg->polling_duration + cfg->heartbeat_interval +
                        cfg->heartbeat_timeout) * 1000) + 5000;
}

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

static void remember_drop(struct jg_cluster *c, const char *sid, uint64_t gen)
{
    struct tombstone *t = tombstone_get(c, sid, true);
    if (gen > t->gen)
        t->gen = gen;
}

static void forget_drops(struct jg_cluster *c, double older_than)
{
    struct tombstone *t, *tmp;
    HASH_ITER(hh, c->tombstones, t, tmp) {
        if (t->at < older_than && !t->claims)
            tombstone_free(c, t);
    }
}

/* FCALL NAME 0 ARGS... on the publisher link. */
static void fcall(struct jg_cluster *c, jg_broker_reply_fn *cb, void *priv, bool requeue, const char *name,
                  int nargs, const char *const *args, const size_t *lens)
{
    const char *argv[16];
    size_t alens[16];
    argv[0] = "FCALL";
    argv[1] = name;
    argv[2] = "0";
    for (int i = 0; i < 3; i++)
        alens[i] = strlen(argv[i]);
    for (int i = 0; i < nargs && i < 13; i++) {
        argv[3 + i] = args[i];
        alens[3 + i] = lens ? lens[i] : strlen(args[i]);
    }
    jg_broker_command(c->srv->broker, cb, priv, requeue, 3 + nargs, argv, alens);
}

static uint64_t parse_u64(const char *s, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

/* ---- the ring of recent sequenced messages ---- */

static struct ring_entry *ring_at(struct jg_cluster *c, size_t i)
{
    return &c->ring[(c->ring_start + i) % c->ring_cap];
}

static struct ring_entry *ring_push(struct jg_cluster *c)
{
    if (c->ring_len == c->ring_cap) {
        jg_jug_publish_deinit(&ring_at(c, 0)->p);
        c->ring_start = (c->ring_start + 1) % c->ring_cap;
        c->ring_len--;
    }
    struct ring_entry *e = ring_at(c, c->ring_len++);
    memset(e, 0, sizeof *e);
    return e;
}

/* Index of the first entry with seq > SEQ (ring_len if none). */
static size_t ring_after(struct jg_cluster *c, uint64_t seq)
{
    size_t lo = 0, hi = c->ring_len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (ring_at(c, mid)->seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool targets(const struct ring_entry *e, const char *channel)
{
    for (size_t i = 0; i < e->p.nchannels; i++)
        if (!strcmp(e->p.channels[i], channel))
            return true;
    return false;
}

/* Message E on CHANNEL to one subscription, unless it had it already. */
static void deliver_to_sub(const struct ring_entry *e, const char *channel, struct jg_sub *sub)
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
static void replay_sub(struct jg_cluster *c, struct jg_sub *sub, uint64_t after, uint64_t p_after)
{
    const char *name = sub->channel->name;
    for (size_t i = ring_after(c, after); i < c->ring_len; i++) {
        struct ring_entry *e = ring_at(c, i);
        if (e->kind == 'P' && e->seq <= p_after)
            continue;
        if (targets(e, name))
            deliver_to_sub(e, name, sub);
    }
}

/* S's subscription to CHANNEL, or NULL (a session has few subscriptions). */
static struct jg_sub *session_sub(struct jg_session *s, const char *channel)
{
    for (struct jg_list *pos = s->subs.next; pos != &s->subs; pos = pos->next) {
        struct jg_sub *sub = jg_container_of(pos, struct jg_sub, session_node);
        if (!strcmp(sub->channel->name, channel))
            return sub;
    }
    return NULL;
}

/* The ring's messages S has not had on any of its channels, in sequence order. */
static void replay_session(struct jg_cluster *c, struct jg_session *s)
{
    uint64_t from = UINT64_MAX;
    for (struct jg_list *pos = s->subs.next; pos != &s->subs; pos = pos->next) {
        struct jg_sub *sub = jg_container_of(pos, struct jg_sub, session_node);
        if (sub->seq_hi < from)
            from = sub->seq_hi;
    }
    if (from == UINT64_MAX)
        return;
    if (c->ring_len && from && ring_at(c, 0)->seq > from + 1) {
        /* the ring no longer holds everything after the session's cursor */
        c->srv->stats.replay_gaps++;
        jg_warn("session %s: messages %llu..%llu are older than the last %zu kept (cluster-ring-size); "
                "they are not replayed", s->sid, (unsigned long long)from + 1,
                (unsigned long long)ring_at(c, 0)->seq - 1, c->ring_cap);
    }
    for (size_t i = ring_after(c, from); i < c->ring_len; i++) {
        struct ring_entry *e = ring_at(c, i);
        for (size_t k = 0; k < e->p.nchannels; k++) {
            struct jg_sub *sub = session_sub(s, e->p.channels[k]);
            if (sub && !sub->backfilling)
                deliver_to_sub(e, e->p.channels[k], sub);
        }
    }
}

/* ---- legacy messages and the leader ---- */

static uint64_t text_hash(const char *text, size_t len)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ULL;
    return h;
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
    size_t nargs = 2 + (p.nchannels > 11 ? 11 : p.nchannels);
    const char *args[13];
    size_t lens[13];
    args[0] = c->id;
    lens[0] = strlen(c->id);
    args[1] = l->text;
    lens[1] = l->len;
    for (size_t i = 2; i < nargs; i++) {
        args[i] = p.channels[i - 2];
        lens[i] = strlen(args[i]);
    }
    if (p.nchannels > 11)
        jg_warn("cluster: a message to %zu channels: only the first 11 keep history", p.nchannels);
    l->sent = true;
    fcall(c, sequence_reply, NULL, false, "jg_sequence", (int)nargs, args, lens);
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
        return;
    }
    struct ring_entry *e = ring_push(c);
    e->seq = seq;
    e->kind = kind;
    e->p = p;
    if (!fan_out)
        return;
    for (size_t i = 0; i < p.nchannels; i++) {
        struct jg_channel *ch = jg_channel_find(srv->channels, p.channels[i]);
        if (!ch)
            continue;
        size_t n;
        char *pkt_text = jg_jug_publish_packet_seq(&e->p, p.channels[i], seq, &n);
        struct jg_buf *pkt = jg_buf_new(pkt_text, n);
        free(pkt_text);
        jg_channel_publish_seq(ch, pkt, e->p.except, e->p.nexcept, seq, kind == 'P');
        jg_buf_unref(pkt);
    }
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
static bool log_entry(const redisReply *e, uint64_t *seq, char *kind, const char **text, size_t *len)
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
        if (log_entry(e, &seq, &kind, &text, &len) && seq > c->last_seq)
            apply(c, seq, kind, text, len, !tail);
    }
    if (!tail && n == CATCHUP_BATCH) {
        c->catching_up = false;
        catchup(c);
        return;
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
        snprintf(count, sizeof count, "%zu", c->ring_cap);
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

void jg_cluster_publisher_ready(struct jg_cluster *c, struct redisAsyncContext *ac)
{
    step_down(c, "the Redis link was re-established");
    redisAsyncCommand(ac, library_reply, NULL, "FUNCTION LOAD REPLACE %s", jg_lua_library);
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

static void reap_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
        srv->stats.sessions_reaped += r->integer;
        jg_warn("cluster: ended %lld sessions of instances that stopped beating (their unsubscribe events "
                "sent)", r->integer);
    }
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
    const char *beat[] = { c->id, ttl, logsize, cfg->history };
    fcall(c, NULL, NULL, false, "jg_beat", 4, beat, NULL);
    forget_drops(c, ev_now(loop) - 10);
    if (c->srv->draining) {
        jg_cluster_draining(c);
    } else if (!jg_broker_subscribed(c->srv->broker)) {
        /* a leader that cannot hear "juggernaut" would leave what it misses unsequenced:
         * another instance (which heard it) takes over */
        if (c->role != FOLLOWER) {
            const char *me_id[] = { c->id };
            fcall(c, NULL, NULL, false, "jg_release", 1, me_id, NULL);
            step_down(c, "the subscriber link to Redis is down");
        }
    } else {
        /* young: it may not have heard messages still waiting to be sequenced */
        bool young = !jg_broker_subscribed(c->srv->broker) ||
                     ev_now(loop) - c->subscribed_since < 3 * cfg->leader_lease;
        const char *args[] = { c->id, lease, young ? "1" : "0" };
        fcall(c, lease_reply, NULL, false, "jg_lease", 3, args, NULL);
    }
    const char *me[] = { c->id };
    fcall(c, reap_reply, NULL, false, "jg_reap_dead", 1, me, NULL);
}

void jg_cluster_draining(struct jg_cluster *c)
{
    if (!c->released) {
        /* hand the lease over now rather than after it runs out */
        const char *me[] = { c->id };
        fcall(c, NULL, NULL, false, "jg_release", 1, me, NULL);
        c->released = true;
    }
    step_down(c, "shutting down");
}

/* ---- sessions ---- */

void jg_cluster_session_opened(struct jg_session *s, bool adopted)
{
    struct jg_cluster *c = s->srv->cluster;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", record_ttl_ms(cfg_of(c)));
    const char *args[] = { s->sid, c->id, ttl, adopted ? "1" : "0" };
    fcall(c, NULL, NULL, true, "jg_session_open", 4, args, NULL);
}

void jg_cluster_session_ended(struct jg_session *s)
{
    struct jg_cluster *c = s->srv->cluster;
    const char *args[] = { s->sid, c->id };
    fcall(c, NULL, NULL, true, "jg_end", 2, args, NULL);
}

void jg_cluster_session_touch(struct jg_session *s)
{
    struct jg_cluster *c = s->srv->cluster;
    char ttl[24], cursor[24];
    snprintf(ttl, sizeof ttl, "%lld", record_ttl_ms(cfg_of(c)));
    snprintf(cursor, sizeof cursor, "%llu", (unsigned long long)s->seq_hi);
    const char *args[] = { s->sid, c->id, cursor, ttl };
    fcall(c, NULL, NULL, true, "jg_touch", 4, args, NULL);
}

/* Another instance owns S now: a held GET is answered 8:: (the client polls again, maybe
 * there), and the copy here goes without events. */
static void end_moved(struct jg_session *s, const char *why)
{
    if (s->transport && !s->ops->streaming) {
        struct jg_buf *noop = s->srv->consts.pkt_noop;
        s->ops->deliver(s->transport, &noop, 1, NULL);
    }
    s->moved = true;
    s->srv->stats.sessions_moved++;
    jg_session_end(s, why, false);
}

static void reregister(struct jg_cluster *c, const char *sid);
static void apply_notice(struct jg_cluster *c, const char *text, size_t len);

void jg_cluster_hand_off(struct jg_session *s)
{
    end_moved(s, "handed off (shutting down)");
}

struct answer_ctx {
    char sid[JG_SID_MAX + 1];
    uint64_t to;
};

static void pend_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct answer_ctx *a = priv;
    struct jg_session *s = srv->cluster ? jg_session_find(srv, a->sid) : NULL;
    if (s) {
        long long rc = r && r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
        bool ok = rc == 1 || rc == -1;   /* -1: no record to protect; it is registered again */
        jg_session_poll_recorded(s, ok, a->to);
        if (rc == -1)
            reregister(srv->cluster, a->sid);
        else if (r && r->type == REDIS_REPLY_INTEGER && rc == 0)
            end_moved(s, "taken over by another instance");
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
    a->to = to;
    char tos[24];
    snprintf(tos, sizeof tos, "%llu", (unsigned long long)to);
    char t[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)s->poll_t);
    const char *args[] = { s->sid, c->id, t, tos };
    c->srv->stats.answers_recorded++;
    fcall(c, pend_reply, a, false, "jg_pend", 4, args, NULL);
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
    if (s && !was_ours)
        end_moved(s, "stale copy replaced");   /* it moved away and back: rebuild */
    else if (s) {
        s->claim_gen = gen;
        jg_session_confirm(s, cursor);
        return s;
    }
    s = jg_session_claimed(srv, sid, field_u64(r, "connected") == 1);
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
    replay_session(c, s);
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
    jg_warn("session %s: its record is gone from Redis (Redis lost its data?); registering it again", sid);
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
    jg_warn("session %s: Redis did not answer its claim in time; %s", cl->sid,
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

static void claim_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct claim_ctx *cl = priv;
    struct jg_conn *conn = cl->conn;
    struct jg_cluster *c = srv->cluster;
    ev_timer_stop(srv->loop, &cl->patience);
    if (conn)
        conn->waiter = NULL;
    if (!c) {   /* shutting down */
        free(cl);
        return;
    }
    struct jg_session *held = c ? jg_session_find(srv, cl->sid) : NULL;
    if (held && held->claims_pending)
        held->claims_pending--;
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
            unsigned claims = t->claims;
            t->claims = 0;   /* applied now, not kept again */
            for (size_t off = 0; off < notices.len; off += strlen(notices.data + off) + 1)
                apply_notice(c, notices.data + off, strlen(notices.data + off));
            t->claims = claims;
            jg_sb_free(&notices);
        }
    } else if (r && r->type == REDIS_REPLY_NIL) {
        reregister(c, cl->sid);
    }
    else if (c && r && r->type == REDIS_REPLY_ERROR)
        jg_error("cluster: jg_claim failed: %s", r->str);
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
            end_moved(s, "taken over by another instance");
    }
    free(cl);
}

void jg_cluster_claim(struct jg_conn *conn, const char *sid, const char *t, bool connects)
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
    struct jg_session *s = jg_session_find(conn->srv, sid);
    if (s)
        s->claims_pending++;
    tombstone_get(c, sid, true)->claims++;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", record_ttl_ms(cfg_of(c)));
    const char *args[] = { sid, c->id, t ? t : "", ttl, connects ? "1" : "0" };
    c->srv->stats.claims++;
    fcall(c, claim_reply, cl, true, "jg_claim", 5, args, NULL);
}

/* ---- subscriptions ---- */

struct backfill_ctx {
    char sid[JG_SID_MAX + 1];
    char *channel;
    bool has_since;
    uint64_t since;
};

static struct jg_sub *find_sub(struct jg_server *srv, const char *sid, const char *channel,
                               struct jg_session **out)
{
    struct jg_session *s = jg_session_find(srv, sid);
    struct jg_channel *ch = s ? jg_channel_find(srv->channels, channel) : NULL;
    *out = s;
    return ch ? jg_channel_find_sub(ch, s) : NULL;
}

static void send_text(struct jg_session *s, const char *text, size_t len, uint64_t seq)
{
    struct jg_buf *pkt = jg_buf_new(text, len);
    jg_session_send_seq(s, pkt, NULL, seq);
    jg_buf_unref(pkt);
}

/* {"presence":"snapshot","members":[meta,...],"channel":C,"at":SEQ}: one entry per identity. */
static void send_snapshot(struct jg_session *s, const char *channel, const redisReply *const *kv, size_t npairs,
                          uint64_t at)
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
    jg_sb_appendf(&sb, ",\"at\":%llu}", (unsigned long long)at);
    send_text(s, sb.data, sb.len, 0);
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
            send_text(s, sb.data, sb.len, 0);
            jg_sb_free(&sb);
        }
        size_t i = 3;
        for (size_t k = 0; k < nhist && i + 1 < r->elements; k++, i += 2) {
            const redisReply *sq = r->element[i], *m = r->element[i + 1];
            if (sq->type != REDIS_REPLY_STRING || m->type != REDIS_REPLY_STRING)
                continue;
            struct ring_entry e = { .seq = parse_u64(sq->str, sq->len), .kind = 'D' };
            const char *error;
            if (jg_jug_publish_parse(m->str, m->len, &e.p, &error) != 0)
                continue;
            uint64_t keep = sub->seq_hi;
            sub->seq_hi = 0;   /* history is older than what the subscription has seen live */
            deliver_to_sub(&e, b->channel, sub);
            sub->seq_hi = keep > e.seq ? keep : e.seq;
            jg_jug_publish_deinit(&e.p);
        }
        if (i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER) {
            size_t npres = (size_t)r->element[i]->integer;
            if (sub->presence && i + 1 + 2 * npres <= r->elements)
                send_snapshot(s, b->channel, (const redisReply *const *)&r->element[i + 1], npres, now);
        }
    }
    sub->backfilling = false;
    replay_sub(srv->cluster, sub, sub->seq_hi, now);
    jg_session_flush(s);
out:
    free(b->channel);
    free(b);
}

static void subscribe_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        jg_error("cluster: jg_subscribe failed: %s", r->str);
}

uint64_t jg_cluster_last_seq(const struct jg_cluster *c)
{
    return c->last_seq;
}

void jg_cluster_subscribed(struct jg_session *s, struct jg_sub *sub, bool has_since, uint64_t since, long history,
                           bool presence)
{
    struct jg_cluster *c = s->srv->cluster;
    const char *channel = sub->channel->name;
    struct jg_sb chjson = JG_SB_INIT;
    jg_sio_js_string_append(&chjson, channel, strlen(channel), false);
    const char *args[] = { s->sid, c->id, channel, chjson.data, presence ? "1" : "0" };
    fcall(c, subscribe_reply, NULL, true, "jg_subscribe", 5, args, NULL);
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
    const char *bargs[] = { channel, sinces, counts, presence ? "1" : "0", ages };
    fcall(c, backfill_reply, b, true, "jg_backfill", 5, bargs, NULL);
}

void jg_cluster_unsubscribed(struct jg_session *s, const char *channel)
{
    struct jg_cluster *c = s->srv->cluster;
    const char *args[] = { s->sid, c->id, channel };
    fcall(c, NULL, NULL, true, "jg_unsubscribe", 3, args, NULL);
}

void jg_cluster_meta_changed(struct jg_session *s)
{
    struct jg_cluster *c = s->srv->cluster;
    size_t n = 0;
    char *json = s->meta ? jg_jug_json_dump(s->meta, &n) : NULL;
    const char *args[] = { s->sid, c->id, json ? json : "" };
    size_t lens[] = { strlen(s->sid), strlen(c->id), n };
    fcall(c, NULL, NULL, true, "jg_meta", 3, args, lens);
    free(json);
}

/* "drop <sid> <gen>", "sub <sid> <seq> <presence> <channel>", "unsub <sid> <channel>",
 * "meta <sid> <json>" */
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

static void apply_notice(struct jg_cluster *c, const char *text, size_t len)
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
                end_moved(s, "taken over by another instance");
        } else if (buffer_notice(c, sid, text, len) && !s) {
            /* kept for the claim on its way */
        } else if (s && !strcmp(verb, "sub") && rest) {
            uint64_t seq = parse_u64(rest, strlen(rest));
            char *p = strchr(rest, ' ');
            char *channel = p ? strchr(p + 1, ' ') : NULL;
            if (channel) {
                struct jg_sub *sub = local_subscribe(c, s, channel + 1, seq, p[1] == '1');
                if (sub)
                    replay_sub(c, sub, sub->seq_hi, 0);
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
    apply_notice(c, text, len);
}

/* ---- admin HTTP ---- */

struct http_ctx {
    struct jg_conn *conn;
    char *channel;
};

static struct http_ctx *http_wait(struct jg_conn *conn)
{
    struct http_ctx *h = jg_xcalloc(1, sizeof *h);
    h->conn = conn;
    conn->waiter = &h->conn;
    jg_http_hold(conn);
    return h;
}

static struct jg_conn *http_done(struct http_ctx *h)
{
    struct jg_conn *conn = h->conn;
    if (conn) {
        conn->waiter = NULL;
        conn->held = false;
        if (conn->closing)
            conn = NULL;
    }
    return conn;
}

static void publish_http_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct http_ctx *h = priv;
    struct jg_conn *conn = http_done(h);
    if (conn) {
        char body[160];
        int n;
        if (r && r->type == REDIS_REPLY_INTEGER) {
            n = snprintf(body, sizeof body, "{\"seq\":%lld}\n", r->integer);
            jg_http_respond(conn, 200, "application/json", NULL, body, (size_t)n);
        } else if (r && r->type == REDIS_REPLY_ERROR) {
            n = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", strstr(r->str, "JSON") ? "the body must be a JSON object" : "redis refused");
            jg_http_respond(conn, 400, "application/json", NULL, body, (size_t)n);
        } else {
            jg_http_respond(conn, 503, "application/json", NULL, "{\"error\":\"redis unavailable\"}\n", 30);
        }
    }
    free(h);
}

void jg_cluster_http_publish(struct jg_conn *conn)
{
    struct jg_server *srv = conn->srv;
    const struct jg_config *cfg = srv->cfg;
    struct jg_http_req *req = conn->req;
    if (!cfg->publish_token) {
        jg_http_respond(conn, 404, "text/plain", NULL, "POST /publish is off: set publish-token\n", 40);
        return;
    }
    const char *auth = req->authorization ? req->authorization : "";
    size_t tlen = strlen(cfg->publish_token);
    if (strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != tlen ||
        CRYPTO_memcmp(auth + 7, cfg->publish_token, tlen) != 0) {
        srv->stats.auth_refused++;
        jg_info("c#%llu %s: POST /publish refused: wrong or missing token", (unsigned long long)conn->id, conn->peer);
        jg_http_respond(conn, 403, "text/plain", NULL, "wrong or missing publish token\n", 31);
        return;
    }
    const char *body = req->body.data ? req->body.data : "";
    const char *args[] = { body };
    size_t lens[] = { req->body.len };
    fcall(srv->cluster, publish_http_reply, http_wait(conn), false, "jg_publish", 1, args, lens);
}

static void presence_http_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct http_ctx *h = priv;
    struct jg_conn *conn = http_done(h);
    if (conn && r && r->type == REDIS_REPLY_ARRAY) {
        /* group the sessions by identity (the meta's JSON text; no meta = the session) */
        json_t *counts = json_object();
        struct jg_sb sb = JG_SB_INIT;
        jg_sb_appends(&sb, "{\"channel\":");
        jg_sio_js_string_append(&sb, h->channel, strlen(h->channel), false);
        jg_sb_appendf(&sb, ",\"sessions\":%zu,\"members\":[", r->elements / 2);
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            const redisReply *m = r->element[i + 1];
            if (m->type != REDIS_REPLY_STRING)
                continue;
            char key[JG_SID_MAX + 8];
            const char *id = m->str;
            if (!strcmp(m->str, "null")) {
                snprintf(key, sizeof key, "sid:%s", r->element[i]->str);
                id = key;
            }
            json_t *n = json_object_get(counts, id);
            json_object_set_new(counts, id, json_integer(n ? json_integer_value(n) + 1 : 1));
        }
        bool first = true;
        const char *id;
        json_t *n;
        json_object_foreach(counts, id, n) {
            jg_sb_appendf(&sb, "%s{\"meta\":%s,\"sessions\":%lld}", first ? "" : ",",
                          strncmp(id, "sid:", 4) ? id : "null", json_integer_value(n));
            first = false;
        }
        jg_sb_appends(&sb, "]}\n");
        json_decref(counts);
        jg_http_respond(conn, 200, "application/json", "Cache-Control: no-cache\r\n", sb.data, sb.len);
        jg_sb_free(&sb);
    } else if (conn) {
        jg_http_respond(conn, 503, "application/json", NULL, "{\"error\":\"redis unavailable\"}\n", 30);
    }
    free(h->channel);
    free(h);
}

void jg_cluster_http_presence(struct jg_conn *conn, const char *channel)
{
    struct jg_server *srv = conn->srv;
    char key[600];
    snprintf(key, sizeof key, "jg:presence:%s", channel);
    struct http_ctx *h = http_wait(conn);
    h->channel = jg_xstrdup(channel);
    const char *argv[] = { "HGETALL", key };
    jg_broker_command(srv->broker, presence_http_reply, h, false, 2, argv, NULL);
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
    c->ring_cap = srv->cfg->cluster_ring_size;
    c->ring = jg_xcalloc(c->ring_cap, sizeof *c->ring);
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
    forget_drops(c, 1e300);
    for (size_t i = 0; i < c->ring_len; i++)
        jg_jug_publish_deinit(&ring_at(c, i)->p);
    free(c->ring);
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
