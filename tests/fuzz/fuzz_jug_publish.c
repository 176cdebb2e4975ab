/* fuzz_jug_publish.c: a message published on the Redis channel "juggernaut".
 * Part 1 (pure): jg_jug_publish_parse, jg_jug_publish_packet for each target channel,
 * jg_jug_publish_excepts. Oracles: each packet is "3:::" + a JSON object equal (as
 * JavaScript sees it) to the published object without "channels" and "except" (session
 * ids never reach a client) and with "channel" set to the target; every "except" string excepts, another string does not.
 * Part 2 (fan-out): jg_pubsub_redis_message, twice, on a server whose sessions listen on
 * every transport: @0 WebSocket (channels a, b), @1 xhr-polling with a held GET (a),
 * @2 htmlfile (b, c), @3 no transport, polls queue up (a, c), @4 jsonp-polling with a
 * held GET (c); then @1 and @4 poll again and get what was queued.
 * "@k" in the input is replaced by the k-th sid (so "except" can name those sessions). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "transport/conn.h"
#include "transport/http.h"
#include "proto/juggernaut.h"
#include "core/pubsub.h"
#include "app/server.h"
#include "core/session.h"

#include "fuzz_common.h"
#include "fuzz_jsoncheck.h"

static void check_publish(const char *text, size_t len)
{
    struct jg_jug_publish p;
    const char *error = NULL;
    if (jg_jug_publish_parse(text, len, &p, &error) != 0) {
        if (!error || p.root || p.channels || p.except)
            fz_fail("failed parse left state or no error");
        return;
    }
    if (!json_is_object(p.root) || json_object_get(p.root, "channels") || json_object_get(p.root, "except"))
        fz_fail("publish root is not an object without \"channels\" and \"except\"");
    for (size_t i = 0; i < p.nchannels; i++) {
        size_t n;
        char *pkt = jg_jug_publish_packet(&p, p.channels[i], &n);
        if (n < 4 || memcmp(pkt, "3:::", 4) != 0 || strlen(pkt) != n)
            fz_fail("packet does not start with 3::: or has a NUL");
        json_t *out = fzj_parse_output(pkt + 4, n - 4);
        json_t *want = json_deep_copy(p.root);
        json_object_set_new(want, "channel", json_string(p.channels[i]));
        if (!json_is_object(out) || !fzj_equal(out, want))
            fz_fail("packet for channel \"%s\" differs from the published object: %.300s", p.channels[i], pkt);
        json_decref(want);
        json_decref(out);
        free(pkt);
    }
    bool other = false;
    for (size_t i = 0; i < p.nexcept; i++) {
        if (!jg_jug_publish_excepts(&p, p.except[i]))
            fz_fail("except \"%s\" does not except", p.except[i]);
        if (!strcmp(p.except[i], "no such session"))
            other = true;
    }
    if (!other && jg_jug_publish_excepts(&p, "no such session"))
        fz_fail("an id not in except excepts");
    jg_jug_publish_deinit(&p);
}

static void subscribe(struct jg_session *s, const char *channel)
{
    char msg[128];
    int n = snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"channel\":\"%s\"}", channel);
    jg_pubsub_client_message(s, msg, (size_t)n);
}

static void request(unsigned slot, const char *fmt, const char *sid, int times)
{
    char req[512];
    struct jg_conn *c = fz_conn(slot);
    if (!c)
        c = fz_conn_open(slot, false);
    for (int i = 0; i < times && c && !c->closing; i++) {
        int n = snprintf(req, sizeof req, fmt, sid);
        c->net->input(c, req, (size_t)n);   /* as a read does: by the connection's mode */
    }
    fz_hooks();
}

static void drain(void)
{
    for (unsigned i = 0; i < FZ_MAX_CONNS; i++)
        fz_drain(i, NULL, 0, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_begin();
    struct jg_server *srv = fz_server();
    struct jg_session *s[5];
    for (int i = 0; i < 5; i++)
        s[i] = jg_session_create(&srv->core);
    subscribe(s[0], "a");
    subscribe(s[0], "b");
    subscribe(s[1], "a");
    subscribe(s[2], "b");
    subscribe(s[2], "c");
    subscribe(s[3], "a");
    subscribe(s[3], "c");
    subscribe(s[4], "c");
    request(0, "GET /socket.io/1/websocket/%s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", jg_session_sid(s[0]), 1);
    request(1, "GET /socket.io/1/xhr-polling/%s?t=1 HTTP/1.1\r\nHost: x\r\n\r\n", jg_session_sid(s[1]), 2);
    request(2, "GET /socket.io/1/htmlfile/%s?t=1 HTTP/1.1\r\nHost: x\r\n\r\n", jg_session_sid(s[2]), 1);
    request(4, "GET /socket.io/1/jsonp-polling/%s?t=1&i=3 HTTP/1.1\r\nHost: x\r\n\r\n", jg_session_sid(s[4]), 2);
    drain();

    size_t len;
    char *text = fz_subst(data, size, &len);
    check_publish(text, len);
    jg_pubsub_message(&srv->core, text, len);
    fz_hooks();
    drain();
    jg_pubsub_message(&srv->core, text, len);
    fz_hooks();
    drain();
    request(1, "GET /socket.io/1/xhr-polling/%s?t=2 HTTP/1.1\r\nHost: x\r\n\r\n", fz_sid(1), 1);
    request(4, "GET /socket.io/1/jsonp-polling/%s?t=2&i=4 HTTP/1.1\r\nHost: x\r\n\r\n", fz_sid(4), 1);
    request(3, "GET /socket.io/1/xhr-polling/%s?t=2 HTTP/1.1\r\nHost: x\r\n\r\n", fz_sid(3), 1);
    drain();
    free(text);
    fz_end();
    return 0;
}
