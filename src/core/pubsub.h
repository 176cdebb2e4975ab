/* pubsub.h: Juggernaut semantics applied to live sessions: client messages (subscribe,
 * unsubscribe, meta, event), published messages fanned out to subscribers, and the
 * juggernaut:* events handed to the backplane. Loop thread only. */
#ifndef JG_PUBSUB_H
#define JG_PUBSUB_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jg_core;
struct jg_jug_publish;
struct jg_session;

/* The text of one "3:::" packet from session S. */
void jg_pubsub_client_message(struct jg_session *s, const char *text, size_t len);
/* S is ending: one juggernaut:unsubscribe per channel (unless it MOVED to another instance
 * or the backplane is shared: the backplane's then), subscriptions removed. */
void jg_pubsub_session_ended(struct jg_session *s, bool moved);
/* Delivers published message P to the local subscribers of its channels (except its
 * "except" sessions): with SEQ 0 the legacy way, else as sequenced message SEQ (shared
 * backplane; PRESENCE_ONLY: only to subscriptions that asked for presence). */
void jg_pubsub_deliver(struct jg_core *core, const struct jg_jug_publish *p, uint64_t seq, bool presence_only);
/* One published message (the JSON text of a PUBLISH juggernaut), not sequenced. */
void jg_pubsub_message(struct jg_core *core, const char *text, size_t len);

#endif /* JG_PUBSUB_H */
