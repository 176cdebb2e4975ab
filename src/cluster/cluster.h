/* cluster.h: cluster mode (README "Cluster mode"), the shared backplane (core/backplane.h):
 * one global sequence for every message, a leader that sequences the legacy
 * `PUBLISH juggernaut` messages, a ring of recent sequenced messages, session records in
 * Redis so that any instance can serve any request of a session (non-sticky polling),
 * presence, history, and the reaping of dead instances. The Redis side is
 * redis/juggernaut.lua (Redis Functions). Loop thread only. */
#ifndef JG_CLUSTER_H
#define JG_CLUSTER_H
#include <stddef.h>
#include <stdint.h>

struct jg_broker;
struct jg_cluster;
struct jg_core;

#define JG_CLUSTER_SEQUENCED "juggernaut:sequenced"

/* Plugs itself into CORE as its backplane and starts BROKER (both borrowed; they outlive it). */
struct jg_cluster *jg_cluster_new(struct jg_core *core, struct jg_broker *broker);
void jg_cluster_free(struct jg_cluster *c);
/* This instance's id in Redis (random per process start). */
const char *jg_cluster_id(const struct jg_cluster *c);
/* The highest seq this instance has delivered in order. */
uint64_t jg_cluster_last_seq(const struct jg_cluster *c);
/* Shutting down (SIGTERM): the leader lease is given up at once, so another instance
 * sequences from now on. */
void jg_cluster_draining(struct jg_cluster *c);

/* ---- admin requests (app/admin.c) ---- */
/* The answer to one: an HTTP status and a body (JSON, ending in a newline). */
typedef void jg_cluster_answer_fn(void *arg, int status, const char *body, size_t len);
/* A Juggernaut publish (BODY, the JSON text) sequenced atomically by jg_publish:
 * 200 {"seq":N}, 400 when Redis refuses it, 503 when Redis is away. */
void jg_cluster_publish(struct jg_cluster *c, const char *body, size_t len, jg_cluster_answer_fn *done, void *arg);
/* Who is subscribed to CHANNEL, grouped by identity (their meta):
 * 200 {"channel":C,"sessions":N,["truncated":true,]"members":[{"meta":M,"sessions":N},...]}. */
void jg_cluster_presence(struct jg_cluster *c, const char *channel, jg_cluster_answer_fn *done, void *arg);

#endif /* JG_CLUSTER_H */
