/* session.c: socket.io session lifecycle (protocol.md §6, §11): sids, timers, the poll
 * queue, the current transport. What a client's packets mean is inbound.c's business, what
 * a message means pubsub.c's; how bytes reach the client is the transport's (its ops). */
#include "core/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/list.h"
#include "base/log.h"
#include "base/strtab.h"
#include "base/xalloc.h"
#include "core/backplane.h"
#include "core/deadline.h"
#include "core/endlater.h"
#include "core/pktq.h"
#include "core/spent.h"
#include "core/unused.h"
#include "proto/sid.h"

#define SPENT_SKEW 60.0           /* s of clock skew jg_sid_verify tolerates */
struct jg_session {
    char sid[JG_SID_MAX + 1];
    /* bits: they and end_pos fill the 7 bytes after the sid */
    bool connected : 1;                  /* "1::" has been sent */
    bool used : 1;                       /* a transport request has been seen */
    bool unused_counted : 1;             /* counted in max-unused-sessions (until used or ended) */
    bool ended : 1;
    bool moved : 1;                      /* another instance holds it: ends without events */
    bool hb_waiting : 1;                 /* "2::" sent, reply not yet received */
    bool answering : 1;                  /* a polling answer is being recorded */
    uint32_t end_pos;                    /* its jg_endlater position, 0 = not to end later */
    struct jg_core *core;                /* borrowed */
    struct jg_session_subs subs;         /* linked by channel.c */
    json_t *meta;                        /* owned ref; NULL until the client sends meta */
    void *transport;                     /* borrowed: the open transport, or NULL */
    const struct jg_transport_ops *ops;  /* ops of the open transport */
    struct jg_unused_addr *unused_addr;  /* its address's count (unused.h), or NULL */
    struct jg_pktq queue;                /* packets waiting for a transport */
    uint64_t seq_hi;                     /* shared: highest seq handed to the transport or queue */
    uint64_t poll_t;                     /* "t" of the held GET (jg_session_poll_key) */
    uint64_t serial;                     /* unique per copy */
    struct jg_backplane_state bp;        /* the backplane's, never read here */
    struct jg_deadline deadline;         /* the one deadline a session has at a time: while
                                            detached, handshake expiry or close timeout; on a
                                            stream, heartbeat interval then timeout; on a held
                                            GET, the polling duration (jg_session_timer_kind) */
};
_Static_assert(sizeof(struct jg_session) <= 192, "every idle subscriber has one: keep it in jemalloc's 192 class");

struct jg_session_table {
    struct jg_strtab by_sid;      /* every session, by its sid (.live: how many) */
    struct jg_deadlines deadlines;  /* every session's deadline */
    struct jg_unused *unused;     /* handshaken, no transport request yet */
    struct jg_endlater end_later; /* sessions to end from the check phase */
    struct jg_spent_set *spent;
};

static void timer_cb(struct jg_deadline *d);
/* The session's one timer is its entry in the table's deadlines; what it means follows from
 * the transport state (timer_meaning). */
static struct jg_deadlines *deadlines(const struct jg_session *s) { return &s->core->sessions->deadlines; }
static void set_timer(struct jg_session *s, double seconds) { jg_deadline_set(deadlines(s), &s->deadline, seconds); }
static void stop_timer(struct jg_session *s) { jg_deadline_stop(deadlines(s), &s->deadline); }

/* What the timer means in the session's current state, running or not. */
static enum jg_session_timer_kind timer_meaning(const struct jg_session *s)
{
    if (!s->transport)
        return JG_TIMER_CLOSE;
    return s->ops->streaming ? JG_TIMER_HEARTBEAT : JG_TIMER_POLL;
}

enum jg_session_timer_kind jg_session_timer_kind(const struct jg_session *s)
{
    return jg_deadline_armed(&s->deadline) ? timer_meaning(s) : JG_TIMER_NONE;
}

/* ---- the table ---- */

static const char *sid_of(const void *session)
{
    return ((const struct jg_session *)session)->sid;
}

struct jg_session_table *jg_session_table_new(struct ev_loop *loop)
{
    struct jg_session_table *t = jg_xcalloc(1, sizeof *t);
    jg_strtab_init(&t->by_sid, sid_of);
    jg_deadlines_init(&t->deadlines, loop, timer_cb);
    t->spent = jg_spent_new();
    t->unused = jg_unused_new();
    return t;
}

void jg_session_table_free(struct jg_session_table *t)
{
    if (!t)
        return;
    jg_spent_free(t->spent);
    jg_unused_free(t->unused);
    jg_strtab_free(&t->by_sid);
    jg_deadlines_free(&t->deadlines);
    jg_endlater_deinit(&t->end_later);
    free(t);
}

size_t jg_session_count(const struct jg_core *core)
{
    return core->sessions->by_sid.live;
}

size_t jg_session_unused_count(const struct jg_core *core)
{
    return jg_unused_count(core->sessions->unused);
}

void jg_session_forget_spent(struct jg_core *core)
{
    jg_spent_clear(core->sessions->spent);
}

static bool is_spent(struct jg_core *core, const char *sid)
{
    return jg_spent_has(core->sessions->spent, sid, ev_now(core->loop));
}

/* S was used (a transport request) or ended: it no longer counts as unused. */
static void unused_release(struct jg_session *s)
{
    if (!s->unused_counted)
        return;
    s->unused_counted = false;
    s->core->stats->unused_sessions--;
    jg_unused_release(s->core->sessions->unused, s->unused_addr);
    s->unused_addr = NULL;
}

static struct jg_session *session_new(struct jg_core *core, const char *sid)
{
    struct jg_session_table *t = core->sessions;
    static uint64_t serial;
    struct jg_session *s = jg_xcalloc(1, sizeof *s);
    s->core = core;
    s->serial = ++serial;
    if (sid) {
        snprintf(s->sid, sizeof s->sid, "%s", sid);
    } else {
        do {
            jg_sid_new(jg_core_sid_secret(core), ev_now(core->loop), s->sid);
        } while (jg_session_find(core, s->sid));
    }
    jg_strtab_add(&t->by_sid, s);
    core->stats->sessions++;
    set_timer(s, core->cfg->handshake_expiry);
    return s;
}

struct jg_session *jg_session_create(struct jg_core *core)
{
    struct jg_session *s = session_new(core, NULL);
    if (core->shared)
        core->bp_ops->session_created(core->bp, s);
    return s;
}

struct jg_session *jg_session_handshake(struct jg_core *core, const char *peer, const char **limit)
{
    struct jg_unused_addr *addr;
    if (!jg_unused_take(core->sessions->unused, core->cfg, peer, &addr, limit))
        return NULL;
    struct jg_session *s = jg_session_create(core);
    s->unused_addr = addr;
    s->unused_counted = true;
    core->stats->unused_sessions++;
    return s;
}

struct jg_session *jg_session_claimed(struct jg_core *core, const char *sid, bool connected)
{
    struct jg_session *s = session_new(core, sid);
    s->used = true;
    s->bp.recorded = true;
    s->connected = connected;
    set_timer(s, core->cfg->close_timeout);
    return s;
}

bool jg_session_adoptable(struct jg_core *core, const char *sid)
{
    /* ev_now is close to wall time: libev's loop clock is the realtime clock */
    const char *secret = jg_core_sid_secret(core);
    return secret && !jg_session_find(core, sid) &&
           jg_sid_verify(secret, sid, ev_now(core->loop), core->cfg->handshake_expiry) && !is_spent(core, sid);
}

struct jg_session *jg_session_adopt(struct jg_core *core, const char *sid)
{
    const char *secret = jg_core_sid_secret(core);
    if (core->shared || !secret || jg_session_find(core, sid))
        return NULL;   /* a shared backplane adopts by its claim */
    if (!jg_sid_verify(secret, sid, ev_now(core->loop), core->cfg->handshake_expiry))
        return NULL;
    if (is_spent(core, sid)) {
        core->stats->sids_replayed++;
        jg_info("session " JG_SID_LOG ": refused: its session ended here (a replayed sid)", sid);
        return NULL;
    }
    jg_debug("session %s: adopted (issued by another instance)", sid);
    core->stats->sessions_adopted++;
    return session_new(core, sid);
}

struct jg_session *jg_session_find(struct jg_core *core, const char *sid)
{
    struct jg_session *s = jg_strtab_find(&core->sessions->by_sid, sid);
    return s && !s->ended ? s : NULL;
}

void jg_session_each(struct jg_core *core, void (*fn)(struct jg_session *s, void *arg), void *arg)
{
    size_t pos = 0;
    for (struct jg_session *s; (s = jg_strtab_next(&core->sessions->by_sid, &pos));)
        fn(s, arg);
}

/* ---- accessors ---- */

const char *jg_session_sid(const struct jg_session *s) { return s->sid; }
struct jg_core *jg_session_core(const struct jg_session *s) { return s->core; }
bool jg_session_used(const struct jg_session *s) { return s->used; }
bool jg_session_holds_poll(const struct jg_session *s) { return s->transport && !s->ops->streaming; }
bool jg_session_streaming(const struct jg_session *s) { return s->transport && s->ops->streaming; }
size_t jg_session_queue_len(const struct jg_session *s) { return s->queue.len; }
void jg_session_fire_timer(struct jg_session *s) { jg_deadline_fire(deadlines(s), &s->deadline); }
uint64_t jg_session_serial(const struct jg_session *s) { return s->serial; }
json_t *jg_session_meta(const struct jg_session *s) { return s->meta; }
struct jg_session_subs *jg_session_subs(struct jg_session *s) { return &s->subs; }
struct jg_backplane_state *jg_session_bp_state(struct jg_session *s) { return &s->bp; }
uint64_t jg_session_seq_hi(const struct jg_session *s) { return s->seq_hi; }
void jg_session_set_seq_hi(struct jg_session *s, uint64_t seq) { s->seq_hi = seq; }
uint64_t jg_session_poll_t(const struct jg_session *s) { return s->poll_t; }
void jg_session_set_poll_t(struct jg_session *s, uint64_t t) { s->poll_t = t; }
bool jg_session_answering(const struct jg_session *s) { return s->answering; }

void jg_session_set_meta(struct jg_session *s, json_t *meta)
{
    if (s->meta)
        json_decref(s->meta);
    s->meta = meta;
}

uint64_t jg_session_poll_key(const char *t, size_t len)
{
    uint64_t v = 0;
    size_t i = 0;
    while (i < len && i < 19 && t[i] >= '0' && t[i] <= '9')
        v = v * 10 + (uint64_t)(t[i++] - '0');
    if (i == len && len > 0)
        return v;
    v = 1469598103934665603ULL;   /* FNV-1a of anything else */
    for (i = 0; i < len; i++)
        v = (v ^ (unsigned char)t[i]) * 1099511628211ULL;
    return v;
}

/* ---- the queue and the transport ---- */

static bool records_answers(const struct jg_session *s)
{
    /* shared backplane: a polling answer with sequenced messages is recorded before it goes out */
    return s->core->shared && s->transport && !s->ops->streaming;
}

/* Writes N packets to the open transport; a lone "1::" uses the shared connect frame. */
static void deliver(struct jg_session *s, struct jg_buf **q, size_t n)
{
    struct jg_core_packets *pk = &s->core->pkts;
    struct jg_buf *frame = NULL;
    struct jg_buf **cache = (n == 1 && q[0] == pk->connect) ? &pk->connect_frame : &frame;
    jg_debug("session %s: %zu packets out (%s)", s->sid, n, s->ops->name);
    s->ops->deliver(s->transport, q, n, cache);   /* a polling transport detaches */
    jg_buf_unref(frame);
}

/* Delivers, in order, the queued packets with no seq or a seq up to UPTO; keeps the others. */
static void deliver_queue(struct jg_session *s, uint64_t upto)
{
    struct jg_buf **q;
    size_t n = jg_pktq_take(&s->queue, upto, &q);
    if (n)
        deliver(s, q, n);
    for (size_t i = 0; i < n; i++)
        jg_buf_unref(q[i]);
    free(q);
}

/* Shared backplane, a GET is held: answer it with the queue, recording it first if it
 * carries sequenced messages. */
static void poll_flush(struct jg_session *s)
{
    if (s->answering || !s->transport || !s->queue.len)
        return;
    bool plain;
    uint64_t cap = s->core->bp_ops->answer_cap(s->core->bp, s);
    uint64_t to = jg_pktq_last_seq(&s->queue, cap, &plain);
    if (to == 0) {
        if (plain)
            deliver_queue(s, 0);   /* the rest waits for the backfill */
        return;
    }
    s->answering = true;
    s->core->bp_ops->record_answer(s->core->bp, s, to);
}

void jg_session_flush(struct jg_session *s)
{
    if (records_answers(s))
        poll_flush(s);
}

void jg_session_poll_recorded(struct jg_session *s, bool ok, uint64_t to)
{
    s->answering = false;
    if (!s->transport || s->ops->streaming)
        return;   /* the GET went away meanwhile: the queue waits for the next one */
    if (!ok) {
        jg_session_release_poll(s);
        return;
    }
    deliver_queue(s, to);
}

void jg_session_confirm(struct jg_session *s, uint64_t cursor)
{
    jg_pktq_confirm(&s->queue, cursor);
}

static void start_heartbeat(struct jg_session *s)
{
    s->hb_waiting = false;
    set_timer(s, s->core->cfg->heartbeat_interval);
}

void jg_session_heartbeat_reply(struct jg_session *s)
{
    if (s->transport && s->ops->streaming)
        start_heartbeat(s);
    else
        s->hb_waiting = false;
}

/* Lets the current transport go without touching its connection. */
static void *detach(struct jg_session *s)
{
    void *t = s->transport;
    if (!t)
        return NULL;
    s->transport = NULL;
    stop_timer(s);
    s->hb_waiting = false;
    s->ops->detached(t);
    return t;
}

void jg_session_release_poll(struct jg_session *s)
{
    if (s->transport && !s->ops->streaming) {
        jg_debug("session %s: held poll answered 8::", s->sid);
        struct jg_buf *noop = s->core->pkts.noop;
        s->ops->deliver(s->transport, &noop, 1, NULL);   /* answers 8:: and detaches */
    }
}

bool jg_session_open_transport(struct jg_session *s, void *t, const struct jg_transport_ops *ops)
{
    struct jg_core *core = s->core;
    if (s->transport && s->transport != t) {
        /* Protocol.md §7.5 Fix: an older held GET is answered 8:: rather than orphaned;
         * an older stream is closed (the session carries on on T). */
        const struct jg_transport_ops *old_ops = s->ops;
        void *old = s->transport;
        jg_session_release_poll(s);
        if (s->transport == old) {
            detach(s);
            old_ops->end(old);
        }
    }
    stop_timer(s);
    s->used = true;
    unused_release(s);
    s->transport = t;
    s->ops = ops;
    ops->attached(t, s);
    if (!s->connected) {
        /* "1::" goes first, ahead of anything queued (protocol.md §6.2) */
        s->connected = true;
        jg_pktq_push_front(&s->queue, core->pkts.connect, 0);
    }
    if (ops->streaming)
        start_heartbeat(s);
    if (records_answers(s))
        poll_flush(s);
    else if (s->queue.len)
        deliver_queue(s, UINT64_MAX);   /* taken out first: delivery may detach (polling) */
    if (s->transport == t && !ops->streaming)
        set_timer(s, core->cfg->polling_duration);
    return s->transport == t;
}

void jg_session_transport_done(struct jg_session *s, void *t)
{
    if (s->transport != t)
        return;
    detach(s);
    if (!s->ended)
        set_timer(s, s->core->cfg->close_timeout);
}

void jg_session_transport_lost(struct jg_session *s, void *t)
{
    if (s->transport != t)
        return;
    /* Streams end with their connection; so does a held GET (0.8.7 behaviour kept on
     * purpose, protocol.md §7.5: page unloads then fire unsubscribe events at once). */
    detach(s);
    jg_session_end(s, "transport closed", false);
}

void jg_session_send(struct jg_session *s, struct jg_buf *pkt, struct jg_buf **frame_cache)
{
    jg_session_send_seq(s, pkt, frame_cache, 0);
}

void jg_session_send_seq(struct jg_session *s, struct jg_buf *pkt, struct jg_buf **frame_cache, uint64_t seq)
{
    if (s->ended)
        return;
    s->core->stats->deliveries++;
    if (seq > s->seq_hi)
        s->seq_hi = seq;
    if (s->transport && records_answers(s) && (seq || s->answering || s->queue.len)) {
        jg_pktq_push(&s->queue, pkt, seq);   /* in order behind what is being recorded */
        poll_flush(s);
        return;
    }
    if (s->transport) {
        s->ops->deliver(s->transport, &pkt, 1, frame_cache);
        return;
    }
    if (s->queue.len >= s->core->cfg->max_session_queue) {
        if (!s->end_pos) {
            s->core->stats->session_queue_overflows++;
            jg_warn("session " JG_SID_LOG ": %u packets waiting for a poll (max-session-queue); ending it", s->sid,
                    s->queue.len);
            jg_session_end_later(s, "poll queue overflow");
        }
        return;
    }
    jg_pktq_push(&s->queue, pkt, seq);
}

/* ---- ending ---- */

void jg_session_end(struct jg_session *s, const char *reason, bool send_disconnect)
{
    if (s->ended)
        return;
    struct jg_core *core = s->core;
    s->ended = true;
    jg_debug("session %s ended: %s", s->sid, reason);
    stop_timer(s);
    if (s->transport) {
        const struct jg_transport_ops *ops = s->ops;
        void *t = s->transport;
        if (send_disconnect) {
            struct jg_buf *disc = core->pkts.disconnect;
            ops->deliver(t, &disc, 1, &core->pkts.disconnect_frame);
        }
        if (s->transport == t) {
            detach(s);
            ops->end(t);
        }
    }
    stop_timer(s);
    core->session_ending(s, s->moved);
    jg_pktq_clear(&s->queue);
    if (s->end_pos)
        jg_endlater_remove(&core->sessions->end_later, s->end_pos);
    unused_release(s);
    if (jg_core_sid_secret(core) && !s->moved)   /* a signed sid: never adopted again */
        jg_spent_add(core->sessions->spent, s->sid,
                     ev_now(core->loop) + core->cfg->handshake_expiry + SPENT_SKEW, ev_now(core->loop));
    jg_strtab_remove(&core->sessions->by_sid, s);
    core->stats->sessions--;
    if (s->meta)
        json_decref(s->meta);
    free(s);
}

void jg_session_end_moved(struct jg_session *s, const char *why)
{
    jg_session_release_poll(s);
    s->moved = true;
    s->core->stats->sessions_moved++;
    jg_session_end(s, why, false);
}

void jg_session_end_later(struct jg_session *s, const char *reason)
{
    if (!s->ended && !s->end_pos)
        s->end_pos = jg_endlater_add(&s->core->sessions->end_later, s, reason);
}

void jg_session_reap(struct jg_core *core)
{
    const char *reason;
    for (struct jg_session *s; (s = jg_endlater_next(&core->sessions->end_later, &reason));) {
        s->end_pos = 0;
        jg_session_end(s, reason, false);
    }
}

void jg_session_end_some(struct jg_core *core, size_t n, const char *reason)
{
    size_t pos = 0;
    for (struct jg_session *s; (s = jg_strtab_next(&core->sessions->by_sid, &pos));) {
        if (n-- == 0)
            break;
        if (core->shared && (!s->transport || !s->ops->streaming))
            core->bp_ops->hand_off(core->bp, s);   /* its next poll goes to another instance */
        else
            jg_session_end(s, reason, false);
    }
}

void jg_session_end_all(struct jg_core *core, const char *reason)
{
    size_t pos = 0;
    for (struct jg_session *s; (s = jg_strtab_next(&core->sessions->by_sid, &pos));)
        jg_session_end(s, reason, false);
}

/* ---- timers ---- */

static void close_timeout(struct jg_session *s)
{
    struct jg_core *core = s->core;
    if (core->shared && core->bp_ops->claim_pending(core->bp, s->sid)) {
        /* a request of the client is waiting for the backplane: the client is there */
        set_timer(s, core->cfg->close_timeout);
        return;
    }
    if (!s->used) {
        jg_debug("session %s: handshake expired unused", s->sid);
        jg_session_end(s, "handshake expired", false);
        return;
    }
    core->stats->close_timeouts++;
    jg_session_end(s, "close timeout", false);
}

static void heartbeat_due(struct jg_session *s)
{
    struct jg_core *core = s->core;
    if (s->hb_waiting) {
        core->stats->heartbeat_timeouts++;
        jg_debug("session %s: no heartbeat reply within %g s", s->sid, core->cfg->heartbeat_timeout);
        jg_session_end(s, "heartbeat timeout", false);
        return;
    }
    struct jg_buf *hb = core->pkts.heartbeat;
    s->ops->deliver(s->transport, &hb, 1, &core->pkts.heartbeat_frame);
    if (core->shared)
        core->bp_ops->touch(core->bp, s);
    s->hb_waiting = true;
    set_timer(s, core->cfg->heartbeat_timeout);
}

static void timer_cb(struct jg_deadline *d)
{
    struct jg_session *s = jg_container_of(d, struct jg_session, deadline);
    switch (timer_meaning(s)) {
    case JG_TIMER_CLOSE:
        close_timeout(s);
        break;
    case JG_TIMER_HEARTBEAT:
        heartbeat_due(s);
        break;
    case JG_TIMER_POLL:
        jg_session_release_poll(s);
        break;
    default:
        break;
    }
}
