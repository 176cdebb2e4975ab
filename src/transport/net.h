/* net.h: the transport layer's context: every open connection, the ones with output to
 * write, to free or to resume, the output budget, connections per client address, and the
 * hooks the layer is wired with (what a connection's bytes mean, where a complete request
 * goes). Its fields are read and written by the transport modules (conn.c, http.c, ws.c,
 * poll.c, endpoint.c); the app makes one (jg_net_init) and wires dispatch. Loop thread only. */
#ifndef JG_NET_H
#define JG_NET_H
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "base/config.h"
#include "base/list.h"
#include "base/stats.h"

struct jg_conn;
struct jg_core;
struct jg_addr_count;
struct jg_uring;
struct sockaddr_storage;

#define JG_NET_SEND_BATCH 256             /* connections written per io_uring call */

struct jg_net {
    struct ev_loop *loop;                 /* borrowed */
    const struct jg_config *cfg;          /* borrowed */
    struct jg_stats *stats;               /* borrowed */
    struct jg_core *core;                 /* borrowed: sessions for the transports */
    struct jg_list pending_write;         /* conns with queued output (jg_conn.pending_node) */
    struct jg_list closing;               /* conns waiting to be freed (jg_conn.pending_node) */
    struct jg_list resume;                /* conns with buffered input to parse (jg_conn.resume_node) */
    struct jg_list conns;                 /* every open conn (jg_conn.all_node) */
    size_t out_bytes;                     /* unsent bytes of every conn (max-output-total) */
    struct jg_uring *uring;               /* owned: sends in batches (io-uring), or NULL: writev */
    struct jg_addr_count *by_addr;        /* open client connections per address (uthash) */
    uint64_t next_conn_id;
    char transports_list[96];             /* enabled transports, handshake field 4 */
    /* what a connection's bytes mean, by its mode, and freeing its protocol state
     * (endpoint.c sets both: it sits above HTTP and WebSocket) */
    void (*input)(struct jg_conn *c, const char *data, size_t len);
    void (*release)(struct jg_conn *c);
    /* a complete HTTP request (app/router.c): REST are bytes that followed a WebSocket
     * upgrade request (already frames) */
    void (*dispatch)(struct jg_conn *c, const char *rest, size_t restlen);
};

/* With io-uring, opens the ring (or logs why it cannot and goes on without). */
void jg_net_init(struct jg_net *net, struct ev_loop *loop, const struct jg_config *cfg, struct jg_stats *stats,
                 struct jg_core *core);
void jg_net_deinit(struct jg_net *net);
/* max-connections-per-ip: counts a new client connection from SS; NULL if that address
 * already has as many as allowed (the caller refuses it). */
struct jg_addr_count *jg_net_addr_take(struct jg_net *net, const struct sockaddr_storage *ss);
/* The connection counted by jg_net_addr_take is gone. */
void jg_net_addr_release(struct jg_net *net, struct jg_addr_count *a);

#endif /* JG_NET_H */
