/* http.c: nodejs http-parser glue. Keeps the request line and the handful of headers the
 * daemon uses, enforces the header and body limits, answers malformed requests, and
 * writes responses. Pipelined requests are answered in order: while one is held (a
 * long-poll), input behind it waits in the connection. */
#include "transport/http.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "transport/conn.h"

#define MAX_HEADERS 100   /* header lines per request */

void jg_http_req_free(struct jg_http_req *req)
{
    if (!req)
        return;
    jg_sb_free(&req->url);
    jg_sb_free(&req->body);
    jg_sb_free(&req->field);
    jg_sb_free(&req->value);
    free(req->origin);
    free(req->referer);
    free(req->ws_key);
    free(req->ws_version);
    free(req->if_none_match);
    free(req->authorization);
    free(req->content_type);
    free(req->request_id);
    free(req);
}

static struct jg_conn *conn_of(http_parser *p)
{
    return p->data;
}

static int fail(http_parser *p, int status)
{
    struct jg_conn *c = conn_of(p);
    if (c->req && !c->req->error_status)
        c->req->error_status = status;
    http_parser_pause(p, 1);
    return 0;
}

static int count_header_bytes(http_parser *p, size_t n)
{
    struct jg_conn *c = conn_of(p);
    c->req->header_bytes += n;
    if (c->req->header_bytes > c->net->cfg->max_header_size)
        return fail(p, 431);
    return 0;
}

static int on_message_begin(http_parser *p)
{
    struct jg_conn *c = conn_of(p);
    jg_http_req_free(c->req);
    c->req = jg_xcalloc(1, sizeof *c->req);
    jg_conn_set_deadline(c, c->net->cfg->header_timeout);
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t n)
{
    struct jg_conn *c = conn_of(p);
    jg_sb_append(&c->req->url, at, n);
    return count_header_bytes(p, n);
}

static void commit_header(struct jg_http_req *req)
{
    if (!req->in_value)
        return;
    req->in_value = false;
    req->nheaders++;
    const char *name = req->field.data ? req->field.data : "";
    const char *value = req->value.data ? req->value.data : "";
    char **slot = NULL;
    if (!strcasecmp(name, "Origin"))
        slot = &req->origin;
    else if (!strcasecmp(name, "Referer"))
        slot = &req->referer;
    else if (!strcasecmp(name, "Sec-WebSocket-Key"))
        slot = &req->ws_key;
    else if (!strcasecmp(name, "Sec-WebSocket-Version"))
        slot = &req->ws_version;
    else if (!strcasecmp(name, "If-None-Match"))
        slot = &req->if_none_match;
    else if (!strcasecmp(name, "Authorization"))
        slot = &req->authorization;
    else if (!strcasecmp(name, "Content-Type"))
        slot = &req->content_type;
    else if (!strcasecmp(name, "X-Request-Id"))
        slot = &req->request_id;
    else if (!strcasecmp(name, "Upgrade"))
        req->upgrade_websocket = strcasestr(value, "websocket") != NULL;
    if (slot) {
        free(*slot);
        *slot = jg_xstrdup(value);
    }
    jg_sb_reset(&req->field);
    jg_sb_reset(&req->value);
}

static int on_header_field(http_parser *p, const char *at, size_t n)
{
    struct jg_http_req *req = conn_of(p)->req;
    commit_header(req);
    if (req->nheaders >= MAX_HEADERS)
        return fail(p, 431);
    jg_sb_append(&req->field, at, n);
    return count_header_bytes(p, n);
}

static int on_header_value(http_parser *p, const char *at, size_t n)
{
    struct jg_http_req *req = conn_of(p)->req;
    req->in_value = true;
    jg_sb_append(&req->value, at, n);
    return count_header_bytes(p, n);
}

static int on_headers_complete(http_parser *p)
{
    struct jg_conn *c = conn_of(p);
    struct jg_http_req *req = c->req;
    commit_header(req);
    req->method = p->method;
    req->keep_alive = http_should_keep_alive(p);
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > c->net->cfg->max_post_body)
        return fail(p, 413);
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t n)
{
    struct jg_conn *c = conn_of(p);
    if (c->req->body.len + n > c->net->cfg->max_post_body)
        return fail(p, 413);
    jg_sb_append(&c->req->body, at, n);
    return 0;
}

static int on_message_complete(http_parser *p)
{
    conn_of(p)->req->complete = true;
    http_parser_pause(p, 1);   /* handle it outside the parser, then go on */
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void jg_http_conn_init(struct jg_conn *c)
{
    http_parser_init(&c->http->parser, HTTP_REQUEST);
    c->http->parser.data = c;
}

static void answer_error(struct jg_conn *c, int status, const char *why)
{
    c->net->stats->http_errors++;
    jg_info("c#%llu %s: %d %s: %s", (unsigned long long)c->id, c->peer, status,
            jg_http_status_text(status), why);
    if (c->req)
        c->req->keep_alive = false;
    else
        c->req = jg_xcalloc(1, sizeof *c->req);
    char body[128];
    int n = snprintf(body, sizeof body, "%s\n", jg_http_status_text(status));
    jg_http_respond(c, status, "text/plain", NULL, body, (size_t)n);
}

void jg_http_feed(struct jg_conn *c, const char *data, size_t len)
{
    /* after an answer that closes the connection, nothing behind it is read */
    while (len > 0 && !c->closing && !c->close_after_flush && c->mode == JG_CONN_HTTP && !c->held) {
        size_t n = http_parser_execute(&c->http->parser, &settings, data, len);
        enum http_errno err = HTTP_PARSER_ERRNO(&c->http->parser);
        data += n;
        len -= n;
        if (err == HPE_PAUSED) {
            http_parser_pause(&c->http->parser, 0);
            if (c->req->error_status) {
                answer_error(c, c->req->error_status,
                             c->req->error_status == 413 ? "request body over max-post-body"
                                                         : "request headers over max-header-size");
                return;
            }
            if (!c->req->complete)
                continue;
            jg_conn_set_deadline(c, 0);
            c->net->dispatch(c, data, len);
            if (c->mode != JG_CONN_HTTP)
                return;   /* upgraded: the rest went to the WebSocket layer */
            if (c->held && len && !c->closing) {
                jg_sb_append(&c->http->held_input, data, len);
                return;
            }
            continue;
        }
        if (err != HPE_OK) {
            answer_error(c, 400, http_errno_description(err));
            return;
        }
        if (c->http->parser.upgrade && c->req && c->req->complete) {
            jg_conn_set_deadline(c, 0);
            c->net->dispatch(c, data, len);
            return;
        }
    }
}

const char *jg_http_status_text(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

void jg_http_cors(const struct jg_http_req *req, struct jg_sb *out)
{
    if (!req || !req->origin)
        return;
    /* the origin is echoed; it cannot contain CR/LF (http-parser rejects them) */
    jg_sb_appendf(out, "Access-Control-Allow-Origin: %s\r\nAccess-Control-Allow-Credentials: true\r\n",
                  req->origin);
}

/* URL with the sid of /socket.io/1/<transport>/<sid> cut to its first 8 characters: a sid
 * is a credential, and access logs travel (log shippers, support tickets). */
static void redact_url(const char *url, char *out, size_t outlen)
{
    static const char prefix[] = "/socket.io/1/";
    const char *sid = NULL;
    if (!strncmp(url, prefix, sizeof prefix - 1)) {
        const char *slash = strchr(url + sizeof prefix - 1, '/');
        sid = slash ? slash + 1 : NULL;
    }
    size_t sidlen = sid ? strcspn(sid, "/?#") : 0;
    if (sidlen <= 8) {
        snprintf(out, outlen, "%.200s", url);
        return;
    }
    snprintf(out, outlen, "%.*s...%.100s", (int)(sid - url) + 8, url, sid + sidlen);
}

void jg_http_access_log(const struct jg_conn *c, int status, long long length)
{
    if (!c->net->cfg->access_log || JG_LOG_INFO < jg_log_threshold)
        return;
    const struct jg_http_req *req = c->req;
    char url[512];
    redact_url(req && req->url.data ? req->url.data : "-", url, sizeof url);
    jg_log_write(JG_LOG_INFO, "c#%llu %s \"%s %s\" %d %lld", (unsigned long long)c->id, c->peer,
                 req ? http_method_str((enum http_method)req->method) : "-", url, status, length);
}

static void write_head(struct jg_conn *c, struct jg_sb *sb, int status, const char *content_type,
                       const char *extra, long long content_length, bool keep_alive)
{
    jg_http_access_log(c, status, content_length);
    jg_sb_appendf(sb, "HTTP/1.1 %d %s\r\n", status, jg_http_status_text(status));
    if (content_type)
        jg_sb_appendf(sb, "Content-Type: %s\r\n", content_type);
    if (extra)
        jg_sb_appends(sb, extra);
    if (content_length >= 0)
        jg_sb_appendf(sb, "Content-Length: %lld\r\n", content_length);
    if (!keep_alive)
        jg_sb_appends(sb, "Connection: close\r\n");
    jg_sb_appends(sb, "\r\n");
}

/* The answer to c->req is queued: release the request and continue with the next one. */
static void finish(struct jg_conn *c)
{
    bool keep_alive = c->req && c->req->keep_alive;
    jg_http_req_free(c->req);
    c->req = NULL;
    bool was_held = c->held;
    c->held = false;
    if (!keep_alive) {
        jg_sb_free(&c->http->held_input);   /* requests pipelined behind a "close" are not served */
        jg_conn_close_after_flush(c);
        return;
    }
    jg_conn_set_deadline(c, c->net->cfg->keepalive_timeout);
    if (was_held && c->http->held_input.len)
        jg_conn_resume(c);
}

void jg_http_respond(struct jg_conn *c, int status, const char *content_type, const char *extra,
                     const void *body, size_t len)
{
    struct jg_sb sb = JG_SB_INIT;
    bool keep_alive = c->req && c->req->keep_alive;
    write_head(c, &sb, status, content_type, extra, (long long)len, keep_alive);
    if (len && !(c->req && c->req->method == HTTP_HEAD))
        jg_sb_append(&sb, body, len);
    jg_conn_send_copy(c, sb.data, sb.len);
    jg_sb_free(&sb);
    finish(c);
}

void jg_http_respond_buf(struct jg_conn *c, int status, const char *content_type, const char *extra,
                         struct jg_buf *body, bool head_only)
{
    struct jg_sb sb = JG_SB_INIT;
    bool keep_alive = c->req && c->req->keep_alive;
    write_head(c, &sb, status, content_type, extra, (long long)body->len, keep_alive);
    jg_conn_send_copy(c, sb.data, sb.len);
    jg_sb_free(&sb);
    if (!head_only && body->len)
        jg_conn_send(c, body);
    finish(c);
}

void jg_http_start_chunked(struct jg_conn *c, int status, const char *content_type, const char *extra)
{
    jg_http_access_log(c, status, -1);
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_appendf(&sb, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n", status, jg_http_status_text(status),
                  content_type);
    if (extra)
        jg_sb_appends(&sb, extra);
    jg_sb_appends(&sb, "Connection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n");
    jg_conn_send_copy(c, sb.data, sb.len);
    jg_sb_free(&sb);
    if (c->req)
        c->req->keep_alive = false;   /* the stream's end ends the connection */
}

void jg_http_chunk(struct jg_conn *c, const void *p, size_t len)
{
    if (!len)
        return;   /* an empty chunk would end the stream */
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_appendf(&sb, "%zx\r\n", len);
    jg_sb_append(&sb, p, len);
    jg_sb_appends(&sb, "\r\n");
    jg_conn_send_copy(c, sb.data, sb.len);
    jg_sb_free(&sb);
}

void jg_http_end_chunked(struct jg_conn *c)
{
    jg_conn_send_copy(c, "0\r\n\r\n", 5);
    c->held = false;
    jg_http_req_free(c->req);
    c->req = NULL;
    jg_conn_close_after_flush(c);
}

void jg_http_hold(struct jg_conn *c)
{
    c->held = true;
}

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

/* ---- requests held while something else prepares their answer ---- */

struct jg_http_wait {
    struct jg_conn *conn;        /* NULL once the connection closed (conn->waiter) */
    max_align_t data[];          /* the waiter's own bytes */
};

struct jg_http_wait *jg_http_wait_begin(struct jg_conn *c, size_t size)
{
    struct jg_http_wait *w = jg_xcalloc(1, sizeof *w + size);
    w->conn = c;
    c->http->waiter = &w->conn;
    jg_http_hold(c);
    return w;
}

void *jg_http_wait_data(struct jg_http_wait *w)
{
    return w->data;
}

struct jg_conn *jg_http_wait_end(struct jg_http_wait *w)
{
    struct jg_conn *c = w->conn;
    w->conn = NULL;
    if (!c)
        return NULL;
    c->http->waiter = NULL;
    return c->closing ? NULL : c;   /* still held: the answer releases it */
}

void jg_http_wait_free(struct jg_http_wait *w)
{
    if (w && w->conn)
        w->conn->http->waiter = NULL;
    free(w);
}
