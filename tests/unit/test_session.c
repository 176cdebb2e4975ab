/* test_session.c: the socket.io session state machine (core/session.c) without sockets: a
 * bare struct jg_core, fake transports that record what a client would receive, fake
 * backplanes (fake_core.h). Handshake and first transport, polling answers and the close
 * timeout, replaced GETs and streams, heartbeats, the poll queue's bound, ending (with and
 * without "0::", lost transports, moved sessions), the unused-session limits, signed sids;
 * with a shared backplane, polling answers recorded before they go out. */
#include "fake_core.h"

#include "core/inbound.h"
#include "proto/sid.h"

/* ---- waiting on the loop ---- */

struct gone_arg {
    struct jg_core *core;
    char sid[JG_SID_MAX + 1];
};

static bool session_gone(void *arg)
{
    struct gone_arg *g = arg;
    return jg_session_find(g->core, g->sid) == NULL;
}

/* Runs the loop until S has ended (at most MAX_S seconds); true if it did. */
static bool wait_session_end(struct fx *f, struct jg_session *s, double max_s)
{
    struct gone_arg g = { .core = &f->core };
    snprintf(g.sid, sizeof g.sid, "%s", jg_session_sid(s));
    return run_until(f, session_gone, &g, max_s);
}

struct npkts_arg {
    const struct fake_tr *tr;
    size_t n;
};

static bool has_npkts(void *arg)
{
    struct npkts_arg *a = arg;
    return a->tr->npkts >= a->n;
}

/* Runs the loop until TR has received N packets in all. */
static bool wait_npkts(struct fx *f, const struct fake_tr *tr, size_t n, double max_s)
{
    struct npkts_arg a = { tr, n };
    return run_until(f, has_npkts, &a, max_s);
}

static bool touched(void *arg)
{
    return ((struct fake_bp *)arg)->ntouch > 0;
}

/* How many times WORD appears in LOG. */
static int count_words(const char *log, const char *word)
{
    int n = 0;
    for (const char *p = log; (p = strstr(p, word)) != NULL; p += strlen(word))
        n++;
    return n;
}

static void subscribe(struct jg_session *s, const char *channel)
{
    char text[256];
    int n = snprintf(text, sizeof text, "3:::{\"type\":\"subscribe\",\"channel\":\"%s\"}", channel);
    jg_inbound_packet(s, text, (size_t)n);
}

/* ---- handshake and the first transport ---- */

/* "1::" goes first, ahead of what was queued before the first poll, in the same answer. */
static void first_poll_gets_connect_ahead_of_queue(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = jg_session_create(&f->core);
    assert_int_equal(jg_session_count(&f->core), 1);
    assert_false(jg_session_used(s));
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);   /* handshake expiry */
    send_text(s, "3:::a");
    send_text(s, "3:::b");
    assert_int_equal(jg_session_queue_len(s), 2);

    assert_false(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));   /* answered at once */
    assert_string_equal(f->tr[0].log, "attached deliver[1::|3:::a|3:::b] detached");
    assert_int_equal(f->tr[0].nend, 0);
    assert_int_equal(jg_session_queue_len(s), 0);
    assert_true(jg_session_used(s));
    assert_false(jg_session_holds_poll(s));
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);   /* close timeout */

    /* the next GET has nothing to get: it is held, and a message answers it */
    assert_true(jg_session_open_transport(s, &f->tr[1], &fake_poll_ops));
    assert_string_equal(f->tr[1].log, "attached");
    assert_true(jg_session_holds_poll(s));
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_POLL);
    send_text(s, "3:::c");
    assert_string_equal(f->tr[1].log, "attached deliver[3:::c] detached");
    assert_false(jg_session_holds_poll(s));
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);
    assert_int_equal(f->stats.deliveries, 3);
    assert_int_equal(f->bp.nevents, 0);
    jg_session_end(s, "test", false);
    assert_int_equal(jg_session_count(&f->core), 0);
}

/* A stream gets "1::" alone, through the connect frame every session shares. */
static void first_stream_gets_connect_through_shared_frame(void **state)
{
    struct fx *f = *state;
    struct jg_session *a = jg_session_create(&f->core);
    struct jg_session *b = jg_session_create(&f->core);
    assert_true(jg_session_open_transport(a, &f->tr[0], &fake_stream_ops));
    assert_true(jg_session_open_transport(b, &f->tr[1], &fake_stream_ops));
    assert_string_equal(f->tr[0].log, "attached deliver[1::]");
    assert_string_equal(f->tr[1].log, "attached deliver[1::]");
    assert_true(jg_session_streaming(a));
    assert_false(jg_session_holds_poll(a));
    assert_int_equal(jg_session_timer_kind(a), JG_TIMER_HEARTBEAT);
    assert_non_null(f->core.pkts.connect_frame);
    assert_ptr_equal(f->tr[0].last_frame, f->core.pkts.connect_frame);
    assert_ptr_equal(f->tr[1].last_frame, f->core.pkts.connect_frame);
    assert_int_equal(fake_frames_built, 1);

    send_text(a, "3:::x");   /* straight to the stream, nothing queued */
    assert_string_equal(f->tr[0].log, "attached deliver[1::] deliver[3:::x]");
    assert_int_equal(jg_session_queue_len(a), 0);
    jg_session_end(a, "test", false);
    assert_string_equal(f->tr[0].log, "attached deliver[1::] deliver[3:::x] detached end");
    jg_session_end(b, "test", false);
    assert_string_equal(f->tr[1].log, "attached deliver[1::] detached end");
}

/* ---- polling: close timeout, polling duration, replaced GETs ---- */

static void answered_poll_starts_close_timeout(void **state)
{
    struct fx *f = *state;
    f->cfg.close_timeout = 0.02;
    struct jg_session *s = connected_session(f);
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);
    assert_true(wait_session_end(f, s, 5));
    assert_int_equal(f->stats.close_timeouts, 1);
    assert_int_equal(jg_session_count(&f->core), 0);
}

/* A handshake nobody uses is forgotten after handshake-expiry: not a close timeout. */
static void unused_handshake_expires(void **state)
{
    struct fx *f = *state;
    f->cfg.handshake_expiry = 0.02;
    const char *limit = NULL;
    struct jg_session *s = jg_session_handshake(&f->core, "10.0.0.1:4000", &limit);
    assert_non_null(s);
    assert_int_equal(jg_session_unused_count(&f->core), 1);
    assert_int_equal(f->stats.unused_sessions, 1);
    assert_true(wait_session_end(f, s, 5));
    assert_int_equal(f->stats.close_timeouts, 0);
    assert_int_equal(jg_session_unused_count(&f->core), 0);
    assert_int_equal(f->stats.unused_sessions, 0);
}

/* A held GET is answered 8:: after polling-duration; the close timeout then runs. */
static void held_get_answered_noop_after_polling_duration(void **state)
{
    struct fx *f = *state;
    f->cfg.polling_duration = 0.02;
    struct jg_session *s = connected_session(f);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    assert_true(wait_npkts(f, &f->tr[0], 1, 5));
    assert_string_equal(f->tr[0].log, "attached deliver[8::] detached");
    assert_int_equal(f->tr[0].nend, 0);
    assert_non_null(jg_session_find(&f->core, jg_session_sid(s)));
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);
    jg_session_end(s, "test", false);
}

/* Protocol.md §7.5 Fix: a second GET replaces a held one, which is answered 8::. */
static void second_get_replaces_held_one(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    assert_true(jg_session_open_transport(s, &f->tr[1], &fake_poll_ops));
    assert_string_equal(f->tr[0].log, "attached deliver[8::] detached");
    assert_int_equal(f->tr[0].nend, 0);
    assert_string_equal(f->tr[1].log, "attached");
    assert_true(jg_session_holds_poll(s));
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_POLL);
    send_text(s, "3:::m");
    assert_string_equal(f->tr[1].log, "attached deliver[3:::m] detached");
    assert_string_equal(f->tr[0].log, "attached deliver[8::] detached");   /* nothing more */
    jg_session_end(s, "test", false);
}

/* A newer stream replaces an older one, which is closed without "0::"; no second "1::". */
static void new_stream_replaces_old_stream(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = jg_session_create(&f->core);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_stream_ops));
    assert_true(jg_session_open_transport(s, &f->tr[1], &fake_stream_ops));
    assert_string_equal(f->tr[0].log, "attached deliver[1::] detached end");
    assert_string_equal(f->tr[1].log, "attached");
    send_text(s, "3:::m");
    assert_string_equal(f->tr[1].log, "attached deliver[3:::m]");
    assert_int_equal(f->tr[0].ndeliver, 1);
    jg_session_end(s, "test", false);
}

/* ---- heartbeats ---- */

static void stream_heartbeats(void **state)
{
    struct fx *f = *state;
    f->cfg.heartbeat_interval = 0.01;
    f->cfg.heartbeat_timeout = 0.03;
    struct jg_session *s = jg_session_create(&f->core);
    struct fake_tr *tr = &f->tr[0];
    assert_true(jg_session_open_transport(s, tr, &fake_stream_ops));
    assert_true(wait_npkts(f, tr, 2, 5));
    assert_string_equal(tr->log, "attached deliver[1::] deliver[2::]");
    assert_ptr_equal(tr->last_frame, f->core.pkts.heartbeat_frame);   /* the shared "2::" frame */
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_HEARTBEAT);   /* now the timeout */

    /* the reply restarts the interval: the next thing is another "2::", not the end */
    jg_inbound_packet(s, "2::", 3);
    assert_true(wait_npkts(f, tr, 3, 5));
    assert_string_equal(tr->log, "attached deliver[1::] deliver[2::] deliver[2::]");
    assert_non_null(jg_session_find(&f->core, jg_session_sid(s)));
    assert_int_equal(f->stats.heartbeat_timeouts, 0);

    /* no reply this time: heartbeat-timeout ends it, without "0::" */
    assert_true(wait_session_end(f, s, 5));
    assert_string_equal(tr->log, "attached deliver[1::] deliver[2::] deliver[2::] detached end");
    assert_int_equal(f->stats.heartbeat_timeouts, 1);
    assert_int_equal(f->stats.close_timeouts, 0);
}

/* Polling sessions get no heartbeats; a "2::" from them changes nothing. */
static void polling_session_gets_no_heartbeat(void **state)
{
    struct fx *f = *state;
    f->cfg.heartbeat_interval = 0.01;
    f->cfg.heartbeat_timeout = 0.01;
    f->cfg.polling_duration = 0.1;
    struct jg_session *s = connected_session(f);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    jg_inbound_packet(s, "2::", 3);
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_POLL);
    assert_true(wait_npkts(f, &f->tr[0], 1, 5));   /* what comes is the 8:: of the poll's end */
    assert_string_equal(f->tr[0].log, "attached deliver[8::] detached");
    assert_int_equal(f->stats.heartbeat_timeouts, 0);
    jg_session_end(s, "test", false);
}

/* ---- the poll queue's bound ---- */

static void queue_overflow_ends_session_later(void **state)
{
    struct fx *f = *state;
    f->cfg.max_session_queue = 3;
    struct jg_session *s = connected_session(f);
    subscribe(s, "c");
    assert_int_equal(f->bp.nevents, 1);
    char sid[JG_SID_MAX + 1];
    snprintf(sid, sizeof sid, "%s", jg_session_sid(s));
    send_text(s, "3:::1");
    send_text(s, "3:::2");
    send_text(s, "3:::3");
    assert_int_equal(jg_session_queue_len(s), 3);
    assert_int_equal(f->stats.session_queue_overflows, 0);
    send_text(s, "3:::4");   /* one too many: dropped, the session is to end */
    assert_int_equal(jg_session_queue_len(s), 3);
    assert_int_equal(f->stats.session_queue_overflows, 1);
    assert_ptr_equal(jg_session_find(&f->core, sid), s);   /* not now: maybe inside a fan-out */
    send_text(s, "3:::5");
    assert_int_equal(f->stats.session_queue_overflows, 1);   /* counted once */
    jg_session_reap(&f->core);
    assert_null(jg_session_find(&f->core, sid));
    assert_int_equal(f->bp.nevents, 2);
    assert_string_equal(f->bp.events[1].channel, "juggernaut:unsubscribe");
    jg_session_reap(&f->core);   /* nothing left to reap */
    assert_int_equal(f->bp.nevents, 2);
}

static void end_later_runs_once(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    subscribe(s, "c");
    jg_session_end_later(s, "one");
    jg_session_end_later(s, "two");
    assert_int_equal(jg_session_count(&f->core), 1);
    jg_session_reap(&f->core);
    assert_int_equal(jg_session_count(&f->core), 0);
    assert_int_equal(f->bp.nevents, 2);   /* subscribe, one unsubscribe */
}

/* The ends run in the order asked; one that ended meanwhile by other means is skipped. */
static void end_later_in_order_skips_ended(void **state)
{
    struct fx *f = *state;
    struct jg_session *s[4];
    const char *names[] = { "a", "b", "c", "d" };
    for (int i = 0; i < 4; i++) {
        s[i] = connected_session(f);
        subscribe(s[i], names[i]);
    }
    assert_int_equal(f->bp.nevents, 4);
    jg_session_end_later(s[2], "overflow");
    jg_session_end_later(s[0], "overflow");
    jg_session_end_later(s[1], "overflow");
    jg_session_end(s[0], "transport closed", false);   /* ends first: its entry goes */
    assert_int_equal(f->bp.nevents, 5);
    assert_non_null(strstr(f->bp.events[4].json, "\"a\""));
    jg_session_reap(&f->core);
    assert_int_equal(jg_session_count(&f->core), 1);
    assert_int_equal(f->bp.nevents, 7);
    assert_non_null(strstr(f->bp.events[5].json, "\"c\""));   /* asked first */
    assert_non_null(strstr(f->bp.events[6].json, "\"b\""));
    jg_session_end_later(s[3], "again");   /* the emptied list takes more */
    jg_session_reap(&f->core);
    assert_int_equal(jg_session_count(&f->core), 0);
    assert_int_equal(f->bp.nevents, 8);
    assert_non_null(strstr(f->bp.events[7].json, "\"d\""));
}

/* ---- ending ---- */

static void end_with_disconnect_on_stream(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = jg_session_create(&f->core);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_stream_ops));
    jg_session_end(s, "test", true);
    assert_string_equal(f->tr[0].log, "attached deliver[1::] deliver[0::] detached end");
    assert_ptr_equal(f->tr[0].last_frame, f->core.pkts.disconnect_frame);
    assert_int_equal(jg_session_count(&f->core), 0);
}

/* A held GET answered "0::" is done: the session does not also end it. */
static void end_with_disconnect_on_held_get(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    jg_session_end(s, "test", true);
    assert_string_equal(f->tr[0].log, "attached deliver[0::] detached");
    assert_int_equal(jg_session_count(&f->core), 0);

    /* without "0::" the held GET is ended the transport's way */
    s = connected_session(f);
    assert_true(jg_session_open_transport(s, &f->tr[1], &fake_poll_ops));
    jg_session_end(s, "test", false);
    assert_string_equal(f->tr[1].log, "attached detached end");
}

/* The client's "0::" ends the session with a "0::" back; one for an endpoint does not. */
static void client_disconnect_packet(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = jg_session_create(&f->core);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_stream_ops));
    subscribe(s, "c");
    jg_inbound_packet(s, "0::/chat", 8);
    assert_int_equal(jg_session_count(&f->core), 1);
    jg_inbound_packet(s, "0::", 3);
    assert_int_equal(jg_session_count(&f->core), 0);
    assert_string_equal(f->tr[0].log, "attached deliver[1::] deliver[0::] detached end");
    assert_int_equal(f->bp.nevents, 2);
    assert_string_equal(f->bp.events[1].channel, "juggernaut:unsubscribe");
}

static void transport_lost_ends_session(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    subscribe(s, "c1");
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    jg_session_transport_lost(s, &f->tr[1]);   /* not its transport: nothing happens */
    assert_int_equal(jg_session_count(&f->core), 1);
    assert_true(jg_session_holds_poll(s));
    jg_session_transport_lost(s, &f->tr[0]);
    assert_int_equal(jg_session_count(&f->core), 0);
    assert_string_equal(f->tr[0].log, "attached detached");   /* the connection is gone already */
    assert_int_equal(f->bp.nevents, 2);
    assert_string_equal(f->bp.events[1].channel, "juggernaut:unsubscribe");

    /* a stream likewise */
    s = jg_session_create(&f->core);
    assert_true(jg_session_open_transport(s, &f->tr[2], &fake_stream_ops));
    jg_session_transport_lost(s, &f->tr[2]);
    assert_int_equal(jg_session_count(&f->core), 0);
    assert_string_equal(f->tr[2].log, "attached deliver[1::] detached");
}

/* Another instance holds it now: the held GET gets 8:: (the client polls again), the copy
 * here goes without unsubscribe events. */
static void end_moved_answers_held_get_without_events(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    subscribe(s, "c1");
    subscribe(s, "c2");
    assert_int_equal(f->bp.nevents, 2);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    jg_session_end_moved(s, "moved");
    assert_string_equal(f->tr[0].log, "attached deliver[8::] detached");
    assert_int_equal(f->tr[0].nend, 0);
    assert_int_equal(f->bp.nevents, 2);
    assert_int_equal(f->stats.sessions_moved, 1);
    assert_int_equal(jg_session_count(&f->core), 0);
    assert_int_equal(jg_channel_count(f->core.channels), 0);
}

/* Draining with a local backplane: end_some ends just N sessions, with their events. */
static void end_some_ends_n_sessions(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 3; i++)
        subscribe(connected_session(f), "c");
    assert_int_equal(f->bp.nevents, 3);
    jg_session_end_some(&f->core, 2, "drain");
    assert_int_equal(jg_session_count(&f->core), 1);
    assert_int_equal(f->bp.nevents, 5);
    assert_string_equal(f->bp.events[4].channel, "juggernaut:unsubscribe");
    assert_int_equal(jg_channel_subscribers(jg_channel_find(f->core.channels, "c")), 1);
    jg_session_end_some(&f->core, 5, "drain");
    assert_int_equal(jg_session_count(&f->core), 0);
    assert_int_equal(f->bp.nevents, 6);
}

/* ---- limits on handshakes ---- */

static void max_unused_sessions_refuses_handshakes(void **state)
{
    struct fx *f = *state;
    f->cfg.max_unused_sessions = 2;
    const char *limit = NULL;
    struct jg_session *a = jg_session_handshake(&f->core, "10.0.0.1:1000", &limit);
    struct jg_session *b = jg_session_handshake(&f->core, "10.0.0.2:1000", &limit);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(limit);
    assert_null(jg_session_handshake(&f->core, "10.0.0.3:1000", &limit));
    assert_non_null(limit);
    assert_string_equal(limit, "max-unused-sessions");
    assert_int_equal(jg_session_count(&f->core), 2);
    assert_int_equal(jg_session_unused_count(&f->core), 2);
    assert_int_equal(f->stats.unused_sessions, 2);

    /* a used session stops counting */
    assert_false(jg_session_open_transport(a, &f->tr[0], &fake_poll_ops));
    assert_int_equal(jg_session_unused_count(&f->core), 1);
    assert_int_equal(f->stats.unused_sessions, 1);
    limit = NULL;
    struct jg_session *c = jg_session_handshake(&f->core, "10.0.0.3:1000", &limit);
    assert_non_null(c);
    assert_null(limit);
    /* an ended one too */
    jg_session_end(b, "test", false);
    jg_session_end(c, "test", false);
    assert_int_equal(jg_session_unused_count(&f->core), 0);
    assert_int_equal(f->stats.unused_sessions, 0);
    jg_session_end(a, "test", false);
}

static void max_unused_sessions_per_ip(void **state)
{
    struct fx *f = *state;
    f->cfg.max_unused_sessions_per_ip = 1;
    const char *limit = NULL;
    struct jg_session *a = jg_session_handshake(&f->core, "10.0.0.1:1000", &limit);
    assert_non_null(a);
    assert_null(jg_session_handshake(&f->core, "10.0.0.1:1001", &limit));   /* same address, other port */
    assert_string_equal(limit, "max-unused-sessions-per-ip");
    limit = NULL;
    struct jg_session *v6 = jg_session_handshake(&f->core, "[::1]:5", &limit);
    assert_non_null(v6);
    assert_null(jg_session_handshake(&f->core, "[::1]:6", &limit));
    assert_string_equal(limit, "max-unused-sessions-per-ip");
    limit = NULL;
    struct jg_session *b = jg_session_handshake(&f->core, "10.0.0.2:1000", &limit);
    assert_non_null(b);
    assert_int_equal(jg_session_unused_count(&f->core), 3);
    jg_session_end(a, "test", false);   /* its address may handshake again */
    a = jg_session_handshake(&f->core, "10.0.0.1:1002", &limit);
    assert_non_null(a);
    assert_null(limit);
    jg_session_end_all(&f->core, "test");
    assert_int_equal(jg_session_unused_count(&f->core), 0);
}

/* ---- signed sids ---- */

struct peer {
    struct jg_stats stats;
    struct jg_core core;
    struct fake_bp bp;
};

/* A second instance sharing F's loop and settings (so its secret). */
static struct peer *peer_new(struct fx *f)
{
    struct peer *p = jg_xcalloc(1, sizeof *p);
    jg_core_init(&p->core, f->loop, &f->cfg, &p->stats);
    p->bp.cap = UINT64_MAX;
    jg_core_set_backplane(&p->core, &fake_local_bp_ops, &p->bp);
    return p;
}

static void peer_free(struct peer *p)
{
    jg_core_deinit(&p->core);
    assert_int_equal(p->stats.sessions, 0);
    free(p);
}

static void signed_sids_adoptable_once(void **state)
{
    struct fx *f = *state;
    f->cfg.cluster_secret = jg_xstrdup("a shared secret of the instances, long enough");
    struct peer *b = peer_new(f);
    struct jg_session *s = jg_session_create(&f->core);
    char sid[JG_SID_MAX + 1];
    snprintf(sid, sizeof sid, "%s", jg_session_sid(s));
    assert_int_equal(strlen(sid), JG_SID_SIGNED_LEN);
    assert_false(jg_session_adoptable(&f->core, sid));   /* held here */
    assert_true(jg_session_adoptable(&b->core, sid));

    /* a tampered sid is not */
    char bad[JG_SID_MAX + 1];
    snprintf(bad, sizeof bad, "%s", sid);
    bad[3] = bad[3] == 'A' ? 'B' : 'A';
    assert_false(jg_session_adoptable(&b->core, bad));
    assert_null(jg_session_adopt(&b->core, bad));

    struct jg_session *copy = jg_session_adopt(&b->core, sid);
    assert_non_null(copy);
    assert_string_equal(jg_session_sid(copy), sid);
    assert_int_equal(b->stats.sessions_adopted, 1);
    assert_false(jg_session_adoptable(&b->core, sid));   /* held there now */
    assert_null(jg_session_adopt(&b->core, sid));
    assert_false(jg_session_open_transport(copy, &f->tr[0], &fake_poll_ops));
    assert_string_equal(f->tr[0].log, "attached deliver[1::] detached");

    /* ended there: spent, never adopted again (first use wins) */
    jg_session_end(copy, "test", false);
    assert_false(jg_session_adoptable(&b->core, sid));
    assert_null(jg_session_adopt(&b->core, sid));
    assert_int_equal(b->stats.sids_replayed, 1);
    assert_int_equal(b->stats.sessions_adopted, 1);
    jg_session_forget_spent(&b->core);
    assert_true(jg_session_adoptable(&b->core, sid));

    /* ended where it was issued: spent there too; moved away: not spent */
    jg_session_end(s, "test", false);
    assert_false(jg_session_adoptable(&f->core, sid));
    s = jg_session_create(&f->core);
    snprintf(sid, sizeof sid, "%s", jg_session_sid(s));
    jg_session_end_moved(s, "moved");
    assert_true(jg_session_adoptable(&f->core, sid));
    peer_free(b);
}

/* Shutdown: jg_core_deinit ends the sessions left, with their unsubscribe events. */
static void deinit_ends_sessions_with_events(void **state)
{
    struct fx *f = *state;
    struct peer *b = peer_new(f);
    struct jg_session *s = jg_session_create(&b->core);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_stream_ops));
    subscribe(s, "c1");
    struct jg_session *p = jg_session_create(&b->core);
    subscribe(p, "c1");
    subscribe(p, "c2");
    assert_int_equal(b->bp.nevents, 3);
    jg_core_deinit(&b->core);
    assert_int_equal(b->bp.nevents, 6);
    for (size_t i = 3; i < 6; i++)
        assert_string_equal(b->bp.events[i].channel, "juggernaut:unsubscribe");
    assert_string_equal(f->tr[0].log, "attached deliver[1::] detached end");
    assert_int_equal(b->stats.sessions, 0);
    assert_int_equal(b->stats.subscriptions, 0);
    assert_int_equal(b->stats.channels, 0);
    free(b);
}

static void plain_sids_never_adopted(void **state)
{
    struct fx *f = *state;
    struct peer *b = peer_new(f);
    struct jg_session *s = jg_session_create(&f->core);
    assert_int_equal(strlen(jg_session_sid(s)), JG_SID_LEN);
    assert_false(jg_session_adoptable(&b->core, jg_session_sid(s)));
    assert_null(jg_session_adopt(&b->core, jg_session_sid(s)));
    jg_session_end(s, "test", false);
    peer_free(b);
}

/* ---- shared backplane (cluster mode) ---- */

static void shared_created_and_ended(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = jg_session_create(&f->core);
    assert_string_equal(f->bp.log, "created");
    subscribe(s, "c");
    jg_session_end(s, "test", false);
    assert_string_equal(f->bp.log, "created subscribed(c since=-0 history=0 presence=0) ended");
    assert_int_equal(f->bp.nevents, 0);   /* the backplane makes its events */

    /* moved away: not ended in the backplane */
    s = jg_session_create(&f->core);
    jg_session_end_moved(s, "moved");
    assert_string_equal(f->bp.log, "created subscribed(c since=-0 history=0 presence=0) ended created");
}

/* A polling answer with sequenced messages is recorded before it goes out; plain packets
 * that waited behind go with it, later seqs wait for the next GET. */
static void shared_poll_answer_recorded_first(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);   /* "1::" alone needs no record */
    assert_string_equal(f->bp.log, "created");
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    send_seq(s, "3:::m5", 5);
    assert_string_equal(f->bp.log, "created record(5)");
    assert_ptr_equal(f->bp.answering, s);
    assert_true(jg_session_answering(s));
    assert_string_equal(f->tr[0].log, "attached");   /* nothing before the record */
    send_seq(s, "3:::m6", 6);
    send_text(s, "6:::1");
    assert_int_equal(f->bp.nrecords, 1);   /* one answer at a time */
    assert_int_equal(jg_session_queue_len(s), 3);
    assert_int_equal(jg_session_seq_hi(s), 6);

    fake_answer(&f->bp, true);
    assert_false(jg_session_answering(s));
    assert_string_equal(f->tr[0].log, "attached deliver[3:::m5|6:::1] detached");
    assert_int_equal(jg_session_queue_len(s), 1);

    assert_true(jg_session_open_transport(s, &f->tr[1], &fake_poll_ops));
    assert_string_equal(f->bp.log, "created record(5) record(6)");
    assert_string_equal(f->tr[1].log, "attached");
    fake_answer(&f->bp, true);
    assert_string_equal(f->tr[1].log, "attached deliver[3:::m6] detached");
    assert_int_equal(jg_session_queue_len(s), 0);
    jg_session_end(s, "test", false);
}

/* The first GET of a session with a message waiting: recorded, and "1::" still goes first. */
static void shared_first_get_recorded_with_connect_first(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = jg_session_create(&f->core);
    send_seq(s, "3:::m3", 3);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    assert_string_equal(f->bp.log, "created record(3)");
    assert_string_equal(f->tr[0].log, "attached");
    fake_answer(&f->bp, true);
    assert_string_equal(f->tr[0].log, "attached deliver[1::|3:::m3] detached");
    jg_session_end(s, "test", false);
}

static void shared_record_failed_answers_noop_keeps_queue(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    send_seq(s, "3:::m5", 5);
    fake_answer(&f->bp, false);
    assert_string_equal(f->tr[0].log, "attached deliver[8::] detached");
    assert_int_equal(jg_session_queue_len(s), 1);
    assert_false(jg_session_answering(s));
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);
    /* the next GET tries again */
    assert_true(jg_session_open_transport(s, &f->tr[1], &fake_poll_ops));
    assert_string_equal(f->bp.log, "created record(5) record(5)");
    fake_answer(&f->bp, true);
    assert_string_equal(f->tr[1].log, "attached deliver[3:::m5] detached");
    jg_session_end(s, "test", false);
}

/* The GET went away while its answer was being recorded: the queue waits for the next. */
static void shared_answer_after_get_went_away(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    send_seq(s, "3:::m5", 5);
    jg_session_release_poll(s);   /* e.g. polling-duration */
    assert_string_equal(f->tr[0].log, "attached deliver[8::] detached");
    fake_answer(&f->bp, true);
    assert_int_equal(jg_session_queue_len(s), 1);
    assert_int_equal(f->tr[0].ndeliver, 1);
    assert_true(jg_session_open_transport(s, &f->tr[1], &fake_poll_ops));
    fake_answer(&f->bp, true);
    assert_string_equal(f->tr[1].log, "attached deliver[3:::m5] detached");
    assert_int_equal(f->bp.nrecords, 2);
    jg_session_end(s, "test", false);
}

static void shared_confirm_drops_confirmed(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    send_seq(s, "3:::m5", 5);
    send_seq(s, "3:::m6", 6);
    send_seq(s, "3:::m7", 7);
    send_text(s, "6:::1");
    assert_int_equal(jg_session_queue_len(s), 4);
    jg_session_confirm(s, 6);   /* the client had 5 and 6; plain packets are never confirmed */
    assert_int_equal(jg_session_queue_len(s), 2);
    jg_session_confirm(s, 6);
    assert_int_equal(jg_session_queue_len(s), 2);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    assert_string_equal(f->bp.log, "created record(7)");
    fake_answer(&f->bp, true);
    assert_string_equal(f->tr[0].log, "attached deliver[3:::m7|6:::1] detached");
    jg_session_end(s, "test", false);
}

/* answer_cap: seqs beyond it wait (a backfill is on its way); plain packets do not. */
static void shared_answer_cap_holds_back(void **state)
{
    struct fx *f = *state;
    struct jg_session *s = connected_session(f);
    f->bp.cap = 5;
    send_seq(s, "3:::m5", 5);
    send_seq(s, "3:::m6", 6);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    assert_string_equal(f->bp.log, "created record(5)");
    fake_answer(&f->bp, true);
    assert_string_equal(f->tr[0].log, "attached deliver[3:::m5] detached");
    assert_int_equal(jg_session_queue_len(s), 1);

    /* only m6 waits, above the cap: the GET is held, nothing recorded */
    assert_true(jg_session_open_transport(s, &f->tr[1], &fake_poll_ops));
    assert_string_equal(f->tr[1].log, "attached");
    assert_int_equal(f->bp.nrecords, 1);
    send_text(s, "6:::1");   /* a plain packet goes out without m6 */
    assert_string_equal(f->tr[1].log, "attached deliver[6:::1] detached");
    assert_int_equal(jg_session_queue_len(s), 1);

    /* the backfill arrived: the cap is lifted, a flush answers the held GET */
    assert_true(jg_session_open_transport(s, &f->tr[2], &fake_poll_ops));
    f->bp.cap = UINT64_MAX;
    jg_session_flush(s);
    assert_string_equal(f->bp.log, "created record(5) record(6)");
    fake_answer(&f->bp, true);
    assert_string_equal(f->tr[2].log, "attached deliver[3:::m6] detached");
    jg_session_end(s, "test", false);
}

/* Streams are not recorded: messages go straight out, heartbeats touch the backplane. */
static void shared_stream_not_recorded_and_touched(void **state)
{
    struct fx *f = *state;
    f->cfg.heartbeat_interval = 0.01;
    struct jg_session *s = jg_session_create(&f->core);
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_stream_ops));
    send_seq(s, "3:::m4", 4);
    assert_string_equal(f->tr[0].log, "attached deliver[1::] deliver[3:::m4]");
    assert_int_equal(f->bp.nrecords, 0);
    assert_int_equal(jg_session_seq_hi(s), 4);
    assert_true(run_until(f, touched, &f->bp, 5));
    assert_string_equal(f->bp.log, "created touch");
    assert_string_equal(last_pkt(&f->tr[0]), "2::");
    jg_session_end(s, "test", false);
}

/* Draining: polling sessions are handed off (their next poll goes elsewhere), streams end. */
static void shared_end_some_hands_off_polling(void **state)
{
    struct fx *f = *state;
    struct jg_session *p = connected_session(f);
    struct jg_session *st = jg_session_create(&f->core);
    assert_true(jg_session_open_transport(st, &f->tr[0], &fake_stream_ops));
    assert_true(jg_session_open_transport(p, &f->tr[1], &fake_poll_ops));
    jg_session_end_some(&f->core, 2, "drain");
    assert_int_equal(jg_session_count(&f->core), 0);
    assert_int_equal(f->bp.nhandoff, 1);
    assert_int_equal(f->stats.sessions_moved, 1);
    assert_int_equal(count_words(f->bp.log, "hand_off"), 1);
    assert_int_equal(count_words(f->bp.log, "ended"), 1);   /* the stream's; the handed-off one has none */
    assert_string_equal(f->tr[0].log, "attached deliver[1::] detached end");
    assert_string_equal(f->tr[1].log, "attached deliver[8::] detached");   /* polls again elsewhere */
}

/* A session another instance started, claimed here: past its handshake, so the close
 * timeout runs; "1::" only if that instance had not sent it. */
static void shared_claimed_session(void **state)
{
    struct fx *f = *state;
    char sid[JG_SID_MAX + 1];
    jg_sid_new(NULL, ev_now(f->loop), sid);
    struct jg_session *s = jg_session_claimed(&f->core, sid, true);
    assert_ptr_equal(jg_session_find(&f->core, sid), s);
    assert_true(jg_session_used(s));
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);
    assert_int_equal(jg_session_unused_count(&f->core), 0);
    assert_string_equal(f->bp.log, "");   /* not created here */
    assert_true(jg_session_open_transport(s, &f->tr[0], &fake_poll_ops));
    assert_string_equal(f->tr[0].log, "attached");   /* no second "1::" */
    jg_session_end(s, "test", false);

    jg_sid_new(NULL, ev_now(f->loop), sid);
    s = jg_session_claimed(&f->core, sid, false);
    assert_false(jg_session_open_transport(s, &f->tr[1], &fake_poll_ops));
    assert_string_equal(f->tr[1].log, "attached deliver[1::] detached");
    jg_session_end(s, "test", false);
    assert_string_equal(f->bp.log, "ended ended");
}

/* A shared backplane adopts by its claim, never here. */
static void shared_never_adopts(void **state)
{
    struct fx *f = *state;
    f->cfg.cluster_secret = jg_xstrdup("a shared secret of the instances, long enough");
    char sid[JG_SID_MAX + 1];
    jg_sid_new(f->cfg.cluster_secret, ev_now(f->loop), sid);
    assert_null(jg_session_adopt(&f->core, sid));
    assert_int_equal(jg_session_count(&f->core), 0);
}

#define LOCAL(t) cmocka_unit_test_setup_teardown(t, fx_setup_local, fx_teardown)
#define SHARED(t) cmocka_unit_test_setup_teardown(t, fx_setup_shared, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        LOCAL(first_poll_gets_connect_ahead_of_queue),
        LOCAL(first_stream_gets_connect_through_shared_frame),
        LOCAL(answered_poll_starts_close_timeout),
        LOCAL(unused_handshake_expires),
        LOCAL(held_get_answered_noop_after_polling_duration),
        LOCAL(second_get_replaces_held_one),
        LOCAL(new_stream_replaces_old_stream),
        LOCAL(stream_heartbeats),
        LOCAL(polling_session_gets_no_heartbeat),
        LOCAL(queue_overflow_ends_session_later),
        LOCAL(end_later_runs_once),
        LOCAL(end_later_in_order_skips_ended),
        LOCAL(end_with_disconnect_on_stream),
        LOCAL(end_with_disconnect_on_held_get),
        LOCAL(client_disconnect_packet),
        LOCAL(transport_lost_ends_session),
        LOCAL(end_moved_answers_held_get_without_events),
        LOCAL(end_some_ends_n_sessions),
        LOCAL(max_unused_sessions_refuses_handshakes),
        LOCAL(max_unused_sessions_per_ip),
        LOCAL(signed_sids_adoptable_once),
        LOCAL(plain_sids_never_adopted),
        LOCAL(deinit_ends_sessions_with_events),
        SHARED(shared_created_and_ended),
        SHARED(shared_poll_answer_recorded_first),
        SHARED(shared_first_get_recorded_with_connect_first),
        SHARED(shared_record_failed_answers_noop_keeps_queue),
        SHARED(shared_answer_after_get_went_away),
        SHARED(shared_confirm_drops_confirmed),
        SHARED(shared_answer_cap_holds_back),
        SHARED(shared_stream_not_recorded_and_touched),
        SHARED(shared_end_some_hands_off_polling),
        SHARED(shared_claimed_session),
        SHARED(shared_never_adopts),
    };
    return cmocka_run_group_tests(tests, fx_group_setup, fx_group_teardown);
}
