/* session.h: socket.io sessions (protocol.md §6): the sid table, the current transport, the
 * queue of packets waiting for a poll, and the timers (handshake expiry, close timeout,
 * heartbeats, poll duration). Transports plug in through struct jg_transport_ops; the
 * session never asks which transport it has. The struct is this module's: others use the
 * functions below. Loop thread only. */
#ifndef JG_SESSION_H
#define JG_SESSION_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/context.h"

struct jg_buf;
struct jg_session;
struct jg_session_table;
struct jg_backplane_state;
struct jg_sub;

/* What a transport does with packets. T is the transport's own handle (a connection): the
 * core passes it back and never looks into it. */
struct jg_transport_ops {
    const char *name;
    bool streaming;              /* stays open after a write (websocket, htmlfile) */
    /* T became S's transport (jg_session_open_transport). */
    void (*attached)(void *t, struct jg_session *s);
    /* S let T go: a poll was answered, a newer transport replaced it, or S ended. */
    void (*detached)(void *t);
    /* Writes N >= 1 packets to T. FRAME_CACHE, when not NULL and N == 1, is where an
     * encoding shared by every receiver of PKTS[0] is kept (built on first use, owned by the
     * caller). A polling transport answers its request, and the session detaches it. */
    void (*deliver)(void *t, struct jg_buf *const *pkts, size_t n, struct jg_buf **frame_cache);
    /* The session ended while T was its transport (or a newer one replaced T): close T the
     * way this transport should. */
    void (*end)(void *t);
};

/* The subscriptions of one session: this is the session's, the subscriptions and their
 * linking (a singly linked ring, in subscription order) belong to core/channel.c. Zeroed =
 * none. */
struct jg_session_subs {
    struct jg_sub *last;         /* the newest, or NULL; its next is the oldest */
    size_t n;                    /* how many */
};

enum jg_session_timer_kind {
    JG_TIMER_NONE = 0,
    JG_TIMER_CLOSE,          /* handshake expiry or close timeout: no transport open */
    JG_TIMER_HEARTBEAT,      /* heartbeat interval or timeout: a stream is open */
    JG_TIMER_POLL,           /* polling duration: a GET is held */
};

struct jg_session_table *jg_session_table_new(struct ev_loop *loop);
/* Frees the table; its sessions must have been ended (jg_session_end_all). */
void jg_session_table_free(struct jg_session_table *t);
size_t jg_session_count(const struct jg_core *core);
/* Handshaken sessions not used yet (for tests). */
size_t jg_session_unused_count(const struct jg_core *core);

/* ---- making and finding sessions ---- */
/* Handshake: a new session with a fresh unguessable sid; forgotten after handshake-expiry
 * unless a transport request comes. */
struct jg_session *jg_session_create(struct jg_core *core);
/* A handshake from PEER (a connection's "host:port"): jg_session_create within
 * max-unused-sessions and max-unused-sessions-per-ip. Over either, returns NULL and sets
 * *LIMIT to the key's name. The session stops counting at its first transport request. */
struct jg_session *jg_session_handshake(struct jg_core *core, const char *peer, const char **limit);
struct jg_session *jg_session_find(struct jg_core *core, const char *sid);
/* A transport request for SID that this instance does not hold: if SID was issued by an
 * instance sharing our secret within handshake-expiry, it becomes a session here as if we
 * had handshaken it. NULL otherwise, and always with a shared backplane (its claim adopts). */
struct jg_session *jg_session_adopt(struct jg_core *core, const char *sid);
/* True if SID is signed, valid, and not held or ended here. */
bool jg_session_adoptable(struct jg_core *core, const char *sid);
/* Forgets which signed sids ended here (they could be adopted again); for tests. */
void jg_session_forget_spent(struct jg_core *core);
/* A session another instance started (shared backplane): the client is past the handshake,
 * so no handshake expiry applies. */
struct jg_session *jg_session_claimed(struct jg_core *core, const char *sid, bool connected);
/* Calls FN for every session (FN must not end any). */
void jg_session_each(struct jg_core *core, void (*fn)(struct jg_session *s, void *arg), void *arg);

/* ---- what a session is ---- */
const char *jg_session_sid(const struct jg_session *s);
struct jg_core *jg_session_core(const struct jg_session *s);
/* A transport request has been seen (it is past its handshake). */
bool jg_session_used(const struct jg_session *s);
/* A polling GET is held open for it. */
bool jg_session_holds_poll(const struct jg_session *s);
/* A streaming transport (WebSocket, htmlfile) is open. */
bool jg_session_streaming(const struct jg_session *s);
/* What the session's running timer means (for tests and debugging). */
enum jg_session_timer_kind jg_session_timer_kind(const struct jg_session *s);
/* Runs what the session's timer would do when it falls due, now (if it is running): for the
 * fuzzing harnesses, which fire timers by hand. */
void jg_session_fire_timer(struct jg_session *s);
/* Packets waiting for a transport (for tests). */
size_t jg_session_queue_len(const struct jg_session *s);
/* Unique per copy: a reply meant for an ended copy never reaches a newer one with the sid. */
uint64_t jg_session_serial(const struct jg_session *s);
/* The meta the client sent (borrowed), or NULL; set takes over the reference META. */
json_t *jg_session_meta(const struct jg_session *s);
void jg_session_set_meta(struct jg_session *s, json_t *meta);
struct jg_session_subs *jg_session_subs(struct jg_session *s);
struct jg_backplane_state *jg_session_bp_state(struct jg_session *s);
/* Shared backplane: the highest seq handed to the transport or queue. */
uint64_t jg_session_seq_hi(const struct jg_session *s);
void jg_session_set_seq_hi(struct jg_session *s, uint64_t seq);
/* The key of the held GET's "t" (jg_session_poll_key): tells a retry from a new poll. */
uint64_t jg_session_poll_t(const struct jg_session *s);
void jg_session_set_poll_t(struct jg_session *s, uint64_t t);
/* A polling answer is being recorded (jg_backplane_ops.record_answer). */
bool jg_session_answering(const struct jg_session *s);
/* The key of a poll's "t" parameter (T, LEN bytes): its value when it is a number (socket.io
 * sends a timestamp), else a hash of it. */
uint64_t jg_session_poll_key(const char *t, size_t len);

/* ---- transports ---- */
/* A transport request (GET poll, htmlfile stream, WebSocket) for S arrived on T. Replaces
 * any older transport (an older held GET is answered 8::), sends 1:: on the first one,
 * flushes the queue, starts heartbeats on streaming transports. Returns true if T is still
 * S's transport afterwards (e.g. a GET with nothing to send is now held). */
bool jg_session_open_transport(struct jg_session *s, void *t, const struct jg_transport_ops *ops);
/* T stopped being S's transport without the session ending: a poll was answered. Starts
 * the close timeout. */
void jg_session_transport_done(struct jg_session *s, void *t);
/* T's connection went away. Streams and held GETs end the session (protocol.md §6.4, §7.5). */
void jg_session_transport_lost(struct jg_session *s, void *t);
/* A held GET is answered 8:: now (the client polls again). */
void jg_session_release_poll(struct jg_session *s);
/* The client answered a heartbeat. */
void jg_session_heartbeat_reply(struct jg_session *s);

/* ---- sending ---- */
/* Sends PKT (a "3:::..." packet; a new ref is taken) to the session: written to the open
 * transport, or queued for the next poll. Never ends the session synchronously (safe inside
 * a fan-out loop); queue overflow ends it later. See jg_transport_ops for FRAME_CACHE. */
void jg_session_send(struct jg_session *s, struct jg_buf *pkt, struct jg_buf **frame_cache);
/* The same for a sequenced message (shared backplane): SEQ is kept with it while it waits. */
void jg_session_send_seq(struct jg_session *s, struct jg_buf *pkt, struct jg_buf **frame_cache, uint64_t seq);
/* Shared backplane: a held GET gets what waits for it now (a backfill that held messages
 * back has finished). */
void jg_session_flush(struct jg_session *s);
/* The client confirmed everything up to CURSOR: queued packets up to it are dropped. */
void jg_session_confirm(struct jg_session *s, uint64_t cursor);
/* The backplane answered record_answer: OK = recorded, the queue up to seq TO goes out on
 * the held GET; else the GET is answered 8:: and the queue stays. */
void jg_session_poll_recorded(struct jg_session *s, bool ok, uint64_t to);

/* ---- ending ---- */
/* Ends the session now: timers off, transport closed (with "0::" first when SEND_DISCONNECT),
 * unsubscribe events published, sid forgotten, memory freed. */
void jg_session_end(struct jg_session *s, const char *reason, bool send_disconnect);
/* Another instance holds S now: a held GET is answered 8:: (the client polls again, maybe
 * there) and the copy here goes without events. */
void jg_session_end_moved(struct jg_session *s, const char *why);
/* Ends it from the loop's check phase, for callers inside a fan-out or a transport. */
void jg_session_end_later(struct jg_session *s, const char *reason);
/* Runs the ends requested with jg_session_end_later. */
void jg_session_reap(struct jg_core *core);
/* Ends every session (shutdown), publishing their unsubscribe events. */
void jg_session_end_all(struct jg_core *core, const char *reason);
/* Ends up to N sessions (drain); with a shared backplane, polling ones are handed off. */
void jg_session_end_some(struct jg_core *core, size_t n, const char *reason);

#endif /* JG_SESSION_H */
