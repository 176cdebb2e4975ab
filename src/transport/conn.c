/* conn.c: client connections. Reads are handed to net->input (HTTP or WebSocket); output is a ring
 * of shared buffer references written from the loop's prepare phase, so a burst of publishes
 * costs one send per client (style.md §3), and the sends of many clients share one io_uring
 * call (transport/uring.h), or are a writev each. Closed connections are freed
 * from the check phase, never under a callback that may still hold them. */
#include "transport/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "core/session.h"
#include "transport/net.h"
#include "transport/uring.h"

#define READ_CHUNK 65536          /* bytes per read(2) */
#define IOV_BATCH 64              /* buffers per writev(2) or batched send */
#define FLUSH_CAP (4 << 20)       /* bytes written per connection per flush: fairness */
#define LINGER_TIMEOUT 2.0        /* s to wait for the peer's EOF after our last byte */

static void io_cb(struct ev_loop *loop, ev_io *w, int revents);

/* The gauge of open transports of C's kind. */
static int64_t *transport_gauge(struct jg_conn *c)
{
    switch (c->kind) {
    case JG_TR_WEBSOCKET:
        return &c->net->stats->ws_connections;
    case JG_TR_HTMLFILE:
        return &c->net->stats->htmlfile_streams;
    default:
        return &c->net->stats->polls_pending;
    }
}
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

/* C's HTTP state, made if it has none (a WebSocket about to linger). */
static struct jg_conn_http *conn_http(struct jg_conn *c)
{
    if (!c->http) {
        struct jg_conn_http *h = jg_xcalloc(1, sizeof *h);
        h->conn = c;
        jg_list_init(&h->resume_node);
        ev_timer_init(&h->timer, timer_cb, 0, 0);
        h->timer.data = c;
        c->http = h;
    }
    return c->http;
}

/* Stops what C's HTTP state has running: the deadline, a pending resume, and an answer
 * waiting for the connection (it finds the connection gone). */
static void http_stop(struct jg_conn *c)
{
    struct jg_conn_http *h = c->http;
    if (!h)
        return;
    ev_timer_stop(c->net->loop, &h->timer);
    jg_list_remove(&h->resume_node);
    if (h->waiter) {
        *h->waiter = NULL;
        h->waiter = NULL;
    }
}

void jg_conn_http_done(struct jg_conn *c)
{
    if (!c->http)
        return;
    http_stop(c);
    jg_sb_free(&c->http->held_input);
    free(c->http);
    c->http = NULL;
}

void jg_conn_set_deadline(struct jg_conn *c, double seconds)
{
    if (!c->http)   /* a WebSocket: its session keeps the time */
        return;
    ev_timer_stop(c->net->loop, &c->http->timer);
    if (seconds > 0 && !c->closing && c->mode != JG_CONN_LINGER) {
        ev_timer_set(&c->http->timer, seconds, 0);
        ev_timer_start(c->net->loop, &c->http->timer);
    }
}

struct jg_conn *jg_conn_new(struct jg_net *net, int fd, const char *peer)
{
    struct jg_conn *c = jg_xcalloc(1, sizeof *c);
    c->fd = fd;
    c->net = net;
    c->id = ++net->next_conn_id;
    snprintf(c->peer, sizeof c->peer, "%s", peer);
    jg_list_init(&c->pending_node);
    jg_list_add_tail(&net->conns, &c->all_node);
    ev_io_init(&c->io, io_cb, fd, EV_READ);
    c->io.data = c;
    conn_http(c);   /* every connection begins with an HTTP request */
    ev_io_start(net->loop, &c->io);
    jg_conn_set_deadline(c, net->cfg->header_timeout);
    net->stats->connections++;
    net->stats->connections_total++;
    return c;
}

static void mark_pending(struct jg_conn *c)
{
    if (!jg_list_linked(&c->pending_node) && !c->closing)
        jg_list_add_tail(&c->net->pending_write, &c->pending_node);
}

void jg_conn_send_owned(struct jg_conn *c, struct jg_buf *b)
{
    if (c->closing || c->mode == JG_CONN_LINGER) {
        jg_buf_unref(b);
        return;
    }
    if (c->out_count == c->out_cap) {
        unsigned cap = c->out_cap ? c->out_cap * 2 : 4;
        struct jg_buf **ring = jg_xmalloc(cap * sizeof *ring);
        for (unsigned i = 0; i < c->out_count; i++)
            ring[i] = c->out[(c->out_head + i) & (c->out_cap - 1)];
        free(c->out);
        c->out = ring;
        c->out_head = 0;
        c->out_cap = cap;
    }
    c->out[(c->out_head + c->out_count) & (c->out_cap - 1)] = b;
    c->out_count++;
    c->out_bytes += b->len;
    c->net->out_bytes += b->len;
    if (c->out_bytes > c->net->cfg->max_output_buffer)
        c->overflowed = true;   /* acted on at flush time, outside any fan-out loop */
    mark_pending(c);
}

void jg_conn_send(struct jg_conn *c, struct jg_buf *b)
{
    jg_conn_send_owned(c, jg_buf_ref(b));
}

void jg_conn_send_copy(struct jg_conn *c, const void *p, size_t len)
{
    jg_conn_send_owned(c, jg_buf_new(p, len));
}

static void out_clear(struct jg_conn *c)
{
    for (unsigned i = 0; i < c->out_count; i++)
        jg_buf_unref(c->out[(c->out_head + i) & (c->out_cap - 1)]);
    free(c->out);
    c->out = NULL;
    c->out_count = c->out_cap = c->out_head = 0;
    c->head_off = 0;
    c->net->out_bytes -= c->out_bytes;
    c->out_bytes = 0;
}

void jg_conn_close(struct jg_conn *c, const char *reason)
{
    if (c->closing)
        return;
    struct jg_net *net = c->net;
    c->closing = true;
    jg_debug("c#%llu %s closed: %s", (unsigned long long)c->id, c->peer, reason);
    ev_io_stop(net->loop, &c->io);
    /* the descriptor goes now, the struct after the callbacks: left open until then, a
     * peer's EOF would wake the loop again and libev would spend an epoll_ctl on it */
    close(c->fd);
    c->fd = -1;
    http_stop(c);
    jg_list_remove(&c->all_node);
    jg_list_remove(&c->pending_node);
    jg_list_add_tail(&net->closing, &c->pending_node);
    out_clear(c);   /* nothing more goes out; the bytes leave the output budget now */
    if (c->session)
        jg_session_transport_lost(c->session, c);   /* detaches (jg_conn_detached) */
}

static void conn_free(struct jg_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    if (c->addr)
        jg_net_addr_release(c->net, c->addr);
    out_clear(c);
    c->net->release(c);   /* the request, the WebSocket parser */
    jg_conn_http_done(c);
    c->net->stats->connections--;
    free(c);
}

void jg_conn_reap(struct jg_net *net)
{
    while (!jg_list_empty(&net->closing)) {
        struct jg_conn *c = jg_container_of(net->closing.next, struct jg_conn, pending_node);
        jg_list_remove(&c->pending_node);
        conn_free(c);
    }
}

/* Everything written and the connection should end: shut the write side, then wait
 * (briefly) for the peer's EOF so unread input does not turn our close into a RST that
 * destroys the answer in flight. */
static void start_linger(struct jg_conn *c)
{
    struct ev_timer *t = &conn_http(c)->timer;
    c->mode = JG_CONN_LINGER;
    shutdown(c->fd, SHUT_WR);
    ev_timer_stop(c->net->loop, t);
    ev_timer_set(t, LINGER_TIMEOUT, 0);
    ev_timer_start(c->net->loop, t);
    if (!ev_is_active(&c->io))
        ev_io_start(c->net->loop, &c->io);
}

void jg_conn_close_after_flush(struct jg_conn *c)
{
    if (c->closing)
        return;
    c->close_after_flush = true;
    if (c->out_count == 0)
        start_linger(c);
    else
        mark_pending(c);
}

/* Closes C at once with a reset: the kernel would otherwise keep the megabytes already in
 * the socket's send buffer until the stalled peer reads them (or forever). */
static void close_reset(struct jg_conn *c, const char *reason)
{
    struct linger lg = { 1, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    jg_conn_close(c, reason);
}

static bool waiting_to_write(const struct jg_conn *c)
{
    return (c->io.events & EV_WRITE) != 0;
}

/* One watcher reads and, after EAGAIN, also waits to write: a connection costs one ev_io. */
static void want_write(struct jg_conn *c, bool on)
{
    if (waiting_to_write(c) == on || c->closing)
        return;
    bool active = ev_is_active(&c->io);
    if (active)
        ev_io_stop(c->net->loop, &c->io);
    ev_io_set(&c->io, c->fd, EV_READ | (on ? EV_WRITE : 0));
    if (active)
        ev_io_start(c->net->loop, &c->io);
}

/* Fills IOV with up to MAX of C's queued buffers, from where the last write stopped. */
static int out_iov(const struct jg_conn *c, struct iovec *iov, int max)
{
    int n = 0;
    for (unsigned i = 0; i < c->out_count && n < max; i++) {
        struct jg_buf *b = c->out[(c->out_head + i) & (c->out_cap - 1)];
        size_t off = i == 0 ? c->head_off : 0;
        iov[n].iov_base = b->data + off;
        iov[n].iov_len = b->len - off;
        n++;
    }
    return n;
}

/* W bytes of C's queue went out: drops the buffers they finish. */
static void out_consume(struct jg_conn *c, size_t w)
{
    c->net->stats->bytes_out += w;
    c->out_bytes -= w;
    c->net->out_bytes -= w;
    while (w) {
        struct jg_buf *b = c->out[c->out_head];
        size_t rest = b->len - c->head_off;
        if (w < rest) {
            c->head_off += w;
            break;
        }
        w -= rest;
        jg_buf_unref(b);
        c->out_head = (c->out_head + 1) & (c->out_cap - 1);
        c->out_count--;
        c->head_off = 0;
    }
}

/* A write failed with ERR (not EINTR). Returns 0 when C waits to be writable, -1 when
 * it was closed. */
static int write_failed(struct jg_conn *c, int err)
{
    if (err == EAGAIN || err == EWOULDBLOCK) {
        want_write(c, true);
        return 0;
    }
    jg_conn_close(c, strerror(err));
    return -1;
}

/* C's queue is empty. */
static void flushed(struct jg_conn *c)
{
    want_write(c, false);
    if (c->out_cap) {
        /* an idle connection keeps no ring (32 bytes and up, of about 650 it costs); the
         * next send allocates one again: a malloc and a free per flush, beside a writev */
        free(c->out);
        c->out = NULL;
        c->out_cap = c->out_head = 0;
    }
    if (c->close_after_flush && c->mode != JG_CONN_LINGER)
        start_linger(c);
}

/* Passed max-output-buffer: closed at once. Returns true when it was. */
static bool close_if_overflowed(struct jg_conn *c)
{
    if (!c->overflowed)
        return false;
    c->net->stats->slow_consumers++;
    jg_info("c#%llu %s: slow consumer, %zu bytes unsent (max-output-buffer %zu); closing",
            (unsigned long long)c->id, c->peer, c->out_bytes, c->net->cfg->max_output_buffer);
    close_reset(c, "slow consumer");
    return true;
}

/* Writes as much as the socket takes. Returns 0, or -1 when the connection was closed. */
static int flush(struct jg_conn *c)
{
    struct jg_net *net = c->net;
    size_t written_now = 0;
    if (close_if_overflowed(c))
        return -1;
    while (c->out_count) {
        struct iovec iov[IOV_BATCH];
        int n = out_iov(c, iov, IOV_BATCH);
        ssize_t w = writev(c->fd, iov, n);
        net->stats->writev_calls++;
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return write_failed(c, errno);
        }
        out_consume(c, (size_t)w);
        written_now += (size_t)w;
        if (written_now >= FLUSH_CAP && c->out_count) {
            /* let others write; continue when the socket is writable again */
            want_write(c, true);
            return 0;
        }
    }
    flushed(c);
    return 0;
}

static int by_out_bytes_desc(const void *a, const void *b)
{
    size_t x = (*(struct jg_conn *const *)a)->out_bytes, y = (*(struct jg_conn *const *)b)->out_bytes;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* All unsent output passed max-output-total: the connections holding the most go first,
 * until the total is under 90 % of the budget. Runs only under pressure (it looks at every
 * connection with something unsent). */
static void enforce_output_budget(struct jg_net *net)
{
    size_t budget = net->cfg->max_output_total;
    if (net->out_bytes <= budget)
        return;
    size_t n = 0, cap = 64;
    struct jg_conn **v = jg_xmalloc(cap * sizeof *v);
    for (struct jg_list *pos = net->conns.next; pos != &net->conns; pos = pos->next) {
        struct jg_conn *c = jg_container_of(pos, struct jg_conn, all_node);
        if (!c->out_bytes || c->closing)
            continue;
        if (n == cap)
            v = jg_xrealloc(v, (cap *= 2) * sizeof *v);
        v[n++] = c;
    }
    qsort(v, n, sizeof *v, by_out_bytes_desc);
    size_t before = net->out_bytes, target = budget / 10 * 9, cut = 0, largest = n ? v[0]->out_bytes : 0;
    for (size_t i = 0; i < n && net->out_bytes > target; i++, cut++) {
        net->stats->output_budget_cuts++;
        close_reset(v[i], "output budget");   /* its queue is freed now (out_clear) */
    }
    jg_warn("output budget: %zu bytes unsent over all connections, more than max-output-total %zu; closed the %zu "
            "connections with the most unsent (largest %zu bytes)", before, budget, cut, largest);
    free(v);
}

/* One io_uring call for up to JG_NET_SEND_BATCH of the connections waiting to write, each sending
 * its first IOV_BATCH buffers. One that has more left after that (a short send, or a long
 * queue) goes on with writev. */
static void flush_batch(struct jg_net *net)
{
    static struct jg_conn *conns[JG_NET_SEND_BATCH];
    static int fds[JG_NET_SEND_BATCH];
    static struct msghdr msgs[JG_NET_SEND_BATCH];
    static struct iovec iovs[JG_NET_SEND_BATCH][IOV_BATCH];
    static ssize_t res[JG_NET_SEND_BATCH];
    unsigned n = 0;
    while (n < JG_NET_SEND_BATCH && !jg_list_empty(&net->pending_write)) {
        struct jg_conn *c = jg_container_of(net->pending_write.next, struct jg_conn, pending_node);
        jg_list_remove(&c->pending_node);
        if (close_if_overflowed(c) || waiting_to_write(c))
            continue;
        if (!c->out_count) {
            flushed(c);
            continue;
        }
        memset(&msgs[n], 0, sizeof msgs[n]);
        msgs[n].msg_iov = iovs[n];
        msgs[n].msg_iovlen = (size_t)out_iov(c, iovs[n], IOV_BATCH);
        fds[n] = c->fd;
        conns[n++] = c;
    }
    if (n == 1) {   /* one send: the same system call either way */
        flush(conns[0]);
        return;
    }
    if (n == 0)
        return;
    int failed = jg_uring_sendmsgs(net->uring, fds, msgs, res, n);
    net->stats->send_batches++;
    if (failed) {
        jg_error("io_uring failed (%s); writing to clients with writev from now on", strerror(-failed));
        jg_uring_free(net->uring);
        net->uring = NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        struct jg_conn *c = conns[i];
        if (c->closing)   /* closed by what an earlier result did: its queue is gone */
            continue;
        if (res[i] == -EAGAIN && failed)
            mark_pending(c);   /* never sent: writev takes it */
        else if (res[i] < 0)
            write_failed(c, (int)-res[i]);
        else {
            out_consume(c, (size_t)res[i]);
            if (c->out_count)
                flush(c);
            else
                flushed(c);
        }
    }
}

void jg_conn_flush_all(struct jg_net *net)
{
    while (net->uring && !jg_list_empty(&net->pending_write))
        flush_batch(net);
    while (!jg_list_empty(&net->pending_write)) {
        struct jg_conn *c = jg_container_of(net->pending_write.next, struct jg_conn, pending_node);
        jg_list_remove(&c->pending_node);
        /* an overflowed connection is closed even while it waits for POLLOUT */
        if (c->overflowed || !waiting_to_write(c))
            flush(c);
    }
    enforce_output_budget(net);
}


void jg_conn_resume(struct jg_conn *c)
{
    if (c->closing || !c->http || jg_list_linked(&c->http->resume_node))
        return;
    jg_list_add_tail(&c->net->resume, &c->http->resume_node);
}

void jg_conn_process_resumed(struct jg_net *net)
{
    while (!jg_list_empty(&net->resume)) {
        struct jg_conn_http *h = jg_container_of(net->resume.next, struct jg_conn_http, resume_node);
        struct jg_conn *c = h->conn;
        jg_list_remove(&h->resume_node);
        if (c->closing || c->held || c->mode != JG_CONN_HTTP || !h->held_input.len)
            continue;
        /* take the bytes out first: feeding may hold again and store a new rest */
        struct jg_sb in = h->held_input;
        memset(&h->held_input, 0, sizeof h->held_input);
        net->input(c, in.data, in.len);
        jg_sb_free(&in);
    }
}

static void read_input(struct jg_conn *c)
{
    static char chunk[READ_CHUNK];   /* loop thread only; consumed before returning */
    for (int rounds = 0; rounds < 4 && !c->closing; rounds++) {
        ssize_t n = read(c->fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                jg_conn_close(c, strerror(errno));
            return;
        }
        if (n == 0) {
            jg_conn_close(c, "peer closed");
            return;
        }
        if (c->mode != JG_CONN_LINGER)   /* lingering: discarded, we only wait for EOF */
            c->net->input(c, chunk, (size_t)n);
        if ((size_t)n < sizeof chunk)
            return;
    }
}

static void io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    struct jg_conn *c = w->data;
    if (revents & EV_WRITE) {
        jg_list_remove(&c->pending_node);
        flush(c);
    }
    if ((revents & EV_READ) && !c->closing)
        read_input(c);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_conn *c = w->data;
    if (c->mode == JG_CONN_LINGER) {
        jg_conn_close(c, "linger done");
        return;
    }
    if (c->req)   /* the deadline is off while a complete request is handled */
        jg_info("c#%llu %s: request not complete within header-timeout (%g s); closing",
                (unsigned long long)c->id, c->peer, c->net->cfg->header_timeout);
    jg_conn_close(c, "idle timeout");
}

void jg_conn_close_all(struct jg_net *net)
{
    jg_conn_flush_all(net);
    while (!jg_list_empty(&net->conns))
        jg_conn_close(jg_container_of(net->conns.next, struct jg_conn, all_node), "shutdown");
    jg_conn_reap(net);
}

void jg_conn_attached(void *t, struct jg_session *s)
{
    struct jg_conn *c = t;
    c->session = s;
    *transport_gauge(c) += 1;
}

void jg_conn_detached(void *t)
{
    struct jg_conn *c = t;
    c->session = NULL;
    *transport_gauge(c) -= 1;
}
