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
/* Disconnects both connections and frees; queued events are dropped (and counted). */
void jg_broker_free(struct jg_broker *b);
/* Publishes TEXT on CHANNEL now, or queues it until Redis is back (dropping and counting
 * past redis-queue-limit). Copies what it needs. */
void jg_broker_publish(struct jg_broker *b, const char *channel, const char *text, size_t len);
/* Seconds since Redis was last fully connected (0 while connected). */
double jg_broker_down_for(const struct jg_broker *b);
/* Writes queued events; true when nothing is left waiting (for shutdown). */
bool jg_broker_idle(const struct jg_broker *b);

#endif /* JG_BROKER_H */
