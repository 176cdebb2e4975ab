/* pubsub.h: Juggernaut semantics applied to live sessions: client messages (subscribe,
 * unsubscribe, meta, event), messages from Redis fanned out to subscribers, and the
 * juggernaut:* events published back to Redis. Loop thread only. */
#ifndef JG_PUBSUB_H
#define JG_PUBSUB_H
#include <stddef.h>

struct jg_server;
struct jg_session;

/* The text of one "3:::" packet from session S. */
void jg_pubsub_client_message(struct jg_session *s, const char *text, size_t len);
/* S is ending: one juggernaut:unsubscribe per channel, subscriptions removed. */
void jg_pubsub_session_ended(struct jg_session *s);
/* One message received on the Redis channel "juggernaut". */
void jg_pubsub_redis_message(struct jg_server *srv, const char *text, size_t len);

#endif /* JG_PUBSUB_H */
