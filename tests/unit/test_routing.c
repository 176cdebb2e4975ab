/* test_routing.c: Juggernaut routing on a bare jg_core (core/pubsub.c, core/channel.c,
 * core/inbound.c) with fake transports and fake backplanes (fake_core.h): client messages
 * and the juggernaut:* events they make (protocol.md §12.4), Fix J1, the unsubscribe events
 * of an ended session, the fan-out of a publish with one shared frame and "except", acks,
 * malformed packets, the subscribe limits; with a shared backplane, the backplane's calls
 * instead of events and the sequenced fan-out's skips. */
#include "fake_core.h"

#include "core/inbound.h"
#include "core/pubsub.h"
#include "proto/auth.h"
#include "proto/juggernaut.h"
#include "proto/sid.h"

/* printf into one of a few rotating buffers (expected texts with sids in them). */
static const char *sfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *sfmt(const char *fmt, ...)
{
    static char bufs[8][1024];
    static unsigned next;
    char *b = bufs[next++ % 8];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b, sizeof bufs[0], fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof bufs[0]);
    return b;
}

/* Client packet TEXT from S (as a WebSocket frame or one packet of a POST would bring it). */
static void client(struct jg_session *s, const char *text)
{
    jg_inbound_packet(s, text, strlen(text));
}

static void subscribe(struct jg_session *s, const char *channel)
{
    client(s, sfmt("3:::{\"type\":\"subscribe\",\"channel\":\"%s\"}", channel));
}

static void unsubscribe(struct jg_session *s, const char *channel)
{
    client(s, sfmt("3:::{\"type\":\"unsubscribe\",\"channel\":\"%s\"}", channel));
}

/* A session on stream TR (it has had its "1::"). */
static struct jg_session *stream_session(struct fx *f, struct fake_tr *tr)
{
    struct jg_session *s = jg_session_create(&f->core);
    assert_true(jg_session_open_transport(s, tr, &fake_stream_ops));
    assert_string_equal(tr->log, "attached deliver[1::]");
    return s;
}

static void publish(struct fx *f, const char *json)
{
    jg_pubsub_message(&f->core, json, strlen(json));
}

/* ---- client messages and their events ---- */

static void subscribe_and_unsubscribe_events(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    const char *sid = jg_session_sid(s);
    subscribe(s, "c1");
    assert_int_equal(f->bp.nevents, 1);
    assert_event(f, 0, "juggernaut:subscribe", sfmt("{\"channel\":\"c1\",\"session_id\":\"%s\"}", sid));
    assert_int_equal(jg_channel_count(f->core.channels), 1);
    assert_int_equal(jg_channel_subscribers(jg_channel_find(f->core.channels, "c1")), 1);
    unsubscribe(s, "c1");
    assert_int_equal(f->bp.nevents, 2);
    assert_event(f, 1, "juggernaut:unsubscribe", sfmt("{\"channel\":\"c1\",\"session_id\":\"%s\"}", sid));
    assert_int_equal(jg_channel_count(f->core.channels), 0);   /* Fix J2 */
    unsubscribe(s, "never");   /* not subscribed: no event, no channel */
    assert_int_equal(f->bp.nevents, 2);
    assert_int_equal(jg_channel_count(f->core.channels), 0);
    assert_int_equal(f->stats.client_messages, 3);
    assert_int_equal(f->stats.client_messages_invalid, 0);
    assert_int_equal(jg_session_queue_len(s), 0);   /* nothing goes back to the client */
    jg_session_end(s, "test", false);
    assert_int_equal(f->bp.nevents, 2);
}

/* Meta goes into later events as sent: an object, null kept as null, absent omitted. */
static void meta_goes_into_later_events(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    char sid[JG_SID_MAX + 1];   /* used after the session ended */
    snprintf(sid, sizeof sid, "%s", jg_session_sid(s));
    client(s, "3:::{\"type\":\"meta\",\"data\":{\"user_id\":1,\"name\":\"\\u00e9\"}}");
    assert_int_equal(f->bp.nevents, 0);   /* no event of its own */
    subscribe(s, "c1");
    assert_event(f, 0, "juggernaut:subscribe",
                 sfmt("{\"channel\":\"c1\",\"meta\":{\"user_id\":1,\"name\":\"\xc3\xa9\"},\"session_id\":\"%s\"}", sid));
    client(s, "3:::{\"type\":\"meta\",\"data\":null}");
    subscribe(s, "c2");
    assert_event(f, 1, "juggernaut:subscribe", sfmt("{\"channel\":\"c2\",\"meta\":null,\"session_id\":\"%s\"}", sid));
    client(s, "3:::{\"type\":\"meta\"}");
    assert_null(jg_session_meta(s));
    unsubscribe(s, "c2");
    assert_event(f, 2, "juggernaut:unsubscribe", sfmt("{\"channel\":\"c2\",\"session_id\":\"%s\"}", sid));
    jg_session_end(s, "test", false);
    assert_int_equal(f->bp.nevents, 4);
    assert_event(f, 3, "juggernaut:unsubscribe", sfmt("{\"channel\":\"c1\",\"session_id\":\"%s\"}", sid));
}

/* Fix J1: a second subscribe to a channel is a no-op: no event, one copy of each message. */
static void duplicate_subscribe_is_noop(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = stream_session(f, &f->tr[0]);
    subscribe(s, "c1");
    subscribe(s, "c1");
    assert_int_equal(f->bp.nevents, 1);
    assert_int_equal(jg_channel_subscribers(jg_channel_find(f->core.channels, "c1")), 1);
    assert_int_equal(f->stats.subscriptions, 1);
    publish(f, "{\"channels\":[\"c1\"],\"data\":\"x\"}");
    assert_string_equal(f->tr[0].log, "attached deliver[1::] deliver[3:::{\"data\":\"x\",\"channel\":\"c1\"}]");
    jg_session_end(s, "test", false);
    assert_int_equal(f->bp.nevents, 2);
}

/* duplicate-subscribe on: the original's behaviour (two events, two copies), still one
 * unsubscribe event at the end (J7). */
static void duplicate_subscribe_compat_switch(void **state)
{
    struct fx *f = *state;
    f->cfg.duplicate_subscribe = true;
    struct jg_session *s = stream_session(f, &f->tr[0]);
    subscribe(s, "c1");
    subscribe(s, "c1");
    assert_int_equal(f->bp.nevents, 2);
    assert_string_equal(f->bp.events[1].channel, "juggernaut:subscribe");
    publish(f, "{\"channels\":[\"c1\"],\"data\":\"x\"}");
    assert_int_equal(f->tr[0].npkts, 3);
    assert_string_equal(f->tr[0].pkts[1], "3:::{\"data\":\"x\",\"channel\":\"c1\"}");
    assert_string_equal(f->tr[0].pkts[2], "3:::{\"data\":\"x\",\"channel\":\"c1\"}");
    jg_session_end(s, "test", false);
    assert_int_equal(f->bp.nevents, 3);
    assert_string_equal(f->bp.events[2].channel, "juggernaut:unsubscribe");
}

/* An ending session publishes one unsubscribe per channel, in subscription order. */
static void session_end_unsubscribes_in_subscription_order(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    const char *names[] = { "c2", "c1", "42", "c3" };
    for (size_t i = 0; i < 4; i++)
        subscribe(s, names[i]);
    char sid[JG_SID_MAX + 1];
    snprintf(sid, sizeof sid, "%s", jg_session_sid(s));
    assert_int_equal(f->bp.nevents, 4);
    jg_session_end(s, "test", false);
    assert_int_equal(f->bp.nevents, 8);
    for (size_t i = 0; i < 4; i++)
        assert_event(f, 4 + i, "juggernaut:unsubscribe",
                     sfmt("{\"channel\":\"%s\",\"session_id\":\"%s\"}", names[i], sid));
    assert_int_equal(jg_channel_count(f->core.channels), 0);
    assert_int_equal(f->stats.subscriptions, 0);
}

/* The captured sequence of protocol.md §12.4, with Fix J1 (no second "subscribe c1"). */
static void captured_event_sequence(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = stream_session(f, &f->tr[0]);
    char sid[JG_SID_MAX + 1];
    snprintf(sid, sizeof sid, "%s", jg_session_sid(s));
    client(s, "3:::{\"type\":\"meta\",\"data\":{\"user_id\":1}}");
    subscribe(s, "c1");
    subscribe(s, "c1");
    subscribe(s, "c2");
    client(s, "3:::{\"type\":\"event\",\"data\":{\"said\":\"hi\"}}");
    subscribe(s, "c4");
    unsubscribe(s, "c1");
    unsubscribe(s, "never");
    client(s, "3:::{\"type\":\"subscribe\",\"channels\":[\"c5\",\"c6\"]}");
    jg_session_transport_lost(s, &f->tr[0]);   /* closed TCP */
    const char *meta = "\"meta\":{\"user_id\":1}";
    struct { const char *ch, *json; } want[] = {
        { "juggernaut:subscribe", sfmt("{\"channel\":\"c1\",%s,\"session_id\":\"%s\"}", meta, sid) },
        { "juggernaut:subscribe", sfmt("{\"channel\":\"c2\",%s,\"session_id\":\"%s\"}", meta, sid) },
        { "juggernaut:custom", sfmt("{%s,\"session_id\":\"%s\",\"data\":{\"said\":\"hi\"}}", meta, sid) },
        { "juggernaut:subscribe", sfmt("{\"channel\":\"c4\",%s,\"session_id\":\"%s\"}", meta, sid) },
        { "juggernaut:unsubscribe", sfmt("{\"channel\":\"c1\",%s,\"session_id\":\"%s\"}", meta, sid) },
        { "juggernaut:subscribe", sfmt("{\"channel\":\"c5\",%s,\"session_id\":\"%s\"}", meta, sid) },
        { "juggernaut:unsubscribe", sfmt("{\"channel\":\"c2\",%s,\"session_id\":\"%s\"}", meta, sid) },
        { "juggernaut:unsubscribe", sfmt("{\"channel\":\"c4\",%s,\"session_id\":\"%s\"}", meta, sid) },
    };
    /* sfmt has 8 buffers and all 8 are in use: the ninth is checked on its own */
    for (size_t i = 0; i < 8; i++)
        assert_event(f, i, want[i].ch, want[i].json);
    assert_int_equal(f->bp.nevents, 9);
    assert_event(f, 8, "juggernaut:unsubscribe", sfmt("{\"channel\":\"c5\",%s,\"session_id\":\"%s\"}", meta, sid));
    assert_int_equal(jg_channel_count(f->core.channels), 0);
    assert_string_equal(f->tr[0].log, "attached deliver[1::] detached");   /* nothing went back */
}

static void custom_event(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    const char *sid = jg_session_sid(s);
    client(s, "3:::{\"type\":\"event\",\"data\":{\"x\":[1,2.0,\"y\"]}}");
    assert_event(f, 0, "juggernaut:custom", sfmt("{\"session_id\":\"%s\",\"data\":{\"x\":[1,2,\"y\"]}}", sid));
    client(s, "3:::{\"type\":\"event\"}");   /* no data: the key is omitted */
    assert_event(f, 1, "juggernaut:custom", sfmt("{\"session_id\":\"%s\"}", sid));
    client(s, "3:::{\"type\":\"meta\",\"data\":\"m\"}");
    client(s, "3:::{\"type\":\"event\",\"data\":null}");
    assert_event(f, 2, "juggernaut:custom", sfmt("{\"meta\":\"m\",\"session_id\":\"%s\",\"data\":null}", sid));
    assert_int_equal(f->bp.nevents, 3);
    assert_int_equal(jg_channel_count(f->core.channels), 0);
    jg_session_end(s, "test", false);
}

/* Ids without '+' are acked ("6::<endpoint>:<id>") before the packet is processed. */
static void acks_for_ids(void **state)
{
    struct fx *f = *state;
    struct fake_tr *tr = &f->tr[0];
    struct jg_session *s = stream_session(f, tr);
    client(s, "3:1::{\"type\":\"subscribe\",\"channel\":\"c\"}");
    assert_string_equal(tr->log, "attached deliver[1::] deliver[6:::1]");
    assert_int_equal(f->bp.nevents, 1);   /* and processed */
    client(s, "3:2+::{\"type\":\"unsubscribe\",\"channel\":\"c\"}");   /* '+': the app acks, not us */
    assert_int_equal(tr->npkts, 2);
    assert_int_equal(f->bp.nevents, 2);
    client(s, "5:3::{\"name\":\"x\",\"args\":[]}");
    assert_string_equal(last_pkt(tr), "6:::3");
    client(s, "5:4+::{\"name\":\"x\",\"args\":[]}");
    client(s, "3:5:/chat:hello");   /* another endpoint: acked there, not processed */
    assert_string_equal(last_pkt(tr), "6::/chat:5");
    client(s, "2::");
    assert_int_equal(tr->npkts, 4);
    assert_int_equal(f->bp.nevents, 2);
    assert_string_equal(tr->log, "attached deliver[1::] deliver[6:::1] deliver[6:::3] deliver[6::/chat:5]");

    /* a polling session gets its acks with its next poll */
    struct jg_session *p = connected_session(f);
    client(p, "3:7::{\"type\":\"event\",\"data\":1}");
    assert_int_equal(jg_session_queue_len(p), 1);
    assert_false(jg_session_open_transport(p, &f->tr[1], &fake_poll_ops));
    assert_string_equal(f->tr[1].log, "attached deliver[6:::7] detached");
    jg_session_end(s, "test", false);
    jg_session_end(p, "test", false);
}

/* J6, J11: what is not a Juggernaut message is ignored (and counted), nothing answered. */
static void malformed_packets_ignored(void **state)
{
    struct fx *f = *state;
    struct fake_tr *tr = &f->tr[0];
    struct jg_session *s = stream_session(f, tr);
    static const char *not_sio[] = { "", "garbage", "9:::x", "3" };
    for (size_t i = 0; i < sizeof not_sio / sizeof not_sio[0]; i++)
        client(s, not_sio[i]);
    assert_int_equal(f->stats.client_messages, 0);
    static const char *invalid[] = {
        "3:::not json",
        "3:::{\"type\":\"bogus\",\"channel\":\"c\"}",
        "3:::{\"channel\":\"c\"}",
        "3:::{\"type\":\"subscribe\"}",                  /* J11: no channel "undefined" */
        "3:::{\"type\":\"subscribe\",\"channel\":5}",
        "3:::{\"type\":\"subscribe\",\"channel\":\"\"}",
        "3:::{\"type\":\"unsubscribe\"}",
        "3:::[1]",
        "3:::\"x\"",
        "3:::null",
    };
    size_t n = sizeof invalid / sizeof invalid[0];
    for (size_t i = 0; i < n; i++)
        client(s, invalid[i]);
    assert_int_equal(f->stats.client_messages, n);
    assert_int_equal(f->stats.client_messages_invalid, n);
    client(s, "3::/other:{\"type\":\"subscribe\",\"channel\":\"c\"}");   /* not our endpoint */
    client(s, "5:::{\"name\":\"subscribe\",\"args\":[\"c\"]}");          /* events mean nothing */
    assert_int_equal(f->stats.client_messages, n);
    assert_int_equal(f->bp.nevents, 0);
    assert_int_equal(jg_channel_count(f->core.channels), 0);
    assert_null(jg_channel_find(f->core.channels, "undefined"));
    assert_string_equal(tr->log, "attached deliver[1::]");
    assert_non_null(jg_session_find(&f->core, jg_session_sid(s)));
    jg_session_end(s, "test", false);
}

/* Refused subscribes: the client is told with a message that has no "channel". */
static void subscribe_limits_refused(void **state)
{
    struct fx *f = *state;
    f->cfg.max_channel_length = 4;
    f->cfg.max_subscriptions = 1;
    struct fake_tr *tr = &f->tr[0];
    struct jg_session *s = stream_session(f, tr);
    subscribe(s, "abcde");
    assert_string_equal(last_pkt(tr), "3:::{\"error\":\"channel name too long\",\"request\":{\"type\":\"subscribe\"}}");
    client(s, "3:::{\"type\":\"subscribe\",\"channel\":\"a\\u0001\"}");
    assert_string_equal(last_pkt(tr), "3:::{\"error\":\"invalid channel name\",\"request\":{\"type\":\"subscribe\"}}");
    subscribe(s, "ab");
    subscribe(s, "cd");
    assert_string_equal(last_pkt(tr),
                        "3:::{\"error\":\"too many subscriptions\",\"request\":{\"type\":\"subscribe\",\"channel\":\"cd\"}}");
    assert_int_equal(tr->npkts, 4);
    assert_int_equal(f->bp.nevents, 1);
    assert_event(f, 0, "juggernaut:subscribe", sfmt("{\"channel\":\"ab\",\"session_id\":\"%s\"}", jg_session_sid(s)));
    assert_int_equal(f->stats.client_messages_invalid, 3);
    assert_int_equal(jg_channel_count(f->core.channels), 1);
    jg_session_end(s, "test", false);
}

static void private_channel_needs_auth(void **state)
{
    struct fx *f = *state;
    f->cfg.auth_secret = jg_xstrdup("the app's secret");
    struct fake_tr *tr = &f->tr[0];
    struct jg_session *s = stream_session(f, tr);
    const char *sid = jg_session_sid(s);
    subscribe(s, "private-x");
    assert_string_equal(last_pkt(tr),
                        "3:::{\"error\":\"unauthorized\",\"request\":{\"type\":\"subscribe\",\"channel\":\"private-x\"}}");
    client(s, "3:::{\"type\":\"subscribe\",\"channel\":\"private-x\",\"auth\":\"00\"}");
    assert_int_equal(tr->npkts, 3);
    assert_int_equal(f->stats.auth_refused, 2);
    assert_int_equal(f->bp.nevents, 0);
    char sig[JG_AUTH_HEX_LEN + 1];
    jg_auth_sign(f->cfg.auth_secret, sid, "private-x", 9, sig);
    client(s, sfmt("3:::{\"type\":\"subscribe\",\"channel\":\"private-x\",\"auth\":\"%s\"}", sig));
    assert_int_equal(tr->npkts, 3);
    assert_int_equal(f->bp.nevents, 1);
    assert_event(f, 0, "juggernaut:subscribe", sfmt("{\"channel\":\"private-x\",\"session_id\":\"%s\"}", sid));
    subscribe(s, "public");   /* no prefix, no auth needed */
    assert_int_equal(f->bp.nevents, 2);
    jg_session_end(s, "test", false);
}

/* ---- published messages ---- */

/* One publish reaches every subscriber once, streams through one shared frame, polling
 * sessions through their queue; "except" sids are skipped, and "except" itself is not
 * passed on (README: a sid is a credential; the original relayed it, quirk J5). */
static void publish_fans_out_with_one_frame(void **state)
{
    struct fx *f = *state;
    struct jg_session *a = stream_session(f, &f->tr[0]);
    struct jg_session *b = stream_session(f, &f->tr[1]);
    struct jg_session *c = stream_session(f, &f->tr[2]);
    struct jg_session *other = stream_session(f, &f->tr[3]);
    struct jg_session *p = connected_session(f);
    subscribe(a, "room");
    subscribe(b, "room");
    subscribe(p, "room");
    subscribe(c, "room");
    subscribe(other, "hall");
    fake_frames_built = 0;
    f->stats.deliveries = 0;
    char bsid[JG_SID_MAX + 1];
    snprintf(bsid, sizeof bsid, "%s", jg_session_sid(b));
    publish(f, sfmt("{\"channels\":[\"room\"],\"data\":{\"a\":1},\"except\":\"%s\",\"extra\":true}", bsid));
    const char *want = "3:::{\"data\":{\"a\":1},\"extra\":true,\"channel\":\"room\"}";
    assert_int_equal(f->tr[0].npkts, 2);
    assert_string_equal(f->tr[0].pkts[1], want);
    assert_int_equal(f->tr[2].npkts, 2);
    assert_string_equal(f->tr[2].pkts[1], want);
    assert_int_equal(f->tr[1].npkts, 1);   /* excepted */
    assert_int_equal(f->tr[3].npkts, 1);   /* another channel */
    assert_int_equal(jg_session_queue_len(p), 1);
    /* one frame for all: built by the first stream, reused by the next */
    assert_int_equal(fake_frames_built, 1);
    assert_int_equal(f->tr[0].ncached, 2);   /* "1::" and the message */
    assert_int_equal(f->tr[2].ncached, 2);
    assert_ptr_equal(f->tr[0].last_frame, f->tr[2].last_frame);
    assert_int_equal(f->stats.deliveries, 3);
    assert_int_equal(f->stats.messages_in, 1);
    /* the polling session gets the same bytes with its next poll */
    assert_false(jg_session_open_transport(p, &f->tr[4], &fake_poll_ops));
    assert_string_equal(f->tr[4].log, sfmt("attached deliver[%s] detached", want));
    jg_session_end_all(&f->core, "test");
}

static void publish_except_forms(void **state)
{
    struct fx *f = *state;
    struct jg_session *s[3];
    char sids[3][JG_SID_MAX + 1];
    for (int i = 0; i < 3; i++) {
        s[i] = stream_session(f, &f->tr[i]);
        subscribe(s[i], "c");
        snprintf(sids[i], sizeof sids[i], "%s", jg_session_sid(s[i]));
    }
    publish(f, sfmt("{\"channel\":\"c\",\"data\":1,\"except\":[\"%s\",\"%s\"]}", sids[0], sids[2]));
    assert_int_equal(f->tr[0].npkts, 1);
    assert_int_equal(f->tr[1].npkts, 2);
    assert_int_equal(f->tr[2].npkts, 1);
    assert_string_equal(f->tr[1].pkts[1], "3:::{\"channel\":\"c\",\"data\":1}");
    publish(f, "{\"channel\":\"c\",\"data\":2,\"except\":5}");   /* J5: a number excludes nobody */
    for (int i = 0; i < 3; i++)
        assert_string_equal(last_pkt(&f->tr[i]), "3:::{\"channel\":\"c\",\"data\":2}");
    jg_session_end_all(&f->core, "test");
}

/* Channels in published order, one copy per channel; nobody listening: nothing made. */
static void publish_to_several_channels(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = stream_session(f, &f->tr[0]);
    subscribe(s, "c1");
    subscribe(s, "c2");
    publish(f, "{\"channels\":[\"c2\",\"nobody\",\"c1\"],\"data\":\"x\"}");
    assert_string_equal(f->tr[0].log, "attached deliver[1::] deliver[3:::{\"data\":\"x\",\"channel\":\"c2\"}] "
                                      "deliver[3:::{\"data\":\"x\",\"channel\":\"c1\"}]");
    assert_null(jg_channel_find(f->core.channels, "nobody"));
    assert_int_equal(jg_channel_count(f->core.channels), 2);
    publish(f, "{\"channels\":\"c2\",\"data\":\"channels as string\"}");
    assert_string_equal(last_pkt(&f->tr[0]), "3:::{\"data\":\"channels as string\",\"channel\":\"c2\"}");
    publish(f, "{\"channel\":\"c1\",\"data\":\"plain string\"}");   /* "channel" keeps its place */
    assert_string_equal(last_pkt(&f->tr[0]), "3:::{\"channel\":\"c1\",\"data\":\"plain string\"}");
    assert_int_equal(f->tr[0].npkts, 5);
    jg_session_end(s, "test", false);
}

static void invalid_publish_dropped(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = stream_session(f, &f->tr[0]);
    subscribe(s, "c");
    publish(f, "not json");
    publish(f, "[\"c\"]");
    assert_int_equal(f->stats.messages_in, 2);
    assert_int_equal(f->stats.messages_invalid, 2);
    publish(f, "{\"data\":\"no channel\"}");   /* valid, for nobody */
    assert_int_equal(f->stats.messages_invalid, 2);
    assert_int_equal(f->tr[0].npkts, 1);
    jg_session_end(s, "test", false);
}

/* ---- shared backplane (cluster mode) ---- */

/* Subscriptions, meta and unsubscribes go to the backplane, which makes the events. */
static void shared_client_messages_go_to_backplane(void **state)
{
    struct fx *f = *state;
    f->bp.position = 41;
    struct jg_session *s = connected_session(f);
    client(s, "3:::{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":7,\"history\":5,\"presence\":true}");
    assert_string_equal(f->bp.log, "created subscribed(c since=7 history=5 presence=1)");
    struct jg_sub *sub = jg_channel_find_sub(f->core.channels, "c", s);
    assert_non_null(sub);
    assert_ptr_equal(f->bp.last_sub, sub);
    assert_int_equal(jg_sub_seq_hi(sub), 41);   /* starts after the backplane's position */
    assert_true(jg_sub_presence(sub));
    subscribe(s, "c");   /* Fix J1 here too */
    subscribe(s, "d");
    assert_string_equal(f->bp.log, "created subscribed(c since=7 history=5 presence=1) "
                                   "subscribed(d since=-0 history=0 presence=0)");
    client(s, "3:::{\"type\":\"meta\",\"data\":{\"u\":2}}");
    unsubscribe(s, "c");
    unsubscribe(s, "c");
    assert_string_equal(f->bp.log, "created subscribed(c since=7 history=5 presence=1) "
                                   "subscribed(d since=-0 history=0 presence=0) meta unsubscribed(c)");
    assert_int_equal(f->bp.nevents, 0);
    client(s, "3:::{\"type\":\"event\",\"data\":1}");   /* custom events are always the core's */
    assert_int_equal(f->bp.nevents, 1);
    assert_event(f, 0, "juggernaut:custom", sfmt("{\"meta\":{\"u\":2},\"session_id\":\"%s\",\"data\":1}", jg_session_sid(s)));
    jg_session_end(s, "test", false);
    assert_string_equal(f->bp.log, "created subscribed(c since=7 history=5 presence=1) "
                                   "subscribed(d since=-0 history=0 presence=0) meta unsubscribed(c) ended");
    assert_int_equal(f->bp.nevents, 1);
    assert_int_equal(jg_channel_count(f->core.channels), 0);
}

/* A sequenced message goes to the subscriptions that have not had it and are not
 * backfilling; "except" sessions are skipped but count as having had it. */
static void shared_publish_seq_skips(void **state)
{
    struct fx *f = *state;
    struct jg_session *s[4];
    for (int i = 0; i < 4; i++) {
        s[i] = stream_session(f, &f->tr[i]);
        client(s[i], i == 0 ? "3:::{\"type\":\"subscribe\",\"channel\":\"c\",\"presence\":true}"
                            : "3:::{\"type\":\"subscribe\",\"channel\":\"c\"}");
    }
    struct jg_sub *sub[4];
    for (int i = 0; i < 4; i++)
        sub[i] = jg_channel_find_sub(f->core.channels, "c", s[i]);
    jg_sub_set_backfilling(sub[1], true);
    jg_sub_set_seq_hi(sub[2], 9);
    char esid[JG_SID_MAX + 1];
    snprintf(esid, sizeof esid, "%s", jg_session_sid(s[3]));

    struct jg_jug_publish p;
    const char *err = NULL;
    const char *text = sfmt("{\"channels\":[\"c\"],\"data\":1,\"except\":\"%s\"}", esid);
    assert_int_equal(jg_jug_publish_parse(text, strlen(text), &p, &err), 0);
    struct jg_channel *ch = jg_channel_find(f->core.channels, "c");
    struct jg_buf *pkt = pkt_new("3:::m8");
    fake_frames_built = 0;
    assert_int_equal(jg_channel_publish_seq(ch, pkt, p.except, p.nexcept, 8, false), 1);
    assert_string_equal(last_pkt(&f->tr[0]), "3:::m8");
    assert_int_equal(fake_frames_built, 1);
    assert_int_equal(f->tr[1].npkts, 1);   /* backfilling */
    assert_int_equal(f->tr[2].npkts, 1);   /* had 9 already */
    assert_int_equal(f->tr[3].npkts, 1);   /* excepted */
    assert_int_equal(jg_sub_seq_hi(sub[0]), 8);
    assert_int_equal(jg_sub_seq_hi(sub[1]), 0);
    assert_int_equal(jg_sub_seq_hi(sub[2]), 9);
    assert_int_equal(jg_sub_seq_hi(sub[3]), 8);
    assert_int_equal(jg_session_seq_hi(s[0]), 8);
    /* the same seq again (a replay): nobody */
    assert_int_equal(jg_channel_publish_seq(ch, pkt, p.except, p.nexcept, 8, false), 0);
    jg_buf_unref(pkt);

    /* through pubsub: "seq" is the packet's last member; presence-only reaches presence subs */
    jg_sub_set_backfilling(sub[1], false);
    jg_pubsub_deliver(&f->core, &p, 10, true);
    assert_string_equal(last_pkt(&f->tr[0]), "3:::{\"data\":1,\"channel\":\"c\",\"seq\":10}");
    assert_int_equal(f->tr[1].npkts, 1);
    assert_int_equal(f->tr[2].npkts, 1);
    jg_pubsub_deliver(&f->core, &p, 11, false);
    const char *want = "3:::{\"data\":1,\"channel\":\"c\",\"seq\":11}";
    assert_string_equal(last_pkt(&f->tr[0]), want);
    assert_string_equal(last_pkt(&f->tr[1]), want);
    assert_string_equal(last_pkt(&f->tr[2]), want);
    assert_int_equal(f->tr[3].npkts, 1);
    jg_jug_publish_deinit(&p);
    assert_int_equal(f->bp.nrecords, 0);   /* streams: nothing recorded */
    jg_session_end_all(&f->core, "test");
}

/* A sequenced message for a held GET waits for its answer to be recorded. */
static void shared_publish_seq_to_held_get(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    subscribe(s, "c");
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    struct jg_jug_publish p;
    const char *err = NULL;
    const char *text = "{\"channel\":\"c\",\"data\":\"d\"}";
    assert_int_equal(jg_jug_publish_parse(text, strlen(text), &p, &err), 0);
    jg_pubsub_deliver(&f->core, &p, 3, false);
    jg_jug_publish_deinit(&p);
    assert_string_equal(f->tr[0].log, "attached");
    assert_string_equal(f->bp.log, "created subscribed(c since=-0 history=0 presence=0) record(3)");
    fake_answer(&f->bp, true);
    assert_string_equal(f->tr[0].log, "attached deliver[3:::{\"channel\":\"c\",\"data\":\"d\",\"seq\":3}] detached");
    jg_session_end(s, "test", false);
}

#define LOCAL(t) cmocka_unit_test_setup_teardown(t, fx_setup_local, fx_teardown)
#define SHARED(t) cmocka_unit_test_setup_teardown(t, fx_setup_shared, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOCAL(subscribe_and_unsubscribe_events),
        LOCAL(meta_goes_into_later_events),
        LOCAL(duplicate_subscribe_is_noop),
        LOCAL(duplicate_subscribe_compat_switch),
        LOCAL(session_end_unsubscribes_in_subscription_order),
        LOCAL(captured_event_sequence),
        LOCAL(custom_event),
        LOCAL(acks_for_ids),
        LOCAL(malformed_packets_ignored),
        LOCAL(subscribe_limits_refused),
        LOCAL(private_channel_needs_auth),
        LOCAL(publish_fans_out_with_one_frame),
        LOCAL(publish_except_forms),
        LOCAL(publish_to_several_channels),
        LOCAL(invalid_publish_dropped),
        SHARED(shared_client_messages_go_to_backplane),
        SHARED(shared_publish_seq_skips),
        SHARED(shared_publish_seq_to_held_get),
    };
    return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
