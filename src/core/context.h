/* context.h: the context the core's modules share: the loop, the settings, the counters, the
 * session table, the channel registry, the constant packets, and the backplane the core was
 * given (backplane.h). The core knows nothing of HTTP, WebSocket, Redis or the cluster: the
 * transports reach it through jg_transport_ops (session.h), the backplane through
 * jg_backplane_ops. Only a header: every core module includes it, core.c (jg_core_init) fills
 * it. Loop thread only. */
#ifndef JG_CORE_CONTEXT_H
#define JG_CORE_CONTEXT_H
#include <stdbool.h>

#include <ev.h>

#include "base/config.h"
#include "base/stats.h"

struct jg_buf;
struct jg_backplane_ops;
struct jg_channel_registry;
struct jg_session;
struct jg_session_table;

/* Packets every session uses, built once (owned refs), and their WebSocket frames, built by
 * the transport on first use (the frame caches of jg_transport_ops.deliver). */
struct jg_core_packets {
    struct jg_buf *connect;           /* "1::" */
    struct jg_buf *heartbeat;         /* "2::" */
    struct jg_buf *disconnect;        /* "0::" */
    struct jg_buf *noop;              /* "8::" */
    struct jg_buf *unknown_sid;       /* "7:::1+0" */
    struct jg_buf *connect_frame;
    struct jg_buf *heartbeat_frame;
    struct jg_buf *disconnect_frame;
};

/* A plain context: the layers above read its fields; only core.c and its maker write them. */
struct jg_core {
    struct ev_loop *loop;                 /* borrowed */
    const struct jg_config *cfg;          /* borrowed; its contents change on reload */
    struct jg_stats *stats;               /* borrowed */
    struct jg_session_table *sessions;    /* owned */
    struct jg_channel_registry *channels; /* owned */
    struct jg_core_packets pkts;
    const struct jg_backplane_ops *bp_ops;    /* never NULL once wired (jg_core_set_backplane) */
    void *bp;                             /* the backplane's own state, passed to its ops */
    bool shared;                          /* sessions live in the backplane (cluster mode): their
                                             records, events and message sequence are kept there,
                                             and polling answers are recorded before they go out */
    char shared_secret[65];               /* the sid secret the instances agreed on; "" = none */
    bool draining;                        /* shutting down: no new sessions */
    /* set by core.c: a session is ending (MOVED: to another instance); its subscriptions go
     * (pubsub.c), with their events unless moved */
    void (*session_ending)(struct jg_session *s, bool moved);
};

/* The secret session ids are signed with: cluster-secret if set, else the one the instances
 * share (jg_core_set_shared_secret), else NULL (plain sids). */
static inline const char *jg_core_sid_secret(const struct jg_core *core)
{
    if (core->cfg->cluster_secret)
        return core->cfg->cluster_secret;
    return core->shared_secret[0] ? core->shared_secret : NULL;
}

#endif /* JG_CORE_CONTEXT_H */
