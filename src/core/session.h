/* session.h: socket.io sessions (protocol.md §6): the sid table, the current transport, the
 * queue of packets waiting for a poll, and the timers (handshake expiry, close timeout,
 * heartbeats, poll duration). Transports plug in through struct jg_transport_ops; the
 * session never asks which transport it has. Loop thread only. */
#ifndef JG_SESSION_H
#define JG_SESSION_H
#include <stdbool.h>
#include <stddef.h>

#include <ev.h>
#include <jansson.h>
#include "base/hash.h"

#include "base/config.h"
#include "base/list.h"
#include "proto/sid.h"

struct jg_buf;
struct unused_addr;
struct jg_conn;
struct jg_server;


/* What a transport does with packets. */
struct jg_transport_ops {
    const char *name;
    bool streaming;              /* stays open after a write (websocket, htmlfile) */
    /* Writes N >= 1 packets to the open transport C. FRAME_CACHE, when not NULL and N == 1,
     * is where an encoding shared by every receiver of PKTS[0] is kept (built on first use,
     * owned by the caller). A polling transport answers its request and detaches. */
    void (*deliver)(struct jg_conn *c, struct jg_buf *const *pkts, size_t n, struct jg_buf **frame_cache);
    /* The session ended while C was its transport; close C the way this transport should. */
    void (*end)(struct jg_conn *c);
};

extern const struct jg_transport_ops jg_ws_ops, jg_xhr_ops, jg_jsonp_ops, jg_htmlfile_ops;

struct jg_session {
    char sid[JG_SID_MAX + 1];
    UT_hash_handle hh;                   /* in the sid table */
    struct jg_server *srv;               /* borrowed */
    struct jg_list subs;                 /* struct jg_sub.session_node, in subscription order */
    size_t nsubs;
    json_t *meta;                        /* owned ref; NULL until the client sends meta */
    struct jg_conn *transport;           /* borrowed: the open transport, or NULL */
    const struct jg_transport_ops *ops;  /* ops of the open transport */
    bool connected;                      /* "1::" has been sent */
    bool used;                           /* a transport request has been seen */
    bool unused_counted;                 /* counted in max-unused-sessions (until used or ended) */
    struct unused_addr *unused_addr;     /* its address's count (max-unused-sessions-per-ip), or NULL */
    bool recorded;                       /* cluster mode: its record was written to Redis (at the
                                            first transport request, not at the handshake) */
    bool ended;
    bool hb_waiting;                     /* "2::" sent, reply not yet received */
    struct jg_buf **queue;               /* owned refs: packets waiting for a transport */
    uint64_t *queue_seq;                 /* owned: the seq of each queued packet, 0 = none */
    size_t queue_len;
    size_t queue_cap;
    /* cluster mode (cluster.c) */
    uint64_t seq_hi;                     /* highest seq handed to the transport or queue */
    uint64_t poll_t;                     /* "t" of the held GET (jg_session_poll_key): tells a
                                            retry from a new poll */
    bool answering;                      /* a polling answer is being recorded in Redis */
    uint64_t serial;                     /* unique per copy: a reply meant for an ended copy
                                            never reaches a newer one with the same sid */
    const char *end_when_answered;       /* moved away while answering: ends (this reason) once
                                            the recorded answer went out (jg_cluster_end_moved) */
    bool moved;                          /* another instance took it over: end without events */
    uint64_t claim_gen;                  /* generation of the claim that brought it here */
    ev_timer timer;                      /* the one deadline a session has at a time: while
                                            detached, handshake expiry or close timeout; on a
                                            stream, heartbeat interval then timeout; on a held
                                            GET, the polling duration (jg_session_timer_kind) */
    struct jg_list end_node;             /* in the table's end-later list */
    const char *end_reason;              /* why it is to be ended later */
};

struct jg_session_table;

enum jg_session_timer_kind {
    JG_TIMER_NONE = 0,
    JG_TIMER_CLOSE,          /* handshake expiry or close timeout: no transport open */
    JG_TIMER_HEARTBEAT,      /* heartbeat interval or timeout: a stream is open */
    JG_TIMER_POLL,           /* polling duration: a GET is held */
};
/* What the session's running timer means (for tests and debugging). */
enum jg_session_timer_kind jg_session_timer_kind(const struct jg_session *s);

struct jg_session_table *jg_session_table_new(void);
/* Ends every session (publishing their unsubscribe events) and frees the table. */
void jg_session_table_free(struct jg_session_table *t);
size_t jg_session_count(const struct jg_session_table *t);

/* Handshake: a new session with a fresh unguessable sid; forgotten after handshake-expiry
 * unless a transport request comes. */
struct jg_session *jg_session_create(struct jg_server *srv);
/* A handshake from PEER (a connection's "host:port"): jg_session_create within
 * max-unused-sessions and max-unused-sessions-per-ip. Over either, returns NULL and sets
 * *LIMIT to the key's name. The session stops counting at its first transport request. */
struct jg_session *jg_session_handshake(struct jg_server *srv, const char *peer, const char **limit);
/* Handshaken sessions not used yet (for tests). */
size_t jg_session_unused_count(const struct jg_session_table *t);
struct jg_session *jg_session_find(struct jg_server *srv, const char *sid);
/* A transport request for SID that this instance does not hold: if SID was issued by an
 * instance sharing our cluster-secret within handshake-expiry, it becomes a session here
 * as if we had handshaken it. Returns NULL otherwise. */
struct jg_session *jg_session_adopt(struct jg_server *srv, const char *sid);
/* True if jg_session_adopt would take SID (signed, valid, not held or ended here); cluster
 * mode lets the claim create its record instead (one atomic step in Redis). */
bool jg_session_adoptable(struct jg_server *srv, const char *sid);
/* Forgets which signed sids ended here (they could be adopted again); for tests. */
void jg_session_forget_spent(struct jg_server *srv);

/* A transport request (GET poll, htmlfile stream, WebSocket) for S arrived on C. Replaces
 * any older transport (an older held GET is answered 8::), sends 1:: on the first one,
 * flushes the queue, starts heartbeats on streaming transports. Returns true if C is still
 * S's transport afterwards (e.g. a GET with nothing to send is now held). */
bool jg_session_open_transport(struct jg_session *s, struct jg_conn *c, const struct jg_transport_ops *ops);
/* C stopped being S's transport without the session ending: a poll was answered. Starts
 * the close timeout. */
void jg_session_transport_done(struct jg_session *s, struct jg_conn *c);
/* C's connection went away. Streams and held GETs end the session (protocol.md §6.4, §7.5). */
void jg_session_transport_lost(struct jg_session *s, struct jg_conn *c);

/* A session another instance started (cluster mode): the client is already past the
 * handshake, so no handshake expiry applies. */
struct jg_session *jg_session_claimed(struct jg_server *srv, const char *sid, bool connected);
/* Cluster mode: a held GET gets what waits for it now (a backfill that held messages back
 * has finished). */
void jg_session_flush(struct jg_session *s);
/* The key of a poll's "t" parameter (T, LEN bytes): its value when it is a number (socket.io
 * sends a timestamp), else a hash of it. */
uint64_t jg_session_poll_key(const char *t, size_t len);
/* The client confirmed everything up to CURSOR: queued packets up to it are dropped. */
void jg_session_confirm(struct jg_session *s, uint64_t cursor);
/* Redis answered jg_cluster_record_answer: OK = recorded, the queue up to seq TO goes out on
 * the held GET; else the GET is answered 8:: and the queue stays. */
void jg_session_poll_recorded(struct jg_session *s, bool ok, uint64_t to);

/* Sends PKT (a "3:::..." packet; a new ref is taken) to the session: written to the open
 * transport, or queued for the next poll. Never ends the session synchronously (safe inside
 * a fan-out loop); queue overflow ends it later. See jg_transport_ops for FRAME_CACHE. */
void jg_session_send(struct jg_session *s, struct jg_buf *pkt, struct jg_buf **frame_cache);
/* The same for a sequenced message (cluster mode): SEQ is kept with it while it waits. */
void jg_session_send_seq(struct jg_session *s, struct jg_buf *pkt, struct jg_buf **frame_cache, uint64_t seq);

/* One packet received from the client on any transport (protocol.md §4.2). */
void jg_session_packet_in(struct jg_session *s, const char *pkt, size_t len);
/* A POST body: one payload (bare or framed), decoded as UTF-8 with replacement. */
void jg_session_payload_in(struct jg_session *s, const char *body, size_t len);

/* Ends the session now: timers off, transport closed (with "0::" first when SEND_DISCONNECT),
 * unsubscribe events published, sid forgotten, memory freed. */
void jg_session_end(struct jg_session *s, const char *reason, bool send_disconnect);
/* Ends it from the loop's check phase, for callers inside a fan-out or a transport. */
void jg_session_end_later(struct jg_session *s, const char *reason);
/* Runs the ends requested with jg_session_end_later. */
void jg_session_reap(struct jg_server *srv);
/* Ends every session (shutdown), publishing their unsubscribe events. */
void jg_session_end_all(struct jg_server *srv, const char *reason);
/* Calls FN for every session (FN must not end any). */
void jg_session_each(struct jg_server *srv, void (*fn)(struct jg_session *s, void *arg), void *arg);
/* Ends up to N sessions (drain). */
void jg_session_end_some(struct jg_server *srv, size_t n, const char *reason);

#endif /* JG_SESSION_H */
