/* server.h: the daemon context that every loop-side module hangs off, the listener, and the
 * loop hooks: flush pending writes before sleeping (ev_prepare), free closed connections
 * after callbacks return (ev_check). Loop thread only. */
#ifndef JG_SERVER_H
#define JG_SERVER_H
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "base/config.h"
#include "base/list.h"
#include "base/stats.h"

struct jg_buf;
struct jg_broker;
struct jg_channel_registry;
struct jg_cluster;
struct jg_session_table;
struct jg_static;

/* Constant packets every session uses, built once at start (owned refs). */
struct jg_server_consts {
    struct jg_buf *pkt_connect;       /* "1::" */
    struct jg_buf *pkt_heartbeat;     /* "2::" */
    struct jg_buf *pkt_disconnect;    /* "0::" */
    struct jg_buf *pkt_noop;          /* "8::" */
    struct jg_buf *pkt_unknown_sid;   /* "7:::1+0" */
    /* WebSocket frames of those packets, built on first use (see jg_transport_ops) */
    struct jg_buf *frame_connect;
    struct jg_buf *frame_heartbeat;
    struct jg_buf *frame_disconnect;
};

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

struct jg_addr_count;
struct sockaddr_storage;

struct jg_server {
    struct ev_loop *loop;                 /* borrowed */
    struct jg_config *cfg;                /* borrowed; its contents change on reload */
    char transports_list[96];             /* enabled transports, handshake field 4 */
    struct jg_listener listeners[JG_LISTEN_COUNT];
    ev_timer accept_retry;                /* re-enables accept after EMFILE */
    ev_timer drain_timer;                 /* ends sessions in batches while draining */
    ev_timer lag_timer;                   /* measures event-loop lag */
    double lag_expected;                  /* when lag_timer should have fired */
    double drain_started;                 /* ev_now at SIGTERM */
    size_t drain_total;                   /* sessions when the drain began */
    ev_prepare flush_watcher;             /* writes queued output before the loop sleeps */
    ev_check reap_watcher;                /* frees connections closed during callbacks */
    struct jg_list pending_write;         /* conns with queued output (jg_conn.pending_node) */
    struct jg_list closing;               /* conns waiting to be freed (jg_conn.pending_node) */
    struct jg_list resume;                /* conns with buffered input to parse (jg_conn.resume_node) */
    struct jg_list conns;                 /* every open conn (jg_conn.all_node) */
    size_t out_bytes;                     /* unsent bytes of every conn (max-output-total) */
    struct jg_addr_count *by_addr;        /* open client connections per address (uthash) */
    uint64_t next_conn_id;
    struct jg_channel_registry *channels; /* owned */
    struct jg_session_table *sessions;    /* owned */
    struct jg_broker *broker;             /* owned */
    struct jg_cluster *cluster;           /* owned; NULL unless cluster mode is on */
    struct jg_static *files;              /* owned */
    struct jg_server_consts consts;
    struct jg_stats stats;
    /* cluster mode without a cluster-secret: the secret the instances share through Redis
     * (jg:secret, read at every connect); "" until read */
    char shared_secret[65];
    bool draining;                        /* shutting down: refuse new sessions */
    void (*drained)(struct jg_server *srv); /* called once no session is left */
};

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

/* The secret session ids are signed with: cluster-secret if set, else the one the
 * instances share through Redis (cluster mode), else NULL (plain sids). */
const char *jg_server_sid_secret(const struct jg_server *srv);

/* max-connections-per-ip: counts a new client connection from SS; NULL if that address
 * already has as many as allowed (the caller refuses it). */
struct jg_addr_count *jg_server_addr_take(struct jg_server *srv, const struct sockaddr_storage *ss);
/* The connection counted by jg_server_addr_take is gone. */
void jg_server_addr_release(struct jg_server *srv, struct jg_addr_count *a);

#endif /* JG_SERVER_H */
