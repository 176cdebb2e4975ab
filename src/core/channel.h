/* channel.h: channel name -> subscribed sessions, and the fan-out of one encoded packet to
 * every subscriber. A subscription is one node in two lists (the channel's and the
 * session's), so unsubscribe and disconnect cost O(1) per subscription; a channel is
 * dropped when its last subscriber leaves (Fix J2). No sockets here. */
#ifndef JG_CHANNEL_H
#define JG_CHANNEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"

#include "base/list.h"
#include "base/sb.h"

struct jg_buf;
struct jg_session;
struct jg_stats;

struct jg_channel {
    char *name;                  /* owned */
    UT_hash_handle hh;
    struct jg_list subs;         /* struct jg_sub.channel_node, in subscription order */
    size_t nsubs;
};

struct jg_sub {
    struct jg_list channel_node; /* in channel->subs */
    struct jg_list session_node; /* in session->subs */
    struct jg_channel *channel;  /* borrowed */
    struct jg_session *session;  /* borrowed */
    /* cluster mode */
    uint64_t seq_hi;             /* highest seq delivered on this subscription */
    bool presence;               /* wants presence snapshot/join/leave */
    bool backfilling;            /* history/presence fetch in flight: live messages wait in the ring */
};

struct jg_channel_registry;

/* STATS (borrowed, may be NULL) gets the channels/subscriptions gauges kept current. */
struct jg_channel_registry *jg_channel_registry_new(struct jg_stats *stats);
/* Frees the registry; every session must have been unsubscribed first. NULL is a no-op. */
void jg_channel_registry_free(struct jg_channel_registry *reg);

struct jg_channel *jg_channel_find(struct jg_channel_registry *reg, const char *name);
size_t jg_channel_count(const struct jg_channel_registry *reg);
/* Appends a JSON array of the N channels with most subscribers, busiest first:
 * [{"channel":"name","subscribers":N},...]. */
void jg_channel_top_json(struct jg_channel_registry *reg, size_t n, struct jg_sb *out);

/* Subscribes S to NAME (copied). Returns 1 when a subscription was added, 0 when S was
 * already subscribed and ALLOW_DUPLICATE is false (nothing changes). */
int jg_channel_subscribe(struct jg_channel_registry *reg, const char *name, struct jg_session *s,
                         bool allow_duplicate);
/* Removes every subscription of S to NAME. Returns how many there were. */
size_t jg_channel_unsubscribe(struct jg_channel_registry *reg, const char *name, struct jg_session *s);
/* Removes one subscription (from both lists) and frees it; drops the channel if empty. */
void jg_channel_remove_sub(struct jg_channel_registry *reg, struct jg_sub *sub);

/* Sends PKT to every subscriber of NAME whose sid is not in EXCEPT, in subscription order,
 * sharing one lazily built transport encoding among them. Returns the number of sends. */
size_t jg_channel_publish(struct jg_channel_registry *reg, const char *name, struct jg_buf *pkt,
                          char *const *except, size_t nexcept);
/* The same for a channel already looked up. */
size_t jg_channel_publish_to(struct jg_channel *ch, struct jg_buf *pkt, char *const *except, size_t nexcept);
/* Cluster mode: message SEQ goes to the subscriptions that have not had it yet and are not
 * backfilling; PRESENCE_ONLY = only to those that asked for presence. */
size_t jg_channel_publish_seq(struct jg_channel *ch, struct jg_buf *pkt, char *const *except, size_t nexcept,
                              uint64_t seq, bool presence_only);
/* The subscription of S to CH, or NULL. */
struct jg_sub *jg_channel_find_sub(struct jg_channel *ch, const struct jg_session *s);

#endif /* JG_CHANNEL_H */
