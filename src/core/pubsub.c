/* pubsub.c: what Juggernaut messages do (protocol.md §12). Parsing and JSON building live in
 * juggernaut.c; here they meet the session table, the channel registry and the broker. */
#include "core/pubsub.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "core/backplane.h"
#include "core/channel.h"
#include "core/session.h"
#include "proto/auth.h"
#include "proto/juggernaut.h"
#include "proto/sid.h"
#include "proto/sio.h"

static void publish_event(struct jg_core *core, const char *channel, char *json, size_t len)
{
    core->bp_ops->event(core->bp, channel, json, len);
    free(json);
}

static void channel_event(struct jg_session *s, const char *redis_channel, const char *channel)
{
    size_t len;
    char *json = jg_jug_event_channel(channel, jg_session_meta(s), jg_session_sid(s), &len);
    publish_event(jg_session_core(s), redis_channel, json, len);
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
    const struct jg_config *cfg = jg_session_core(s)->cfg;
    if (strlen(m->channel) > cfg->max_channel_length) {
        jg_info("session " JG_SID_LOG ": subscribe refused: channel name longer than %zu bytes (max-channel-length)", jg_session_sid(s),
                cfg->max_channel_length);
        refuse(s, "subscribe", NULL, "channel name too long");
        return false;
    }
    if (!channel_name_ok(m->channel)) {
        jg_info("session " JG_SID_LOG ": subscribe refused: control characters in the channel name", jg_session_sid(s));
        refuse(s, "subscribe", NULL, "invalid channel name");
        return false;
    }
    if (jg_session_subs(s)->n >= cfg->max_subscriptions) {
        jg_info("session " JG_SID_LOG ": subscribe to \"%s\" refused: already %zu subscriptions (max-subscriptions)", jg_session_sid(s),
                m->channel, jg_session_subs(s)->n);
        refuse(s, "subscribe", m->channel, "too many subscriptions");
        return false;
    }
    if (cfg->auth_secret && !strncmp(m->channel, cfg->private_prefix, strlen(cfg->private_prefix)) &&
        !jg_auth_check(cfg->auth_secret, jg_session_sid(s), m->channel, strlen(m->channel), m->auth)) {
        jg_session_core(s)->stats->auth_refused++;
        jg_info("session " JG_SID_LOG ": subscribe to private channel \"%s\" refused: %s auth", jg_session_sid(s), m->channel,
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
    const struct jg_config *cfg = jg_session_core(s)->cfg;
    if (!cfg->auth_secret || (!m->auth && !cfg->require_meta_auth))
        return true;
    size_t n = 0;
    char *json = m->data ? jg_jug_json_dump(m->data, &n) : NULL;
    bool ok = jg_auth_check(cfg->auth_secret, jg_session_sid(s), json ? json : "", n, m->auth);
    free(json);
    if (!ok) {
        jg_session_core(s)->stats->auth_refused++;
        jg_info("session " JG_SID_LOG ": meta refused: %s auth", jg_session_sid(s), m->auth ? "wrong" : "no");
        refuse(s, "meta", NULL, "unauthorized");
    }
    return ok;
}

/* Shared backplane: a subscription is recorded there (which publishes the event and joins
 * presence) and may ask for history ("since": seq, "history": n) and "presence": true. */
static void shared_subscribe(struct jg_session *s, const struct jg_jug_client_msg *m)
{
    struct jg_core *core = jg_session_core(s);
    struct jg_sub *sub = jg_channel_subscribe(core->channels, m->channel, s, false);
    if (!sub)
        return;   /* already subscribed: a no-op, like Fix J1 */
    jg_sub_set_seq_hi(sub, core->bp_ops->position(core->bp));
    jg_sub_set_presence(sub, m->presence);
    struct jg_subscribe_req req = {
        .has_since = m->has_since, .since = m->since, .history = m->history, .presence = m->presence,
    };
    core->bp_ops->subscribed(core->bp, s, sub, &req);
}

void jg_pubsub_client_message(struct jg_session *s, const char *text, size_t len)
{
    struct jg_core *core = jg_session_core(s);
    struct jg_jug_client_msg m;
    core->stats->client_messages++;
    jg_jug_client_parse(text, len, &m);
    switch (m.type) {
    case JG_JUG_SUBSCRIBE:
        if (!subscribe_allowed(s, &m)) {
            core->stats->client_messages_invalid++;
            break;
        }
        if (core->shared) {
            shared_subscribe(s, &m);
            break;
        }
        /* Fix J1: a second subscribe is a no-op unless duplicate-subscribe is on. */
        if (jg_channel_subscribe(core->channels, m.channel, s, core->cfg->duplicate_subscribe))
            channel_event(s, "juggernaut:subscribe", m.channel);
        break;
    case JG_JUG_UNSUBSCRIBE:
        if (jg_channel_unsubscribe(core->channels, m.channel, s)) {
            if (core->shared)
                core->bp_ops->unsubscribed(core->bp, s, m.channel);   /* the event comes from there */
            else
                channel_event(s, "juggernaut:unsubscribe", m.channel);
        }
        break;
    case JG_JUG_META:
        if (!meta_allowed(s, &m))
            break;
        jg_session_set_meta(s, m.data ? json_incref(m.data) : NULL);
        if (core->shared)
            core->bp_ops->meta_changed(core->bp, s);
        break;
    case JG_JUG_EVENT: {
        size_t n;
        char *json = jg_jug_event_custom(jg_session_meta(s), jg_session_sid(s), m.data, &n);
        publish_event(core, "juggernaut:custom", json, n);
        break;
    }
    case JG_JUG_INVALID:
    default:
        core->stats->client_messages_invalid++;
        jg_debug("session %s: ignored client message: %s", jg_session_sid(s), m.error ? m.error : "invalid");
        break;
    }
    jg_jug_client_msg_deinit(&m);
}

void jg_pubsub_session_ended(struct jg_session *s, bool moved)
{
    struct jg_core *core = jg_session_core(s);
    struct jg_sub *sub;
    if (core->shared) {
        /* the events come from the backplane, once, from whichever instance holds the session */
        if (!moved)
            core->bp_ops->session_ended(core->bp, s);
    } else if (!moved) {
        /* Subscription order (protocol.md §12.4 allows it); one event per channel (J7). */
        for (sub = jg_sub_first(s); sub; sub = jg_sub_next(s, sub)) {
            /* Skip duplicates of a channel already reported (duplicate-subscribe mode). */
            bool seen = false;
            for (struct jg_sub *p = jg_sub_first(s); p != sub; p = jg_sub_next(s, p))
                if (jg_sub_channel(p) == jg_sub_channel(sub))
                    seen = true;
            if (!seen)
                channel_event(s, "juggernaut:unsubscribe", jg_sub_channel_name(sub));
        }
    }
    /* Remove after the events: the names live in the channels being dropped. */
    while ((sub = jg_sub_first(s)) != NULL)
        jg_channel_remove_sub(core->channels, sub);
}

void jg_pubsub_deliver(struct jg_core *core, const struct jg_jug_publish *p, uint64_t seq, bool presence_only)
{
    for (size_t i = 0; i < p->nchannels; i++) {
        /* Encode once per channel, and only if someone listens. */
        struct jg_channel *ch = jg_channel_find(core->channels, p->channels[i]);
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

void jg_pubsub_message(struct jg_core *core, const char *text, size_t len)
{
    struct jg_jug_publish p;
    const char *error = NULL;
    core->stats->messages_in++;
    if (jg_jug_publish_parse(text, len, &p, &error) != 0) {
        core->stats->messages_invalid++;
        jg_info("redis: dropped a message on \"juggernaut\": %s (%zu bytes)", error ? error : "invalid", len);
        return;
    }
    jg_pubsub_deliver(core, &p, 0, false);
    jg_jug_publish_deinit(&p);
}
