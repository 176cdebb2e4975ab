/* cluster_replay.c: the ring of recent sequenced messages put to use (cluster_int.h): a
 * message delivered to one subscription unless it had it, a subscription or a whole session
 * brought up to date after a move (what the ring no longer holds is read from the Redis log
 * first), and the "messages lost" notice when neither has it any more. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "core/channel.h"
#include "core/session.h"
#include "proto/sio.h"

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
    if (e->seq <= jg_sub_seq_hi(sub) || (e->kind == 'P' && !jg_sub_presence(sub)))
        return;
    jg_sub_set_seq_hi(sub, e->seq);
    struct jg_session *s = jg_sub_session(sub);
    if (jg_jug_publish_excepts(&e->p, jg_session_sid(s)))
        return;
    size_t n;
    char *text = jg_jug_publish_packet_seq(&e->p, channel, e->seq, &n);
    struct jg_buf *pkt = jg_buf_new(text, n);
    free(text);
    jg_session_send_seq(s, pkt, NULL, e->seq);
    jg_buf_unref(pkt);
}

/* The ring's messages on SUB's channel after seq AFTER (presence ones after P_AFTER). */
void jg_cluster_replay_sub(struct jg_cluster *c, struct jg_sub *sub, uint64_t p_after)
{
    const char *name = jg_sub_channel_name(sub);
    for (size_t i = jg_ring_after(&c->ring, jg_sub_seq_hi(sub)); i < c->ring.len; i++) {
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
        struct jg_sub *sub = jg_channel_find_sub(c->core->channels, e->p.channels[k], s);
        if (sub && (all || !jg_sub_backfilling(sub)))
            jg_cluster_deliver_to_sub(e, e->p.channels[k], sub);
    }
}

static uint64_t session_cursor(struct jg_session *s)
{
    uint64_t from = UINT64_MAX;
    for (struct jg_sub *sub = jg_sub_first(s); sub; sub = jg_sub_next(s, sub))
        if (jg_sub_seq_hi(sub) < from)
            from = jg_sub_seq_hi(sub);
    return from;
}

static void set_backfilling(struct jg_session *s, bool on, uint64_t seq_floor)
{
    for (struct jg_sub *sub = jg_sub_first(s); sub; sub = jg_sub_next(s, sub)) {
        jg_sub_set_backfilling(sub, on);
        if (jg_sub_seq_hi(sub) < seq_floor)
            jg_sub_set_seq_hi(sub, seq_floor);
    }
}

/* {"error":"messages lost","request":{"type":"subscribe","channel":C},"from":A,"to":B}:
 * neither the ring nor the Redis log still holds what S missed from A to B (some of which
 * may have been on C). Shaped like "history trimmed" (no top-level channel, so no channel
 * callback of the original client sees it); our application.js raises "gap". */
static void tell_lost(struct jg_cluster *c, struct jg_session *s, uint64_t from, uint64_t to)
{
    c->stats->replay_gaps++;
    jg_warn("session " JG_SID_LOG ": messages %llu..%llu are neither in the ring nor in the Redis log (cluster-ring-size, "
            "cluster-ring-bytes, cluster-log-size); the client is told", jg_session_sid(s),
            (unsigned long long)from, (unsigned long long)to);
    for (struct jg_sub *sub = jg_sub_first(s); sub; sub = jg_sub_next(s, sub)) {
        const char *name = jg_sub_channel_name(sub);
        struct jg_sb sb = JG_SB_INIT;
        jg_sb_appends(&sb, "3:::{\"error\":\"messages lost\",\"request\":{\"type\":\"subscribe\",\"channel\":");
        jg_sio_js_string_append(&sb, name, strlen(name), false);
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

struct log_replay_walk {
    struct jg_cluster *c;
    struct jg_session *s;
    struct log_replay *lr;
    uint64_t next;                  /* the next seq due */
};

static void log_replay_one(void *arg, uint64_t seq, char kind, const char *text, size_t len)
{
    struct log_replay_walk *w = arg;
    struct jg_ring_entry e = { .seq = seq, .kind = kind };
    const char *error;
    if (seq < w->next || seq > w->lr->to || jg_jug_publish_parse(text, len, &e.p, &error) != 0)
        return;
    if (seq > w->next)
        tell_lost(w->c, w->s, w->next, seq - 1);
    deliver_to_session(w->c, &e, w->s, true);
    w->next = seq + 1;
    jg_jug_publish_deinit(&e.p);
}

/* The part of a moved session's backlog older than the ring, read from jg:log: delivered
 * in order, then the ring's part (replay_session again, now from TO). */
static void log_replay_reply(void *user, redisReply *r, void *priv)
{
    struct log_replay *lr = priv;
    struct jg_cluster *c = user;
    struct jg_session *s = c ? jg_session_find(c->core, lr->sid) : NULL;
    if (!s)
        goto out;
    struct log_replay_walk w = { c, s, lr, lr->from + 1 };
    if (r && r->type == REDIS_REPLY_ARRAY)
        for (size_t k = 0; k < r->elements; k++)
            jg_cluster_log_entry(r->element[k], log_replay_one, &w);
    if (w.next <= lr->to)
        tell_lost(c, s, w.next, lr->to);
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
        snprintf(lr->sid, sizeof lr->sid, "%s", jg_session_sid(s));
        lr->from = from;
        lr->to = oldest - 1;
        set_backfilling(s, true, 0);
        c->stats->replays_from_log++;
        char start[48], end[48];
        snprintf(start, sizeof start, "(%llu-0", (unsigned long long)from);
        /* a packed entry's id is its last seq: the one holding TO may end past it */
        snprintf(end, sizeof end, "%llu-0", (unsigned long long)(lr->to + JG_CLUSTER_PACK_MAX - 1));
        const char *argv[] = { "XRANGE", "jg:log", start, end };
        jg_broker_command(c->broker, log_replay_reply, lr, false, 4, argv, NULL);
        return;
    }
    for (size_t i = jg_ring_after(&c->ring, from); i < c->ring.len; i++)
        deliver_to_session(c, jg_ring_at(&c->ring, i), s, false);
}

