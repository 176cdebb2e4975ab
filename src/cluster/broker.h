/* broker.h: the two Redis connections (hiredis async on libev): one SUBSCRIBEd to
 * "juggernaut", one that PUBLISHes the juggernaut:* events. Reconnects with backoff,
 * re-subscribes, and keeps events produced while Redis is away in a bounded queue.
 * Loop thread only. */
#ifndef JG_BROKER_H
#define JG_BROKER_H
#include <stdbool.h>
#include <stddef.h>

#include <ev.h>

struct jg_broker;
struct jg_config;
struct jg_stats;
struct redisAsyncContext;
typedef struct redisReply redisReply;

/* Where the links' events go. USER is passed back to each hook and to reply callbacks. */
struct jg_broker_hooks {
    void *user;
    /* the publisher link is (re)connected: AC takes commands that must go first */
    void (*publisher_ready)(void *user, struct redisAsyncContext *ac);
    /* the subscriber link is (re)subscribed to every channel */
    void (*subscriber_ready)(void *user);
    /* a message on one of the channels ("juggernaut" ones are within max-publish-size) */
    void (*message)(void *user, const char *channel, const char *text, size_t len);
};

/* Nothing connects until jg_broker_start. */
struct jg_broker *jg_broker_new(struct ev_loop *loop, const struct jg_config *cfg, struct jg_stats *stats);
/* Starts connecting both links (does not wait); the subscriber subscribes to CHANNELS
 * (copied). HOOKS is copied. */
void jg_broker_start(struct jg_broker *b, const struct jg_broker_hooks *hooks, const char *const *channels,
                     size_t nchannels);
/* The answer to a command: REPLY, or NULL when the command was given up (queue full, the
 * link broke and it was not to be sent again, shutdown). USER is the hooks' user, NULL while
 * the broker is being freed (the callback then only frees what PRIV holds). */
typedef void jg_broker_reply_fn(void *user, redisReply *reply, void *priv);

/* Disconnects both connections and frees; queued events are dropped (and counted). */
void jg_broker_free(struct jg_broker *b);
/* Publishes TEXT on CHANNEL now, or queues it until Redis is back (dropping and counting
 * past redis-queue-limit). Copies what it needs. */
void jg_broker_publish(struct jg_broker *b, const char *channel, const char *text, size_t len);
/* Sends ARGV (LENS may be NULL for NUL-terminated strings; all copied) on the publisher
 * link, in order with the events, or queues it while Redis is away. CB (may be NULL) gets
 * the reply exactly once. With REQUEUE a command whose link broke before the reply is sent
 * again on the next link (at-least-once); without, CB gets NULL. */
void jg_broker_command(struct jg_broker *b, jg_broker_reply_fn *cb, void *priv, bool requeue, int argc,
                       const char *const *argv, const size_t *lens);
/* True while the publisher link is up. */
bool jg_broker_ready(const struct jg_broker *b);
/* True while the subscriber link is up and subscribed. */
bool jg_broker_subscribed(const struct jg_broker *b);
/* Seconds since Redis was last fully connected (0 while connected). */
double jg_broker_down_for(const struct jg_broker *b);
/* Writes queued events; true when nothing is left waiting (for shutdown). */
bool jg_broker_idle(const struct jg_broker *b);

#endif /* JG_BROKER_H */
