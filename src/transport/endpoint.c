/* endpoint.c: the socket.io resource (protocol.md §2, §3, §6): the handshake, the transport
 * requests of a session (claimed first when the backplane shares sessions), and what a
 * connection's bytes mean (HTTP, or WebSocket frames once upgraded). URLs follow the
 * original's regular expression ^/([^/]+)/?([^/]+)?/?([^/]+)?/?$ under the resource. */
#include "transport/endpoint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "core/backplane.h"
#include "core/session.h"
#include "proto/sid.h"
#include "proto/sio.h"
#include "transport/conn.h"
#include "transport/http.h"
#include "transport/poll.h"
#include "transport/ws.h"

/* ---- a connection's bytes ---- */

static void input(struct jg_conn *c, const char *data, size_t n)
{
    switch (c->mode) {
    case JG_CONN_WS:
        jg_ws_feed(c, (const unsigned char *)data, n);
        break;
    case JG_CONN_HTTP:
        if (c->held || c->http->held_input.len) {
            /* a request is being held: pipelined input waits, bounded */
            if (c->http->held_input.len + n > c->net->cfg->max_header_size + c->net->cfg->max_post_body) {
                jg_info("c#%llu %s: too much pipelined input behind a held request; closing",
                        (unsigned long long)c->id, c->peer);
                jg_conn_close(c, "pipelined input limit");
                return;
            }
            jg_sb_append(&c->http->held_input, data, n);
        } else {
            jg_http_feed(c, data, n);
        }
        break;
    default:
        break;
    }
}

static void release(struct jg_conn *c)
{
    jg_ws_release(c);
    jg_http_req_free(c->req);
    c->req = NULL;
}

void jg_endpoint_init(struct jg_net *net)
{
    net->input = input;
    net->release = release;
    jg_config_transports_list(net->cfg, net->transports_list, sizeof net->transports_list);
}

struct jg_conn *jg_endpoint_accept(struct jg_net *net, int fd, const char *peer)
{
    struct jg_conn *c = jg_conn_new(net, fd, peer);
    jg_http_conn_init(c);
    return c;
}

/* ---- the handshake ---- */

/* Checks the page's origin against the origins list: the Origin header, else the Referer
 * (a JSONP handshake is a script load: it sends no Origin), like socket.io (§3.3). A
 * request with neither is not from a page the list could guard, and passes. */
static bool origin_ok(const struct jg_net *net, const struct jg_http_req *req)
{
    const char *page = req->origin ? req->origin : req->referer;
    if (!page || !net->cfg->origins)
        return true;
    return jg_config_origin_allowed(net->cfg, page);
}

static long round_up_seconds(double s)
{
    return (long)ceil(s);
}

/* A handshake answer held until the other instances can find the session (sid_unknown). */
struct held_answer {
    bool jsonp;
    char *extra;                   /* owned; CORS headers */
    size_t len;
    char body[];
};

static void handshake_ready(void *arg, enum jg_claim_result result)
{
    struct jg_http_wait *w = arg;
    struct held_answer *held = jg_http_wait_data(w);
    struct jg_conn *c = jg_http_wait_end(w);
    if (c)
        jg_http_respond(c, 200, held->jsonp ? "application/javascript" : "text/plain", held->extra, held->body,
                        held->len);
    free(held->extra);
    jg_http_wait_free(w);
}

/* Answers a handshake for S, now or once the backplane says other instances can find S. */
static void handshake_answer(struct jg_conn *c, struct jg_session *s, bool jsonp, const char *extra, const char *body,
                             size_t len)
{
    struct jg_core *core = c->net->core;
    if (core->shared && core->bp_ops->sid_unknown(core->bp, s)) {
        /* the client's first transport request, wherever it lands, must find the record */
        struct jg_http_wait *w = jg_http_wait_begin(c, sizeof(struct held_answer) + len + 1);
        struct held_answer *held = jg_http_wait_data(w);
        held->jsonp = jsonp;
        held->extra = extra ? jg_xstrdup(extra) : NULL;
        held->len = len;
        memcpy(held->body, body, len);
        core->bp_ops->after_record(core->bp, handshake_ready, w);
        return;
    }
    jg_http_respond(c, 200, jsonp ? "application/javascript" : "text/plain", extra, body, len);
}

static void handshake(struct jg_conn *c)
{
    struct jg_net *net = c->net;
    struct jg_core *core = net->core;
    struct jg_http_req *req = c->req;
    size_t jlen = 0;
    const char *jsonp = jg_query_param(req->url.data, req->url.len, "jsonp", &jlen);
    bool use_jsonp = jsonp && jg_sio_is_small_index(jsonp, jlen);
    char body[256];
    int n;
    if (!origin_ok(net, req)) {
        net->stats->http_errors++;
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
    if (core->draining) {
        jg_http_respond(c, 503, "text/plain", "Retry-After: 1\r\n", "server shutting down", 20);
        return;
    }
    const char *limit = NULL;
    struct jg_session *s = jg_session_handshake(core, c->peer, &limit);
    if (!s) {
        /* a flood of handshakes that are never used: refused, not stored (the client's
         * reconnect retries later); a log line a second at most */
        net->stats->handshakes_refused++;
        static const char *last_limit;
        static double last_log;
        if (limit != last_limit || ev_now(net->loop) - last_log >= 1.0) {
            last_limit = limit;
            last_log = ev_now(net->loop);
            jg_warn("c#%llu %s: handshake refused: %s reached (%lld refused so far)", (unsigned long long)c->id,
                    c->peer, limit, (long long)net->stats->handshakes_refused);
        }
        req->keep_alive = false;
        jg_http_respond(c, 503, "text/plain", "Retry-After: 1\r\n", "too many unused sessions\n", 25);
        return;
    }
    net->stats->handshakes++;
    if (use_jsonp) {
        n = snprintf(body, sizeof body, "io.j[%.*s](\"%s:%ld:%ld:%s\");", (int)jlen, jsonp, jg_session_sid(s),
                     round_up_seconds(net->cfg->heartbeat_timeout), round_up_seconds(net->cfg->close_timeout),
                     net->transports_list);
        handshake_answer(c, s, true, NULL, body, (size_t)n);
        return;
    }
    n = snprintf(body, sizeof body, "%s:%ld:%ld:%s", jg_session_sid(s), round_up_seconds(net->cfg->heartbeat_timeout),
                 round_up_seconds(net->cfg->close_timeout), net->transports_list);
    struct jg_sb extra = JG_SB_INIT;
    jg_http_cors(req, &extra);
    handshake_answer(c, s, false, extra.data, body, (size_t)n);
    jg_sb_free(&extra);
}

/* ---- transport requests ---- */

static void resume_claimed(struct jg_conn *c)
{
    /* bytes that came behind the request wait in held_input: a WebSocket's first frames,
     * or pipelined requests (parsed once this one is answered) */
    struct jg_sb rest = JG_SB_INIT;
    if (c->req->upgrade_websocket || c->http->parser.upgrade) {
        rest = c->http->held_input;
        c->http->held_input = (struct jg_sb)JG_SB_INIT;
    }
    c->held = false;
    c->claimed = true;
    c->net->dispatch(c, rest.data, rest.len);
    c->claimed = false;
    jg_sb_free(&rest);
    if (!c->closing && !c->held && c->mode == JG_CONN_HTTP && c->http->held_input.len)
        jg_conn_resume(c);
}

static void unavailable(struct jg_conn *c)
{
    c->held = false;
    c->req->keep_alive = false;
    jg_http_respond(c, 503, "text/plain", "Retry-After: 1\r\n", "redis unavailable\n", 18);
}

/* The backplane claimed the session of a held request (backplane.h): serve it now. */
static void claimed(void *arg, enum jg_claim_result result)
{
    struct jg_http_wait *w = arg;
    char sid[JG_SID_MAX + 1];
    snprintf(sid, sizeof sid, "%s", (const char *)jg_http_wait_data(w));
    struct jg_conn *c = jg_http_wait_end(w);
    jg_http_wait_free(w);
    if (!c)
        return;
    struct jg_core *core = c->net->core;
    struct jg_session *s;
    switch (result) {
    case JG_CLAIM_SPENT:
        c->sid_spent = true;   /* its session ended: not adopted again (first use wins) */
        resume_claimed(c);
        break;
    case JG_CLAIM_FAILED:
        unavailable(c);
        break;
    case JG_CLAIM_LATE:
        /* a socket.io client gives up on a request after close-timeout: a session held here
         * is served as it is, one held elsewhere gets 503 (the balancer retries) */
        s = jg_session_find(core, sid);
        jg_warn("session " JG_SID_LOG ": Redis did not answer its claim in time; %s", sid,
                s ? "served by this instance as it is" : "answered 503");
        if (!s) {
            unavailable(c);
            break;
        }
        resume_claimed(c);
        s = jg_session_find(core, sid);
        if (s && c->session == s && jg_session_holds_poll(s))
            jg_session_release_poll(s);   /* this GET already waited a polling duration */
        break;
    default:
        resume_claimed(c);
        break;
    }
}

/* The key of a poll: its "t" (jg_session_poll_key), mixed with the balancer's id of the
 * request when it sends one (X-Request-Id, conf/haproxy.cfg). A retry of a poll whose answer
 * was lost is byte-identical (same t, same id) and gets that answer again; two polls of one
 * client sent within the same millisecond have the same t, but not the same id. */
static uint64_t poll_key(const struct jg_http_req *req, const char *t, size_t tlen)
{
    uint64_t key = jg_session_poll_key(t, tlen);
    for (const char *p = req->request_id; p && *p; p++)
        key = (key ^ (unsigned char)*p) * 1099511628211ULL;   /* FNV-1a, on from the key */
    return key;
}

/* GET/POST/OPTIONS on /socket.io/1/<transport>/<sid> */
static void transport_request(struct jg_conn *c, const char *transport, const char *sid, const char *rest,
                              size_t restlen)
{
    struct jg_net *net = c->net;
    struct jg_core *core = net->core;
    struct jg_http_req *req = c->req;
    size_t dlen;
    /* a sid no instance could have issued is an unknown session: no lookup, no claim, no
     * adoption, no Redis call (it would leave state keyed by attacker-chosen text) */
    bool well_formed = jg_sid_well_formed(sid);
    if (!well_formed)
        net->stats->malformed_sid++;
    struct jg_session *s = well_formed ? jg_session_find(core, sid) : NULL;
    int kind = jg_transport_parse(transport, strlen(transport));
    /* check first, act after: a request refused for its transport or its origin claims
     * nothing, adopts nothing and ends nothing (?disconnect). socket.io-client's own
     * disconnect names no transport (GET /socket.io/1//<sid>/?disconnect=1): allowed. */
    bool disconnect = jg_query_param(req->url.data, req->url.len, "disconnect", &dlen) != NULL;
    bool transportless_disconnect = disconnect && !*transport;
    if (!transportless_disconnect && (kind < 0 || !(net->cfg->transports & (1u << kind)))) {
        /* like the original: no answer for a transport that is not enabled (§2.2) */
        net->stats->http_errors++;
        jg_info("c#%llu %s: transport \"%.40s\" not enabled; connection closed", (unsigned long long)c->id,
                c->peer, transport);
        jg_conn_close_after_flush(c);   /* answers to earlier pipelined requests still go out */
        return;
    }
    if (!origin_ok(net, req)) {
        net->stats->http_errors++;
        jg_info("c#%llu %s: %s request refused: origin %s not in origins", (unsigned long long)c->id, c->peer,
                transport, req->origin ? req->origin : req->referer);
        req->keep_alive = false;
        jg_http_respond(c, 403, "text/plain", NULL, "origin not allowed", 18);
        return;
    }
    if (well_formed)
        jg_debug("c#%llu session %s: %s %s%s%s", (unsigned long long)c->id, sid,
                 req->method == HTTP_GET ? "GET" : req->method == HTTP_POST ? "POST" : "other", transport,
                 c->claimed ? " (claimed)" : "", s ? "" : " (no copy here)");
    if (core->shared && well_formed && !c->claimed && kind >= 0 && req->method != HTTP_OPTIONS) {
        /* the backplane decides who holds the session: take it over (polls land anywhere),
         * confirm the last polling answer, write the record of a new one; the request
         * resumes in claimed() */
        size_t tlen = 0;
        const char *t = req->method == HTTP_GET ? jg_query_param(req->url.data, req->url.len, "t", &tlen) : NULL;
        struct jg_claim cl = {
            .sid = sid,
            .has_t = t != NULL,
            .t = t ? poll_key(req, t, tlen) : 0,
            .connects = req->method == HTTP_GET,
            .polling = kind == JG_TR_XHR_POLLING || kind == JG_TR_JSONP_POLLING,
            .disconnect = disconnect,
        };
        cl.polling_get = cl.polling && req->method == HTTP_GET;
        if (core->bp_ops->claim_needed(core->bp, &cl, s)) {
            struct jg_http_wait *w = jg_http_wait_begin(c, JG_SID_MAX + 1);
            char *copy = jg_http_wait_data(w);   /* zeroed; a well-formed sid fits */
            memcpy(copy, sid, strnlen(sid, JG_SID_MAX));
            core->bp_ops->claim(core->bp, &cl, s, claimed, w);
            return;
        }
    }
    c->claimed = false;
    bool spent = c->sid_spent;
    c->sid_spent = false;
    if (spent && !s)
        net->stats->sids_replayed++;
    /* a shared backplane's claim adopts (jg_session_adopt refuses then): adopting here too
     * would open a second, empty copy of a session whose claim found nothing to take */
    if (!s && !core->draining && well_formed && !spent)
        s = jg_session_adopt(core, sid);
    if (s && req->method == HTTP_GET) {
        size_t tlen = 0;
        const char *t = jg_query_param(req->url.data, req->url.len, "t", &tlen);
        jg_session_set_poll_t(s, t ? poll_key(req, t, tlen) : 0);
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
    if (core->draining && (core->shared || jg_core_sid_secret(core)) && (!s || !jg_session_used(s))) {
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
            net->stats->http_errors++;
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

void jg_endpoint_request(struct jg_conn *c, const char *path, const char *rest, size_t restlen)
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

