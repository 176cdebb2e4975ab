/* server.c: the listener and the loop hooks. Accept never busy-loops: on EMFILE/ENFILE the
 * listener pauses briefly; past max-connections a new connection is answered 503 and closed. */
#include "app/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/hash.h"

#include "cluster/broker.h"
#include "cluster/cluster.h"
#include "base/buf.h"
#include "core/channel.h"
#include "transport/conn.h"
#include "base/log.h"
#include "core/session.h"
#include "transport/static.h"
#include "base/xalloc.h"

#define ACCEPT_BATCH 64          /* connections accepted per readiness event */
#define ACCEPT_PAUSE 0.1         /* s to wait after EMFILE/ENFILE */

static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct jg_server *srv = w->data;
    jg_conn_process_resumed(srv);
    jg_session_reap(srv);
    jg_conn_flush_all(srv);
}

static void reap_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    struct jg_server *srv = w->data;
    jg_session_reap(srv);
    jg_conn_reap(srv);
}

static void refuse(struct jg_server *srv, int fd)
{
    static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    srv->stats.connections_rejected++;
    ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    close(fd);
}

/* HAProxy agent-check (agent-port): one line, then close. */
static void answer_agent(struct jg_server *srv, int fd)
{
    const char *line = srv->draining ? "drain\n" : "up ready 100%\n";
    ssize_t w = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    close(fd);
}

static void format_peer(const struct sockaddr_storage *ss, char *peer, size_t len)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        snprintf(peer, len, "%s:%d", host, ntohs(sin->sin_port));
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        snprintf(peer, len, "[%s]:%d", host, ntohs(sin6->sin6_port));
    } else {
        snprintf(peer, len, "?");
    }
}

/* ---- connections per client address (max-connections-per-ip) ---- */

struct jg_addr_count {
    unsigned char key[17];          /* family (4 or 6), then the address */
    size_t n;
    UT_hash_handle hh;
};

static void addr_key(const struct sockaddr_storage *ss, unsigned char key[17])
{
    memset(key, 0, 17);
    if (ss->ss_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    }
}

const char *jg_server_sid_secret(const struct jg_server *srv)
{
    if (srv->cfg->cluster_secret)
        return srv->cfg->cluster_secret;
    return srv->shared_secret[0] ? srv->shared_secret : NULL;
}

struct jg_addr_count *jg_server_addr_take(struct jg_server *srv, const struct sockaddr_storage *ss)
{
    unsigned char key[17];
    addr_key(ss, key);
    struct jg_addr_count *a = NULL;
    HASH_FIND(hh, srv->by_addr, key, sizeof key, a);
    if (a && a->n >= srv->cfg->max_connections_per_ip)
        return NULL;
    if (!a) {
        a = jg_xcalloc(1, sizeof *a);
        memcpy(a->key, key, sizeof key);
        HASH_ADD(hh, srv->by_addr, key, sizeof a->key, a);
    }
    a->n++;
    return a;
}

void jg_server_addr_release(struct jg_server *srv, struct jg_addr_count *a)
{
    if (--a->n == 0) {
        HASH_DEL(srv->by_addr, a);
        free(a);
    }
}

static void pause_accepting(struct jg_server *srv)
{
    for (int i = 0; i < JG_LISTEN_COUNT; i++)
        if (srv->listeners[i].fd >= 0)
            ev_io_stop(srv->loop, &srv->listeners[i].watcher);
    ev_timer_set(&srv->accept_retry, ACCEPT_PAUSE, 0);
    ev_timer_start(srv->loop, &srv->accept_retry);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct jg_listener *l = w->data;
    struct jg_server *srv = l->srv;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* never spin on a full fd table: stop listening briefly */
                srv->stats.connections_rejected++;
                jg_warn("accept: %s; pausing the listeners for %.1f s (raise the open-file limit or lower "
                        "max-connections)", strerror(errno), ACCEPT_PAUSE);
                pause_accepting(srv);
            }
            return;
        }
        if (l->role == JG_LISTEN_AGENT) {
            answer_agent(srv, fd);
            continue;
        }
        /* the admin port stays reachable when clients have used up max-connections */
        if (l->role == JG_LISTEN_MAIN && (size_t)srv->stats.connections >= srv->cfg->max_connections) {
            refuse(srv, fd);
            continue;
        }
        char peer[64];
        format_peer(&ss, peer, sizeof peer);
        struct jg_addr_count *addr = NULL;
        if (l->role == JG_LISTEN_MAIN && srv->cfg->max_connections_per_ip &&
            !(addr = jg_server_addr_take(srv, &ss))) {
            srv->stats.connections_rejected_per_ip++;
            if (srv->stats.connections_rejected_per_ip % 1000 == 1)
                jg_warn("%s: more than max-connections-per-ip (%zu) connections from one address; refused "
                        "(%lld so far)", peer, srv->cfg->max_connections_per_ip,
                        (long long)srv->stats.connections_rejected_per_ip);
            refuse(srv, fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct jg_conn *c = jg_conn_new(srv, fd, peer);
        c->addr = addr;
        c->admin = l->role == JG_LISTEN_ADMIN;
    }
}

static void accept_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_server *srv = w->data;
    for (int i = 0; i < JG_LISTEN_COUNT; i++)
        if (srv->listeners[i].fd >= 0)
            ev_io_start(loop, &srv->listeners[i].watcher);
}

/* Event-loop lag: a 1 s timer measures how late it runs (a gauge in ms). */
static void lag_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_server *srv = w->data;
    double now = ev_time();
    double lag = now - srv->lag_expected;
    srv->stats.loop_lag_ms = lag > 0 ? (int64_t)(lag * 1000) : 0;
    srv->lag_expected = now + w->repeat;
}

static struct jg_buf *const_buf(const char *s)
{
    return jg_buf_new(s, strlen(s));
}

int jg_server_init(struct jg_server *srv, struct ev_loop *loop, struct jg_config *cfg)
{
    memset(srv, 0, sizeof *srv);
    srv->loop = loop;
    srv->cfg = cfg;
    for (int i = 0; i < JG_LISTEN_COUNT; i++) {
        srv->listeners[i].srv = srv;
        srv->listeners[i].role = (enum jg_listener_role)i;
        srv->listeners[i].fd = -1;
    }
    jg_server_config_changed(srv);
    jg_list_init(&srv->pending_write);
    jg_list_init(&srv->closing);
    jg_list_init(&srv->resume);
    jg_list_init(&srv->conns);
    srv->consts.pkt_connect = const_buf("1::");
    srv->consts.pkt_heartbeat = const_buf("2::");
    srv->consts.pkt_disconnect = const_buf("0::");
    srv->consts.pkt_noop = const_buf("8::");
    srv->consts.pkt_unknown_sid = const_buf("7:::1+0");
    char err[512];
    srv->files = jg_static_load(cfg->public_dir, err, sizeof err);
    if (!srv->files) {
        jg_error("%s", err);
        return -1;
    }
    srv->channels = jg_channel_registry_new(&srv->stats);
    srv->sessions = jg_session_table_new();
    ev_prepare_init(&srv->flush_watcher, flush_cb);
    srv->flush_watcher.data = srv;
    ev_prepare_start(loop, &srv->flush_watcher);
    ev_check_init(&srv->reap_watcher, reap_cb);
    srv->reap_watcher.data = srv;
    ev_check_start(loop, &srv->reap_watcher);
    ev_timer_init(&srv->accept_retry, accept_retry_cb, 0, 0);
    srv->accept_retry.data = srv;
    ev_timer_init(&srv->drain_timer, NULL, 0, 0);
    ev_timer_init(&srv->lag_timer, lag_cb, 1.0, 1.0);
    srv->lag_timer.data = srv;
    srv->lag_expected = ev_time() + 1.0;
    ev_timer_start(loop, &srv->lag_timer);
    ev_unref(loop);   /* the lag probe alone does not keep the loop alive */
    if (cfg->cluster)
        srv->cluster = jg_cluster_new(srv);   /* before the broker: its links subscribe for it */
    srv->broker = jg_broker_new(srv);
    return 0;
}

void jg_server_config_changed(struct jg_server *srv)
{
    jg_config_transports_list(srv->cfg, srv->transports_list, sizeof srv->transports_list);
}

static int listen_on(struct jg_listener *l, const char *addr, int port, bool reuseport, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        sl = sizeof *sin;
    } else if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        sl = sizeof *sin6;
    } else {
        snprintf(err, errlen, "%s: not an IPv4 or IPv6 address", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (reuseport)
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s%s", addr, port, strerror(errno),
                 errno == EADDRINUSE ? " (another process holds the port: stop it, pick another port, "
                                       "or set reuse-port yes in both for a rolling upgrade)" : "");
        close(fd);
        return -1;
    }
    if (listen(fd, 1024) != 0) {
        snprintf(err, errlen, "listen on %s:%d: %s", addr, port, strerror(errno));
        close(fd);
        return -1;
    }
    l->fd = fd;
    ev_io_init(&l->watcher, accept_cb, fd, EV_READ);
    l->watcher.data = l;
    ev_io_start(l->srv->loop, &l->watcher);
    return 0;
}

int jg_server_listen(struct jg_server *srv, char *err, size_t errlen)
{
    const struct jg_config *cfg = srv->cfg;
    if (listen_on(&srv->listeners[JG_LISTEN_MAIN], cfg->bind, cfg->port, cfg->reuse_port, err, errlen) < 0)
        goto fail;
    if (cfg->admin_port &&
        listen_on(&srv->listeners[JG_LISTEN_ADMIN], cfg->admin_bind, cfg->admin_port, cfg->reuse_port, err, errlen) < 0)
        goto fail;
    if (cfg->agent_port &&
        listen_on(&srv->listeners[JG_LISTEN_AGENT], cfg->agent_bind ? cfg->agent_bind : cfg->bind,
                  cfg->agent_port, cfg->reuse_port, err, errlen) < 0)
        goto fail;
    return 0;
fail:
    jg_server_stop_listening(srv);
    return -1;
}

static void stop_listener(struct jg_server *srv, struct jg_listener *l)
{
    if (l->fd < 0)
        return;
    ev_io_stop(srv->loop, &l->watcher);
    close(l->fd);
    l->fd = -1;
}

void jg_server_stop_listening(struct jg_server *srv)
{
    ev_timer_stop(srv->loop, &srv->accept_retry);
    for (int i = 0; i < JG_LISTEN_COUNT; i++)
        stop_listener(srv, &srv->listeners[i]);
}

#define DRAIN_TICK 0.1   /* s between two batches of drained sessions */

static void drain_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_server *srv = w->data;
    size_t left = jg_session_count(srv->sessions);
    if (left == 0) {
        ev_timer_stop(loop, w);
        /* nothing left to serve: the main port may go now (the admin/agent ports keep
         * answering "drain" until exit) */
        stop_listener(srv, &srv->listeners[JG_LISTEN_MAIN]);
        if (srv->drained)
            srv->drained(srv);
        return;
    }
    /* end as many sessions as keeps the pace that empties us by the end of drain-period */
    double period = srv->cfg->drain_period;
    double elapsed = ev_now(loop) - srv->drain_started;
    size_t target_done = period <= 0 || elapsed >= period
                             ? srv->drain_total
                             : (size_t)((double)srv->drain_total * ((elapsed + DRAIN_TICK) / period));
    size_t done = srv->drain_total > left ? srv->drain_total - left : 0;
    size_t batch = target_done > done ? target_done - done : 0;
    if (batch == 0 && elapsed >= period)
        batch = left;
    jg_session_end_some(srv, batch, "draining");
}

void jg_server_begin_drain(struct jg_server *srv, void (*drained)(struct jg_server *srv))
{
    if (srv->draining)
        return;
    srv->draining = true;
    srv->stats.draining = 1;
    srv->drained = drained;
    srv->drain_started = ev_now(srv->loop);
    srv->drain_total = jg_session_count(srv->sessions);
    jg_info("draining %zu sessions over %g s", srv->drain_total, srv->cfg->drain_period);
    if (srv->cluster)
        jg_cluster_draining(srv->cluster);
    ev_timer_init(&srv->drain_timer, drain_cb, 0, DRAIN_TICK);
    srv->drain_timer.data = srv;
    ev_timer_start(srv->loop, &srv->drain_timer);
}

void jg_server_deinit(struct jg_server *srv)
{
    jg_server_stop_listening(srv);
    ev_timer_stop(srv->loop, &srv->drain_timer);
    ev_ref(srv->loop);
    ev_timer_stop(srv->loop, &srv->lag_timer);
    if (srv->sessions)
        jg_session_end_all(srv, "shutdown");
    jg_session_table_free(srv->sessions);
    srv->sessions = NULL;
    jg_channel_registry_free(srv->channels);
    srv->channels = NULL;
    /* commands still queued get their callbacks now: with srv->cluster NULL they only
     * free what they carry */
    struct jg_cluster *cluster = srv->cluster;
    srv->cluster = NULL;
    jg_broker_free(srv->broker);
    srv->broker = NULL;
    jg_cluster_free(cluster);
    jg_static_free(srv->files);
    srv->files = NULL;
    jg_conn_flush_all(srv);
    while (!jg_list_empty(&srv->conns))
        jg_conn_close(jg_container_of(srv->conns.next, struct jg_conn, all_node), "shutdown");
    jg_conn_reap(srv);
    ev_prepare_stop(srv->loop, &srv->flush_watcher);
    ev_check_stop(srv->loop, &srv->reap_watcher);
    struct jg_buf **bufs[] = {
        &srv->consts.pkt_connect, &srv->consts.pkt_heartbeat, &srv->consts.pkt_disconnect,
        &srv->consts.pkt_noop, &srv->consts.pkt_unknown_sid, &srv->consts.frame_connect,
        &srv->consts.frame_heartbeat, &srv->consts.frame_disconnect,
    };
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) {
        jg_buf_unref(*bufs[i]);
        *bufs[i] = NULL;
    }
}
