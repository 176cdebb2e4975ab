/* fake_core.h: a struct jg_core and nothing around it, for the core's unit tests
 * (test_session.c, test_routing.c). No sockets, no Redis, no transport/cluster/app objects:
 * - a FAKE TRANSPORT (struct jg_transport_ops, streaming and polling variants) that records
 *   every call the core makes on it and copies the packets it was given, so a test can
 *   assert exactly what a client would have received;
 * - FAKE BACKPLANES (struct jg_backplane_ops): one not shared, recording the juggernaut:*
 *   events; one shared (cluster mode), recording every call, whose record_answer the test
 *   answers later with jg_session_poll_recorded.
 * Timers are real libev timers on a private loop: tests set the timeouts short and run the
 * loop until what they wait for happened (run_until). Everything here is static: each
 * test file gets its own copy. */
#ifndef FAKE_CORE_H
#define FAKE_CORE_H
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ev.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/log.h"
#include "base/stats.h"
#include "base/xalloc.h"
#include "core/backplane.h"
#include "core/channel.h"
#include "core/core.h"
#include "core/session.h"

#define FAKE_UNUSED __attribute__((unused))

/* ---- log buffers: "call call(arg) ..." ---- */

#define FAKE_LOG_MAX 8192

static FAKE_UNUSED void log_add(char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static FAKE_UNUSED void log_add(char *log, const char *fmt, ...)
{
    size_t len = strlen(log);
    assert_true(len + 2 < FAKE_LOG_MAX);
    if (len)
        log[len++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(log + len, FAKE_LOG_MAX - len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < FAKE_LOG_MAX - len);   /* the log is big enough */
}

/* ---- the fake transport ---- */

#define FAKE_PKTS_MAX 64
#define FAKE_PKT_MAX 512

/* One client connection as the core sees it (the T of jg_transport_ops). */
struct fake_tr {
    struct jg_session *s;          /* the session it is attached to (as jg_conn_attached keeps it) */
    /* every call, in order: "attached", "deliver[p1|p2]", "detached", "end" */
    char log[FAKE_LOG_MAX];
    char pkts[FAKE_PKTS_MAX][FAKE_PKT_MAX];   /* copies of every packet delivered, in order */
    size_t npkts;
    unsigned nattached, ndetached, ndeliver, nend;
    unsigned ncached;              /* deliver calls with a frame cache (and one packet) */
    struct jg_buf *last_frame;     /* the frame the last cached delivery used (not a ref) */
};

/* Frames built into frame caches, over all fake transports: a fan-out to N receivers must
 * build one. */
static unsigned fake_frames_built;

static void fake_attached(void *t, struct jg_session *s)
{
    struct fake_tr *tr = t;
    assert_null(tr->s);
    tr->s = s;
    tr->nattached++;
    log_add(tr->log, "attached");
}

static void fake_detached(void *t)
{
    struct fake_tr *tr = t;
    assert_non_null(tr->s);
    tr->s = NULL;
    tr->ndetached++;
    log_add(tr->log, "detached");
}

static void record_delivery(struct fake_tr *tr, struct jg_buf *const *pkts, size_t n, struct jg_buf **frame_cache)
{
    char entry[FAKE_LOG_MAX] = "deliver[";
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_true(tr->npkts < FAKE_PKTS_MAX);
        assert_true(pkts[i]->len < FAKE_PKT_MAX);
        memcpy(tr->pkts[tr->npkts], pkts[i]->data, pkts[i]->len);
        tr->pkts[tr->npkts][pkts[i]->len] = '\0';
        if (i)
            strcat(entry, "|");
        assert_true(strlen(entry) + pkts[i]->len + 2 < sizeof entry);
        strcat(entry, tr->pkts[tr->npkts]);
        tr->npkts++;
    }
    strcat(entry, "]");
    log_add(tr->log, "%s", entry);
    tr->ndeliver++;
    if (n == 1 && frame_cache) {
        /* what the WebSocket transport does: the first receiver builds the frame, the others
         * reuse it; the caller owns and frees it */
        if (!*frame_cache) {
            *frame_cache = jg_buf_new(pkts[0]->data, pkts[0]->len);
            fake_frames_built++;
        }
        assert_memory_equal((*frame_cache)->data, pkts[0]->data, pkts[0]->len);
        tr->ncached++;
        tr->last_frame = *frame_cache;
    }
}

/* A stream (WebSocket, htmlfile): stays attached after a write. */
static void fake_stream_deliver(void *t, struct jg_buf *const *pkts, size_t n, struct jg_buf **frame_cache)
{
    record_delivery(t, pkts, n, frame_cache);
}

/* A polling GET: one answer, then the session lets it go (as poll.c's xhr_deliver does). */
static void fake_poll_deliver(void *t, struct jg_buf *const *pkts, size_t n, struct jg_buf **frame_cache)
{
    struct fake_tr *tr = t;
    struct jg_session *s = tr->s;
    record_delivery(tr, pkts, n, frame_cache);
    if (s)
        jg_session_transport_done(s, tr);
}

static void fake_end(void *t)
{
    struct fake_tr *tr = t;
    tr->nend++;
    log_add(tr->log, "end");
}

static FAKE_UNUSED const struct jg_transport_ops fake_stream_ops = {
    .name = "fake-stream", .streaming = true, .attached = fake_attached, .detached = fake_detached,
    .deliver = fake_stream_deliver, .end = fake_end,
};

static FAKE_UNUSED const struct jg_transport_ops fake_poll_ops = {
    .name = "fake-poll", .streaming = false, .attached = fake_attached, .detached = fake_detached,
    .deliver = fake_poll_deliver, .end = fake_end,
};

/* The last packet T received, "" if none. */
static FAKE_UNUSED const char *last_pkt(const struct fake_tr *tr)
{
    return tr->npkts ? tr->pkts[tr->npkts - 1] : "";
}

/* ---- the fake backplanes ---- */

#define FAKE_EVENTS_MAX 64

struct fake_event {
    char channel[64];              /* "juggernaut:subscribe", ... */
    char json[FAKE_PKT_MAX];
};

struct fake_bp {
    struct jg_core *core;
    /* every event(), in order */
    struct fake_event events[FAKE_EVENTS_MAX];
    size_t nevents;
    /* shared only: every call, in order: "created", "ended", "subscribed(ch since=.. history=..
     * presence=..)", "unsubscribed(ch)", "meta", "touch", "record(TO)", "hand_off" */
    char log[FAKE_LOG_MAX];
    uint64_t position;             /* what position() answers */
    uint64_t cap;                  /* what answer_cap() answers (UINT64_MAX: no limit) */
    struct jg_session *answering;  /* the session of the last record_answer, until answered */
    uint64_t answer_to;
    unsigned nrecords, ntouch, nhandoff;
    struct jg_sub *last_sub;       /* the sub of the last subscribed() */
};

static void fake_event(void *bp, const char *channel, const char *json, size_t len)
{
    struct fake_bp *b = bp;
    assert_true(b->nevents < FAKE_EVENTS_MAX);
    assert_true(len < FAKE_PKT_MAX);
    assert_int_equal(strlen(json), len);   /* the core passes NUL-terminated text */
    struct fake_event *e = &b->events[b->nevents++];
    snprintf(e->channel, sizeof e->channel, "%s", channel);
    memcpy(e->json, json, len);
    e->json[len] = '\0';
}

static uint64_t fake_position(void *bp)
{
    return ((struct fake_bp *)bp)->position;
}

static void fake_session_created(void *bp, struct jg_session *s)
{
    log_add(((struct fake_bp *)bp)->log, "created");
}

static void fake_session_ended(void *bp, struct jg_session *s)
{
    struct fake_bp *b = bp;
    if (b->answering == s)
        b->answering = NULL;
    log_add(b->log, "ended");
}

static void fake_subscribed(void *bp, struct jg_session *s, struct jg_sub *sub, const struct jg_subscribe_req *req)
{
    struct fake_bp *b = bp;
    b->last_sub = sub;
    log_add(b->log, "subscribed(%s since=%s%llu history=%ld presence=%d)", jg_sub_channel_name(sub),
            req->has_since ? "" : "-", (unsigned long long)req->since, req->history, req->presence);
}

static void fake_unsubscribed(void *bp, struct jg_session *s, const char *channel)
{
    log_add(((struct fake_bp *)bp)->log, "unsubscribed(%s)", channel);
}

static void fake_meta_changed(void *bp, struct jg_session *s)
{
    log_add(((struct fake_bp *)bp)->log, "meta");
}

static void fake_touch(void *bp, struct jg_session *s)
{
    struct fake_bp *b = bp;
    b->ntouch++;
    log_add(b->log, "touch");
}

static void fake_record_answer(void *bp, struct jg_session *s, uint64_t to)
{
    struct fake_bp *b = bp;
    assert_null(b->answering);   /* one answer at a time */
    b->answering = s;
    b->answer_to = to;
    b->nrecords++;
    log_add(b->log, "record(%llu)", (unsigned long long)to);
}

static uint64_t fake_answer_cap(void *bp, struct jg_session *s)
{
    return ((struct fake_bp *)bp)->cap;
}

static void fake_hand_off(void *bp, struct jg_session *s)
{
    struct fake_bp *b = bp;
    b->nhandoff++;
    log_add(b->log, "hand_off");
    jg_session_end_moved(s, "handed off");   /* what the cluster does */
}

static bool fake_claim_pending(void *bp, const char *sid)
{
    return false;
}

static FAKE_UNUSED const struct jg_backplane_ops fake_local_bp_ops = {
    .name = "fake-local", .shared = false, .event = fake_event,
};

static FAKE_UNUSED const struct jg_backplane_ops fake_shared_bp_ops = {
    .name = "fake-shared",
    .shared = true,
    .event = fake_event,
    .position = fake_position,
    .session_created = fake_session_created,
    .session_ended = fake_session_ended,
    .subscribed = fake_subscribed,
    .unsubscribed = fake_unsubscribed,
    .meta_changed = fake_meta_changed,
    .touch = fake_touch,
    .record_answer = fake_record_answer,
    .answer_cap = fake_answer_cap,
    .hand_off = fake_hand_off,
    .claim_pending = fake_claim_pending,
    /* claim_needed, claim, sid_unknown, after_record: the router's, never called by the core */
};

/* The backplane answers the pending record_answer: OK or not, up to its seq. */
static FAKE_UNUSED void fake_answer(struct fake_bp *b, bool ok)
{
    struct jg_session *s = b->answering;
    assert_non_null(s);
    b->answering = NULL;
    jg_session_poll_recorded(s, ok, b->answer_to);
}

/* ---- the fixture: a core, its loop, settings and counters, one fake backplane ---- */

#define FX_TRANSPORTS 8

struct fx {
    struct ev_loop *loop;
    struct jg_config cfg;
    struct jg_stats stats;
    struct jg_core core;
    struct fake_bp bp;
    /* the clients' connections: they live as long as the core, so sessions still open at
     * teardown end on a transport that exists */
    struct fake_tr tr[FX_TRANSPORTS];
};

/* A core with the shipped defaults except long timers (tests shorten the one they watch). */
static struct fx *fx_new(bool shared)
{
    struct fx *f = jg_xcalloc(1, sizeof *f);
    f->loop = ev_loop_new(EVFLAG_AUTO);
    assert_non_null(f->loop);
    jg_config_defaults(&f->cfg);
    jg_core_init(&f->core, f->loop, &f->cfg, &f->stats);
    f->bp.core = &f->core;
    f->bp.cap = UINT64_MAX;
    jg_core_set_backplane(&f->core, shared ? &fake_shared_bp_ops : &fake_local_bp_ops, &f->bp);
    fake_frames_built = 0;
    return f;
}

static int fx_setup_local(void **state)
{
    *state = fx_new(false);
    return 0;
}

static int fx_setup_shared(void **state)
{
    *state = fx_new(true);
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *f = *state;
    jg_core_deinit(&f->core);
    /* every session gone: no gauge left behind */
    assert_int_equal(f->stats.sessions, 0);
    assert_int_equal(f->stats.unused_sessions, 0);
    assert_int_equal(f->stats.channels, 0);
    assert_int_equal(f->stats.subscriptions, 0);
    jg_config_deinit(&f->cfg);
    ev_loop_destroy(f->loop);
    free(f);
    return 0;
}

/* Debug logging on (its format arguments get evaluated), written nowhere. */
static FAKE_UNUSED int fx_group_setup(void **state)
{
    jg_log_threshold = JG_LOG_DEBUG;
    return jg_log_open("/dev/null") == 0 ? 0 : -1;
}

static FAKE_UNUSED int fx_group_teardown(void **state)
{
    return jg_log_open(NULL);
}

/* ---- driving the loop ---- */

static FAKE_UNUSED void guard_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    *(bool *)w->data = true;
}

/* Runs the loop until COND(ARG) holds or MAX_S seconds passed; returns COND(ARG). */
static FAKE_UNUSED bool run_until(struct fx *f, bool (*cond)(void *arg), void *arg, double max_s)
{
    bool expired = false;
    ev_timer guard;
    ev_timer_init(&guard, guard_cb, max_s, 0);
    guard.data = &expired;
    ev_timer_start(f->loop, &guard);
    while (!cond(arg) && !expired)
        ev_run(f->loop, EVRUN_ONCE);
    ev_timer_stop(f->loop, &guard);
    return cond(arg);
}

/* ---- small helpers ---- */

static FAKE_UNUSED struct jg_buf *pkt_new(const char *text)
{
    return jg_buf_new(text, strlen(text));
}

/* Sends TEXT to S as a message packet (the caller's reference is dropped here). */
static FAKE_UNUSED void send_text(struct jg_session *s, const char *text)
{
    struct jg_buf *b = pkt_new(text);
    jg_session_send(s, b, NULL);
    jg_buf_unref(b);
}

static FAKE_UNUSED void send_seq(struct jg_session *s, const char *text, uint64_t seq)
{
    struct jg_buf *b = pkt_new(text);
    jg_session_send_seq(s, b, NULL, seq);
    jg_buf_unref(b);
}

/* A session past its first poll (it has had its "1::"), with no transport open. */
static FAKE_UNUSED struct jg_session *connected_session(struct fx *f)
{
    struct jg_session *s = jg_session_create(&f->core);
    struct fake_tr *first = jg_xcalloc(1, sizeof *first);
    assert_false(jg_session_open_transport(s, first, &fake_poll_ops));
    assert_string_equal(first->log, "attached deliver[1::] detached");
    free(first);
    return s;
}

/* The event N of the backplane: its channel and JSON text. */
static FAKE_UNUSED void assert_event(const struct fx *f, size_t n, const char *channel, const char *json)
{
    assert_true(n < f->bp.nevents);
    assert_string_equal(f->bp.events[n].channel, channel);
    assert_string_equal(f->bp.events[n].json, json);
}

#endif /* FAKE_CORE_H */
