/* server.h: the daemon context that every loop-side module hangs off, the listener, and the
 * loop hooks: flush pending writes before sleeping (ev_prepare), free closed connections
 * after callbacks return (ev_check). Loop thread only. */
#ifndef JG_SERVER_H
#define JG_SERVER_H
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "list.h"
#include "stats.h"

struct jg_buf;
struct jg_broker;
struct jg_channel_registry;
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

struct jg_server {
    struct ev_loop *loop;                 /* borrowed */
    struct jg_config *cfg;                /* borrowed; replaced on reload */
    char transports_list[96];             /* enabled transports, handshake field 4 */
    int listen_fd;                        /* -1 when not listening */
    ev_io accept_watcher;
    ev_timer accept_retry;                /* re-enables accept after EMFILE */
    ev_prepare flush_watcher;             /* writes queued output before the loop sleeps */
    ev_check reap_watcher;                /* frees connections closed during callbacks */
    struct jg_list pending_write;         /* conns with queued output (jg_conn.pending_node) */
    struct jg_list closing;               /* conns waiting to be freed (jg_conn.pending_node) */
    struct jg_list resume;                /* conns with buffered input to parse (jg_conn.resume_node) */
    struct jg_list conns;                 /* every open conn (jg_conn.all_node) */
    uint64_t next_conn_id;
    struct jg_channel_registry *channels; /* owned */
    struct jg_session_table *sessions;    /* owned */
    struct jg_broker *broker;             /* owned */
    struct jg_static *files;              /* owned */
    struct jg_server_consts consts;
    struct jg_stats stats;
    bool draining;                        /* shutting down: refuse new sessions */
};

/* Sets up everything but the listener. Returns 0 or -1 (logged). */
int jg_server_init(struct jg_server *srv, struct ev_loop *loop, struct jg_config *cfg)
    __attribute__((warn_unused_result));
/* Binds and listens on cfg->bind:cfg->port. Returns 0, or -1 with ERR explaining. */
int jg_server_listen(struct jg_server *srv, char *err, size_t errlen) __attribute__((warn_unused_result));
void jg_server_stop_listening(struct jg_server *srv);
/* Ends every session and connection, frees everything init made. */
void jg_server_deinit(struct jg_server *srv);

/* Seconds since the loop's epoch (ev_now). */
static inline double jg_now(const struct jg_server *srv)
{
    return ev_now(srv->loop);
}

#endif /* JG_SERVER_H */
