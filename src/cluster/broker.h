/* broker.h: the two Redis connections (hiredis async on libev): one SUBSCRIBEd to
 * "juggernaut", one that PUBLISHes the juggernaut:* events. Reconnects with backoff,
 * re-subscribes, and keeps events produced while Redis is away in a bounded queue.
 * Loop thread only. */
#ifndef JG_BROKER_H
#define JG_BROKER_H
#include <stdbool.h>
#include <stddef.h>

struct jg_server;
struct jg_broker;

/* Starts connecting (does not wait). Messages on "juggernaut" go to jg_pubsub_redis_message. */
struct jg_broker *jg_broker_new(struct jg_server *srv);
typedef struct redisReply redisReply;
/* The answer to a command: REPLY, or NULL when the command was given up (queue full, the
 * link broke and it was not to be sent again, shutdown). */
typedef void jg_broker_reply_fn(struct jg_server *srv, redisReply *reply, void *priv);

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
