/* cluster.c: cluster mode's lifetime (cluster.h): the backplane ops the core is given, the
 * broker's hooks, the instance's heartbeat, the leader lease, the reaping of dead
 * instances, and the sid secret the instances share. The rest of cluster mode is in
 * cluster_seq.c, cluster_replay.c, cluster_session.c, cluster_sub.c and cluster_admin.c. */
#include "cluster/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <ev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "cluster/cluster_int.h"
#include "core/core.h"

extern const char jg_lua_library[];   /* redis/juggernaut.lua, embedded by the Makefile */

#define BEAT_EVERY 1.0         /* s: heartbeat, lease renewal, reaping */
#define REAP_BATCH 1000        /* sessions of a dead instance looked at per Redis call */
#define SECRET_KEY "jg:secret"  /* the sid secret the instances share (no cluster-secret) */

/* FCALL NAME 0 ARGS... on the publisher link. */
void jg_cluster_fcall(struct jg_cluster *c, jg_broker_reply_fn *cb, void *priv, bool requeue, const char *name,
                  int nargs, const char *const *args, const size_t *lens)
{
    const char **argv = jg_xcalloc((size_t)nargs + 3, sizeof *argv);
    size_t *alens = jg_xcalloc((size_t)nargs + 3, sizeof *alens);
    argv[0] = "FCALL";
    argv[1] = name;
    argv[2] = "0";
    for (int i = 0; i < 3; i++)
        alens[i] = strlen(argv[i]);
    for (int i = 0; i < nargs; i++) {
        argv[3 + i] = args[i];
        alens[3 + i] = lens ? lens[i] : strlen(args[i]);
    }
    jg_broker_command(c->broker, cb, priv, requeue, 3 + nargs, argv, alens);
    free(argv);
    free(alens);
}

/* ---- heartbeat, lease, reaping ---- */

static void library_loaded(redisReply *r)
{
    if (r && r->type == REDIS_REPLY_ERROR)
        jg_error("cluster: loading redis/juggernaut.lua into Redis failed: %s. Cluster mode needs Redis 7.0 or "
                 "newer; set \"cluster no\" for an older Redis", r->str);
}

static void library_reply(redisAsyncContext *ac, void *reply, void *priv)
{
    library_loaded(reply);
}

static void library_reloaded(void *user, redisReply *r, void *priv)
{
    library_loaded(r);
}

void jg_cluster_reload_library(struct jg_cluster *c)
{
    /* ours has every function an older version calls, with the same arguments */
    const char *load[] = { "FUNCTION", "LOAD", "REPLACE", jg_lua_library };
    jg_broker_command(c->broker, library_reloaded, NULL, false, 4, load, NULL);
    /* the instance that loaded the older library beats through ours from now on, which
     * keeps this mark alive: until then no packed batch may reach it */
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)(c->cfg->instance_timeout * 1000));
    const char *mark[] = { "SET", "jg:wire1-seen", c->id, "PX", ttl };
    jg_broker_command(c->broker, NULL, NULL, false, 5, mark, NULL);
}

/* SET jg:secret NX GET: nil = our candidate is the secret now, else the one another
 * instance set first. */
static void secret_reply(void *user, redisReply *r, void *priv)
{
    struct jg_cluster *c = user;
    if (!c || !r)
        return;
    const char *secret = NULL;
    if (r->type == REDIS_REPLY_NIL)
        secret = c->secret_candidate;
    else if (r->type == REDIS_REPLY_STRING && r->len >= 16 && r->len < sizeof c->core->shared_secret &&
             strlen(r->str) == r->len)
        secret = r->str;
    if (!secret) {
        jg_error("cluster: %s holds no usable secret (%s); session ids stay unsigned. Delete the key, or set "
                 "cluster-secret in the config", SECRET_KEY, r->type == REDIS_REPLY_ERROR ? r->str : "16 to 64 characters expected");
        return;
    }
    if (strcmp(c->core->shared_secret, secret) != 0) {
        if (c->core->shared_secret[0])
            jg_warn("cluster: the shared secret in Redis (%s) changed; session ids issued before are refused by the "
                    "other instances", SECRET_KEY);
        else
            jg_info("cluster: session ids are signed with the secret the instances share in Redis (%s)", SECRET_KEY);
        jg_core_set_shared_secret(c->core, secret);
    }
}

/* Without a cluster-secret the instances still sign their sids, with a secret they agree on
 * through Redis: the first to connect sets it, the others read it. So a handshake needs no
 * session record in Redis (another instance adopts the signed sid), and nothing has to be
 * configured. Anyone who can read Redis can forge sids then, as anyone who can write it can
 * already publish or end sessions. */
static void read_shared_secret(struct jg_cluster *c)
{
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        return;   /* no secret: sids stay plain, records are written at handshakes */
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(c->secret_candidate + 2 * i, 3, "%02x", rnd[i]);
    const char *argv[] = { "SET", SECRET_KEY, c->secret_candidate, "NX", "GET" };
    jg_broker_command(c->broker, secret_reply, NULL, false, 5, argv, NULL);
}

static void publisher_link_up(struct jg_cluster *c, struct redisAsyncContext *ac)
{
    jg_cluster_step_down(c, "the Redis link was re-established");
    redisAsyncCommand(ac, library_reply, NULL, "FUNCTION LOAD REPLACE %s", jg_lua_library);
    /* beat before anything queued (session records) runs: an instance that owns sessions is
     * one the reapers know */
    const struct jg_config *cfg = c->cfg;
    char ttl[24], logsize[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)(cfg->instance_timeout * 1000));
    snprintf(logsize, sizeof logsize, "%zu", cfg->cluster_log_size);
    char spent[24];
    snprintf(spent, sizeof spent, "%lld", (long long)cfg->handshake_expiry + 60);
    const char *argv[] = { "FCALL", "jg_beat", "0", c->id, ttl, logsize, cfg->history, "young", spent, JG_CLUSTER_WIRE };
    redisAsyncCommandArgv(ac, NULL, NULL, 10, argv, NULL);
    if (!cfg->cluster_secret)
        read_shared_secret(c);
    /* and claim the lease (or see who holds it) now rather than at the next tick */
    ev_feed_event(c->loop, &c->beat, EV_TIMER);
}

static void lease_reply(void *user, redisReply *r, void *priv)
{
    struct jg_cluster *c = user;
    if (!c || !r || r->type != REDIS_REPLY_INTEGER)
        return;
    if (r->integer == 1 && c->role == FOLLOWER && !c->core->draining) {
        c->role = ALIGNING;
        jg_cluster_catchup(c);
        if (!c->catching_up)
            jg_cluster_catchup_done(c);
    } else if (r->integer == 0 && c->role != FOLLOWER) {
        jg_cluster_step_down(c, "another instance holds the lease");
    }
}

static void reap_dead(struct jg_cluster *c);

/* {ended, more}: MORE says a dead instance has sessions left to look at: the next batch
 * goes at once (each batch is one bounded call, so neither Redis nor the loop stalls). */
static void reap_reply(void *user, redisReply *r, void *priv)
{
    struct jg_cluster *c = user;
    if (!c || !r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER)
        return;
    long long ended = r->element[0]->integer;
    /* a count of sessions: anything beyond 2^31 is not one (and would overflow the counter) */
    if (ended > 0 && ended < INT32_MAX) {
        c->stats->sessions_reaped += ended;
        jg_warn("cluster: ended %lld sessions of instances that stopped beating (their unsubscribe events "
                "sent)", ended);
    }
    if (r->element[1]->integer == 1 && !c->core->draining)
        reap_dead(c);
}

/* The sessions of instances that stopped beating: ended once their clients had
 * close-timeout to come back (jg_reap in redis/juggernaut.lua). */
static void reap_dead(struct jg_cluster *c)
{
    char close_ms[24], budget[24];
    snprintf(close_ms, sizeof close_ms, "%lld", (long long)(c->cfg->close_timeout * 1000));
    snprintf(budget, sizeof budget, "%d", REAP_BATCH);
    const char *args[] = { c->id, close_ms, budget };
    jg_cluster_fcall(c, reap_reply, NULL, false, "jg_reap_dead", 3, args, NULL);
}

static void beat_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_cluster *c = w->data;
    const struct jg_config *cfg = c->cfg;
    if (!jg_broker_ready(c->broker))
        return;
    char ttl[24], lease[24], logsize[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)(cfg->instance_timeout * 1000));
    snprintf(lease, sizeof lease, "%lld", (long long)(cfg->leader_lease * 1000));
    snprintf(logsize, sizeof logsize, "%zu", cfg->cluster_log_size);
    /* young: subscribed too recently to have heard every message still waiting to be
     * sequenced; it defers to a mature instance for the lease */
    bool subscribed = jg_broker_subscribed(c->broker);
    bool young = !subscribed || ev_now(loop) - c->subscribed_since < 3 * cfg->leader_lease;
    char state[48] = "young", since[24] = "";
    if (young && subscribed) {
        /* when it began listening: among young instances the oldest listener leads */
        snprintf(since, sizeof since, "%.0f", c->subscribed_since * 1000);
        snprintf(state, sizeof state, "young:%s", since);
    } else if (!young) {
        snprintf(state, sizeof state, "mature");
    }
    char spent[24];   /* how long a signed sid stays valid: its ended session's jg:spent */
    snprintf(spent, sizeof spent, "%lld", (long long)cfg->handshake_expiry + 60);
    const char *beat[] = { c->id, ttl, logsize, cfg->history, state, spent, JG_CLUSTER_WIRE };
    jg_cluster_fcall(c, NULL, NULL, false, "jg_beat", 7, beat, NULL);
    jg_cluster_forget_drops(c, ev_now(loop) - 10);
    if (c->core->draining) {
        jg_cluster_draining(c);
    } else if (!jg_broker_subscribed(c->broker)) {
        /* a leader that cannot hear "juggernaut" would leave what it misses unsequenced:
         * another instance (which heard it) takes over */
        if (c->role != FOLLOWER) {
            const char *me_id[] = { c->id };
            jg_cluster_fcall(c, NULL, NULL, false, "jg_release", 1, me_id, NULL);
            jg_cluster_step_down(c, "the subscriber link to Redis is down");
        }
    } else {
        const char *args[] = { c->id, lease, young ? "1" : "0", since };
        jg_cluster_fcall(c, lease_reply, NULL, false, "jg_lease", 4, args, NULL);
    }
    reap_dead(c);
}

void jg_cluster_draining(struct jg_cluster *c)
{
    if (!c->released) {
        /* hand the lease over now rather than after it runs out */
        const char *me[] = { c->id };
        jg_cluster_fcall(c, NULL, NULL, false, "jg_release", 1, me, NULL);
        c->released = true;
    }
    jg_cluster_step_down(c, "shutting down");
}

uint64_t jg_cluster_last_seq(const struct jg_cluster *c)
{
    return c->last_seq;
}

/* ---- the broker's hooks ---- */

static void publisher_ready(void *user, struct redisAsyncContext *ac)
{
    publisher_link_up(user, ac);
}

static void subscriber_ready(void *user)
{
    struct jg_cluster *c = user;
    c->subscribed_since = ev_now(c->loop);
    jg_cluster_catchup(c);
}

static void message(void *user, const char *channel, const char *text, size_t len)
{
    struct jg_cluster *c = user;
    if (!strcmp(channel, "juggernaut"))
        jg_cluster_legacy_message(c, text, len);
    else if (!strcmp(channel, JG_CLUSTER_SEQUENCED))
        jg_cluster_sequenced_message(c, text, len);
    else
        jg_cluster_notice(c, text, len);
}

/* ---- the backplane ---- */

static void event(void *bp, const char *channel, const char *json, size_t len)
{
    struct jg_cluster *c = bp;
    jg_broker_publish(c->broker, channel, json, len);
}

static uint64_t position(void *bp)
{
    return jg_cluster_last_seq(bp);
}

static const struct jg_backplane_ops cluster_ops = {
    .name = "cluster",
    .shared = true,
    .event = event,
    .position = position,
    .session_created = jg_cluster_session_created,
    .session_ended = jg_cluster_session_ended,
    .subscribed = jg_cluster_subscribed,
    .unsubscribed = jg_cluster_unsubscribed,
    .meta_changed = jg_cluster_meta_changed,
    .touch = jg_cluster_touch,
    .record_answer = jg_cluster_record_answer,
    .answer_cap = jg_cluster_answer_cap,
    .hand_off = jg_cluster_hand_off,
    .claim_pending = jg_cluster_claim_pending,
    .claim_needed = jg_cluster_claim_needed,
    .claim = jg_cluster_claim,
    .sid_unknown = jg_cluster_sid_unknown,
    .after_record = jg_cluster_after_record,
};

/* ---- lifetime ---- */

struct jg_cluster *jg_cluster_new(struct jg_core *core, struct jg_broker *broker)
{
    struct jg_cluster *c = jg_xcalloc(1, sizeof *c);
    c->core = core;
    c->broker = broker;
    c->loop = core->loop;
    c->cfg = core->cfg;
    c->stats = core->stats;
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
        memset(rnd, 0, sizeof rnd);
    snprintf(c->id, sizeof c->id, "%d-%02x%02x%02x%02x%02x%02x", c->cfg->port, rnd[0], rnd[1], rnd[2], rnd[3],
             rnd[4], rnd[5]);
    jg_list_init(&c->legacy);
    jg_list_init(&c->backfills);
    jg_ring_init(&c->ring, c->cfg->cluster_ring_size, c->cfg->cluster_ring_bytes);
    jg_cluster_seq_init(c);
    ev_timer_init(&c->beat, beat_cb, 0.05, BEAT_EVERY);
    c->beat.data = c;
    ev_timer_start(c->loop, &c->beat);
    jg_info("cluster mode: instance %s", c->id);
    jg_core_set_backplane(core, &cluster_ops, c);
    char notices[96];
    snprintf(notices, sizeof notices, "juggernaut:instance:%s", c->id);
    const char *channels[] = { "juggernaut", JG_CLUSTER_SEQUENCED, notices };
    struct jg_broker_hooks hooks = {
        .user = c, .publisher_ready = publisher_ready, .subscriber_ready = subscriber_ready, .message = message,
    };
    jg_broker_start(broker, &hooks, channels, 3);
    return c;
}

void jg_cluster_free(struct jg_cluster *c)
{
    if (!c)
        return;
    ev_timer_stop(c->loop, &c->beat);
    jg_cluster_forget_drops(c, 1e300);
    jg_cluster_backfills_free(c);
    jg_ring_deinit(&c->ring);
    jg_cluster_seq_free(c);
    free(c);
}

const char *jg_cluster_id(const struct jg_cluster *c)
{
    return c->id;
}
