/* churnfloor.c: the kernel's floor for the churn scenario on this machine. A server that
 * answers a churn cycle with the fewest system calls and no work of its own: one epoll
 * loop, accept4, one read per readable event, one write per answer, close on EOF. The
 * answers are prebuilt bytes of the same sizes as juggernautd's:
 *   GET /socket.io/1/?...          -> the handshake answer (a fixed session id)
 *   GET /socket.io/1/websocket/... -> "101 Switching Protocols" and the "1::" frame
 *   any other GET                  -> "101 Switching Protocols" (the shape of Nchan's cycle)
 *   anything else (WebSocket frames from the client) is read and dropped.
 * So `loadgen --proto sio --mode churn` against it measures what two TCP connections per
 * socket.io cycle cost the kernel, and `--proto ws` what Nchan's one connection costs: no
 * server can spend less CPU per cycle with the same connections (bench/README.md).
 *
 * Requests arrive whole in one read: they are under 300 bytes, on loopback. Runs until
 * SIGTERM or SIGINT. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static const char HANDSHAKE[] =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 89\r\n\r\n"
    "R4dIK2h1JlIDMEDrzdVHQ2sS9I6E_j-XirI-Eg:15:25:websocket,htmlfile,xhr-polling,jsonp-polling";
#define UPGRADE_HEAD                                                                          \
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"        \
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
static const char UPGRADE_SIO[] = UPGRADE_HEAD "\x81\x03" "1::";
static const char UPGRADE_WS[] = UPGRADE_HEAD;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int starts(const char *buf, ssize_t n, const char *prefix)
{
    size_t k = strlen(prefix);
    return (size_t)n >= k && memcmp(buf, prefix, k) == 0;
}

/* The answer to the bytes BUF of one read, or NULL for none. */
static const char *answer(const char *buf, ssize_t n, size_t *len)
{
    const char *a = NULL;
    if (starts(buf, n, "GET /socket.io/1/?"))
        a = HANDSHAKE, *len = sizeof HANDSHAKE - 1;
    else if (starts(buf, n, "GET /socket.io/1/websocket/"))
        a = UPGRADE_SIO, *len = sizeof UPGRADE_SIO - 1;
    else if (starts(buf, n, "GET "))
        a = UPGRADE_WS, *len = sizeof UPGRADE_WS - 1;
    return a;
}

int main(int argc, char **argv)
{
    if (argc != 2 || atoi(argv[1]) <= 0 || atoi(argv[1]) > 65535) {
        fprintf(stderr, "usage: churnfloor PORT   (serves 127.0.0.1:PORT until SIGTERM)\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: epoll_wait returns */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, 4096) != 0) {
        perror("churnfloor: listen");
        return 1;
    }
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.fd = lfd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) != 0) {
        perror("churnfloor: epoll");
        return 1;
    }
    static char buf[4096];
    struct epoll_event evs[256];
    while (!stopping) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == lfd) {
                int c;
                while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    /* no TCP_NODELAY (the daemon sets it): one write per connection needs none */
                    struct epoll_event ev = {.events = EPOLLIN, .data.fd = c};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev) != 0)
                        close(c);
                }
                continue;
            }
            ssize_t r = read(fd, buf, sizeof buf);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0) {
                close(fd); /* also leaves the epoll set */
                continue;
            }
            size_t len = 0;
            const char *a = answer(buf, r, &len);
            if (a && write(fd, a, len) != (ssize_t)len)
                close(fd);
        }
    }
    return 0;
}
