/* server_fixture.h: a real struct jg_server for unit tests, with a temporary public directory
 * and Redis pointed at a closed port (the broker just keeps retrying; the loop is run by the
 * tests that need it). Header-only: each test binary is one .c file; include it after
 * <cmocka.h>. */
#ifndef JG_TEST_SERVER_FIXTURE_H
#define JG_TEST_SERVER_FIXTURE_H

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ev.h>

#include "base/config.h"
#include "app/router.h"
#include "app/server.h"
#include "transport/endpoint.h"

/* A TCP port nobody listens on (bound then released), so the broker's connects fail fast. */
static inline int fixture_closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sin;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0 ||
        getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
        if (fd >= 0)
            close(fd);
        return 1;
    }
    close(fd);
    return ntohs(sin.sin_port);
}

/* Makes DIR (a mkdtemp template is built from TAG) with an index.html, and fills CFG with the
 * defaults, that directory and the closed Redis port. Adjust CFG, then fixture_server_start. */
static inline int fixture_server_prepare(const char *tag, char dir[64], char index[96], struct jg_config *cfg)
{
    snprintf(dir, 64, "/tmp/jg_test_%s_XXXXXX", tag);
    if (!mkdtemp(dir))
        return -1;
    snprintf(index, 96, "%s/index.html", dir);
    FILE *fp = fopen(index, "w");
    if (!fp)
        return -1;
    fputs("<html></html>\n", fp);
    fclose(fp);
    jg_config_defaults(cfg);
    char err[256];
    if (jg_config_set(cfg, "public-dir", dir, err, sizeof err) != 0)
        return -1;
    cfg->redis_port = fixture_closed_port();
    cfg->cluster = false;   /* these tests run without Redis: the single-instance behaviour */
    return 0;
}

static inline int fixture_server_start(struct ev_loop **loop, struct jg_server *srv, struct jg_config *cfg)
{
    *loop = ev_loop_new(EVFLAG_AUTO);
    if (!*loop)
        return -1;
    if (jg_server_init(srv, *loop, cfg) != 0)
        return -1;
    srv->net.dispatch = jg_router_dispatch;   /* as main wires it */
    return 0;
}

static inline void fixture_break_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)w;
    (void)revents;
    ev_break(loop, EVBREAK_ONE);
}

/* Runs LOOP for SECS seconds of real time: connections' bytes are read and written, timers
 * due meanwhile fire. */
static inline void fixture_pump(struct ev_loop *loop, double secs)
{
    ev_timer t;
    ev_timer_init(&t, fixture_break_cb, secs, 0);
    ev_timer_start(loop, &t);
    ev_run(loop, 0);
    ev_timer_stop(loop, &t);
}

static inline void fixture_server_stop(struct ev_loop *loop, struct jg_server *srv, struct jg_config *cfg,
                                       const char *dir, const char *index)
{
    jg_server_deinit(srv);
    ev_loop_destroy(loop);
    jg_config_deinit(cfg);
    unlink(index);
    rmdir(dir);
}

/* A client connection to SRV on a socketpair, REQ written: returns our end (non-blocking). */
static inline int fixture_client(struct jg_server *srv, const char *req)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(sv[i], F_SETFL, fcntl(sv[i], F_GETFL) | O_NONBLOCK), 0);
    assert_non_null(jg_endpoint_accept(&srv->net, sv[0], "test"));
    assert_int_equal(write(sv[1], req, strlen(req)), (ssize_t)strlen(req));
    return sv[1];
}

/* What the server wrote on FD so far (up to LEN - 1 bytes, NUL-terminated). */
static inline size_t fixture_read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return got;
}

#endif /* JG_TEST_SERVER_FIXTURE_H */
