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

#include "base/log.h"
#include "cluster/broker.h"
#include "cluster/cluster.h"
#include "cluster/single.h"
#include "core/core.h"
#include "core/session.h"
#include "transport/conn.h"
#include "transport/endpoint.h"
#include "transport/static.h"

#define ACCEPT_BATCH 64          /* connections accepted per readiness event */
#define ACCEPT_PAUSE 0.1         /* s to wait after EMFILE/ENFILE */

static void flush_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
    struct jg_server *srv = w->data;
    jg_conn_process_resumed(&srv->net);
    jg_session_reap(&srv->core);
    jg_conn_flush_all(&srv->net);
}

static void reap_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    struct jg_server *srv = w->data;
    jg_session_reap(&srv->core);
    jg_conn_reap(&srv->net);
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
    const char *line = srv->core.draining ? "drain\n" : "up ready 100%\n";
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
        char peer[56];
        format_peer(&ss, peer, sizeof peer);
        struct jg_addr_count *addr = NULL;
        if (l->role == JG_LISTEN_MAIN && srv->cfg->max_connections_per_ip &&
            !(addr = jg_net_addr_take(&srv->net, &ss))) {
            srv->stats.connections_rejected_per_ip++;
            if (srv->stats.connections_rejected_per_ip % 1000 == 1)
                jg_warn("%s: more than max-connections-per-ip (%zu) connections from one address; refused "
                        "(%lld so far)", peer, srv->cfg->max_connections_per_ip,
                        (long long)srv->stats.connections_rejected_per_ip);
            refuse(srv, fd);
            continue;
        }
        struct jg_conn *c = jg_endpoint_accept(&srv->net, fd, peer);
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
    char err[512];
    srv->files = jg_static_load(cfg->public_dir, err, sizeof err);
    if (!srv->files) {
        jg_error("%s", err);
        return -1;
    }
    jg_core_init(&srv->core, loop, cfg, &srv->stats);
    jg_net_init(&srv->net, loop, cfg, &srv->stats, &srv->core);
    jg_endpoint_init(&srv->net);
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
    /* the backplane plugs itself into the core and starts the broker's links */
    srv->broker = jg_broker_new(loop, cfg, &srv->stats);
    if (cfg->cluster)
        srv->cluster = jg_cluster_new(&srv->core, srv->broker);
    else
        srv->single = jg_single_new(&srv->core, srv->broker);
    return 0;
}

void jg_server_config_changed(struct jg_server *srv)
{
    jg_endpoint_init(&srv->net);   /* the handshake's transports list */
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
    /* Linux copies it to every accepted socket: no setsockopt per connection */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
    size_t left = jg_session_count(&srv->core);
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
    jg_session_end_some(&srv->core, batch, "draining");
}

void jg_server_begin_drain(struct jg_server *srv, void (*drained)(struct jg_server *srv))
{
    if (srv->core.draining)
        return;
    srv->core.draining = true;
    srv->stats.draining = 1;
    srv->drained = drained;
    srv->drain_started = ev_now(srv->loop);
    srv->drain_total = jg_session_count(&srv->core);
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
    if (srv->core.sessions)
        jg_core_deinit(&srv->core);   /* ends every session: their events are queued */
    /* commands still queued get their callbacks now, with no backplane to serve: they only
     * free what they carry */
    jg_broker_free(srv->broker);
    srv->broker = NULL;
    jg_cluster_free(srv->cluster);
    srv->cluster = NULL;
    jg_single_free(srv->single);
    srv->single = NULL;
    jg_static_free(srv->files);
    srv->files = NULL;
    if (srv->net.loop) {
        jg_conn_close_all(&srv->net);
        jg_net_deinit(&srv->net);
    }
    ev_prepare_stop(srv->loop, &srv->flush_watcher);
    ev_check_stop(srv->loop, &srv->reap_watcher);
}
