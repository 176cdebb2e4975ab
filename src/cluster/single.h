/* single.h: the backplane of a single instance (cluster no): nothing is shared between
 * instances. The juggernaut:* events are published to Redis, and messages published on
 * "juggernaut" go straight to this instance's subscribers. */
#ifndef JG_SINGLE_H
#define JG_SINGLE_H

struct jg_broker;
struct jg_core;
struct jg_single;

/* Plugs itself into CORE and starts BROKER (both borrowed; they outlive it). */
struct jg_single *jg_single_new(struct jg_core *core, struct jg_broker *broker);
void jg_single_free(struct jg_single *sg);

#endif /* JG_SINGLE_H */
