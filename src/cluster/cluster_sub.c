/* cluster_sub.c: subscriptions in cluster mode (cluster_int.h): recorded in Redis (which
 * publishes the events and keeps presence), with the history ("since", "history") and
 * presence snapshot a subscribe may ask for delivered before live messages resume, and the
 * meta of a session. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "core/channel.h"
#include "core/session.h"
#include "proto/sio.h"

struct jg_sub *jg_cluster_local_subscribe(struct jg_cluster *c, struct jg_session *s, const char *channel,
                                          uint64_t sub_seq, bool presence)
{
    jg_channel_subscribe(c->core->channels, channel, s, false);
    struct jg_sub *sub = jg_channel_find_sub(c->core->channels, channel, s);
    if (sub) {
        jg_sub_set_presence(sub, presence);
        if (jg_sub_seq_hi(sub) < sub_seq)
            jg_sub_set_seq_hi(sub, sub_seq);
    }
    return sub;
}

/* While a subscription backfills (history, presence), live messages after its start wait
 * in the ring: an answer must not confirm past them, or a session that moves would never
 * get them. */
uint64_t jg_cluster_answer_cap(void *bp, struct jg_session *s)
{
    uint64_t cap = UINT64_MAX;
    for (struct jg_sub *sub = jg_sub_first(s); sub; sub = jg_sub_next(s, sub))
        if (jg_sub_backfilling(sub) && jg_sub_seq_hi(sub) < cap)
            cap = jg_sub_seq_hi(sub);
    return cap;
}

static struct jg_sub *find_sub(struct jg_cluster *c, const char *sid, const char *channel, struct jg_session **out)
{
    struct jg_session *s = jg_session_find(c->core, sid);
    *out = s;
    return s ? jg_channel_find_sub(c->core->channels, channel, s) : NULL;
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
static void backfill_finish(struct jg_cluster *c, struct backfill_ctx *b)
{
    struct jg_session *s;
    struct jg_sub *sub = find_sub(c, b->sid, b->channel, &s);
    if (sub) {
        jg_sub_set_backfilling(sub, false);
        jg_cluster_replay_sub(c, sub, b->now);
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
            backfill_finish(c, b);
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

static void backfill_reply(void *user, redisReply *r, void *priv)
{
    struct backfill_ctx *b = priv;
    struct jg_cluster *c = user;
    struct jg_session *s;
    struct jg_sub *sub = c ? find_sub(c, b->sid, b->channel, &s) : NULL;
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
            uint64_t keep = jg_sub_seq_hi(sub);
            jg_sub_set_seq_hi(sub, 0);   /* history is older than what the subscription has seen live */
            jg_cluster_deliver_to_sub(&e, b->channel, sub);
            jg_sub_set_seq_hi(sub, keep > e.seq ? keep : e.seq);
            jg_jug_publish_deinit(&e.p);
        }
        if (i < r->elements && r->element[i]->type == REDIS_REPLY_INTEGER) {
            size_t npres = (size_t)r->element[i]->integer;
            if (jg_sub_presence(sub) && npres <= (r->elements - i - 1) / 2) {   /* no overflow of 2 * npres */
                /* the channel's presence, cut at presence-max-members: "truncated" says so */
                size_t ti = i + 1 + 2 * npres;
                bool truncated = ti < r->elements && r->element[ti]->type == REDIS_REPLY_INTEGER &&
                                 (size_t)r->element[ti]->integer > npres;
                if (truncated)
                    c->stats->presence_truncated++;
                send_snapshot(s, b->channel, (const redisReply *const *)&r->element[i + 1], npres, now, truncated);
            }
        }
    }
    b->now = now;
    if (now > c->last_seq) {
        /* the reply overtook the stream: what was sequenced up to NOW is still on its way
         * here, and must not arrive as live messages after the snapshot */
        jg_list_add_tail(&c->backfills, &b->node);
        return;
    }
    backfill_finish(c, b);
    return;
out:
    backfill_free(b);
}

static void subscribe_reply(void *user, redisReply *r, void *priv)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        jg_error("cluster: jg_subscribe failed: %s", r->str);
}

void jg_cluster_subscribed(void *bp, struct jg_session *s, struct jg_sub *sub, const struct jg_subscribe_req *req)
{
    struct jg_cluster *c = bp;
    const char *channel = jg_sub_channel_name(sub);
    bool has_since = req->has_since, presence = req->presence;
    uint64_t since = req->since;
    long history = req->history;
    struct jg_sb chjson = JG_SB_INIT;
    jg_sio_js_string_append(&chjson, channel, strlen(channel), false);
    char from[24];   /* where this copy began delivering it (see jg_subscribe) */
    snprintf(from, sizeof from, "%llu", (unsigned long long)jg_sub_seq_hi(sub));
    const char *args[] = { jg_session_sid(s), c->id, channel, chjson.data, presence ? "1" : "0", from };
    jg_debug("session %s: subscribed to %s from %s", jg_session_sid(s), channel, from);
    jg_cluster_fcall(c, subscribe_reply, NULL, true, "jg_subscribe", 6, args, NULL);
    jg_sb_free(&chjson);
    if (!has_since && history <= 0 && !presence)
        return;
    struct backfill_ctx *b = jg_xcalloc(1, sizeof *b);
    snprintf(b->sid, sizeof b->sid, "%s", jg_session_sid(s));
    b->channel = jg_xstrdup(channel);
    b->has_since = has_since;
    b->since = since;
    jg_sub_set_backfilling(sub, true);
    char sinces[24] = "", counts[24], ages[24];
    if (has_since)
        snprintf(sinces, sizeof sinces, "%llu", (unsigned long long)since);
    snprintf(counts, sizeof counts, "%ld", history > 0 ? history : 0);
    snprintf(ages, sizeof ages, "0");
    char maxp[24];
    snprintf(maxp, sizeof maxp, "%zu", c->cfg->presence_max_members);
    const char *bargs[] = { channel, sinces, counts, presence ? "1" : "0", ages, maxp };
    jg_cluster_fcall(c, backfill_reply, b, true, "jg_backfill", 6, bargs, NULL);
}

void jg_cluster_unsubscribed(void *bp, struct jg_session *s, const char *channel)
{
    struct jg_cluster *c = bp;
    const char *args[] = { jg_session_sid(s), c->id, channel };
    jg_cluster_fcall(c, NULL, NULL, true, "jg_unsubscribe", 3, args, NULL);
}

void jg_cluster_meta_changed(void *bp, struct jg_session *s)
{
    struct jg_cluster *c = bp;
    size_t n = 0;
    json_t *meta = jg_session_meta(s);
    char *json = meta ? jg_jug_json_dump(meta, &n) : NULL;
    const char *sid = jg_session_sid(s);
    const char *args[] = { sid, c->id, json ? json : "" };
    size_t lens[] = { strlen(sid), strlen(c->id), n };
    jg_cluster_fcall(c, NULL, NULL, true, "jg_meta", 3, args, lens);
    free(json);
}

