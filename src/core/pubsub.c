/* pubsub.c: what Juggernaut messages do (protocol.md §12). Parsing and JSON building live in
 * juggernaut.c; here they meet the session table, the channel registry and the broker. */
#include "core/pubsub.h"

#include <stdlib.h>
#include <string.h>

#include "proto/auth.h"
#include "cluster/broker.h"
#include "base/buf.h"
#include "core/channel.h"
#include "cluster/cluster.h"
#include "proto/juggernaut.h"
#include "base/log.h"
#include "app/server.h"
#include "proto/sid.h"
#include "core/session.h"
#include "proto/sio.h"

static void publish_event(struct jg_server *srv, const char *channel, char *json, size_t len)
{
    jg_broker_publish(srv->broker, channel, json, len);
    free(json);
}

static void channel_event(struct jg_session *s, const char *redis_channel, const char *channel)
{
    size_t len;
    char *json = jg_jug_event_channel(channel, s->meta, s->sid, &len);
    publish_event(s->srv, redis_channel, json, len);
}

/* Tells the client its request was refused. There is no error message in Juggernaut's
 * protocol: this is a message without a "channel" key, so the original client's channel
 * callbacks never see it; ours emits "error". */
static void refuse(struct jg_session *s, const char *request, const char *channel, const char *why)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_appends(&sb, "3:::{\"error\":");
    jg_sio_js_string_append(&sb, why, strlen(why), false);
    jg_sb_appendf(&sb, ",\"request\":{\"type\":\"%s\"", request);
    if (channel) {
        jg_sb_appends(&sb, ",\"channel\":");
        jg_sio_js_string_append(&sb, channel, strlen(channel), false);
    }
    jg_sb_appends(&sb, "}}");
    struct jg_buf *pkt = jg_buf_new(sb.data, sb.len);
    jg_sb_free(&sb);
    jg_session_send(s, pkt, NULL);
    jg_buf_unref(pkt);
}

/* Channel names: no control characters (they end up in logs and Redis events). */
static bool channel_name_ok(const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

static bool subscribe_allowed(struct jg_session *s, const struct jg_jug_client_msg *m)
{
    const struct jg_config *cfg = s->srv->cfg;
    if (strlen(m->channel) > cfg->max_channel_length) {
        jg_info("session " JG_SID_LOG ": subscribe refused: channel name longer than %zu bytes (max-channel-length)", s->sid,
                cfg->max_channel_length);
        refuse(s, "subscribe", NULL, "channel name too long");
        return false;
    }
    if (!channel_name_ok(m->channel)) {
        jg_info("session " JG_SID_LOG ": subscribe refused: control characters in the channel name", s->sid);
        refuse(s, "subscribe", NULL, "invalid channel name");
        return false;
    }
    if (s->nsubs >= cfg->max_subscriptions) {
        jg_info("session " JG_SID_LOG ": subscribe to \"%s\" refused: already %zu subscriptions (max-subscriptions)", s->sid,
                m->channel, s->nsubs);
        refuse(s, "subscribe", m->channel, "too many subscriptions");
        return false;
    }
    if (cfg->auth_secret && !strncmp(m->channel, cfg->private_prefix, strlen(cfg->private_prefix)) &&
        !jg_auth_check(cfg->auth_secret, s->sid, m->channel, strlen(m->channel), m->auth)) {
        s->srv->stats.auth_refused++;
        jg_info("session " JG_SID_LOG ": subscribe to private channel \"%s\" refused: %s auth", s->sid, m->channel,
                m->auth ? "wrong" : "no");
        refuse(s, "subscribe", m->channel, "unauthorized");
        return false;
    }
    return true;
}

/* With auth-secret set, a meta carrying "auth" must be signed over its JSON text; with
 * require-meta-auth every meta must be. */
static bool meta_allowed(struct jg_session *s, const struct jg_jug_client_msg *m)
{
    const struct jg_config *cfg = s->srv->cfg;
    if (!cfg->auth_secret || (!m->auth && !cfg->require_meta_auth))
        return true;
    size_t n = 0;
    char *json = m->data ? jg_jug_json_dump(m->data, &n) : NULL;
    bool ok = jg_auth_check(cfg->auth_secret, s->sid, json ? json : "", n, m->auth);
    free(json);
    if (!ok) {
        s->srv->stats.auth_refused++;
        jg_info("session " JG_SID_LOG ": meta refused: %s auth", s->sid, m->auth ? "wrong" : "no");
        refuse(s, "meta", NULL, "unauthorized");
    }
    return ok;
}

/* Cluster mode: a subscription is recorded in Redis (which publishes the event and joins
 * presence) and may ask for history ("since": seq, "history": n) and "presence": true. */
static void cluster_subscribe(struct jg_session *s, const struct jg_jug_client_msg *m)
{
    struct jg_server *srv = s->srv;
    if (!jg_channel_subscribe(srv->channels, m->channel, s, false))
        return;   /* already subscribed: a no-op, like Fix J1 */
    struct jg_channel *ch = jg_channel_find(srv->channels, m->channel);
    struct jg_sub *sub = jg_channel_find_sub(ch, s);
    sub->seq_hi = jg_cluster_last_seq(srv->cluster);
    sub->presence = m->presence;
    jg_cluster_subscribed(s, sub, m->has_since, m->since, m->history, m->presence);
}

void jg_pubsub_client_message(struct jg_session *s, const char *text, size_t len)
{
    struct jg_server *srv = s->srv;
    struct jg_jug_client_msg m;
    srv->stats.client_messages++;
    jg_jug_client_parse(text, len, &m);
    switch (m.type) {
    case JG_JUG_SUBSCRIBE:
        if (!subscribe_allowed(s, &m)) {
            srv->stats.client_messages_invalid++;
            break;
        }
        if (srv->cluster) {
            cluster_subscribe(s, &m);
            break;
        }
        /* Fix J1: a second subscribe is a no-op unless duplicate-subscribe is on. */
        if (jg_channel_subscribe(srv->channels, m.channel, s, srv->cfg->duplicate_subscribe))
            channel_event(s, "juggernaut:subscribe", m.channel);
        break;
    case JG_JUG_UNSUBSCRIBE:
        if (jg_channel_unsubscribe(srv->channels, m.channel, s)) {
            if (srv->cluster)
                jg_cluster_unsubscribed(s, m.channel);   /* the event comes from Redis */
            else
                channel_event(s, "juggernaut:unsubscribe", m.channel);
        }
        break;
    case JG_JUG_META:
        if (!meta_allowed(s, &m))
            break;
        if (s->meta)
            json_decref(s->meta);
        s->meta = m.data ? json_incref(m.data) : NULL;
        if (srv->cluster)
            jg_cluster_meta_changed(s);
        break;
    case JG_JUG_EVENT: {
        size_t n;
        char *json = jg_jug_event_custom(s->meta, s->sid, m.data, &n);
        publish_event(srv, "juggernaut:custom", json, n);
        break;
    }
    case JG_JUG_INVALID:
    default:
        srv->stats.client_messages_invalid++;
        jg_debug("session %s: ignored client message: %s", s->sid, m.error ? m.error : "invalid");
        break;
    }
    jg_jug_client_msg_deinit(&m);
}

void jg_pubsub_session_ended(struct jg_session *s)
{
    struct jg_list *pos, *n;
    if (s->srv->cluster) {
        /* the events come from Redis, once, from whichever instance owns the session */
        if (!s->moved)
            jg_cluster_session_ended(s);
        while (!jg_list_empty(&s->subs))
            jg_channel_remove_sub(s->srv->channels, jg_container_of(s->subs.next, struct jg_sub, session_node));
        return;
    }
    /* Subscription order (protocol.md §12.4 allows it); one event per channel (J7). */
    jg_list_each_safe(pos, n, &s->subs) {
        struct jg_sub *sub = jg_container_of(pos, struct jg_sub, session_node);
        /* Skip duplicates of a channel already reported (duplicate-subscribe mode). */
        bool seen = false;
        for (struct jg_list *p = s->subs.next; p != pos; p = p->next)
            if (jg_container_of(p, struct jg_sub, session_node)->channel == sub->channel)
                seen = true;
        if (!seen)
            channel_event(s, "juggernaut:unsubscribe", sub->channel->name);
    }
    /* Remove after the events: the names live in the channels being dropped. */
    while (!jg_list_empty(&s->subs)) {
        struct jg_sub *sub = jg_container_of(s->subs.next, struct jg_sub, session_node);
        jg_channel_remove_sub(s->srv->channels, sub);
    }
}

void jg_pubsub_deliver(struct jg_server *srv, const struct jg_jug_publish *p, uint64_t seq, bool presence_only)
{
    for (size_t i = 0; i < p->nchannels; i++) {
        /* Encode once per channel, and only if someone listens. */
        struct jg_channel *ch = jg_channel_find(srv->channels, p->channels[i]);
        if (!ch)
            continue;
        size_t n;
        char *text = jg_jug_publish_packet_seq(p, p->channels[i], seq, &n);
        struct jg_buf *pkt = jg_buf_new(text, n);
        free(text);
        if (seq)
            jg_channel_publish_seq(ch, pkt, p->except, p->nexcept, seq, presence_only);
        else
            jg_channel_publish_to(ch, pkt, p->except, p->nexcept);
        jg_buf_unref(pkt);
    }
}

void jg_pubsub_redis_message(struct jg_server *srv, const char *text, size_t len)
{
    struct jg_jug_publish p;
    const char *error = NULL;
    srv->stats.messages_in++;
    if (jg_jug_publish_parse(text, len, &p, &error) != 0) {
        srv->stats.messages_invalid++;
        jg_info("redis: dropped a message on \"juggernaut\": %s (%zu bytes)", error ? error : "invalid", len);
        return;
    }
    jg_pubsub_deliver(srv, &p, 0, false);
    jg_jug_publish_deinit(&p);
}
