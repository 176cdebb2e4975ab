/* poll.c: xhr-polling, jsonp-polling and htmlfile. A polling answer carries one bare packet
 * (its shared buf is queued by reference behind the headers: one writev) or a framed
 * payload of several; the JSONP and htmlfile envelopes are JavaScript string literals. */
#include "transport/poll.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "base/log.h"
#include "core/inbound.h"
#include "core/session.h"
#include "proto/sio.h"
#include "transport/conn.h"
#include "transport/http.h"

/* 0.8.7's htmlfile preamble: 83 bytes of script and 173 spaces, 256 in all (§9.1) */
static const char htmlfile_preamble[] =
    "<html><body><script>var _ = function (msg) { parent.s._(msg, document); };</script>"
    "                                                                                "
    "                                                                                "
    "             ";

/* Appends the payload of PKTS: bare for one packet, framed for several (§5.1). */
static void payload(struct jg_sb *out, struct jg_buf *const *pkts, size_t n)
{
    if (n == 1) {
        jg_sb_append(out, pkts[0]->data, pkts[0]->len);
        return;
    }
    for (size_t i = 0; i < n; i++)
        jg_sio_payload_append_framed(out, (const char *)pkts[i]->data, pkts[i]->len);
}

/* The JSONP callback index: "i" if it is a small integer, else 0 (§2.3 Fix). */
static void jsonp_index(const struct jg_http_req *req, char out[16])
{
    size_t len = 0;
    const char *i = req ? jg_query_param(req->url.data, req->url.len, "i", &len) : NULL;
    if (i && jg_sio_is_small_index(i, len))
        snprintf(out, 16, "%.*s", (int)len, i);
    else
        snprintf(out, 16, "0");
}

static void answer_poll(struct jg_conn *c, struct jg_buf *body, bool jsonp_type)
{
    struct jg_sb extra = JG_SB_INIT;
    if (c->req && c->req->keep_alive)
        jg_sb_appends(&extra, "Connection: Keep-Alive\r\n");
    if (jsonp_type)
        jg_sb_appends(&extra, "X-XSS-Protection: 0\r\n");
    else
        jg_http_cors(c->req, &extra);
    jg_http_respond_buf(c, 200, jsonp_type ? "text/javascript; charset=UTF-8" : "text/plain; charset=UTF-8",
                        extra.data, body, false);
    jg_sb_free(&extra);
}

static void xhr_deliver(void *t, struct jg_buf *const *pkts, size_t n, struct jg_buf **cache)
{
    struct jg_conn *c = t;
    struct jg_session *s = c->session;
    if (n == 1) {
        answer_poll(c, pkts[0], false);   /* the shared packet itself is the body */
    } else {
        struct jg_sb sb = JG_SB_INIT;
        payload(&sb, pkts, n);
        struct jg_buf *body = jg_buf_new(sb.data, sb.len);
        jg_sb_free(&sb);
        answer_poll(c, body, false);
        jg_buf_unref(body);
    }
    if (s)
        jg_session_transport_done(s, c);
}

static void jsonp_deliver(void *t, struct jg_buf *const *pkts, size_t n, struct jg_buf **cache)
{
    struct jg_conn *c = t;
    struct jg_session *s = c->session;
    char index[16];
    jsonp_index(c->req, index);
    struct jg_sb p = JG_SB_INIT, sb = JG_SB_INIT;
    payload(&p, pkts, n);
    jg_sb_appendf(&sb, "io.j[%s](", index);
    jg_sio_js_string_append(&sb, p.data, p.len, false);
    jg_sb_appends(&sb, ");");
    struct jg_buf *body = jg_buf_new(sb.data, sb.len);
    jg_sb_free(&p);
    jg_sb_free(&sb);
    answer_poll(c, body, true);
    jg_buf_unref(body);
    if (s)
        jg_session_transport_done(s, c);
}

static void htmlfile_write(struct jg_conn *c, const char *p, size_t len)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_appends(&sb, "<script>_(");
    jg_sio_js_string_append(&sb, p, len, true);   /* no '<' or '/' raw: nothing ends the tag (§9.1) */
    jg_sb_appends(&sb, ");</script>");
    jg_http_chunk(c, sb.data, sb.len);
    jg_sb_free(&sb);
}

static void htmlfile_deliver(void *t, struct jg_buf *const *pkts, size_t n, struct jg_buf **cache)
{
    struct jg_conn *c = t;
    struct jg_sb p = JG_SB_INIT;
    payload(&p, pkts, n);
    htmlfile_write(c, p.data, p.len);
    jg_sb_free(&p);
}

static void poll_end(void *t)
{
    struct jg_conn *c = t;
    /* A held GET of a session the server ends: drop the connection without an answer, so
     * the client reconnects (a "0::" would tell it not to, §11.4). */
    c->held = false;
    jg_conn_close_after_flush(c);
}

static void htmlfile_end(void *t)
{
    jg_http_end_chunked(t);
}

const struct jg_transport_ops jg_xhr_ops = {
    .name = "xhr-polling", .streaming = false, .attached = jg_conn_attached, .detached = jg_conn_detached,
    .deliver = xhr_deliver, .end = poll_end,
};
const struct jg_transport_ops jg_jsonp_ops = {
    .name = "jsonp-polling", .streaming = false, .attached = jg_conn_attached, .detached = jg_conn_detached,
    .deliver = jsonp_deliver, .end = poll_end,
};
const struct jg_transport_ops jg_htmlfile_ops = {
    .name = "htmlfile", .streaming = true, .attached = jg_conn_attached, .detached = jg_conn_detached,
    .deliver = htmlfile_deliver, .end = htmlfile_end,
};

void jg_poll_get(struct jg_conn *c, struct jg_session *s, enum jg_transport_kind kind)
{
    if (kind == JG_TR_HTMLFILE) {
        jg_http_start_chunked(c, 200, "text/html; charset=UTF-8", NULL);
        jg_http_chunk(c, htmlfile_preamble, sizeof htmlfile_preamble - 1);
        if (!s) {
            c->net->stats->unknown_sid++;
            htmlfile_write(c, "7:::1+0", 7);
            jg_http_end_chunked(c);
            return;
        }
        jg_http_hold(c);
        c->kind = JG_TR_HTMLFILE;
        jg_session_open_transport(s, c, &jg_htmlfile_ops);
        return;
    }
    const struct jg_transport_ops *ops = kind == JG_TR_JSONP_POLLING ? &jg_jsonp_ops : &jg_xhr_ops;
    if (!s) {
        c->net->stats->unknown_sid++;
        struct jg_buf *err = c->net->core->pkts.unknown_sid;
        ops->deliver(c, &err, 1, NULL);
        return;
    }
    jg_http_hold(c);
    c->kind = kind;
    jg_session_open_transport(s, c, ops);
}

/* The payload of a JSONP POST: form field d, a JSON string (§8.2). Returns 0 or -1. */
static int jsonp_payload(const struct jg_http_req *req, struct jg_sb *out)
{
    struct jg_sb field = JG_SB_INIT, clean = JG_SB_INIT;
    int rc = -1;
    if (jg_sio_form_field(req->body.data ? req->body.data : "", req->body.len, "d", &field) != 0)
        goto out;
    const char *text = field.data ? field.data : "";
    size_t len = field.len;
    if (!jg_sio_utf8_sanitize(text, len, &clean)) {
        text = clean.data;
        len = clean.len;
    }
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, NULL);
    if (v && json_is_string(v)) {
        jg_sb_append(out, json_string_value(v), json_string_length(v));
        rc = 0;
    }
    json_decref(v);
out:
    jg_sb_free(&field);
    jg_sb_free(&clean);
    return rc;
}

void jg_poll_post(struct jg_conn *c, struct jg_session *s, enum jg_transport_kind kind)
{
    struct jg_sb data = JG_SB_INIT;
    bool ok = true;
    if (kind == JG_TR_JSONP_POLLING) {
        ok = jsonp_payload(c->req, &data) == 0;
    } else if (c->req->body.len) {
        jg_sb_append(&data, c->req->body.data, c->req->body.len);
    }
    /* Answered before the packets are processed, "1" even for an unknown sid (§7.3). */
    struct jg_sb extra = JG_SB_INIT;
    jg_http_cors(c->req, &extra);
    jg_http_respond(c, 200, "text/plain; charset=UTF-8", extra.data, "1", 1);
    jg_sb_free(&extra);
    if (!ok) {
        c->net->stats->http_errors++;
        jg_info("c#%llu %s: jsonp-polling POST without a JSON string in field d; ignored",
                (unsigned long long)c->id, c->peer);
    } else if (s) {
        jg_inbound_payload(s, data.data ? data.data : "", data.len);
    } else {
        c->net->stats->unknown_sid++;
    }
    jg_sb_free(&data);
}
