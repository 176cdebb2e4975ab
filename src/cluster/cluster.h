/* cluster.h: cluster mode (README "Cluster mode"): one global sequence for every message,
 * a leader that sequences the legacy `PUBLISH juggernaut` messages, a ring of recent
 * sequenced messages, session records in Redis so that any instance can serve any request
 * of a session (non-sticky polling), presence, history, and the reaping of dead instances.
 * The Redis side is redis/juggernaut.lua (Redis Functions). Loop thread only. */
#ifndef JG_CLUSTER_H
#define JG_CLUSTER_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

struct jg_conn;
struct jg_server;
struct jg_session;
struct jg_sub;
struct redisAsyncContext;

#define JG_CLUSTER_SEQUENCED "juggernaut:sequenced"

struct jg_cluster;

struct jg_cluster *jg_cluster_new(struct jg_server *srv);
void jg_cluster_free(struct jg_cluster *c);
/* This instance's id in Redis (random per process start). */
const char *jg_cluster_id(const struct jg_cluster *c);

/* The highest seq this instance has delivered in order. */
uint64_t jg_cluster_last_seq(const struct jg_cluster *c);

/* Shutting down (SIGTERM): the leader lease is given up at once, so another instance
 * sequences from now on. */
void jg_cluster_draining(struct jg_cluster *c);

/* ---- broker hooks ---- */
/* The publisher link is up: the function library is loaded ahead of anything queued. */
void jg_cluster_publisher_ready(struct jg_cluster *c, struct redisAsyncContext *ac);
/* The subscriber link is (re)subscribed: catch up with the log. */
void jg_cluster_subscriber_ready(struct jg_cluster *c);
void jg_cluster_legacy_message(struct jg_cluster *c, const char *text, size_t len);
void jg_cluster_sequenced_message(struct jg_cluster *c, const char *text, size_t len);
/* A notice to this instance (juggernaut:instance:<id>): another one took a session over. */
void jg_cluster_notice(struct jg_cluster *c, const char *text, size_t len);

/* ---- sessions ---- */
/* S's record goes to Redis: its first transport request here (or ADOPTED: a request brought
 * a sid another instance issued, which has no record yet); without a cluster-secret, its
 * handshake. */
void jg_cluster_session_opened(struct jg_session *s, bool adopted);
/* A transport request for SID arrived on CONN: makes this instance the session's owner
 * (taking it over if another held it; confirming the last polling answer when T is the t
 * of a new GET), then calls the router again for the request. CONNECTS: the request opens
 * a transport (it may send "1::"). T may be NULL (POST, WebSocket). POLLING: an xhr- or
 * jsonp-polling request (its time is recorded: the session outlives a dead owner until
 * close-timeout after its last one). CREATE: the first transport request of a session
 * handshaken here, whose record is written by the claim unless another instance has one. */
void jg_cluster_claim(struct jg_conn *conn, const char *sid, const char *t, bool connects, bool polling,
                      bool create);
/* True while a request's claim of SID waits for Redis here (the client is there). */
bool jg_cluster_claim_pending(struct jg_cluster *c, const char *sid);
/* S ends here: its events come from Redis (jg_end), unless it moved to another instance. */
void jg_cluster_session_ended(struct jg_session *s);
/* Shutting down: a polling session is let go without its events (its next poll is claimed
 * by another instance; if none comes, the survivors reap it once this one is gone). */
void jg_cluster_hand_off(struct jg_session *s);
/* A streaming session's heartbeat: record its delivery cursor, keep its record alive. */
void jg_cluster_session_touch(struct jg_session *s);
/* A polling answer carrying messages up to seq TO is about to go out on S's held GET:
 * recorded first (so a retry of the request re-sends it); S's transport delivers the
 * queue when Redis answers (jg_session_poll_recorded). */
void jg_cluster_record_answer(struct jg_session *s, uint64_t to);
/* pubsub: subscribe/unsubscribe/meta of S, recorded in Redis (events and presence there).
 * SINCE (when HAS_SINCE), HISTORY (> 0) and PRESENCE ask for a backfill. */
void jg_cluster_subscribed(struct jg_session *s, struct jg_sub *sub, bool has_since, uint64_t since,
                           long history, bool presence);
void jg_cluster_unsubscribed(struct jg_session *s, const char *channel);
void jg_cluster_meta_changed(struct jg_session *s);

/* ---- admin HTTP ---- */
/* POST /publish (body = a Juggernaut publish, Authorization: Bearer <publish-token>). */
void jg_cluster_http_publish(struct jg_conn *conn);
/* GET /presence/<channel> */
void jg_cluster_http_presence(struct jg_conn *conn, const char *channel);

#endif /* JG_CLUSTER_H */
