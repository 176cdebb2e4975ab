/* server.h: the daemon, wired together: the core (sessions, channels), the transport layer
 * (connections), the backplane (one instance, or the cluster) with its Redis broker, the
 * static files; the listeners, the drain on SIGTERM, and the loop hooks: flush pending
 * writes before sleeping (ev_prepare), free closed connections after callbacks return
 * (ev_check). Loop thread only. */
#ifndef JG_SERVER_H
#define JG_SERVER_H
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "base/config.h"
#include "base/list.h"
#include "base/stats.h"
#include "core/context.h"
#include "transport/net.h"

struct jg_broker;
struct jg_cluster;
struct jg_single;
struct jg_static;

enum jg_listener_role {
    JG_LISTEN_MAIN = 0,                   /* socket.io, static files, health/stats */
    JG_LISTEN_ADMIN,                      /* health/stats/metrics only (admin-port) */
    JG_LISTEN_AGENT,                      /* HAProxy agent-check answers (agent-port) */
    JG_LISTEN_COUNT
};

struct jg_listener {
    struct jg_server *srv;                /* borrowed */
    enum jg_listener_role role;
    int fd;                               /* -1 when not listening */
    ev_io watcher;
};

struct jg_server {
    struct ev_loop *loop;                 /* borrowed */
    struct jg_config *cfg;                /* borrowed; its contents change on reload */
    struct jg_listener listeners[JG_LISTEN_COUNT];
    ev_timer accept_retry;                /* re-enables accept after EMFILE */
    ev_timer drain_timer;                 /* ends sessions in batches while draining */
    ev_timer lag_timer;                   /* measures event-loop lag */
    double lag_expected;                  /* when lag_timer should have fired */
    double drain_started;                 /* ev_now at SIGTERM */
    size_t drain_total;                   /* sessions when the drain began */
    ev_prepare flush_watcher;             /* writes queued output before the loop sleeps */
    ev_check reap_watcher;                /* frees connections closed during callbacks */
    struct jg_stats stats;
    struct jg_core core;                  /* sessions, channels; core.draining: shutting down */
    struct jg_net net;                    /* connections; main wires net.dispatch (app/router.c) */
    struct jg_broker *broker;             /* owned */
    struct jg_cluster *cluster;           /* owned; the backplane in cluster mode, else NULL */
    struct jg_single *single;             /* owned; the backplane otherwise */
    struct jg_static *files;              /* owned */
    void (*drained)(struct jg_server *srv); /* called once no session is left */
};

/* The daemon a transport context belongs to (its connections' c->net). */
static inline struct jg_server *jg_server_of(struct jg_net *net)
{
    return jg_container_of(net, struct jg_server, net);
}

/* Sets up everything but the listener. Returns 0 or -1 (logged). */
int jg_server_init(struct jg_server *srv, struct ev_loop *loop, struct jg_config *cfg)
    __attribute__((warn_unused_result));
/* Binds and listens on cfg->bind:cfg->port, and on the admin and agent ports when they are
 * configured. Returns 0, or -1 with ERR explaining. */
int jg_server_listen(struct jg_server *srv, char *err, size_t errlen) __attribute__((warn_unused_result));
void jg_server_stop_listening(struct jg_server *srv);
/* Slow drain (SIGTERM): /health and the agent say "drain", handshakes get 503, and the
 * sessions are ended in batches spread over drain-period, their transports closed without
 * "0::" so clients reconnect (through the balancer, elsewhere). DRAINED runs when none is
 * left. */
void jg_server_begin_drain(struct jg_server *srv, void (*drained)(struct jg_server *srv));
/* The enabled transports changed (reload): rebuild transports_list. */
void jg_server_config_changed(struct jg_server *srv);
/* Ends every session and connection, frees everything init made. */
void jg_server_deinit(struct jg_server *srv);


#endif /* JG_SERVER_H */
