/* cluster_seq.c: the global message sequence (cluster_int.h). Every message gets its number
 * in Redis (redis/juggernaut.lua): the leader, which holds a lease, sequences the legacy
 * `PUBLISH juggernaut` messages; every instance keeps those it heard until it sees them
 * come back sequenced (so a new leader sequences what the old one missed), and delivers
 * from juggernaut:sequenced in order, filling gaps from the log, into the ring. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "base/hash.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "core/pubsub.h"
#include "core/session.h"

#define CATCHUP_BATCH 1000     /* log entries per XRANGE */
#define LEGACY_MAX 100000      /* legacy messages kept until seen sequenced (a burst) */

/* Keyed (hash.h): publishers choose the texts, and equal hashes share a table entry and
 * cost a list walk in legacy_seen. */
static uint64_t text_hash(const char *text, size_t len)
{
    return jg_hash(text, len);
}

static void legacy_remove(struct jg_cluster *c, struct legacy *l)
{
    jg_hashcount_remove(&c->pending_texts, l->hash);
    jg_list_remove(&l->node);
    c->nlegacy--;
    if (!l->sent)
        c->nunsent--;
    jg_jug_publish_deinit(&l->p);
    free(l);
}

/* An entry no leader sequenced in time: it was heard here but not by the leader. */
static void legacy_give_up(struct jg_cluster *c, struct legacy *l, const char *why)
{
    c->stats->legacy_unsequenced++;
    if (c->stats->legacy_unsequenced == 1 || c->stats->legacy_unsequenced % 1000 == 0)
        jg_warn("cluster: a message on \"juggernaut\" was not sequenced: %s; dropped (%lld so far)", why,
                (long long)c->stats->legacy_unsequenced);
    legacy_remove(c, l);
}

/* Message TEXT came back sequenced: it is no longer pending here, and its parsed form moves
 * to *P (true; false when it was not heard here). Sequenced messages come back in the order
 * they were heard, so the match is at the head, after entries the leader never heard: those
 * are given up once older than 3 x leader-lease (an entry this instance handed to
 * jg_sequence itself is waited for). */
static bool legacy_seen(struct jg_cluster *c, const char *text, size_t len, struct jg_jug_publish *p)
{
    uint64_t h = text_hash(text, len);
    /* most often the oldest pending one; otherwise, if no pending text has its hash, it
     * was not heard here and needs no scan */
    struct legacy *oldest = jg_list_empty(&c->legacy) ? NULL : jg_container_of(c->legacy.next, struct legacy, node);
    bool at_head = oldest && oldest->hash == h && oldest->len == len && !memcmp(oldest->text, text, len);
    if (!at_head && !jg_hashcount_get(&c->pending_texts, h))
        return false;
    double too_old = ev_now(c->loop) - 3 * c->cfg->leader_lease;
    struct jg_list *pos, *n;
    jg_list_each_safe(pos, n, &c->legacy) {
        struct legacy *l = jg_container_of(pos, struct legacy, node);
        if (l->hash == h && l->len == len && !memcmp(l->text, text, len)) {
            *p = l->p;
            memset(&l->p, 0, sizeof l->p);
            legacy_remove(c, l);
            return true;
        }
        if (l->at < too_old && !l->sent)
            legacy_give_up(c, l, "no leader sequenced it in time");
    }
    return false;
}

void jg_cluster_step_down(struct jg_cluster *c, const char *why)
{
    if (c->role != FOLLOWER)
        jg_info("cluster: no longer the leader: %s", why);
    c->role = FOLLOWER;
    c->stats->cluster_leader = 0;
    for (struct jg_list *pos = c->legacy.next; pos != &c->legacy; pos = pos->next)
        jg_container_of(pos, struct legacy, node)->sent = false;
    c->nunsent = c->nlegacy;
}

struct batch {
    size_t n;                       /* messages in the call */
};

static void sequence_reply(void *user, redisReply *r, void *priv)
{
    struct jg_cluster *c = user;
    size_t n = ((struct batch *)priv)->n;
    free(priv);
    if (!c)
        return;
    if (!r) {
        jg_cluster_step_down(c, "the Redis link broke while sequencing");
        return;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        if (!strncmp(r->str, "NOTLEADER", 9)) {
            jg_cluster_step_down(c, "another instance holds the lease");
        } else if (strstr(r->str, "not found")) {
            /* nothing of the call was written: the batch goes again once ours is back */
            jg_warn("cluster: Redis had an older juggernaut library (an instance of an older version loaded it "
                    "when it connected): loading ours again; one log entry per message while that instance runs");
            jg_cluster_reload_library(c);
            jg_cluster_step_down(c, "the library in Redis was an older version's");
        } else {
            /* say Redis is out of memory: the batch stays pending, for the next leader */
            jg_error("cluster: sequencing a batch failed: %s; it goes again once the lease is renewed", r->str);
            jg_cluster_step_down(c, "sequencing failed");
        }
        return;
    }
    c->stats->messages_sequenced += (int64_t)n;
}

#define BATCH_MAX JG_CLUSTER_PACK_MAX   /* messages per call */
#define BATCH_BYTES (4 << 20)           /* of text per call */

/* Hands the legacy messages not sequenced yet, oldest first, to Redis: one
 * jg_sequence_packed per BATCH_MAX of them (never a round trip per message). */
static void sequence_pending(struct jg_cluster *c)
{
    /* the unsent ones are the newest: find the first from the tail */
    struct jg_list *pos = &c->legacy;
    for (size_t k = 0; k < c->nunsent; k++)
        pos = pos->prev;
    pos = c->nunsent ? pos : &c->legacy;
    while (pos != &c->legacy && c->role == LEADER) {
        /* args: the leader's id, the count, then per message its text, its number of
         * channels and the channels (for their history) */
        size_t cap = 64, nargs = 2, n = 0, bytes = 0;
        const char **args = jg_xcalloc(cap, sizeof *args);
        size_t *lens = jg_xcalloc(cap, sizeof *lens);
        char (*counts)[24] = jg_xcalloc(BATCH_MAX + 1, sizeof *counts);
        for (; pos != &c->legacy && n < BATCH_MAX && bytes < BATCH_BYTES; pos = pos->next) {
            struct legacy *l = jg_container_of(pos, struct legacy, node);
            if (l->sent)
                continue;
            if (nargs + 2 + l->p.nchannels > cap) {
                while (nargs + 2 + l->p.nchannels > cap)
                    cap *= 2;
                args = jg_xrealloc(args, cap * sizeof *args);
                lens = jg_xrealloc(lens, cap * sizeof *lens);
            }
            snprintf(counts[n + 1], sizeof counts[n + 1], "%zu", l->p.nchannels);
            args[nargs] = l->text;
            lens[nargs++] = l->len;
            args[nargs] = counts[n + 1];
            lens[nargs] = strlen(counts[n + 1]);
            nargs++;
            for (size_t k = 0; k < l->p.nchannels; k++) {
                args[nargs] = l->p.channels[k];
                lens[nargs++] = strlen(l->p.channels[k]);
            }
            l->sent = true;
            c->nunsent--;
            bytes += l->len;
            n++;
        }
        if (n) {
            args[0] = c->id;
            lens[0] = strlen(c->id);
            snprintf(counts[0], sizeof counts[0], "%zu", n);
            args[1] = counts[0];
            lens[1] = strlen(counts[0]);
            struct batch *b = jg_xcalloc(1, sizeof *b);
            b->n = n;
            jg_cluster_fcall(c, sequence_reply, b, false, "jg_sequence_packed", (int)nargs, args, lens);
        }
        free(args);
        free(lens);
        free(counts);
    }
}

/* Before the loop sleeps: what this turn brought goes to Redis in one call. */
static void batch_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct jg_cluster *c = w->data;
    ev_prepare_stop(loop, w);
    if (c->role == LEADER)
        sequence_pending(c);
}

void jg_cluster_seq_init(struct jg_cluster *c)
{
    ev_prepare_init(&c->batch, batch_cb);
    c->batch.data = c;
}

void jg_cluster_legacy_message(struct jg_cluster *c, const char *text, size_t len)
{
    c->stats->messages_in++;
    struct jg_jug_publish p;
    const char *error = NULL;
    if (jg_jug_publish_parse(text, len, &p, &error) != 0) {
        c->stats->messages_invalid++;
        jg_info("redis: dropped a message on \"juggernaut\": %s (%zu bytes)", error ? error : "invalid", len);
        return;
    }
    if (c->nlegacy >= LEGACY_MAX) {
        struct legacy *old = jg_container_of(c->legacy.next, struct legacy, node);
        if (old->sent)
            legacy_remove(c, old);   /* handed to jg_sequence: it is in Redis's hands */
        else
            legacy_give_up(c, old, "too many waiting (a burst with no leader)");
    }
    struct legacy *l = jg_xcalloc(1, sizeof *l + len + 1);
    memcpy(l->text, text, len);
    l->len = len;
    l->p = p;
    l->hash = text_hash(text, len);
    jg_hashcount_add(&c->pending_texts, l->hash);
    l->at = ev_now(c->loop);
    jg_list_add_tail(&c->legacy, &l->node);
    c->nlegacy++;
    c->nunsent++;
    if (c->role == LEADER && !ev_is_active(&c->batch))
        ev_prepare_start(c->loop, &c->batch);
}

/* ---- sequenced messages ---- */

static void apply(struct jg_cluster *c, uint64_t seq, char kind, const char *text, size_t len, bool fan_out)
{
    c->last_seq = seq;
    c->stats->sequenced_in++;
    struct jg_jug_publish p;
    const char *error = NULL;
    /* a legacy message heard here was parsed then: not again */
    if (!(kind == 'L' && legacy_seen(c, text, len, &p)) && jg_jug_publish_parse(text, len, &p, &error) != 0) {
        c->stats->messages_invalid++;
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
    jg_pubsub_deliver(c->core, &e->p, seq, kind == 'P');
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
        c->stats->sequence_gaps++;
        hold(c, seq, kind, text, len);
        jg_cluster_catchup(c);
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

/* The decimal number at *P (before END), up to STOP: *P moves past STOP. */
static bool read_number(const char **p, const char *end, char stop, uint64_t *out)
{
    uint64_t v = 0;
    const char *s = *p;
    for (; s < end && *s >= '0' && *s <= '9'; s++) {
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (s == *p || s >= end || *s != stop)
        return false;
    *p = s + 1;
    *out = v;
    return true;
}

/* Walks a packed batch; FN NULL only checks it. */
static int walk_packed(const char *text, size_t len, jg_cluster_seq_fn *fn, void *arg)
{
    const char *p = text, *end = text + len;
    uint64_t first, n;
    if (len < 2 || p[0] != 'B' || p[1] != ' ')
        return -1;
    p += 2;
    if (!read_number(&p, end, ' ', &first) || !read_number(&p, end, '\n', &n) || !first || !n ||
        n > JG_CLUSTER_PACK_MAX || first > UINT64_MAX - n)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t bytes;
        if (p >= end)
            return -1;
        char kind = *p++;
        if (!read_number(&p, end, ':', &bytes) || bytes > (uint64_t)(end - p))
            return -1;
        if (fn)
            fn(arg, first + i, kind, p, (size_t)bytes);
        p += bytes;
    }
    return p == end ? 0 : -1;
}

int jg_cluster_unpack(const char *text, size_t len, jg_cluster_seq_fn *fn, void *arg)
{
    if (walk_packed(text, len, NULL, NULL) != 0)
        return -1;
    return walk_packed(text, len, fn, arg);
}

static void receive_cb(void *arg, uint64_t seq, char kind, const char *json, size_t len)
{
    receive(arg, seq, kind, json, len);
}

void jg_cluster_sequenced_message(struct jg_cluster *c, const char *text, size_t len)
{
    uint64_t seq;
    char kind;
    const char *json;
    size_t jlen;
    if (len && text[0] == 'B') {
        if (jg_cluster_unpack(text, len, receive_cb, c) == 0)
            return;
    } else if (split_sequenced(text, len, &seq, &kind, &json, &jlen) == 0) {
        receive(c, seq, kind, json, jlen);
        return;
    }
    c->stats->sequenced_malformed++;
    jg_warn("cluster: malformed message on %s ignored (%zu bytes); %lld so far", JG_CLUSTER_SEQUENCED, len,
            (long long)c->stats->sequenced_malformed);
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

/* An XRANGE/XREVRANGE entry: [id, [field, value, ...]]: "k" and "m" for one message (id
 * its seq), or "b" for a packed batch (id its last seq). */
bool jg_cluster_log_entry(const redisReply *e, jg_cluster_seq_fn *fn, void *arg)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return false;
    uint64_t seq = parse_u64(e->element[0]->str, e->element[0]->len);
    char kind = 'D';
    const char *text = NULL;
    size_t len = 0;
    const redisReply *f = e->element[1];
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *name = f->element[i], *value = f->element[i + 1];
        if (name->type != REDIS_REPLY_STRING || value->type != REDIS_REPLY_STRING)
            continue;
        if (!strcmp(name->str, "b"))
            return jg_cluster_unpack(value->str, value->len, fn, arg) == 0;
        if (!strcmp(name->str, "k") && value->len)
            kind = value->str[0];
        else if (!strcmp(name->str, "m")) {
            text = value->str;
            len = value->len;
        }
    }
    if (!seq || !text)
        return false;
    fn(arg, seq, kind, text, len);
    return true;
}

void jg_cluster_catchup_done(struct jg_cluster *c)
{
    c->catching_up = false;
    if (c->catchup_again) {
        c->catchup_again = false;
        jg_cluster_catchup(c);
        return;
    }
    drain_held(c);
    if (!c->catching_up && c->role == ALIGNING) {
        c->role = LEADER;
        c->stats->cluster_leader = 1;
        jg_info("cluster: leader (instance %s); sequencing messages on \"juggernaut\"", c->id);
        sequence_pending(c);
    }
}

static void replay_claimed_early(struct jg_session *s, void *arg)
{
    jg_cluster_replay_session(arg, s);
}

struct catchup {
    struct jg_cluster *c;
    uint64_t after;                 /* apply what follows it */
    bool fan_out;
};

static void catchup_apply(void *arg, uint64_t seq, char kind, const char *json, size_t len)
{
    struct catchup *cu = arg;
    if (seq > cu->after && seq > cu->c->last_seq)
        apply(cu->c, seq, kind, json, len, cu->fan_out);
}

static void catchup_reply(void *user, redisReply *r, void *priv)
{
    struct jg_cluster *c = user;
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
    struct catchup cu = { c, 0, !tail };
    if (tail && n) {
        /* the ring's worth of the newest seqs (a packed entry holds many), oldest first */
        const redisReply *newest = r->element[0];
        uint64_t last = newest->type == REDIS_REPLY_ARRAY && newest->elements == 2 &&
                                newest->element[0]->type == REDIS_REPLY_STRING
                            ? parse_u64(newest->element[0]->str, newest->element[0]->len)
                            : 0;
        cu.after = last > c->ring.cap ? last - c->ring.cap : 0;
    }
    for (size_t k = 0; k < n; k++)
        jg_cluster_log_entry(r->element[tail ? n - 1 - k : k], catchup_apply, &cu);
    if (!tail && n == CATCHUP_BATCH) {
        c->catching_up = false;
        jg_cluster_catchup(c);
        return;
    }
    if (tail) {
        /* sessions claimed before this instance knew where the stream stood (it just
         * started) were replayed from an empty ring: now that the ring holds the log's
         * tail, they get what they missed, before anything held is delivered */
        jg_session_each(c->core, replay_claimed_early, c);
    }
    jg_cluster_catchup_done(c);
}

/* Reads the log after last_seq (or its tail, for a fresh instance) before delivering more. */
void jg_cluster_catchup(struct jg_cluster *c)
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
        jg_broker_command(c->broker, catchup_reply, c, false, 6, argv, NULL);
        return;
    }
    snprintf(start, sizeof start, "(%llu-0", (unsigned long long)c->last_seq);
    snprintf(count, sizeof count, "%d", CATCHUP_BATCH);
    const char *argv[] = { "XRANGE", "jg:log", start, "+", "COUNT", count };
    jg_broker_command(c->broker, catchup_reply, NULL, false, 6, argv, NULL);
}

void jg_cluster_seq_free(struct jg_cluster *c)
{
    ev_prepare_stop(c->loop, &c->batch);
    while (!jg_list_empty(&c->legacy))
        legacy_remove(c, jg_container_of(c->legacy.next, struct legacy, node));
    jg_hashcount_free(&c->pending_texts);
    while (c->held_head) {
        struct held_seq *h = c->held_head;
        c->held_head = h->next;
        free(h->text);
        free(h);
    }
}
