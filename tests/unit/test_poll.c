/* test_poll.c: the polling transports (protocol.md §6, §7, §8) through a real libev loop.
 * Connections are socketpairs handed to jg_endpoint_accept; the test writes raw HTTP into the
 * peer end, runs the loop, and reads the answers back. Timers are shortened (polling
 * duration 0.2 s, close timeout 0.5 s). Redis is absent: events wait in the broker's queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "server_fixture.h"
#include "base/buf.h"
#include "core/channel.h"
#include "base/config.h"
#include "transport/conn.h"
#include "base/log.h"
#include "base/sb.h"
#include "app/server.h"
#include "core/session.h"
#include "proto/sid.h"
#include "transport/endpoint.h"

#define FFFD "\xef\xbf\xbd"
#define MAX_PEERS 8

/* ---- fixture ---- */

struct peer {
    int fd;                /* our end; -1 once closed */
    struct jg_sb in;       /* bytes read and not yet consumed */
};

struct fixture {
    struct ev_loop *loop;
    struct jg_config cfg;
    struct jg_server srv;
    char dir[64];
    char index[96];
    struct peer peers[MAX_PEERS];
    int npeers;
};

static int setup_server(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (fixture_server_prepare("poll", f->dir, f->index, &f->cfg) != 0)
        return -1;
    f->cfg.polling_duration = 0.2;
    f->cfg.close_timeout = 0.5;
    f->cfg.heartbeat_interval = 0.1;
    f->cfg.heartbeat_timeout = 0.3;
    f->cfg.handshake_expiry = 0.4;
    if (fixture_server_start(&f->loop, &f->srv, &f->cfg) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown_server(void **state)
{
    struct fixture *f = *state;
    fixture_server_stop(f->loop, &f->srv, &f->cfg, f->dir, f->index);
    for (int i = 0; i < f->npeers; i++) {
        if (f->peers[i].fd >= 0)
            close(f->peers[i].fd);
        jg_sb_free(&f->peers[i].in);
    }
    free(f);
    return 0;
}

/* ---- loop and socket helpers ---- */

/* Runs the loop for SECS seconds of real time. */
static void pump(struct fixture *f, double secs)
{
    fixture_pump(f->loop, secs);
}

/* A new client connection: returns the peer index. */
static int connect_peer(struct fixture *f)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK), 0);
    assert_true(f->npeers < MAX_PEERS);
    int idx = f->npeers++;
    f->peers[idx].fd = sv[1];
    memset(&f->peers[idx].in, 0, sizeof f->peers[idx].in);
    assert_non_null(jg_endpoint_accept(&f->srv.net, sv[0], "test"));
    return idx;
}

static void send_raw(struct fixture *f, int p, const char *text)
{
    size_t len = strlen(text);
    assert_int_equal(write(f->peers[p].fd, text, len), (ssize_t)len);
}

/* Reads what the server wrote so far. Returns false once the server's side reached EOF. */
static bool read_avail(struct fixture *f, int p)
{
    char buf[8192];
    for (;;) {
        ssize_t n = read(f->peers[p].fd, buf, sizeof buf);
        if (n > 0) {
            jg_sb_append(&f->peers[p].in, buf, (size_t)n);
            continue;
        }
        if (n == 0)
            return false;
        assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
        return true;
    }
}

struct response {
    char head[1024];       /* status line and headers, up to and including the blank line */
    char body[2048];
    size_t body_len;
};

/* Takes one complete response (Content-Length framed) off peer P's input, if there is one. */
static bool take_response(struct fixture *f, int p, struct response *r)
{
    struct jg_sb *in = &f->peers[p].in;
    if (!in->len)
        return false;
    const char *end = strstr(in->data, "\r\n\r\n");
    if (!end)
        return false;
    size_t hlen = (size_t)(end - in->data) + 4;
    const char *cl = strstr(in->data, "Content-Length: ");
    assert_true(cl && cl < end);
    size_t blen = strtoul(cl + 16, NULL, 10);
    if (in->len < hlen + blen)
        return false;
    assert_true(hlen < sizeof r->head && blen < sizeof r->body);
    memcpy(r->head, in->data, hlen);
    r->head[hlen] = '\0';
    memcpy(r->body, in->data + hlen, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(in->data, in->data + hlen + blen, in->len - hlen - blen + 1);
    in->len -= hlen + blen;
    return true;
}

/* Runs the loop until peer P has a complete response, at most TIMEOUT seconds. */
static bool wait_response(struct fixture *f, int p, double timeout, struct response *r)
{
    double start = ev_time();
    for (;;) {
        read_avail(f, p);
        if (take_response(f, p, r))
            return true;
        if (ev_time() - start > timeout)
            return false;
        pump(f, 0.005);
    }
}

/* Expects a response within TIMEOUT whose body is WANT (LEN bytes). */
static void expect_body(struct fixture *f, int p, double timeout, const char *want, size_t len,
                        struct response *r)
{
    if (!wait_response(f, p, timeout, r))
        fail_msg("no response within %g s (have %zu bytes: \"%s\")", timeout, f->peers[p].in.len,
                 f->peers[p].in.data ? f->peers[p].in.data : "");
    if (strncmp(r->head, "HTTP/1.1 200 OK\r\n", 17) != 0)
        fail_msg("status line: %s", r->head);
    if (r->body_len != len || memcmp(r->body, want, len) != 0)
        fail_msg("body \"%s\" (%zu bytes), want \"%.*s\" (%zu bytes)", r->body, r->body_len, (int)len, want, len);
}

#define EXPECT_BODY(f, p, timeout, lit, r) expect_body((f), (p), (timeout), (lit), sizeof(lit) - 1, (r))

/* Expects nothing from peer P while the loop runs SECS seconds. */
static void expect_silence(struct fixture *f, int p, double secs)
{
    pump(f, secs);
    read_avail(f, p);
    if (f->peers[p].in.len)
        fail_msg("unexpected bytes: \"%s\"", f->peers[p].in.data);
}

static void get_xhr(struct fixture *f, int p, const char *sid)
{
    char req[256];
    snprintf(req, sizeof req, "GET /socket.io/1/xhr-polling/%s?t=1 HTTP/1.1\r\nHost: t\r\n\r\n", sid);
    send_raw(f, p, req);
}

static void post_xhr(struct fixture *f, int p, const char *sid, const char *body)
{
    char req[1024];
    snprintf(req, sizeof req,
             "POST /socket.io/1/xhr-polling/%s?t=2 HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %zu\r\n\r\n%s",
             sid, strlen(body), body);
    send_raw(f, p, req);
}

static void send_text(struct jg_session *s, const char *text)
{
    struct jg_buf *b = jg_buf_new(text, strlen(text));
    jg_session_send(s, b, NULL);
    jg_buf_unref(b);
}

/* S has a transport open (a held GET or a stream). */
static bool has_transport(const struct jg_session *s)
{
    return jg_session_holds_poll(s) || jg_session_streaming(s);
}

/* A session whose first GET (1::) has been answered on peer P. */
static struct jg_session *connected_session(struct fixture *f, int p)
{
    struct jg_session *s = jg_session_create(&f->srv.core);
    struct response r;
    get_xhr(f, p, jg_session_sid(s));
    EXPECT_BODY(f, p, 1.0, "1::", &r);
    return s;
}

/* ---- tests ---- */

static void test_first_get_connect(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = jg_session_create(&f->srv.core);
    assert_false(jg_session_used(s));   /* not connected yet: its "1::" is the GET's answer */
    get_xhr(f, p, jg_session_sid(s));
    struct response r;
    EXPECT_BODY(f, p, 1.0, "1::", &r);
    assert_string_equal(r.head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                                "Connection: Keep-Alive\r\nContent-Length: 3\r\n\r\n");
    assert_true(jg_session_used(s));
    assert_false(has_transport(s));
    assert_int_equal(f->srv.stats.polls_pending, 0);
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);   /* close timeout runs until the next GET */
    assert_int_not_equal(jg_session_timer_kind(s), JG_TIMER_POLL);
    /* connected: the next GET is held, never answered "1::" again */
    get_xhr(f, p, jg_session_sid(s));
    expect_silence(f, p, 0.05);
    assert_true(jg_session_holds_poll(s));
}

static void test_handshake_then_get(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    send_raw(f, p, "GET /socket.io/1/?t=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    struct response r;
    assert_true(wait_response(f, p, 1.0, &r));
    /* sid:heartbeat-timeout:close-timeout:transports, timeouts rounded up to whole seconds */
    const char *colon = strchr(r.body, ':');
    assert_non_null(colon);
    size_t sidlen = (size_t)(colon - r.body);
    assert_int_equal(sidlen, JG_SID_LEN);   /* no cluster-secret: a plain sid */
    assert_string_equal(colon, ":1:1:websocket,htmlfile,xhr-polling,jsonp-polling");
    char sid[JG_SID_MAX + 1];
    memcpy(sid, r.body, sidlen);
    sid[sidlen] = '\0';
    assert_non_null(jg_session_find(&f->srv.core, sid));
    get_xhr(f, p, sid);   /* same keep-alive connection */
    EXPECT_BODY(f, p, 1.0, "1::", &r);
}

static void test_held_get_answered_noop(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    double start = ev_time();
    get_xhr(f, p, jg_session_sid(s));
    expect_silence(f, p, 0.1);
    assert_true(has_transport(s));
    assert_int_equal(f->srv.stats.polls_pending, 1);
    assert_int_not_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_POLL);
    struct response r;
    EXPECT_BODY(f, p, 1.0, "8::", &r);
    double took = ev_time() - start;
    assert_true(took >= 0.18);
    assert_true(took < 0.6);
    assert_false(has_transport(s));
    assert_int_equal(f->srv.stats.polls_pending, 0);
    assert_int_equal(jg_session_timer_kind(s), JG_TIMER_CLOSE);
}

static void test_send_completes_held_get(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    get_xhr(f, p, jg_session_sid(s));
    expect_silence(f, p, 0.05);
    double start = ev_time();
    send_text(s, "3:::hello");
    struct response r;
    EXPECT_BODY(f, p, 1.0, "3:::hello", &r);
    assert_true(ev_time() - start < 0.15);   /* at once, not at the poll timeout */
    assert_int_not_equal(jg_session_timer_kind(s), JG_TIMER_POLL);
    assert_false(has_transport(s));
    /* a packet after the answer waits for the next GET; no 8:: comes meanwhile */
    send_text(s, "3:::later");
    assert_int_equal(jg_session_queue_len(s), 1);
    expect_silence(f, p, 0.25);
    get_xhr(f, p, jg_session_sid(s));
    EXPECT_BODY(f, p, 1.0, "3:::later", &r);
    assert_int_equal(jg_session_queue_len(s), 0);
}

static void test_queued_packets_framed(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    send_text(s, "3:::a");
    send_text(s, "3:::\xc3\xa9\xf0\x9f\x98\x80");   /* é😀: 7 UTF-16 units, 10 bytes */
    send_text(s, "3:::{\"x\":1}");
    assert_int_equal(jg_session_queue_len(s), 3);
    get_xhr(f, p, jg_session_sid(s));
    struct response r;
    EXPECT_BODY(f, p, 1.0,
                FFFD "5" FFFD "3:::a" FFFD "7" FFFD "3:::\xc3\xa9\xf0\x9f\x98\x80" FFFD "11" FFFD "3:::{\"x\":1}",
                &r);
    assert_non_null(strstr(r.head, "Content-Length: 48\r\n"));
    assert_int_equal(jg_session_queue_len(s), 0);
    assert_false(has_transport(s));   /* answered at once, not held */
}

static void test_queued_before_first_get(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = jg_session_create(&f->srv.core);
    send_text(s, "3:::q");
    get_xhr(f, p, jg_session_sid(s));
    struct response r;
    /* "1::" goes first, framed with the rest */
    EXPECT_BODY(f, p, 1.0, FFFD "3" FFFD "1::" FFFD "5" FFFD "3:::q", &r);
}

static void test_close_timeout(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    char sid[JG_SID_MAX + 1];
    strcpy(sid, jg_session_sid(s));
    pump(f, 0.3);
    assert_ptr_equal(jg_session_find(&f->srv.core, sid), s);   /* still within close-timeout */
    pump(f, 0.4);
    assert_null(jg_session_find(&f->srv.core, sid));
    assert_int_equal(f->srv.stats.close_timeouts, 1);
    assert_int_equal(f->srv.stats.sessions, 0);
    /* the sid is now unknown */
    get_xhr(f, p, sid);
    struct response r;
    EXPECT_BODY(f, p, 1.0, "7:::1+0", &r);
}

static void test_handshake_expiry(void **state)
{
    struct fixture *f = *state;
    struct jg_session *s = jg_session_create(&f->srv.core);
    char sid[JG_SID_MAX + 1];
    strcpy(sid, jg_session_sid(s));
    pump(f, 0.6);
    assert_null(jg_session_find(&f->srv.core, sid));
    assert_int_equal(f->srv.stats.close_timeouts, 0);   /* expiry, not a close timeout */
}

/* Packets piling up between polls past max-session-queue end the session (after the
 * current callback, never inside a fan-out). */
static void test_session_queue_overflow(void **state)
{
    struct fixture *f = *state;
    f->cfg.max_session_queue = 3;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    char sid[JG_SID_MAX + 1];
    strcpy(sid, jg_session_sid(s));
    for (int i = 0; i < 3; i++)
        send_text(s, "3:::q");
    assert_int_equal(jg_session_queue_len(s), 3);
    assert_int_equal(f->srv.stats.session_queue_overflows, 0);
    send_text(s, "3:::over");
    send_text(s, "3:::over");
    assert_int_equal(jg_session_queue_len(s), 3);
    assert_int_equal(f->srv.stats.session_queue_overflows, 1);
    assert_ptr_equal(jg_session_find(&f->srv.core, sid), s);   /* ended later, not now */
    pump(f, 0.01);
    assert_null(jg_session_find(&f->srv.core, sid));
    assert_int_equal(f->srv.stats.session_queue_overflows, 1);
}

/* Polling without a gap keeps the session alive well past close-timeout. */
static void test_polling_keeps_session(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    char sid[JG_SID_MAX + 1];
    strcpy(sid, jg_session_sid(s));
    struct response r;
    for (int i = 0; i < 4; i++) {   /* 4 x 0.2 s held > 0.5 s close timeout */
        get_xhr(f, p, sid);
        EXPECT_BODY(f, p, 1.0, "8::", &r);
    }
    assert_ptr_equal(jg_session_find(&f->srv.core, sid), s);
    assert_int_equal(f->srv.stats.close_timeouts, 0);
}

static void test_overlapping_get(void **state)
{
    struct fixture *f = *state;
    int a = connect_peer(f);
    int b = connect_peer(f);
    struct jg_session *s = connected_session(f, a);
    get_xhr(f, a, jg_session_sid(s));
    expect_silence(f, a, 0.05);
    double start = ev_time();
    get_xhr(f, b, jg_session_sid(s));
    struct response r;
    /* §7.5 Fix: the older GET is answered 8:: at once, the newer one is held */
    EXPECT_BODY(f, a, 1.0, "8::", &r);
    assert_true(ev_time() - start < 0.15);
    expect_silence(f, b, 0.05);
    assert_int_equal(f->srv.stats.polls_pending, 1);
    assert_true(has_transport(s));
    send_text(s, "3:::to-b");
    EXPECT_BODY(f, b, 1.0, "3:::to-b", &r);
    expect_silence(f, a, 0.05);
    assert_int_equal(f->srv.stats.polls_pending, 0);
    assert_ptr_equal(jg_session_find(&f->srv.core, jg_session_sid(s)), s);
}

static void test_post(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    post_xhr(f, p, jg_session_sid(s), "3:::x");
    struct response r;
    EXPECT_BODY(f, p, 1.0, "1", &r);
    assert_string_equal(r.head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                                "Content-Length: 1\r\n\r\n");
    assert_int_equal(f->srv.stats.client_messages, 1);
    assert_int_equal(f->srv.stats.client_messages_invalid, 1);   /* "x" is not JSON */

    /* a framed payload of two subscribes */
    post_xhr(f, p, jg_session_sid(s),
             FFFD "39" FFFD "3:::{\"type\":\"subscribe\",\"channel\":\"c1\"}"
             FFFD "39" FFFD "3:::{\"type\":\"subscribe\",\"channel\":\"c2\"}");
    EXPECT_BODY(f, p, 1.0, "1", &r);
    assert_int_equal(f->srv.stats.client_messages, 3);
    assert_int_equal(jg_session_subs(s)->n, 2);
    assert_non_null(jg_channel_find(f->srv.core.channels, "c1"));
    assert_non_null(jg_channel_find(f->srv.core.channels, "c2"));
    assert_false(has_transport(s));   /* a POST is not a transport */

    /* with an Origin: CORS echo */
    send_raw(f, p, "POST /socket.io/1/xhr-polling/nosuchsid HTTP/1.1\r\nHost: t\r\n"
                   "Origin: http://app.example:3000\r\nContent-Length: 5\r\n\r\n3:::x");
    EXPECT_BODY(f, p, 1.0, "1", &r);
    assert_non_null(strstr(r.head, "Access-Control-Allow-Origin: http://app.example:3000\r\n"
                                   "Access-Control-Allow-Credentials: true\r\n"));
    assert_int_equal(f->srv.stats.unknown_sid, 1);
    assert_int_equal(f->srv.stats.client_messages, 3);   /* unknown sid: data dropped */
}

/* Packets a POST produces (an ack, a disconnect) go out on the held GET. */
static void test_post_answers_on_held_get(void **state)
{
    struct fixture *f = *state;
    int g = connect_peer(f);
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, g);
    char sid[JG_SID_MAX + 1];
    strcpy(sid, jg_session_sid(s));
    get_xhr(f, g, sid);
    expect_silence(f, g, 0.05);
    post_xhr(f, p, sid, "3:7::{\"type\":\"meta\",\"data\":1}");
    struct response r;
    EXPECT_BODY(f, p, 1.0, "1", &r);
    EXPECT_BODY(f, g, 1.0, "6:::7", &r);
    get_xhr(f, g, sid);
    expect_silence(f, g, 0.05);
    post_xhr(f, p, sid, "0::");
    EXPECT_BODY(f, p, 1.0, "1", &r);
    EXPECT_BODY(f, g, 1.0, "0::", &r);
    assert_null(jg_session_find(&f->srv.core, sid));
}

static void test_unknown_sid(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    get_xhr(f, p, "nosuchsid");
    struct response r;
    EXPECT_BODY(f, p, 1.0, "7:::1+0", &r);
    assert_string_equal(r.head, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                                "Connection: Keep-Alive\r\nContent-Length: 7\r\n\r\n");
    send_raw(f, p, "GET /socket.io/1/jsonp-polling/nosuchsid?t=1&i=1 HTTP/1.1\r\nHost: t\r\n\r\n");
    EXPECT_BODY(f, p, 1.0, "io.j[1](\"7:::1+0\");", &r);
    assert_int_equal(f->srv.stats.unknown_sid, 2);
    assert_int_equal(f->srv.stats.sessions, 0);
}

static void test_jsonp(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = jg_session_create(&f->srv.core);
    char req[1024];
    snprintf(req, sizeof req, "GET /socket.io/1/jsonp-polling/%s?t=1&i=3 HTTP/1.1\r\nHost: t\r\n\r\n", jg_session_sid(s));
    send_raw(f, p, req);
    struct response r;
    EXPECT_BODY(f, p, 1.0, "io.j[3](\"1::\");", &r);
    assert_string_equal(r.head, "HTTP/1.1 200 OK\r\nContent-Type: text/javascript; charset=UTF-8\r\n"
                                "Connection: Keep-Alive\r\nX-XSS-Protection: 0\r\nContent-Length: 15\r\n\r\n");
    /* queued packets: framed payload inside a JSON string; a bad index becomes 0 */
    send_text(s, "3:::\"q\"");
    send_text(s, "3:::\\");
    snprintf(req, sizeof req, "GET /socket.io/1/jsonp-polling/%s?t=2&i=alert(1) HTTP/1.1\r\nHost: t\r\n\r\n",
             jg_session_sid(s));
    send_raw(f, p, req);
    EXPECT_BODY(f, p, 1.0, "io.j[0](\"" FFFD "7" FFFD "3:::\\\"q\\\"" FFFD "5" FFFD "3:::\\\\\");", &r);
    /* held, then 8:: */
    snprintf(req, sizeof req, "GET /socket.io/1/jsonp-polling/%s?i=12&t=3 HTTP/1.1\r\nHost: t\r\n\r\n", jg_session_sid(s));
    send_raw(f, p, req);
    expect_silence(f, p, 0.1);
    EXPECT_BODY(f, p, 1.0, "io.j[12](\"8::\");", &r);
    /* POST: form field d holds the payload as a JSON string */
    static const char body[] = "d=%223%3A%3A%3A%7B%5C%22type%5C%22%3A%5C%22subscribe%5C%22%2C"
                               "%5C%22channel%5C%22%3A%5C%22j%5C%22%7D%22";
    snprintf(req, sizeof req,
             "POST /socket.io/1/jsonp-polling/%s?t=4&i=1 HTTP/1.1\r\nHost: t\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %zu\r\n\r\n%s",
             jg_session_sid(s), sizeof body - 1, body);
    send_raw(f, p, req);
    EXPECT_BODY(f, p, 1.0, "1", &r);
    assert_non_null(jg_channel_find(f->srv.core.channels, "j"));
    assert_int_equal(jg_session_subs(s)->n, 1);
}

static void test_pipelined(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = jg_session_create(&f->srv.core);
    char req[1024];
    /* GET (1::), POST (1), GET (held, then 8::), all in one write */
    snprintf(req, sizeof req,
             "GET /socket.io/1/xhr-polling/%s?t=1 HTTP/1.1\r\nHost: t\r\n\r\n"
             "POST /socket.io/1/xhr-polling/%s?t=2 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n3:::x"
             "GET /socket.io/1/xhr-polling/%s?t=3 HTTP/1.1\r\nHost: t\r\n\r\n",
             jg_session_sid(s), jg_session_sid(s), jg_session_sid(s));
    send_raw(f, p, req);
    struct response r;
    EXPECT_BODY(f, p, 1.0, "1::", &r);
    EXPECT_BODY(f, p, 1.0, "1", &r);
    expect_silence(f, p, 0.1);
    assert_int_equal(f->srv.stats.client_messages, 1);
    EXPECT_BODY(f, p, 1.0, "8::", &r);

    /* behind a held GET, a POST waits: its answer comes after the GET's */
    snprintf(req, sizeof req,
             "GET /socket.io/1/xhr-polling/%s?t=4 HTTP/1.1\r\nHost: t\r\n\r\n"
             "POST /socket.io/1/xhr-polling/%s?t=5 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n3:::y"
             "GET /socket.io/1/xhr-polling/%s?t=6 HTTP/1.1\r\nHost: t\r\n\r\n",
             jg_session_sid(s), jg_session_sid(s), jg_session_sid(s));
    send_raw(f, p, req);
    expect_silence(f, p, 0.1);
    assert_int_equal(f->srv.stats.client_messages, 1);   /* the POST is not processed yet */
    EXPECT_BODY(f, p, 1.0, "8::", &r);
    EXPECT_BODY(f, p, 1.0, "1", &r);
    assert_int_equal(f->srv.stats.client_messages, 2);
    /* the third request is the held GET now; a POST sent later in its own write waits too */
    expect_silence(f, p, 0.05);
    snprintf(req, sizeof req,
             "POST /socket.io/1/xhr-polling/%s?t=7 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\n3:::w",
             jg_session_sid(s));
    send_raw(f, p, req);
    expect_silence(f, p, 0.05);
    assert_int_equal(f->srv.stats.client_messages, 2);
    send_text(s, "3:::z");
    EXPECT_BODY(f, p, 1.0, "3:::z", &r);
    EXPECT_BODY(f, p, 1.0, "1", &r);
    assert_int_equal(f->srv.stats.client_messages, 3);
    assert_ptr_equal(jg_session_find(&f->srv.core, jg_session_sid(s)), s);
}

/* After an answer with "Connection: close", requests pipelined behind it are not served:
 * a GET there would become the session's transport on a connection that is shutting down,
 * and packets delivered to it would be dropped. */
static void test_pipelined_after_close(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    char req[1024];
    struct response r;
    /* behind a held GET (the held input is dropped when the answer closes) */
    snprintf(req, sizeof req,
             "GET /socket.io/1/xhr-polling/%s?t=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
             "GET /socket.io/1/xhr-polling/%s?t=2 HTTP/1.1\r\nHost: t\r\n\r\n",
             jg_session_sid(s), jg_session_sid(s));
    send_raw(f, p, req);
    EXPECT_BODY(f, p, 1.0, "8::", &r);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    pump(f, 0.05);
    assert_false(has_transport(s));   /* the second GET was not taken as a transport */
    send_text(s, "3:::kept");
    assert_int_equal(jg_session_queue_len(s), 1);   /* waits for the next poll instead of being lost */

    int q = connect_peer(f);
    get_xhr(f, q, jg_session_sid(s));
    EXPECT_BODY(f, q, 1.0, "3:::kept", &r);
    assert_int_equal(jg_session_queue_len(s), 0);

    /* behind a request answered at once (a POST) */
    int w = connect_peer(f);
    snprintf(req, sizeof req,
             "POST /socket.io/1/xhr-polling/%s?t=3 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
             "Content-Length: 3\r\n\r\n2::"
             "GET /socket.io/1/xhr-polling/%s?t=4 HTTP/1.1\r\nHost: t\r\n\r\n",
             jg_session_sid(s), jg_session_sid(s));
    send_raw(f, w, req);
    EXPECT_BODY(f, w, 1.0, "1", &r);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    pump(f, 0.05);
    assert_false(has_transport(s));   /* the GET behind it must not become the transport */
    send_text(s, "3:::not-lost");
    assert_int_equal(jg_session_queue_len(s), 1);   /* waits for a real poll */
}

static void test_peer_close_ends_session(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    char sid[JG_SID_MAX + 1];
    strcpy(sid, jg_session_sid(s));
    jg_channel_subscribe(f->srv.core.channels, "c", s, false);
    get_xhr(f, p, sid);
    expect_silence(f, p, 0.05);
    assert_int_equal(f->srv.stats.polls_pending, 1);
    assert_int_equal(f->srv.stats.connections, 1);
    close(f->peers[p].fd);
    f->peers[p].fd = -1;
    pump(f, 0.05);
    assert_null(jg_session_find(&f->srv.core, sid));   /* §7.5: ended at once, not at close-timeout */
    assert_int_equal(f->srv.stats.sessions, 0);
    assert_int_equal(f->srv.stats.polls_pending, 0);
    assert_int_equal(f->srv.stats.connections, 0);
    assert_null(jg_channel_find(f->srv.core.channels, "c"));
    assert_int_equal(f->srv.stats.subscriptions, 0);
}

/* Closing an idle keep-alive connection between polls does not end the session. */
static void test_idle_close_keeps_session(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    close(f->peers[p].fd);
    f->peers[p].fd = -1;
    pump(f, 0.05);
    assert_ptr_equal(jg_session_find(&f->srv.core, jg_session_sid(s)), s);
    int q = connect_peer(f);
    get_xhr(f, q, jg_session_sid(s));
    expect_silence(f, q, 0.05);
    send_text(s, "3:::new-conn");
    struct response r;
    EXPECT_BODY(f, q, 1.0, "3:::new-conn", &r);
}

/* A request that does not complete within header-timeout gets its connection closed. */
static void test_header_timeout(void **state)
{
    struct fixture *f = *state;
    f->cfg.header_timeout = 0.2;
    int p = connect_peer(f);
    pump(f, 0.1);
    send_raw(f, p, "GET /socket.io/1/xhr-pol");   /* a slow sender */
    pump(f, 0.15);
    assert_true(read_avail(f, p));                 /* the deadline restarted at the first byte */
    pump(f, 0.2);
    assert_false(read_avail(f, p));                /* closed, nothing written */
    assert_int_equal(f->peers[p].in.len, 0);
    pump(f, 0.01);
    assert_int_equal(f->srv.stats.connections, 0);
}

/* keepalive-timeout closes idle connections between requests, never a held GET. */
static void test_keepalive_timeout(void **state)
{
    struct fixture *f = *state;
    f->cfg.keepalive_timeout = 0.1;   /* shorter than polling-duration (0.2) */
    int p = connect_peer(f);
    struct jg_session *s = connected_session(f, p);
    get_xhr(f, p, jg_session_sid(s));
    struct response r;
    EXPECT_BODY(f, p, 1.0, "8::", &r);   /* held past keepalive-timeout and answered */
    pump(f, 0.05);
    assert_true(read_avail(f, p));       /* idle, still within keepalive-timeout */
    pump(f, 0.1);
    assert_false(read_avail(f, p));      /* idle too long: closed */
    pump(f, 0.01);
    assert_int_equal(f->srv.stats.connections, 0);
    assert_ptr_equal(jg_session_find(&f->srv.core, jg_session_sid(s)), s);   /* the session waits for a new poll */
}

static void test_http10_closes(void **state)
{
    struct fixture *f = *state;
    int p = connect_peer(f);
    struct jg_session *s = jg_session_create(&f->srv.core);
    char req[256];
    snprintf(req, sizeof req, "GET /socket.io/1/xhr-polling/%s?t=1 HTTP/1.0\r\n\r\n", jg_session_sid(s));
    send_raw(f, p, req);
    struct response r;
    EXPECT_BODY(f, p, 1.0, "1::", &r);
    assert_non_null(strstr(r.head, "Connection: close\r\n"));
    assert_null(strstr(r.head, "Keep-Alive"));
    /* the server shuts its side after the answer */
    bool open = true;
    for (int i = 0; i < 20 && open; i++) {
        pump(f, 0.01);
        open = read_avail(f, p);
    }
    assert_false(open);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    jg_log_threshold = JG_LOG_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_get_connect, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_handshake_then_get, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_held_get_answered_noop, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_send_completes_held_get, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_queued_packets_framed, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_queued_before_first_get, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_close_timeout, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_handshake_expiry, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_session_queue_overflow, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_polling_keeps_session, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_overlapping_get, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_post, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_post_answers_on_held_get, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_unknown_sid, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_jsonp, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_pipelined, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_pipelined_after_close, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_peer_close_ends_session, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_idle_close_keeps_session, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_header_timeout, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_keepalive_timeout, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_http10_closes, setup_server, teardown_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
