/* channel.h: channel name -> subscribed sessions, and the fan-out of one encoded packet to
 * every subscriber. A subscription is one node in two lists: the channel's (doubly linked:
 * O(1) out of a channel of any size) and the session's (singly linked: a session has at most
 * max-subscriptions), so a disconnect costs O(1) per subscription and an unsubscribe
 * O(subscriptions of the session); a channel is dropped when its last subscriber leaves
 * (Fix J2). The structs are this module's: others use the functions below. No sockets
 * here. */
#ifndef JG_CHANNEL_H
#define JG_CHANNEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/sb.h"

struct jg_buf;
struct jg_channel;
struct jg_channel_registry;
struct jg_session;
struct jg_stats;
struct jg_sub;

/* STATS (borrowed, may be NULL) gets the channels/subscriptions gauges kept current. */
struct jg_channel_registry *jg_channel_registry_new(struct jg_stats *stats);
/* Frees the registry; every session must have been unsubscribed first. NULL is a no-op. */
void jg_channel_registry_free(struct jg_channel_registry *reg);

struct jg_channel *jg_channel_find(struct jg_channel_registry *reg, const char *name);
size_t jg_channel_count(const struct jg_channel_registry *reg);
const char *jg_channel_name(const struct jg_channel *ch);
size_t jg_channel_subscribers(const struct jg_channel *ch);
/* Appends a JSON array of the N channels with most subscribers, busiest first:
 * [{"channel":"name","subscribers":N},...]. */
void jg_channel_top_json(struct jg_channel_registry *reg, size_t n, struct jg_sb *out);

/* Subscribes S to NAME (copied). Returns the new subscription, or NULL when S was already
 * subscribed and ALLOW_DUPLICATE is false (nothing changes). */
struct jg_sub *jg_channel_subscribe(struct jg_channel_registry *reg, const char *name, struct jg_session *s,
                                    bool allow_duplicate);
/* Removes every subscription of S to NAME. Returns how many there were. */
size_t jg_channel_unsubscribe(struct jg_channel_registry *reg, const char *name, struct jg_session *s);
/* Removes one subscription (from both lists) and frees it; drops the channel if empty. */
void jg_channel_remove_sub(struct jg_channel_registry *reg, struct jg_sub *sub);
/* The subscription of S to the channel NAME, or NULL. */
struct jg_sub *jg_channel_find_sub(struct jg_channel_registry *reg, const char *name, struct jg_session *s);

/* Sends PKT to every subscriber of CH whose sid is not in EXCEPT, in subscription order,
 * sharing one lazily built transport encoding among them. Returns the number of sends. */
size_t jg_channel_publish_to(struct jg_channel *ch, struct jg_buf *pkt, char *const *except, size_t nexcept);
/* The same by name (0 when nobody listens). */
size_t jg_channel_publish(struct jg_channel_registry *reg, const char *name, struct jg_buf *pkt,
                          char *const *except, size_t nexcept);
/* Shared backplane: message SEQ goes to the subscriptions that have not had it yet and are
 * not backfilling; PRESENCE_ONLY = only to those that asked for presence. */
size_t jg_channel_publish_seq(struct jg_channel *ch, struct jg_buf *pkt, char *const *except, size_t nexcept,
                              uint64_t seq, bool presence_only);

/* ---- one subscription ---- */
/* S's subscriptions in subscription order: first, then next until NULL. */
struct jg_sub *jg_sub_first(struct jg_session *s);
struct jg_sub *jg_sub_next(struct jg_session *s, struct jg_sub *sub);
struct jg_session *jg_sub_session(const struct jg_sub *sub);
struct jg_channel *jg_sub_channel(const struct jg_sub *sub);
const char *jg_sub_channel_name(const struct jg_sub *sub);
/* Shared backplane: the highest seq delivered on this subscription (62 bits: a larger seq
 * is kept as 2^62 - 1; channel.c says why none comes). */
uint64_t jg_sub_seq_hi(const struct jg_sub *sub);
void jg_sub_set_seq_hi(struct jg_sub *sub, uint64_t seq);
/* It wants presence snapshot/join/leave. */
bool jg_sub_presence(const struct jg_sub *sub);
void jg_sub_set_presence(struct jg_sub *sub, bool on);
/* A history/presence fetch is in flight: live messages wait (in the backplane's ring). */
bool jg_sub_backfilling(const struct jg_sub *sub);
void jg_sub_set_backfilling(struct jg_sub *sub, bool on);

#endif /* JG_CHANNEL_H */
