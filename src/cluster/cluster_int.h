/* cluster_int.h: what the parts of cluster mode share: cluster.c (lifetime, heartbeat,
 * lease, reaping, the backplane ops), cluster_seq.c (the sequence and the leader),
 * cluster_replay.c (the ring of recent messages, replays), cluster_session.c (session
 * records, claims and notices: sessions that move between instances), cluster_sub.c
 * (subscriptions, backfills, presence) and cluster_admin.c (POST /publish, GET /presence).
 * Internal to them; the rest of the daemon uses cluster.h. */
#ifndef JG_CLUSTER_INT_H
#define JG_CLUSTER_INT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include "base/hash.h"

#include "base/config.h"
#include "base/hashcount.h"
#include "base/list.h"
#include "base/sb.h"
#include "base/stats.h"
#include "cluster/broker.h"
#include "cluster/ring.h"
#include "core/backplane.h"
#include "core/context.h"
#include "proto/juggernaut.h"
#include "proto/sid.h"

struct jg_session;
struct jg_sub;
typedef struct redisReply redisReply;

enum role { FOLLOWER, ALIGNING, LEADER };

struct legacy {
    struct jg_list node;
    size_t len;
    struct jg_jug_publish p;        /* the text parsed once, when heard: its channels go to
                                       jg_sequence, and the whole of it to the ring when it
                                       comes back sequenced */
    uint64_t hash;                  /* of the text */
    double at;                      /* ev_now when heard */
    bool sent;                      /* handed to Redis to sequence by this instance as leader */
    char text[];                    /* LEN bytes and a NUL, in the same allocation */
};

struct held_seq {                   /* a sequenced message waiting for a catch-up to finish */
    struct held_seq *next;
    uint64_t seq;
    char kind;
    char *text;
    size_t len;
};

/* Notices about a session this instance does not hold (yet) while its own claim may still
 * be on the way (replies and notices come on different links): a "drop" says the claim is
 * already superseded; "sub"/"unsub"/"meta" changes made after the claim's snapshot are
 * applied once it arrives. Kept a few seconds. */
struct tombstone {
    char sid[JG_SID_MAX + 1];
    uint64_t gen;                   /* highest drop generation noticed */
    struct jg_sb notices;           /* NUL-separated notice texts to apply after the claim */
    unsigned claims;                /* claims of this sid in flight here */
    double at;
    UT_hash_handle hh;
};

struct jg_cluster {
    struct jg_core *core;           /* borrowed */
    struct jg_broker *broker;       /* borrowed */
    struct ev_loop *loop;           /* borrowed: the core's */
    const struct jg_config *cfg;    /* borrowed: the core's */
    struct jg_stats *stats;         /* borrowed: the core's */
    char id[48];
    enum role role;
    uint64_t last_seq;              /* highest seq applied, in order */
    bool catching_up;
    bool catchup_again;
    struct held_seq *held_head, *held_tail;
    struct jg_list legacy;          /* struct legacy, oldest first */
    size_t nlegacy;
    size_t nunsent;                 /* of those, not handed to Redis to sequence: always the
                                       newest ones (a suffix of the list) */
    struct jg_hashcount pending_texts;  /* entries of LEGACY per text hash */
    struct jg_ring ring;            /* recent sequenced messages */
    ev_timer beat;
    ev_prepare batch;               /* the leader sequences what a loop turn brought, at once */
    struct tombstone *tombstones;   /* uthash by sid */
    bool released;                  /* the lease was given up (draining) */
    double subscribed_since;        /* ev_now when the subscriber link last came up */
    char secret_candidate[65];      /* offered as jg:secret at connect (no cluster-secret) */
    struct jg_list backfills;       /* backfills waiting for the stream to catch up */
};

static inline long long record_ttl_ms(const struct jg_config *cfg)
{
    /* a session with no request for this long is gone anyway */
    return (long long)((cfg->close_timeout + cfg->polling_duration + cfg->heartbeat_interval +
                        cfg->heartbeat_timeout) * 1000) + 5000;
}

static inline uint64_t parse_u64(const char *s, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

/* Loads this version's library into Redis again (an instance of an older version loaded
 * its own at its connect), and marks that one alive (jg:wire1-seen) for its beats to keep. */
void jg_cluster_reload_library(struct jg_cluster *c);
/* FCALL NAME 0 ARGS... on the publisher link (jg_broker_command's CB/PRIV/REQUEUE). */
void jg_cluster_fcall(struct jg_cluster *c, jg_broker_reply_fn *cb, void *priv, bool requeue, const char *name,
                      int nargs, const char *const *args, const size_t *lens);
/* Message E on CHANNEL to one subscription, unless it had it already. */
void jg_cluster_deliver_to_sub(const struct jg_ring_entry *e, const char *channel, struct jg_sub *sub);
/* The ring's messages on SUB's channel it has not had (presence ones only after P_AFTER). */
void jg_cluster_replay_sub(struct jg_cluster *c, struct jg_sub *sub, uint64_t p_after);
/* What the instances read (jg_beat's wire version): 2 = packed batches as well. */
#define JG_CLUSTER_WIRE "2"
/* Messages per packed batch at most (redis/juggernaut.lua's PACK_MAX): a jg:log entry
 * covers no seq below its id - JG_CLUSTER_PACK_MAX. */
#define JG_CLUSTER_PACK_MAX 1000

/* One sequenced message: its seq, kind and JSON text. */
typedef void jg_cluster_seq_fn(void *arg, uint64_t seq, char kind, const char *json, size_t len);
/* The messages of a packed batch (jg_sequence_packed: "B <first-seq> <n>\n", then per
 * message "<kind><bytes>:<json>") to FN in order, pointing into TEXT, once all of it proved
 * well formed; -1 and none of them if it is not. */
int jg_cluster_unpack(const char *text, size_t len, jg_cluster_seq_fn *fn, void *arg);
/* The messages of an XRANGE entry of jg:log (one, or a packed batch) to FN in order,
 * pointing into E; false if it holds none. */
bool jg_cluster_log_entry(const redisReply *e, jg_cluster_seq_fn *fn, void *arg);
/* The ring's messages S has not had on any of its channels, in sequence order (what is
 * older than the ring is read from the Redis log first). */
void jg_cluster_replay_session(struct jg_cluster *c, struct jg_session *s);
/* Forgets the notices about sessions not held here that are older than OLDER_THAN. */
void jg_cluster_forget_drops(struct jg_cluster *c, double older_than);
/* The stream reached the point of backfills that were waiting for it: they finish. */
void jg_cluster_backfills_ready(struct jg_cluster *c);
void jg_cluster_backfills_free(struct jg_cluster *c);
/* Another instance owns S now: a held GET is answered 8:: and the copy here goes, without
 * events (once a polling answer being recorded went out). */
void jg_cluster_end_moved(struct jg_session *s, const char *why);

/* ---- internal parts of the backplane ops (cluster.c puts them in its table) ---- */
/* cluster_seq.c */
void jg_cluster_catchup(struct jg_cluster *c);
void jg_cluster_catchup_done(struct jg_cluster *c);
void jg_cluster_step_down(struct jg_cluster *c, const char *why);
void jg_cluster_seq_init(struct jg_cluster *c);
void jg_cluster_seq_free(struct jg_cluster *c);
/* A message on "juggernaut", JG_CLUSTER_SEQUENCED, or this instance's notice channel. */
void jg_cluster_legacy_message(struct jg_cluster *c, const char *text, size_t len);
void jg_cluster_sequenced_message(struct jg_cluster *c, const char *text, size_t len);
void jg_cluster_notice(struct jg_cluster *c, const char *text, size_t len);
/* cluster_session.c */
void jg_cluster_session_created(void *bp, struct jg_session *s);
void jg_cluster_session_ended(void *bp, struct jg_session *s);
void jg_cluster_session_opened(struct jg_cluster *c, struct jg_session *s, bool adopted);
void jg_cluster_touch(void *bp, struct jg_session *s);
void jg_cluster_record_answer(void *bp, struct jg_session *s, uint64_t to);
void jg_cluster_hand_off(void *bp, struct jg_session *s);
bool jg_cluster_claim_pending(void *bp, const char *sid);
bool jg_cluster_claim_needed(void *bp, const struct jg_claim *cl, struct jg_session *s);
void jg_cluster_claim(void *bp, const struct jg_claim *cl, struct jg_session *s, jg_claim_done_fn *done, void *arg);
bool jg_cluster_sid_unknown(void *bp, const struct jg_session *s);
void jg_cluster_after_record(void *bp, jg_claim_done_fn *done, void *arg);
/* cluster_sub.c */
void jg_cluster_subscribed(void *bp, struct jg_session *s, struct jg_sub *sub, const struct jg_subscribe_req *req);
void jg_cluster_unsubscribed(void *bp, struct jg_session *s, const char *channel);
void jg_cluster_meta_changed(void *bp, struct jg_session *s);
uint64_t jg_cluster_answer_cap(void *bp, struct jg_session *s);
/* Subscribes S here to CHANNEL as recorded or noticed: from SUB_SEQ on, PRESENCE or not. */
struct jg_sub *jg_cluster_local_subscribe(struct jg_cluster *c, struct jg_session *s, const char *channel,
                                          uint64_t sub_seq, bool presence);

#endif /* JG_CLUSTER_INT_H */
