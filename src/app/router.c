/* router.c: request dispatch. socket.io URLs follow the original's regular expression
 * ^/([^/]+)/?([^/]+)?/?([^/]+)?/?$ under the resource "/socket.io" (protocol.md §2). */
#include "app/router.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/broker.h"
#include "base/buf.h"
#include "core/channel.h"
#include "cluster/cluster.h"
#include "transport/conn.h"
#include "app/console.h"
#include "transport/http.h"
#include "base/log.h"
#include "transport/poll.h"
#include "app/server.h"
#include "core/session.h"
#include "proto/sio.h"
#include "transport/static.h"
#include "transport/ws.h"
#include "base/xalloc.h"

#define RESOURCE "/socket.io"
#define TOP_CHANNELS 20      /* channels listed in /stats */

const char *jg_query_param(const char *url, size_t urllen, const char *name, size_t *len)
{
    const char *q = memchr(url, '?', urllen);
    if (!q)
        return NULL;
    const char *end = url + urllen;
    size_t nlen = strlen(name);
    const char *p = q + 1;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(stop - p));
        const char *kend = eq ? eq : stop;
        if ((size_t)(kend - p) == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq ? eq + 1 : stop;
            *len = (size_t)(stop - v);
            return v;
        }
        p = stop + 1;
    }
    return NULL;
}

/* The path part of the URL, NUL-terminated into OUT (truncated if huge). */
static void url_path(const struct jg_http_req *req, char *out, size_t outlen)
{
    const char *url = req->url.data ? req->url.data : "";
    size_t n = strcspn(url, "?#");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, url, n);
    out[n] = '\0';
}

/* Checks the page's origin against the origins list: the Origin header, else the Referer
 * (a JSONP handshake is a script load: it sends no Origin), like socket.io (§3.3). A
 * request with neither is not from a page the list could guard, and passes. */
static bool origin_ok(const struct jg_server *srv, const struct jg_http_req *req)
{
    const char *page = req->origin ? req->origin : req->referer;
    if (!page || !srv->cfg->origins)
        return true;
    return jg_config_origin_allowed(srv->cfg, page);
}

static long round_up_seconds(double s)
{
    return (long)ceil(s);
}

/* A handshake answer held until Redis has the session's record (see handshake_answer). */
struct held_handshake {
    struct jg_conn *conn;          /* NULL once the connection closed */
    bool jsonp;
    char *extra;                   /* owned; CORS headers */
    size_t len;
    char body[];
};

static void handshake_recorded(struct jg_server *srv, redisReply *r, void *priv)
{
    struct held_handshake *held = priv;
    struct jg_conn *c = held->conn;
    if (c) {
        c->waiter = NULL;
        if (!c->closing)
            jg_http_respond(c, 200, held->jsonp ? "application/javascript" : "text/plain", held->extra, held->body,
                            held->len);
    }
    free(held->extra);
    free(held);
}

/* Answers a handshake. A plain sid in cluster mode (issued before this instance read the
 * shared secret from Redis) is found by another instance only by its record, written by
 * jg_session_open at the handshake: the answer waits for a PING queued behind it (Redis
 * runs one connection's commands in order), so the client's first poll, wherever it lands,
 * comes after the record. A signed sid needs no record to be adopted: no wait. */
static void handshake_answer(struct jg_conn *c, bool jsonp, const char *extra, const char *body, size_t len)
{
    struct jg_server *srv = c->srv;
    if (!srv->cluster || jg_server_sid_secret(srv) || !jg_broker_ready(srv->broker)) {
        jg_http_respond(c, 200, jsonp ? "application/javascript" : "text/plain", extra, body, len);
        return;
    }
    struct held_handshake *held = jg_xcalloc(1, sizeof *held + len + 1);
    held->conn = c;
    held->jsonp = jsonp;
    held->extra = extra ? jg_xstrdup(extra) : NULL;
    held->len = len;
    memcpy(held->body, body, len);
    c->waiter = &held->conn;
    jg_http_hold(c);
    const char *argv[] = { "PING" };
    jg_broker_command(srv->broker, handshake_recorded, held, false, 1, argv, NULL);
}

static void handshake(struct jg_conn *c)
{
    struct jg_server *srv = c->srv;
    struct jg_http_req *req = c->req;
    size_t jlen = 0;
    const char *jsonp = jg_query_param(req->url.data, req->url.len, "jsonp", &jlen);
    bool use_jsonp = jsonp && jg_sio_is_small_index(jsonp, jlen);
    char body[256];
    int n;
    if (!origin_ok(srv, req)) {
        srv->stats.http_errors++;
        jg_info("c#%llu %s: handshake refused: origin %s not in origins", (unsigned long long)c->id, c->peer,
                req->origin ? req->origin : req->referer);
        if (use_jsonp) {
            n = snprintf(body, sizeof body, "io.j[%.*s](new Error(\"handshake bad origin\"));", (int)jlen, jsonp);
            jg_http_respond(c, 200, "application/javascript", NULL, body, (size_t)n);
        } else {
            jg_http_respond(c, 403, "text/plain", NULL, "handshake bad origin", 20);
        }
        return;
    }
    if (srv->draining) {
        jg_http_respond(c, 503, "text/plain", "Retry-After: 1\r\n", "server shutting down", 20);
        return;
    }
    const char *limit = NULL;
    struct jg_session *s = jg_session_handshake(srv, c->peer, &limit);
    if (!s) {
        /* a flood of handshakes that are never used: refused, not stored (the client's
         * reconnect retries later); a log line a second at most */
        srv->stats.handshakes_refused++;
        static const char *last_limit;
        static double last_log;
        if (limit != last_limit || ev_now(srv->loop) - last_log >= 1.0) {
            last_limit = limit;
            last_log = ev_now(srv->loop);
            jg_warn("c#%llu %s: handshake refused: %s reached (%lld refused so far)", (unsigned long long)c->id,
                    c->peer, limit, (long long)srv->stats.handshakes_refused);
        }
        req->keep_alive = false;
        jg_http_respond(c, 503, "text/plain", "Retry-After: 1\r\n", "too many unused sessions\n", 25);
        return;
    }
    srv->stats.handshakes++;
    if (use_jsonp) {
        n = snprintf(body, sizeof body, "io.j[%.*s](\"%s:%ld:%ld:%s\");", (int)jlen, jsonp, s->sid,
                     round_up_seconds(srv->cfg->heartbeat_timeout), round_up_seconds(srv->cfg->close_timeout),
                     srv->transports_list);
        handshake_answer(c, true, NULL, body, (size_t)n);
        return;
    }
    n = snprintf(body, sizeof body, "%s:%ld:%ld:%s", s->sid, round_up_seconds(srv->cfg->heartbeat_timeout),
                 round_up_seconds(srv->cfg->close_timeout), srv->transports_list);
    struct jg_sb extra = JG_SB_INIT;
    jg_http_cors(req, &extra);
    handshake_answer(c, false, extra.data, body, (size_t)n);
    jg_sb_free(&extra);
}

/* GET/POST/OPTIONS on /socket.io/1/<transport>/<sid> */
static void transport_request(struct jg_conn *c, const char *transport, const char *sid, const char *rest,
                              size_t restlen)
{
    struct jg_server *srv = c->srv;
    struct jg_http_req *req = c->req;
    size_t dlen;
    /* a sid no instance could have issued is an unknown session: no lookup, no claim, no
     * adoption, no Redis call (it would leave state keyed by attacker-chosen text) */
    bool well_formed = jg_sid_well_formed(sid);
    if (!well_formed)
        srv->stats.malformed_sid++;
    struct jg_session *s = well_formed ? jg_session_find(srv, sid) : NULL;
    int kind = jg_transport_parse(transport, strlen(transport));
    /* check first, act after: a request refused for its transport or its origin claims
     * nothing, adopts nothing and ends nothing (?disconnect). socket.io-client's own
     * disconnect names no transport (GET /socket.io/1//<sid>/?disconnect=1): allowed. */
    bool disconnect = jg_query_param(req->url.data, req->url.len, "disconnect", &dlen) != NULL;
    bool transportless_disconnect = disconnect && !*transport;
    if (!transportless_disconnect && (kind < 0 || !(srv->cfg->transports & (1u << kind)))) {
        /* like the original: no answer for a transport that is not enabled (§2.2) */
        srv->stats.http_errors++;
        jg_info("c#%llu %s: transport \"%.40s\" not enabled; connection closed", (unsigned long long)c->id,
                c->peer, transport);
        jg_conn_close_after_flush(c);   /* answers to earlier pipelined requests still go out */
        return;
    }
    if (!origin_ok(srv, req)) {
        srv->stats.http_errors++;
        jg_info("c#%llu %s: %s request refused: origin %s not in origins", (unsigned long long)c->id, c->peer,
                transport, req->origin ? req->origin : req->referer);
        req->keep_alive = false;
        jg_http_respond(c, 403, "text/plain", NULL, "origin not allowed", 18);
        return;
    }
    /* a session handshaken here gets its record at its first transport request (a claim
     * that creates it); with Redis away it is queued, and the request served here */
    bool unrecorded = s && srv->cluster && !s->recorded && !disconnect && req->method != HTTP_OPTIONS;
    if (unrecorded && !c->claimed && !jg_broker_ready(srv->broker)) {
        jg_cluster_session_opened(s, false);
        unrecorded = false;
    }
    if (well_formed && srv->cluster && !c->claimed && kind >= 0 && req->method != HTTP_OPTIONS &&
        (!s || unrecorded ||
         (req->method == HTTP_GET && kind != JG_TR_WEBSOCKET && kind != JG_TR_HTMLFILE &&
          jg_broker_ready(srv->broker)))) {
        /* the session's record decides: take it over (polls land anywhere), confirm the
         * last polling answer; the request resumes in jg_router_resume_claimed. With Redis
         * away, the instance that holds a session serves it as it is (no message can be
         * sequenced meanwhile anyway). */
        size_t tlen = 0;
        const char *t = req->method == HTTP_GET ? jg_query_param(req->url.data, req->url.len, "t", &tlen) : NULL;
        char tbuf[24] = "";
        if (t)
            snprintf(tbuf, sizeof tbuf, "%llu", (unsigned long long)jg_session_poll_key(t, tlen));
        if (!srv->draining || s) {
            if (unrecorded)
                s->recorded = true;   /* by this claim, ahead of anything else of the session */
            /* the first request of a sid handshaken here, or of a signed sid another instance
             * issued: the claim writes the record if there is none (whichever instance comes
             * first; the other takes it over from the record) */
            bool create = unrecorded || (!s && jg_session_adoptable(srv, sid));
            jg_cluster_claim(c, sid, t ? tbuf : NULL, req->method == HTTP_GET,
                             kind == JG_TR_XHR_POLLING || kind == JG_TR_JSONP_POLLING, create);
            return;
        }
    }
    c->claimed = false;
    bool spent = c->sid_spent;
    c->sid_spent = false;
    if (spent && !s)
        srv->stats.sids_replayed++;
    /* in cluster mode the claim adopts (its record created in Redis); adopting here too
     * would open a second, empty copy of a session whose claim found nothing to take */
    if (!s && !srv->cluster && !srv->draining && well_formed && !spent)
        s = jg_session_adopt(srv, sid);
    if (s && srv->cluster && req->method == HTTP_GET) {
        size_t tlen = 0;
        const char *t = jg_query_param(req->url.data, req->url.len, "t", &tlen);
        s->poll_t = t ? jg_session_poll_key(t, tlen) : 0;
    }

    if (disconnect) {
        /* §11.4 Fix: end the session whether or not a transport is open, answer 200 */
        if (s)
            jg_session_end(s, "?disconnect", true);
        struct jg_sb extra = JG_SB_INIT;
        jg_http_cors(req, &extra);
        jg_http_respond(c, 200, NULL, extra.data, "", 0);
        jg_sb_free(&extra);
        return;
    }
    if (srv->draining && (srv->cluster || jg_server_sid_secret(srv)) && (!s || !s->used)) {
        /* a draining instance takes no session it does not hold (one it handed off, one
         * another instance issued): 503 makes the balancer retry the request on another
         * instance, which claims the session from its record. Answering it as unknown
         * here would make the client start over and lose what was published meanwhile. */
        req->keep_alive = false;
        jg_http_respond(c, 503, "text/plain", "Retry-After: 1\r\n", "server shutting down", 20);
        return;
    }
    if (kind == JG_TR_WEBSOCKET) {
        if (req->method != HTTP_GET || !req->upgrade_websocket) {
            srv->stats.http_errors++;
            req->keep_alive = false;
            jg_http_respond(c, 400, "text/plain", NULL, "WebSocket upgrade expected\n", 27);
            return;
        }
        jg_ws_upgrade(c, s, rest, restlen);
        return;
    }
    switch (req->method) {
    case HTTP_GET:
        jg_poll_get(c, s, kind);
        return;
    case HTTP_POST:
        jg_poll_post(c, s, kind);
        return;
    case HTTP_OPTIONS: {
        struct jg_sb extra = JG_SB_INIT;
        jg_http_cors(req, &extra);
        jg_sb_appends(&extra, "Access-Control-Allow-Methods: GET, POST\r\n"
                              "Access-Control-Allow-Headers: Content-Type\r\nAccess-Control-Max-Age: 86400\r\n");
        jg_http_respond(c, 204, NULL, extra.data, "", 0);
        jg_sb_free(&extra);
        return;
    }
    default:
        jg_http_respond(c, 405, "text/plain", "Allow: GET, POST\r\n", "Method Not Allowed\n", 19);
        return;
    }
}

static void socketio(struct jg_conn *c, const char *path, const char *rest, size_t restlen)
{
    /* split P = path after the resource into at most three segments */
    char segs[3][256] = { "", "", "" };
    int nseg = 0;
    const char *p = path;
    if (*p != '/') {
        jg_http_respond(c, 200, NULL, NULL, "Welcome to socket.io.", 21);
        return;
    }
    p++;
    size_t plen = strlen(p);
    if (plen && p[plen - 1] == '/')
        plen--;   /* one trailing slash is allowed */
    const char *end = p + plen;
    bool ok = plen > 0;
    while (ok && p <= end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        const char *stop = slash ? slash : end;
        if (nseg == 3 || (size_t)(stop - p) >= sizeof segs[0]) {
            ok = false;
            break;
        }
        memcpy(segs[nseg], p, (size_t)(stop - p));
        segs[nseg][stop - p] = '\0';
        nseg++;
        if (!slash)
            break;
        p = slash + 1;
    }
    /* protocol must be there; a sid needs a (possibly empty) transport before it */
    if (!ok || !segs[0][0] || (nseg == 3 && !segs[2][0])) {
        jg_http_respond(c, 200, NULL, NULL, "Welcome to socket.io.", 21);
        return;
    }
    const char *proto = segs[0];
    bool numeric = strspn(proto, "0123456789") == strlen(proto);
    long version = numeric ? strtol(proto, NULL, 10) : -1;
    bool has_transport = nseg >= 2 && (segs[1][0] || nseg == 3);
    if (version != 1) {
        if (!has_transport && (version == 0 || !numeric))
            jg_http_respond(c, 200, NULL, NULL, "Welcome to socket.io.", 21);
        else
            jg_http_respond(c, 500, NULL, NULL, "Protocol version not supported.", 31);
        return;
    }
    if (nseg < 3) {
        handshake(c);
        return;
    }
    transport_request(c, segs[1], segs[2], rest, restlen);
}

static void health(struct jg_conn *c)
{
    struct jg_server *srv = c->srv;
    if (srv->draining) {
        jg_http_respond(c, 503, "text/plain", NULL, "draining\n", 9);
        return;
    }
    if (jg_broker_down_for(srv->broker) > srv->cfg->health_redis_grace) {
        jg_http_respond(c, 503, "text/plain", NULL, "redis unavailable\n", 18);
        return;
    }
    jg_http_respond(c, 200, "text/plain", NULL, "ok\n", 3);
}

static void stats(struct jg_conn *c, bool prometheus)
{
    struct jg_sb out = JG_SB_INIT;
    enum jg_public_stats pub = c->admin ? JG_PUBLIC_STATS_FULL : c->srv->cfg->public_stats;
    if (pub == JG_PUBLIC_STATS_OFF) {
        jg_http_respond(c, 404, "text/plain", NULL, "not found\n", 10);
        return;
    }
    if (prometheus) {
        jg_stats_prometheus(&c->srv->stats, &out);
    } else {
        jg_stats_json(&c->srv->stats, &out);
    }
    if (!prometheus && pub == JG_PUBLIC_STATS_FULL) {
        /* ...plus the busiest channels: {"top_channels":[{"channel":..,"subscribers":N}]}.
         * Channel names (private ones too) only where public-stats or the admin port allow */
        out.len--;   /* reopen the object */
        jg_sb_appends(&out, ",\"top_channels\":");
        jg_channel_top_json(c->srv->channels, TOP_CHANNELS, &out);
        jg_sb_appendc(&out, '}');
    }
    jg_http_respond(c, 200, prometheus ? "text/plain; version=0.0.4" : "application/json",
                    "Cache-Control: no-cache\r\n", out.data, out.len);
    jg_sb_free(&out);
}

/* GET /presence/<channel>, the channel name percent-encoded as any path segment. */
static void presence(struct jg_conn *c, const char *encoded)
{
    struct jg_sb channel = JG_SB_INIT;
    jg_sio_path_decode(encoded, strlen(encoded), &channel);
    if (!channel.data || memchr(channel.data, '\0', channel.len)) {
        jg_http_respond(c, 400, "text/plain", NULL, "bad channel name\n", 17);
    } else {
        jg_cluster_http_presence(c, channel.data);
    }
    jg_sb_free(&channel);
}

/* The admin port serves the operator endpoints only. */
static void admin_request(struct jg_conn *c, const char *path)
{
    bool get = c->req->method == HTTP_GET || c->req->method == HTTP_HEAD;
    if (c->req->upgrade_websocket || c->parser.upgrade) {
        jg_conn_close_after_flush(c);
        return;
    }
    if (get && !strcmp(path, "/health"))
        health(c);
    else if (get && !strcmp(path, "/stats"))
        stats(c, false);
    else if (get && !strcmp(path, "/metrics"))
        stats(c, true);
    else if (c->srv->cluster && c->req->method == HTTP_POST && !strcmp(path, "/publish"))
        jg_cluster_http_publish(c);
    else if (c->srv->cluster && get && !strncmp(path, "/presence/", 10) && path[10])
        presence(c, path + 10);
    else if (!strncmp(path, "/console", 8) && (path[8] == '\0' || path[8] == '/'))
        jg_console_request(c, path + 8);
    else
        jg_http_respond(c, 404, "text/plain", NULL, "not found\n", 10);
}

void jg_router_resume_claimed(struct jg_conn *c)
{
    /* bytes that came behind the request wait in held_input: a WebSocket's first frames,
     * or pipelined requests (parsed once this one is answered) */
    struct jg_sb rest = JG_SB_INIT;
    if (c->req->upgrade_websocket || c->parser.upgrade) {
        rest = c->held_input;
        c->held_input = (struct jg_sb)JG_SB_INIT;
    }
    c->held = false;
    c->claimed = true;
    jg_router_dispatch(c, rest.data, rest.len);
    c->claimed = false;
    jg_sb_free(&rest);
    if (!c->closing && !c->held && c->mode == JG_CONN_HTTP && c->held_input.len)
        jg_conn_resume(c);
}

void jg_router_dispatch(struct jg_conn *c, const char *rest, size_t restlen)
{
    struct jg_http_req *req = c->req;
    char path[2048];
    url_path(req, path, sizeof path);
    if (c->admin) {
        admin_request(c, path);
        return;
    }
    if (strncmp(path, RESOURCE, strlen(RESOURCE)) == 0) {
        /* raw prefix match, like 0.8.7 (§2.1) */
        socketio(c, path + strlen(RESOURCE), rest, restlen);
        return;
    }
    if (req->upgrade_websocket || c->parser.upgrade) {
        /* "destroy upgrade" (§2.1): no answer outside the socket.io resource */
        c->srv->stats.http_errors++;
        jg_conn_close_after_flush(c);
        return;
    }
    bool get = req->method == HTTP_GET || req->method == HTTP_HEAD;
    if (get && !strcmp(path, "/health")) {
        health(c);
        return;
    }
    if (get && !strcmp(path, "/stats")) {
        stats(c, false);
        return;
    }
    if (get && !strcmp(path, "/metrics")) {
        stats(c, true);
        return;
    }
    jg_static_serve(c->srv->files, c, path);
}
