/* fuzz_http.c: bytes from clients, end to end: HTTP parsing, routing, the socket.io
 * handshake, the polling transports, WebSocket upgrades and frames, static files,
 * /health and /stats, on up to two client connections of one server.
 *
 * Input layout:
 *   byte 0       flags: 1 draining, 2 duplicate-subscribe, 4 slot 0 is an admin-port
 *                connection, 8 every chunk goes through the socket and read_cb (else
 *                straight to jg_http_feed / jg_ws_feed while nothing is held), 16 the
 *                client reads its socket only when told (op 6), so output backs up;
 *                32 at the end the server ends every session itself (as a drain does)
 *                before the clients read and the connections close
 *   bytes 1-8    one control byte per step: bits 0-3 chunk size (1,2,3,5,...,987, or
 *                15 = everything left), bit 4 connection slot (0/1), bits 5-7 op:
 *                0 send the chunk; 1 send, then fire every poll timer; 2 the chunk is a
 *                message from Redis on "juggernaut"; 3 send, then fire heartbeat timers;
 *                4 send, then fire close timers; 5 send, then fire the connection's
 *                timer (idle timeout, linger); 6 send, then the client reads its socket
 *                and a write-readiness event follows; 7 send, then the client shuts its
 *                write side (EOF)
 *   the rest     the byte stream ("@k" = the k-th sid of this input; sessions @0 and @1
 *                exist from the start, @1 subscribed to channel "a"; later handshakes
 *                make @2, @3, ...; under the cluster secret an unused "@9" is adopted)
 * A missing control byte is 0x0f: all the rest on slot 0. */
#include <stdint.h>
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

#define NCTL 8

static const size_t chunk_sizes[16] = { 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987, SIZE_MAX };

static uint8_t flags;

static void drain_all(bool always)
{
    if ((flags & 16) && !always)
        return;
    for (unsigned i = 0; i < FZ_MAX_CONNS; i++)
        fz_drain(i, NULL, 0, NULL);
}

/* Client bytes for SLOT, as read_cb would hand them over. */
static void send_chunk(unsigned slot, const char *p, size_t n)
{
    if (!n)
        return;
    struct jg_conn *c = fz_conn(slot);
    if (!c)
        c = fz_conn_open(slot, slot == 0 && (flags & 4));
    if (!c)
        return;
    bool direct = !(flags & 8);
    if (direct && c->mode == JG_CONN_HTTP && !c->held && !c->http->held_input.len) {
        jg_http_feed(c, p, n);
    } else if (direct && c->mode == JG_CONN_WS) {
        jg_ws_feed(c, (const unsigned char *)p, n);
    } else {
        ssize_t w = write(fz_peer(slot), p, n);
        (void)w;   /* a full socket keeps the rest: the client would block */
        fz_io_event(&c->io, EV_READ);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_begin();
    struct jg_server *srv = fz_server();
    flags = size ? data[0] : 0;
    srv->core.draining = flags & 1;
    srv->cfg->duplicate_subscribe = flags & 2;

    struct jg_session *s0 = jg_session_create(&srv->core);
    struct jg_session *s1 = jg_session_create(&srv->core);
    (void)s0;
    static const char sub_a[] = "{\"type\":\"subscribe\",\"channel\":\"a\"}";
    jg_pubsub_client_message(s1, sub_a, sizeof sub_a - 1);

    size_t hlen = size < 1 + NCTL ? size : 1 + NCTL;
    size_t plen;
    char *payload = fz_subst(data + hlen, size - hlen, &plen);
    size_t off = 0;
    for (unsigned i = 0; i < NCTL; i++) {
        uint8_t ctl = 1 + i < size ? data[1 + i] : 0x0f;
        size_t n = chunk_sizes[ctl & 15];
        if (n > plen - off)
            n = plen - off;
        unsigned slot = (ctl >> 4) & 1;
        unsigned op = ctl >> 5;
        const char *chunk = payload + off;
        off += n;
        if (op == 2) {
            if (n)
                jg_pubsub_message(&srv->core, chunk, n);
        } else {
            send_chunk(slot, chunk, n);
        }
        fz_hooks();
        drain_all(false);
        struct jg_conn *c = fz_conn(slot);
        switch (op) {
        case 1:
            fz_fire_sessions(FZ_POLL_TIMER);
            break;
        case 3:
            fz_fire_sessions(FZ_HB_TIMER);
            break;
        case 4:
            fz_fire_sessions(FZ_CLOSE_TIMER);
            break;
        case 5:
            if (c && c->http)   /* a WebSocket has no deadline until it lingers */
                fz_timer_fire(&c->http->timer);
            break;
        case 6:
            fz_drain(slot, NULL, 0, NULL);
            if (c)
                fz_io_event(&c->io, EV_WRITE);
            break;
        case 7:
            if (fz_peer(slot) >= 0)
                shutdown(fz_peer(slot), SHUT_WR);
            if (c)
                fz_io_event(&c->io, EV_READ);
            break;
        default:
            break;
        }
        fz_hooks();
        drain_all(false);
    }
    if (off < plen) {
        send_chunk(0, payload + off, plen - off);
        fz_hooks();
    }
    if (flags & 32) {
        jg_session_end_some(&srv->core, 64, "fuzz: draining");
        fz_hooks();
    }
    /* the clients read everything; blocked writers get their write event */
    drain_all(true);
    for (unsigned i = 0; i < FZ_MAX_CONNS; i++) {
        struct jg_conn *c = fz_conn(i);
        if (c)
            fz_io_event(&c->io, EV_WRITE);
    }
    fz_hooks();
    drain_all(true);
    free(payload);
    fz_end();
    return 0;
}
