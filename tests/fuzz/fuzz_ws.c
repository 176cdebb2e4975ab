/* fuzz_ws.c: WebSocket frames from a client (through wslay and ws.c to the session),
 * interleaved with messages published to the session and its timers.
 *
 * Each input starts with a connection upgraded by a valid request for a handshaken session
 * (@0, subscribed to channel "a"). Input layout:
 *   byte 0       flags: 1 the first chunk arrives with the upgrade request (the bytes
 *                behind it), 2 every chunk goes through the socket and read_cb, 4 the sid
 *                is unknown (101, "7:::1+0", close), 8 the client reads its socket only
 *                when told (op 4)
 *   bytes 1-4    one control byte per step: bits 0-3 chunk size (1,2,3,5,...,987, or 15 =
 *                everything left), bits 4-6 op after the chunk: 0 none; 1 publish a short
 *                message to "a"; 2 publish a 5000-byte one; 3 fire the heartbeat timer;
 *                4 the client reads and a write-readiness event follows; 5 the server ends
 *                the session ("0::"); 6 fire the connection's timer; 7 the client shuts its
 *                write side (EOF)
 *   the rest     client frames ("@k" = the k-th sid)
 * A missing control byte is 0x0f. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "transport/conn.h"
#include "transport/http.h"
#include "core/pubsub.h"
#include "app/server.h"
#include "core/session.h"
#include "transport/ws.h"

#include "fuzz_common.h"

#define NCTL 4

static const size_t chunk_sizes[16] = { 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, SIZE_MAX };

static void send_frames(struct jg_conn *c, const char *p, size_t n, bool via_socket)
{
    if (!n || c->closing || c->mode == JG_CONN_LINGER)
        return;
    if (!via_socket && c->mode == JG_CONN_WS) {
        jg_ws_feed(c, (const unsigned char *)p, n);
        return;
    }
    ssize_t w = write(fz_peer(0), p, n);
    (void)w;
    fz_io_event(&c->io, EV_READ);
}

static void publish(struct jg_server *srv, size_t len)
{
    static char msg[6000];
    if (len > sizeof msg - 64)
        len = sizeof msg - 64;
    int n = snprintf(msg, sizeof msg, "{\"channel\":\"a\",\"data\":\"");
    memset(msg + n, 'x', len);
    n += (int)len;
    n += snprintf(msg + n, sizeof msg - (size_t)n, "\"}");
    jg_pubsub_message(&srv->core, msg, (size_t)n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_begin();
    struct jg_server *srv = fz_server();
    uint8_t flags = size ? data[0] : 0;
    bool via_socket = flags & 2;
    bool stall = flags & 8;

    struct jg_session *s = jg_session_create(&srv->core);
    static const char sub_a[] = "{\"type\":\"subscribe\",\"channel\":\"a\"}";
    jg_pubsub_client_message(s, sub_a, sizeof sub_a - 1);

    size_t hlen = size < 1 + NCTL ? size : 1 + NCTL;
    size_t plen;
    char *frames = fz_subst(data + hlen, size - hlen, &plen);
    size_t off = 0;

    char req[512];
    int rn = snprintf(req, sizeof req,
                      "GET /socket.io/1/websocket/%s HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      "Sec-WebSocket-Version: 13\r\n\r\n",
                      (flags & 4) ? "unknown-session-id" : jg_session_sid(s));
    size_t reqlen = (size_t)rn;
    char *first = NULL;
    if (flags & 1) {
        /* the first chunk travels behind the request, in the same read */
        size_t n = chunk_sizes[hlen > 1 ? data[1] & 15 : 15];
        if (n > plen)
            n = plen;
        first = malloc(reqlen + n + 1);
        if (!first)
            abort();
        memcpy(first, req, reqlen);
        memcpy(first + reqlen, frames, n);
        reqlen += n;
        off = n;
    }
    struct jg_conn *c = fz_conn_open(0, false);
    jg_http_feed(c, first ? first : req, reqlen);
    free(first);
    if (c->mode != JG_CONN_WS && !c->closing && !(flags & 1))
        fz_fail("a valid upgrade request did not upgrade (mode %d)", (int)c->mode);
    fz_hooks();
    if (!stall)
        fz_drain(0, NULL, 0, NULL);

    for (unsigned i = (flags & 1) ? 1 : 0; i < NCTL; i++) {
        uint8_t ctl = 1 + i < size ? data[1 + i] : 0x0f;
        size_t n = chunk_sizes[ctl & 15];
        if (n > plen - off)
            n = plen - off;
        unsigned op = (ctl >> 4) & 7;
        c = fz_conn(0);
        if (c)
            send_frames(c, frames + off, n, via_socket);
        off += n;
        fz_hooks();
        c = fz_conn(0);
        switch (op) {
        case 1:
            publish(srv, 10);
            break;
        case 2:
            publish(srv, 5000);
            break;
        case 3:
            fz_fire_sessions(FZ_HB_TIMER);
            break;
        case 4:
            fz_drain(0, NULL, 0, NULL);
            if (c)
                fz_io_event(&c->io, EV_WRITE);
            break;
        case 5: {
            struct jg_session *s0 = jg_session_find(&srv->core, fz_sid(0));
            if (s0)
                jg_session_end(s0, "fuzz: server ends the session", true);
            break;
        }
        case 6:
            if (c && c->http)   /* a WebSocket has no deadline until it lingers */
                fz_timer_fire(&c->http->timer);
            break;
        case 7:
            shutdown(fz_peer(0), SHUT_WR);
            if (c)
                fz_io_event(&c->io, EV_READ);
            break;
        default:
            break;
        }
        fz_hooks();
        if (!stall)
            fz_drain(0, NULL, 0, NULL);
    }
    c = fz_conn(0);
    if (c && off < plen)
        send_frames(c, frames + off, plen - off, via_socket);
    fz_hooks();
    fz_drain(0, NULL, 0, NULL);
    c = fz_conn(0);
    if (c)
        fz_io_event(&c->io, EV_WRITE);
    fz_hooks();
    free(frames);
    fz_end();
    return 0;
}
