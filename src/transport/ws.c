/* ws.c: websocket transport. wslay parses what clients send (it copies each message it
 * queues, so it only ever sends pongs and close replies); broadcast frames are built here,
 * once, and queued by reference. Hixie drafts are not supported (design.md). */
#include "transport/ws.h"

#include <string.h>

#include <openssl/evp.h>
#include <wslay/wslay.h>

#include "base/buf.h"
#include "base/log.h"
#include "core/inbound.h"
#include "core/session.h"
#include "transport/conn.h"
#include "transport/http.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

void jg_ws_accept_key(const char *key, char out[29])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char input[128];
    int n = snprintf(input, sizeof input, "%s%s", key, WS_GUID);
    if (n < 0 || (size_t)n >= sizeof input)
        n = 0;
    EVP_Digest(input, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen);   /* 20 bytes -> 28 chars + NUL */
}

struct jg_buf *jg_ws_frame_new(const void *payload, size_t len)
{
    unsigned char head[10];
    size_t hlen;
    head[0] = 0x81;   /* FIN + text (RFC 6455 §5.2) */
    if (len <= 125) {
        head[1] = (unsigned char)len;
        hlen = 2;
    } else if (len <= 0xffff) {
        /* 126..65535: 16-bit form; 65536 itself goes to the 64-bit form (§10.3 Fix) */
        head[1] = 126;
        head[2] = (unsigned char)(len >> 8);
        head[3] = (unsigned char)len;
        hlen = 4;
    } else {
        head[1] = 127;
        for (int i = 0; i < 8; i++)
            head[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
        hlen = 10;
    }
    struct jg_buf *b = jg_buf_new(NULL, hlen + len);
    memcpy(b->data, head, hlen);
    memcpy(b->data + hlen, payload, len);
    return b;
}

/* The input jg_ws_feed hands to wslay, which reads it through recv_cb: only while one feed
 * runs (loop thread only; a feed never starts another), so no connection keeps it. */
static const unsigned char *feed_in;
static size_t feed_len;

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    if (!feed_len) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < feed_len ? len : feed_len;
    memcpy(buf, feed_in, n);
    feed_in += n;
    feed_len -= n;
    return (ssize_t)n;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *user)
{
    /* pongs and close frames only: copy them into our queue, accept everything */
    jg_conn_send_copy(user, data, len);
    return (ssize_t)len;
}

static void msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg, void *user)
{
    struct jg_conn *c = user;
    if (arg->opcode == WSLAY_TEXT_FRAME && c->session)
        jg_inbound_packet(c->session, (const char *)arg->msg, arg->msg_length);
    /* binary frames are ignored (§10.3); ping, pong and close are wslay's */
}

/* Frame bookkeeping, so the wslay context (several KiB) can be dropped between messages:
 * an idle subscriber then costs no parser memory at all. */
static void frame_start_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_frame_recv_start_arg *arg,
                           void *user)
{
    struct jg_conn *c = user;
    uint64_t n = arg->payload_length;
    /* RFC 6455 §5.2: minimal length encoding, and every client frame is masked (wslay
     * refuses the others) */
    c->ws_frame_len = 2 + (n > 0xffff ? 8 : n > 125 ? 2 : 0) + 4 + n;
    if (arg->opcode == WSLAY_TEXT_FRAME || arg->opcode == WSLAY_BINARY_FRAME ||
        arg->opcode == WSLAY_CONTINUATION_FRAME)
        c->ws_msg_open = !arg->fin;
}

static void frame_end_cb(wslay_event_context_ptr ctx, void *user)
{
    struct jg_conn *c = user;
    c->ws_unparsed -= c->ws_frame_len;
    c->ws_frame_len = 0;
}

static const struct wslay_event_callbacks callbacks = {
    .recv_callback = recv_cb,
    .send_callback = send_cb,
    .on_frame_recv_start_callback = frame_start_cb,
    .on_frame_recv_end_callback = frame_end_cb,
    .on_msg_recv_callback = msg_cb,
};

void jg_ws_feed(struct jg_conn *c, const unsigned char *data, size_t len)
{
    if (c->closing || c->mode != JG_CONN_WS)
        return;
    if (!c->ws) {
        if (wslay_event_context_server_init(&c->ws, &callbacks, c) != 0) {
            jg_conn_close(c, "wslay init failed");
            return;
        }
        wslay_event_config_set_max_recv_msg_length(c->ws, c->net->cfg->max_message_size);
    }
    feed_in = data;
    feed_len = len;
    c->ws_unparsed += len;
    int rv = wslay_event_recv(c->ws);
    feed_in = NULL;
    feed_len = 0;
    if (c->closing)
        return;
    wslay_event_send(c->ws);   /* pongs, close replies, protocol-error closes */
    if (rv != 0 || !wslay_event_want_read(c->ws)) {
        /* close frame received, protocol error (wslay queued 1002/1007/1009), or failure */
        if (c->session)
            jg_session_end(c->session, rv != 0 ? "websocket error" : "websocket closed", false);
        jg_conn_close_after_flush(c);
        return;
    }
    if (c->ws_unparsed == 0 && !c->ws_msg_open && !wslay_event_want_write(c->ws)) {
        /* at a message boundary with nothing buffered: the next byte starts a new frame */
        wslay_event_context_free(c->ws);
        c->ws = NULL;
    }
}

void jg_ws_upgrade(struct jg_conn *c, struct jg_session *s, const char *rest, size_t restlen)
{
    struct jg_http_req *req = c->req;
    if (!req->ws_key || strlen(req->ws_key) < 16 || strlen(req->ws_key) > 64) {
        req->keep_alive = false;
        c->net->stats->http_errors++;
        jg_http_respond(c, 400, "text/plain", NULL, "Bad WebSocket upgrade\n", 22);
        return;
    }
    if (!req->ws_version || strcmp(req->ws_version, "13") != 0) {
        req->keep_alive = false;
        c->net->stats->http_errors++;
        jg_http_respond(c, 426, "text/plain", "Sec-WebSocket-Version: 13\r\n",
                        "Only WebSocket version 13 is supported\n", 39);
        return;
    }
    char accept[29];
    jg_ws_accept_key(req->ws_key, accept);
    jg_http_access_log(c, 101, -1);
    char head[160];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
    jg_conn_send_copy(c, head, (size_t)n);
    jg_http_req_free(c->req);
    c->req = NULL;
    c->mode = JG_CONN_WS;   /* the wslay context is made when the first frame arrives */
    jg_conn_http_done(c);   /* the parser, the deadline: a subscriber keeps neither */
    if (!s) {
        /* unknown sid (§10.6): error packet, then a close frame, then close */
        c->net->stats->unknown_sid++;
        struct jg_buf *f = jg_ws_frame_new("7:::1+0", 7);
        jg_conn_send_owned(c, f);
        static const unsigned char close_frame[] = { 0x88, 0x02, 0x03, 0xe8 };
        jg_conn_send_copy(c, close_frame, sizeof close_frame);
        jg_conn_close_after_flush(c);
        return;
    }
    c->kind = JG_TR_WEBSOCKET;
    jg_session_open_transport(s, c, &jg_ws_ops);
    if (restlen)
        jg_ws_feed(c, (const unsigned char *)rest, restlen);
}

static void ws_deliver(void *t, struct jg_buf *const *pkts, size_t n, struct jg_buf **frame_cache)
{
    struct jg_conn *c = t;
    if (n == 1 && frame_cache) {
        if (!*frame_cache)
            *frame_cache = jg_ws_frame_new(pkts[0]->data, pkts[0]->len);
        jg_conn_send(c, *frame_cache);
        return;
    }
    for (size_t i = 0; i < n; i++)
        jg_conn_send_owned(c, jg_ws_frame_new(pkts[i]->data, pkts[i]->len));
}

static void ws_end(void *t)
{
    /* the server ends sessions without a close frame, like 0.8.7 (§6.4) */
    jg_conn_close_after_flush(t);
}

const struct jg_transport_ops jg_ws_ops = {
    .name = "websocket",
    .streaming = true,
    .attached = jg_conn_attached,
    .detached = jg_conn_detached,
    .deliver = ws_deliver,
    .end = ws_end,
};

void jg_ws_release(struct jg_conn *c)
{
    if (c->ws)
        wslay_event_context_free(c->ws);
    c->ws = NULL;
}
