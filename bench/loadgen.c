/* loadgen.c: a load generator for juggernautd (socket.io protocol 1 over WebSocket or
 * xhr-polling) and for Nchan (plain WebSocket or long-poll subscribers), in the spirit of
 * redis-benchmark. See bench/README.md for what it measures and how.
 *
 * Process layout: the parent publishes (Redis PUBLISH through hiredis, or HTTP POSTs to
 * Nchan's publisher location), reads the server's /proc files and prints the result; W
 * forked workers each run their own libev loop over their share of the client
 * connections (the open-file limit is per process) and count what arrives. Workers write
 * their counters and latency histograms into a shared anonymous mapping; the parent sends
 * them commands over a pipe. Output: one line of key=value pairs on stdout. */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <hiredis/adapters/libev.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <http_parser.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define RBUF_SIZE (256 * 1024)  /* one read(2) per wakeup takes up to this much */
#define MAX_WORKERS 16
#define WS_KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define WS_ACCEPT "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
#define UFFFD "\xef\xbf\xbd"     /* U+FFFD, the polling payload delimiter */

enum proto { P_SIO, P_WS };
enum mode { M_FANOUT, M_CHANNELS, M_IDLE, M_CHURN, M_POLL, M_SLOW, M_CHAT };
enum pubkind { PUB_REDIS, PUB_HTTP };

static struct opts {
    int proto, mode, pub;
    int port, redis_port, pub_port;
    const char *sub_path, *pub_path, *redis_channel;
    int n, channels, workers;
    int groups;                /* chat: group channels (users / groups members each) */
    const char *msub_path;     /* chat, Nchan: one WebSocket on <msub_path><a>/<b> */
    long burst;
    int bursts;                /* bursts of `burst` messages, each drained before the next */
    double rate, duration;
    int size;
    int server_pid;
    const char *ready_path, *ready_key;
    int step1;                 /* idle/poll memory: first measuring point (0 = none) */
    int stalled, stall_rcvbuf;
    double stall_rate;         /* slow: messages/s to the stalled clients' channel */
    int stall_size;
    int concurrency;
    const char *stats_path, *stats_keys;
    int cpu;
    int inflight;
    double settle;
    int src_ips;
    int perf;
    char tag[24];
} o = {
    .proto = P_SIO, .mode = M_FANOUT, .pub = PUB_REDIS, .port = 8080, .redis_port = 6379,
    .pub_port = 0, .sub_path = "/sub/", .pub_path = "/pub/", .redis_channel = "juggernaut",
    .groups = 100, .msub_path = "/msub/",
    .n = 1000, .channels = 1, .workers = 0, .burst = 0, .bursts = 1, .rate = 0, .duration = 5,
    .size = 100, .server_pid = 0, .step1 = 0, .stalled = 0, .stall_rcvbuf = 4096,
    .stall_rate = 20, .stall_size = 16384,
    .concurrency = 64, .cpu = -1, .inflight = 128, .settle = 1.0, .src_ips = 32, .perf = 0,
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "loadgen: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- shared between a worker and the parent ------------------------------------------ */

struct wshared {
    volatile uint64_t open;        /* clients subscribed and receiving */
    volatile uint64_t failed;      /* clients that failed to connect/handshake/subscribe */
    volatile uint64_t closed;      /* subscribed clients closed by the server or an error */
    volatile uint64_t delivered;   /* messages received (in order or after a gap) */
    volatile uint64_t dup;         /* messages received twice or out of order */
    volatile uint64_t gaps;        /* messages skipped over when a later one arrived */
    volatile uint64_t bad;         /* text frames that were not a benchmark message */
    volatile uint64_t lost;        /* expected - delivered, computed at the end */
    volatile uint64_t cycles;      /* churn: connect+handshake+subscribe+disconnect done */
    volatile uint64_t stalled_closed;
    volatile uint64_t heartbeats;
    volatile int64_t last_ns;      /* when the last message arrived */
    volatile int64_t cpu_ns;       /* this worker's CPU time at the last mark */
    volatile int64_t mark;         /* last mark handled */
    volatile int done;
    struct bench_hist hist[2];     /* latency: [0] before t_mid, [1] after (slow mode) */
};

static struct wshared *shared;
/* slow mode: the address of each stalled client's socket, (raw s_addr << 16) | port, set
 * by its worker once subscribed (0 = none); shared like the counters */
static uint64_t *stalled_ep;
/* messages published to each channel so far (the parent's P.chan_seq), shared so that a
 * worker can count what each of its clients missed at the end */
static uint64_t *chan_pub;

enum { CMD_CONNECT = 1, CMD_STALL, CMD_MARK, CMD_END, CMD_CHURN };
struct cmd {
    int op;
    int pad;
    int64_t a, b, c;
};

/* ---- message payload ------------------------------------------------------------------ */

static char chan_name_buf[64];
static const char *chan_name(uint32_t i)
{
    snprintf(chan_name_buf, sizeof chan_name_buf, "b%s-%u", o.tag, i);
    return chan_name_buf;
}

/* The "data" string: "<seq> <ns> xxxx...", padded so the WebSocket frame a subscriber
 * receives is o.size bytes (both servers: see README, "messages"). */
static size_t make_data(char *out, size_t cap, uint64_t seq, int64_t ns, size_t chlen,
                        size_t size, int group)
{
    size_t overhead = o.proto == P_SIO ? 28 : 24; /* the JSON around the data */
    overhead += size > 127 ? 4 : 2;                /* the frame header */
    size_t want = size > overhead + chlen ? size - overhead - chlen : 0;
    /* chat: "g" after the timestamp marks a group channel's message (the receiver keeps
     * one sequence per channel it is on) */
    int n = snprintf(out, cap, "%llu %lld %s", (unsigned long long)seq, (long long)ns,
                     group ? "g" : "");
    size_t len = (size_t)n;
    while (len < want && len < cap - 1)
        out[len++] = 'x';
    out[len] = '\0';
    return len;
}

/* ---- workers -------------------------------------------------------------------------- */

enum cstate {
    C_IDLE, C_HS_CONN, C_HS_RESP, C_WS_CONN, C_WS_101, C_WS_1, C_OPEN,
    C_POLL_1, C_POLL_SUB, C_POLL_WAIT, C_DEAD
};

struct pollstate {           /* long-poll clients only */
    http_parser hp;
    char lastmod[64], etag[64];
    char hfield[32];
    int hkind;               /* header being read: 1 Last-Modified, 2 Etag, 3 other */
    int in_value;            /* the last callback was a header value */
    uint32_t t;              /* cache buster */
    int complete;
};

struct client {
    int fd;
    uint32_t idx;            /* global client number */
    uint32_t chan;
    uint32_t chan2;          /* chat: the group channel (UINT32_MAX: none) */
    uint8_t state;
    uint8_t stalled;
    uint8_t counted_open;
    uint32_t gen;            /* bumped on close: a callback chain notices its fd is gone */
    uint32_t next_seq;
    uint32_t next_seq2;      /* chat: of the group channel */
    ev_io io;
    char *carry;             /* unparsed bytes: partial frame, HTTP head or body */
    uint32_t clen, ccap;
    struct pollstate *ps;    /* HTTP response parsing (handshake, polls) */
    char sid[40];
};

static struct worker {
    int wi;
    struct ev_loop *loop;
    struct wshared *sh;
    struct client *cl;
    uint32_t ncl;            /* clients owned */
    uint32_t target;         /* clients to have started (connect command) */
    uint32_t started;
    uint32_t inflight;
    int churn;
    int64_t now;
    int64_t t_mid;
    uint8_t *rbuf;
    ev_io cmd_io;
    ev_timer churn_timer;
    int cmd_fd;
    uint8_t mask[4];
} W;

static http_parser_settings hp_settings;

static void client_start(struct client *c);
static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents);

static void carry_set(struct client *c, const void *p, size_t n)
{
    if (n > c->ccap) {
        size_t cap = n < 256 ? 256 : n;
        c->carry = realloc(c->carry, cap);
        if (!c->carry)
            die("out of memory");
        c->ccap = (uint32_t)cap;
    }
    memmove(c->carry, p, n);
    c->clen = (uint32_t)n;
}

static void carry_append(struct client *c, const void *p, size_t n)
{
    if (c->clen + n > c->ccap) {
        size_t cap = (c->clen + n) * 2;
        c->carry = realloc(c->carry, cap);
        if (!c->carry)
            die("out of memory");
        c->ccap = (uint32_t)cap;
    }
    memcpy(c->carry + c->clen, p, n);
    c->clen += (uint32_t)n;
}

static void carry_free(struct client *c)
{
    free(c->carry);
    c->carry = NULL;
    c->clen = c->ccap = 0;
}

static int send_all(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

/* A masked client frame (RFC 6455 §5.3). */
static int ws_send(int fd, int opcode, const char *s, size_t n)
{
    uint8_t f[1024];
    size_t hl;
    if (n > sizeof f - 8)
        return -1;
    f[0] = (uint8_t)(0x80 | opcode);
    if (n < 126) {
        f[1] = (uint8_t)(0x80 | n);
        hl = 2;
    } else {
        f[1] = 0x80 | 126;
        f[2] = (uint8_t)(n >> 8);
        f[3] = (uint8_t)n;
        hl = 4;
    }
    memcpy(f + hl, W.mask, 4);
    for (size_t i = 0; i < n; i++)
        f[hl + 4 + i] = (uint8_t)s[i] ^ W.mask[i & 3];
    return send_all(fd, f, hl + 4 + n);
}

/* Starts clients until o.inflight are being set up (not re-entered: a client that fails
 * at once calls back into here). */
static void fill_setup(void)
{
    static int busy;
    if (busy)
        return;
    busy = 1;
    while (W.inflight < (uint32_t)o.inflight && W.started < W.target && W.started < W.ncl) {
        W.inflight++;
        client_start(&W.cl[W.started++]);
    }
    busy = 0;
}

static void setup_done(struct client *c, int ok)
{
    if (W.churn)
        return;
    if (W.inflight > 0)
        W.inflight--;
    if (ok) {
        c->counted_open = 1;
        W.sh->open++;
        if (c->stalled && c->idx < (uint32_t)o.stalled) {
            struct sockaddr_in sa;
            socklen_t sl = sizeof sa;
            if (getsockname(c->fd, (struct sockaddr *)&sa, &sl) == 0)
                stalled_ep[c->idx] = ((uint64_t)sa.sin_addr.s_addr << 16) | ntohs(sa.sin_port);
        }
    } else {
        W.sh->failed++;
    }
    fill_setup();
}

static void client_close(struct client *c)
{
    if (c->fd >= 0) {
        ev_io_stop(W.loop, &c->io);
        close(c->fd);
        c->fd = -1;
    }
    c->gen++;
    carry_free(c);
    free(c->ps);
    c->ps = NULL;
}

/* Something went wrong with client C (connection refused, bad answer, server closed). */
static void client_fail(struct client *c, const char *why)
{
    int state = c->state;
    client_close(c);
    c->state = C_DEAD;
    if (W.churn) {
        W.sh->failed++;      /* the churn timer restarts the slot */
        return;
    }
    if (c->counted_open) { /* it was subscribed: the server (or an error) closed it */
        if (c->stalled)
            W.sh->stalled_closed++;
        else
            W.sh->closed++;
        if (W.sh->closed <= 3 && !c->stalled)
            note("worker %d: client %u closed: %s", W.wi, c->idx, why);
        return;
    }
    if (W.sh->failed < 3)
        note("worker %d: client %u failed in state %d: %s", W.wi, c->idx, state, why);
    setup_done(c, 0);
}

/* Churn: one cycle completed; start the next with the same slot. */
static void cycle_done(struct client *c)
{
    W.sh->cycles++;
    client_close(c);
    c->state = C_IDLE;
    client_start(c);
}

static void watch(struct client *c, int events)
{
    ev_io_stop(W.loop, &c->io);
    ev_io_set(&c->io, c->fd, events);
    ev_io_start(W.loop, &c->io);
}

static int open_conn(struct client *c, int state)
{
    int src = o.src_ips > 1 ? 2 + (int)(c->idx % (uint32_t)o.src_ips) : 0;
    c->fd = bench_connect(o.port, src);
    if (c->fd < 0)
        return -1;
    if (c->stalled && o.stall_rcvbuf > 0)
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &o.stall_rcvbuf, sizeof o.stall_rcvbuf);
    c->state = (uint8_t)state;
    ev_io_init(&c->io, client_io_cb, c->fd, EV_WRITE);
    c->io.data = c;
    ev_io_start(W.loop, &c->io);
    return 0;
}

static void client_start(struct client *c)
{
    c->next_seq = 0;
    c->next_seq2 = 0;
    c->clen = 0;
    int state;
    if (o.mode == M_POLL)
        state = o.proto == P_SIO ? C_HS_CONN : C_POLL_WAIT;
    else
        state = o.proto == P_SIO ? C_HS_CONN : C_WS_CONN;
    if (open_conn(c, state) != 0)
        client_fail(c, strerror(errno));
}

static struct pollstate *ps_new(struct client *c)
{
    struct pollstate *ps = calloc(1, sizeof *ps);
    if (!ps)
        die("out of memory");
    http_parser_init(&ps->hp, HTTP_RESPONSE);
    ps->hp.data = c;
    return ps;
}

static int send_request(struct client *c)
{
    char req[1024];
    int n = 0;
    const char *host = "127.0.0.1";
    switch (c->state) {
    case C_HS_CONN:
        n = snprintf(req, sizeof req,
                     "GET /socket.io/1/?t=%u HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Accept: */*\r\n\r\n", c->idx, host, o.port);
        break;
    case C_WS_CONN:
        if (o.proto == P_SIO)
            n = snprintf(req, sizeof req,
                         "GET /socket.io/1/websocket/%s HTTP/1.1\r\nHost: %s:%d\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         c->sid, host, o.port);
        else if (o.mode == M_CHAT) { /* one multiplexed subscriber on both channels */
            char first[64];
            snprintf(first, sizeof first, "%s", chan_name(c->chan));
            n = snprintf(req, sizeof req,
                         "GET %s%s/%s HTTP/1.1\r\nHost: %s:%d\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         o.msub_path, first, chan_name(c->chan2), host, o.port);
        } else
            n = snprintf(req, sizeof req,
                         "GET %s%s HTTP/1.1\r\nHost: %s:%d\r\n"
                         "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Key: " WS_KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n",
                         o.sub_path, chan_name(c->chan), host, o.port);
        break;
    case C_POLL_1:
    case C_POLL_WAIT:
        if (o.proto == P_SIO) {
            n = snprintf(req, sizeof req,
                         "GET /socket.io/1/xhr-polling/%s?t=%u HTTP/1.1\r\nHost: %s:%d\r\n\r\n",
                         c->sid, c->ps->t++, host, o.port);
        } else {
            n = snprintf(req, sizeof req, "GET %s%s HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s%s%s%s\r\n",
                         o.sub_path, chan_name(c->chan), host, o.port,
                         c->ps->lastmod[0] ? "If-Modified-Since: " : "", c->ps->lastmod,
                         c->ps->lastmod[0] ? "\r\n" : "",
                         c->ps->etag[0] ? "If-None-Match: " : "", c->ps->etag,
                         c->ps->etag[0] ? "\r\n" : "");
        }
        break;
    case C_POLL_SUB: {
        char body[256];
        int bl = snprintf(body, sizeof body, "3:::{\"type\":\"subscribe\",\"channel\":\"%s\"}",
                          chan_name(c->chan));
        n = snprintf(req, sizeof req,
                     "POST /socket.io/1/xhr-polling/%s?t=%u HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Content-Type: text/plain;charset=UTF-8\r\nContent-Length: %d\r\n\r\n%s",
                     c->sid, c->ps->t++, host, o.port, bl, body);
        break;
    }
    default:
        return -1;
    }
    return send_all(c->fd, req, (size_t)n);
}

static void send_subscribe(struct client *c)
{
    char msg[256];
    int n = snprintf(msg, sizeof msg, "3:::{\"type\":\"subscribe\",\"channel\":\"%s\"}",
                     chan_name(c->chan));
    if (ws_send(c->fd, 1, msg, (size_t)n) != 0) {
        client_fail(c, "subscribe write failed");
        return;
    }
    if (c->chan2 != UINT32_MAX) { /* chat: the group channel too, on the same connection */
        n = snprintf(msg, sizeof msg, "3:::{\"type\":\"subscribe\",\"channel\":\"%s\"}",
                     chan_name(c->chan2));
        if (ws_send(c->fd, 1, msg, (size_t)n) != 0) {
            client_fail(c, "subscribe write failed");
            return;
        }
    }
    c->state = C_OPEN;
    if (W.churn)
        cycle_done(c);
    else
        setup_done(c, 1);
}

/* A benchmark message: the text after "data":" starts with "<seq> <ns> ". */
static void on_message(struct client *c, const char *s, size_t n)
{
    const char *d = memmem(s, n, "\"data\":\"", 8);
    if (!d) {
        W.sh->bad++;
        return;
    }
    d += 8;
    char *e;
    uint64_t seq = strtoull(d, &e, 10);
    int64_t ns = strtoll(e, &e, 10);
    uint32_t *next = e[0] == ' ' && e[1] == 'g' ? &c->next_seq2 : &c->next_seq;
    if (seq == *next) {
        (*next)++;
    } else if (seq < *next) {
        W.sh->dup++;
        return;
    } else {
        W.sh->gaps += seq - *next;
        *next = (uint32_t)seq + 1;
    }
    W.sh->delivered++;
    W.sh->last_ns = W.now;
    bench_hist_add(&W.sh->hist[W.t_mid && ns >= W.t_mid ? 1 : 0], W.now - ns);
}

/* One socket.io packet from the server (WebSocket frame text or polling payload part). */
static void on_sio_packet(struct client *c, const char *s, size_t n)
{
    if (n >= 4 && s[0] == '3' && s[1] == ':') {
        on_message(c, s, n);
    } else if (n >= 3 && s[0] == '2' && s[1] == ':' && s[2] == ':') {
        W.sh->heartbeats++;
        if (c->state == C_OPEN && ws_send(c->fd, 1, "2::", 3) != 0)
            client_fail(c, "heartbeat write failed");
        /* polling: the answer goes in the next POST; our polls are shorter than the
         * heartbeat timeout, and the daemon sends no heartbeats on polling anyway */
    } else if (n >= 3 && s[0] == '1' && s[1] == ':' && s[2] == ':') {
        if (c->state == C_WS_1)
            send_subscribe(c);
    } else if (n >= 1 && (s[0] == '0' || s[0] == '7')) {
        client_fail(c, s[0] == '0' ? "server sent 0:: (disconnect)" : "server sent 7::: (error)");
    } else if (n >= 1 && s[0] == '8') {
        /* noop */
    } else {
        W.sh->bad++;
    }
}

static void on_frame(struct client *c, int opcode, const uint8_t *p, size_t n)
{
    switch (opcode) {
    case 1:
    case 0:
        if (o.proto == P_SIO)
            on_sio_packet(c, (const char *)p, n);
        else
            on_message(c, (const char *)p, n);
        break;
    case 8:
        client_fail(c, "close frame");
        break;
    case 9:
        if (ws_send(c->fd, 10, (const char *)p, n) != 0)
            client_fail(c, "pong write failed");
        break;
    default:
        break;
    }
}

/* Parses whole server frames from P; returns the bytes consumed. */
static size_t ws_parse(struct client *c, const uint8_t *p, size_t n)
{
    size_t off = 0;
    uint32_t gen = c->gen;
    while (n - off >= 2 && c->gen == gen) {
        uint8_t b0 = p[off], b1 = p[off + 1];
        size_t hl = 2;
        uint64_t len = b1 & 0x7f;
        if (len == 126) {
            if (n - off < 4)
                break;
            len = ((uint64_t)p[off + 2] << 8) | p[off + 3];
            hl = 4;
        } else if (len == 127) {
            if (n - off < 10)
                break;
            len = 0;
            for (int i = 0; i < 8; i++)
                len = (len << 8) | p[off + 2 + i];
            hl = 10;
        }
        if (b1 & 0x80)
            hl += 4; /* a masked server frame: wrong, but skip it whole */
        if (len > (1u << 24)) {
            client_fail(c, "frame too large");
            return n;
        }
        if (n - off < hl + len)
            break;
        on_frame(c, b0 & 0x0f, p + off + hl, (size_t)len);
        off += hl + (size_t)len;
    }
    return off;
}

/* ---- HTTP answers (handshake, long polls) ---------------------------------------------- */

static int hp_on_body(http_parser *hp, const char *at, size_t len)
{
    carry_append(hp->data, at, len);
    return 0;
}

static int hp_on_header_field(http_parser *hp, const char *at, size_t len)
{
    struct client *c = hp->data;
    struct pollstate *ps = c->ps;
    if (ps->in_value) { /* a new field begins */
        ps->in_value = 0;
        ps->hfield[0] = '\0';
        ps->hkind = 0;
    }
    size_t l = strlen(ps->hfield);
    if (l + len < sizeof ps->hfield) {
        memcpy(ps->hfield + l, at, len);
        ps->hfield[l + len] = '\0';
    }
    return 0;
}

static int hp_on_header_value(http_parser *hp, const char *at, size_t len)
{
    struct client *c = hp->data;
    struct pollstate *ps = c->ps;
    if (!ps->in_value) {
        ps->in_value = 1;
        if (strcasecmp(ps->hfield, "Last-Modified") == 0) {
            ps->hkind = 1;
            ps->lastmod[0] = '\0';
        } else if (strcasecmp(ps->hfield, "Etag") == 0) {
            ps->hkind = 2;
            ps->etag[0] = '\0';
        } else {
            ps->hkind = 3;
        }
    }
    char *dst = ps->hkind == 1 ? ps->lastmod : ps->hkind == 2 ? ps->etag : NULL;
    if (dst) {
        size_t l = strlen(dst);
        if (l + len < sizeof ps->lastmod) {
            memcpy(dst + l, at, len);
            dst[l + len] = '\0';
        }
    }
    return 0;
}

static int hp_on_headers_complete(http_parser *hp)
{
    struct client *c = hp->data;
    c->ps->in_value = 1; /* the next message's first field starts afresh */
    return 0;
}

static int hp_on_message_complete(http_parser *hp)
{
    struct client *c = hp->data;
    c->ps->complete = 1;
    return 0;
}

/* A complete xhr-polling answer: one packet, or several framed with U+FFFD<len>U+FFFD. */
static void on_poll_body(struct client *c, const char *s, size_t n)
{
    if (o.proto == P_WS) {
        if (n > 0)
            on_message(c, s, n);
        return;
    }
    if (n < 3 || memcmp(s, UFFFD, 3) != 0) {
        on_sio_packet(c, s, n);
        return;
    }
    size_t off = 0;
    uint32_t gen = c->gen;
    while (off + 3 <= n && memcmp(s + off, UFFFD, 3) == 0 && c->gen == gen) {
        char *e;
        unsigned long len = strtoul(s + off + 3, &e, 10);
        size_t p = (size_t)(e - s);
        if (p + 3 > n || memcmp(s + p, UFFFD, 3) != 0 || p + 3 + len > n)
            break;
        on_sio_packet(c, s + p + 3, len); /* our packets are ASCII: chars == bytes */
        off = p + 3 + len;
    }
}

/* An HTTP answer arrived completely for client C in state STATE. */
static void on_http_answer(struct client *c)
{
    int status = c->ps->hp.status_code;
    switch (c->state) {
    case C_HS_RESP: {
        if (status != 200) {
            client_fail(c, "handshake answer not 200");
            return;
        }
        size_t i = 0;
        while (i < c->clen && i < sizeof c->sid - 1 && c->carry[i] != ':') {
            c->sid[i] = c->carry[i];
            i++;
        }
        c->sid[i] = '\0';
        c->clen = 0;
        if (o.mode == M_POLL) {
            c->state = C_POLL_1;
            if (send_request(c) != 0)
                client_fail(c, "poll write failed");
            return;
        }
        /* the WebSocket goes on a new connection, as browsers do; this one is closed */
        client_close(c);
        if (open_conn(c, C_WS_CONN) != 0)
            client_fail(c, strerror(errno));
        return;
    }
    case C_POLL_1:
        if (status != 200 || c->clen < 3 || memcmp(c->carry, "1::", 3) != 0) {
            client_fail(c, "first poll did not answer 1::");
            return;
        }
        c->clen = 0;
        c->state = C_POLL_SUB;
        if (send_request(c) != 0)
            client_fail(c, "post write failed");
        return;
    case C_POLL_SUB:
        if (status != 200) {
            client_fail(c, "subscribe POST not 200");
            return;
        }
        c->clen = 0;
        c->state = C_POLL_WAIT;
        if (send_request(c) != 0) {
            client_fail(c, "poll write failed");
            return;
        }
        if (W.churn)
            cycle_done(c);
        else
            setup_done(c, 1);
        return;
    case C_POLL_WAIT:
        if (status == 200) {
            on_poll_body(c, c->carry, c->clen);
        } else if (status != 304 && status != 408) {
            client_fail(c, "poll answer not 200");
            return;
        }
        if (c->fd < 0)
            return;
        c->clen = 0;
        if (send_request(c) != 0)
            client_fail(c, "poll write failed");
        return;
    default:
        return;
    }
}

static void http_read(struct client *c, const uint8_t *p, size_t n)
{
    /* one request is outstanding per connection, so a read holds at most one answer */
    http_parser_execute(&c->ps->hp, &hp_settings, (const char *)p, n);
    if (HTTP_PARSER_ERRNO(&c->ps->hp) != HPE_OK) {
        client_fail(c, http_errno_description(HTTP_PARSER_ERRNO(&c->ps->hp)));
        return;
    }
    if (c->ps->complete) {
        c->ps->complete = 0;
        on_http_answer(c);
    }
}

/* Bytes for a client waiting for "101 Switching Protocols": the head is kept in carry
 * until complete; what follows it is frames. */
static void upgrade_read(struct client *c, const uint8_t *p, size_t n)
{
    carry_append(c, p, n);
    char *end = memmem(c->carry, c->clen, "\r\n\r\n", 4);
    if (!end) {
        if (c->clen > 8192)
            client_fail(c, "no end of the 101 head");
        return;
    }
    size_t head = (size_t)(end - c->carry) + 4;
    if (c->clen < 12 || memcmp(c->carry + 9, "101", 3) != 0 ||
        !memmem(c->carry, head, WS_ACCEPT, sizeof WS_ACCEPT - 1)) {
        client_fail(c, "upgrade refused");
        return;
    }
    size_t rest = c->clen - head;
    uint8_t stackbuf[4096];
    uint8_t *tmp = rest <= sizeof stackbuf ? stackbuf : malloc(rest);
    if (!tmp)
        die("out of memory");
    memcpy(tmp, c->carry + head, rest);
    c->clen = 0;
    if (o.proto == P_SIO) {
        c->state = C_WS_1;
    } else {
        c->state = C_OPEN;
        if (W.churn) {
            cycle_done(c);
            rest = 0;
        } else {
            setup_done(c, 1);
        }
    }
    if (rest > 0) {
        uint32_t gen = c->gen;
        size_t used = ws_parse(c, tmp, rest);
        if (c->gen == gen && used < rest)
            carry_set(c, tmp + used, rest - used);
    }
    if (tmp != stackbuf)
        free(tmp);
}

static void client_readable(struct client *c)
{
    uint32_t gen = c->gen;
    for (int round = 0; round < 8 && c->gen == gen; round++) {
        uint8_t *buf = W.rbuf;
        size_t have = 0;
        int ws = c->state == C_OPEN || c->state == C_WS_1;
        if (ws && c->clen) {
            memcpy(buf, c->carry, c->clen);
            have = c->clen;
        }
        ssize_t n = read(c->fd, buf + have, RBUF_SIZE - have);
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                return;
            client_fail(c, strerror(errno));
            return;
        }
        if (n == 0) {
            client_fail(c, "EOF");
            return;
        }
        W.now = bench_now_ns();
        if (ws) {
            size_t total = have + (size_t)n;
            c->clen = 0;
            size_t used = ws_parse(c, buf, total);
            if (c->gen == gen && used < total)
                carry_set(c, buf + used, total - used);
        } else if (c->state == C_WS_101) {
            upgrade_read(c, buf, (size_t)n);
        } else {
            http_read(c, buf, (size_t)n);
        }
        if ((size_t)n < RBUF_SIZE - have)
            return;
    }
}

static void client_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    struct client *c = w->data;
    if (revents & EV_WRITE) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) {
            client_fail(c, strerror(err));
            return;
        }
        watch(c, EV_READ);
        if (c->state == C_HS_CONN || (c->state == C_POLL_WAIT && !c->ps)) {
            c->ps = ps_new(c);
        }
        if (send_request(c) != 0) {
            client_fail(c, "request write failed");
            return;
        }
        if (c->state == C_HS_CONN)
            c->state = C_HS_RESP;
        else if (c->state == C_WS_CONN)
            c->state = C_WS_101;
        else if (c->state == C_POLL_WAIT && !W.churn && !c->counted_open)
            setup_done(c, 1); /* Nchan long-poll: subscribed once the GET is held */
        return;
    }
    if (revents & EV_READ)
        client_readable(c);
}

static void churn_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    for (uint32_t i = 0; i < W.ncl; i++)
        if (W.cl[i].state == C_DEAD && W.cl[i].fd < 0)
            client_start(&W.cl[i]);
}

static void worker_cmd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    struct cmd cmd;
    ssize_t n = read(w->fd, &cmd, sizeof cmd);
    if (n != (ssize_t)sizeof cmd) {
        ev_break(loop, EVBREAK_ALL); /* the parent went away */
        return;
    }
    switch (cmd.op) {
    case CMD_CONNECT:
        W.target = (uint32_t)cmd.a;
        fill_setup();
        break;
    case CMD_CHURN:
        W.churn = 1;
        for (uint32_t i = 0; i < W.ncl; i++)
            client_start(&W.cl[i]);
        ev_timer_init(&W.churn_timer, churn_timer_cb, 0.02, 0.02);
        ev_timer_start(loop, &W.churn_timer);
        break;
    case CMD_STALL:
        for (uint32_t i = 0; i < W.ncl; i++)
            if (W.cl[i].stalled && W.cl[i].fd >= 0)
                ev_io_stop(loop, &W.cl[i].io);
        break;
    case CMD_MARK:
        W.t_mid = cmd.b;
        W.sh->cpu_ns = bench_self_cpu_ns();
        W.sh->mark = cmd.a;
        break;
    case CMD_END: {
        /* every message published to a client's channel(s) and not received is lost */
        uint64_t lost = 0;
        for (uint32_t i = 0; i < W.ncl; i++) {
            struct client *c = &W.cl[i];
            if (!c->counted_open || c->stalled || W.churn)
                continue;
            uint64_t want = chan_pub[c->chan];
            if (c->next_seq < want)
                lost += want - c->next_seq;
            if (c->chan2 != UINT32_MAX && c->next_seq2 < chan_pub[c->chan2])
                lost += chan_pub[c->chan2] - c->next_seq2;
        }
        W.sh->lost = lost;
        W.sh->cpu_ns = bench_self_cpu_ns();
        W.sh->done = 1;
        ev_break(loop, EVBREAK_ALL);
        break;
    }
    default:
        break;
    }
}

static void worker_main(int wi, int cmd_fd, uint32_t total)
{
    W.wi = wi;
    W.sh = &shared[wi];
    W.cmd_fd = cmd_fd;
    W.loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
    W.rbuf = malloc(RBUF_SIZE);
    uint32_t seed = (uint32_t)getpid() * 2654435761u;
    for (int i = 0; i < 4; i++)
        W.mask[i] = (uint8_t)(seed >> (8 * i)) | 1;
    /* clients i with i % workers == wi belong here, in increasing order */
    for (uint32_t i = (uint32_t)wi; i < total; i += (uint32_t)o.workers)
        W.ncl++;
    W.cl = calloc(W.ncl ? W.ncl : 1, sizeof *W.cl);
    if (!W.cl || !W.rbuf || !W.loop)
        die("worker %d: out of memory", wi);
    uint32_t k = 0;
    for (uint32_t i = (uint32_t)wi; i < total; i += (uint32_t)o.workers, k++) {
        struct client *c = &W.cl[k];
        c->fd = -1;
        c->idx = i;
        c->chan2 = UINT32_MAX;
        if (o.mode == M_CHAT) {
            /* user i: private channel i, group channel n + i % groups */
            c->chan = i;
            c->chan2 = (uint32_t)o.n + i % (uint32_t)o.groups;
        } else if (o.mode == M_SLOW) {
            /* readers on channel 0; the stalled clients on channel 1, fed big messages */
            c->stalled = i < (uint32_t)o.stalled;
            c->chan = c->stalled ? 1 : 0;
        } else {
            c->chan = o.channels > 0 ? i % (uint32_t)o.channels : 0;
        }
    }
    ev_io_init(&W.cmd_io, worker_cmd_cb, cmd_fd, EV_READ);
    ev_io_start(W.loop, &W.cmd_io);
    ev_run(W.loop, 0);
    _exit(0);
}

/* ---- parent: publishing ------------------------------------------------------------- */

static struct parent {
    struct ev_loop *loop;
    int cmd_fd[MAX_WORKERS];
    pid_t pid[MAX_WORKERS];
    redisAsyncContext *rc;
    int redis_up;
    /* HTTP publisher (Nchan): one keep-alive connection, requests pipelined in order */
    int hfd;
    ev_io hio;
    char *hout;
    size_t hlen, hcap, hoff;
    http_parser hp;
    /* counters */
    uint64_t published, acked, pub_errors;
    uint64_t group_published;  /* chat: of them to group channels */
    uint64_t *chan_seq;
    int64_t t_first_pub, t_last_ack;
    ev_timer tick;
    ev_timer rate_timer;
    int64_t rate_t0;
    uint64_t rate_target;
} P;

static void redis_connect_cb(const redisAsyncContext *ac, int status)
{
    (void)ac;
    if (status != REDIS_OK)
        die("cannot connect to Redis on port %d", o.redis_port);
    P.redis_up = 1;
}

static void redis_disconnect_cb(const redisAsyncContext *ac, int status)
{
    (void)ac;
    (void)status;
    P.redis_up = 0;
    P.rc = NULL;
}

static void pub_ack(int ok)
{
    P.acked++;
    if (!ok)
        P.pub_errors++;
    P.t_last_ack = bench_now_ns();
}

static void redis_reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
    (void)ac;
    (void)priv;
    redisReply *reply = r;
    pub_ack(reply && reply->type == REDIS_REPLY_INTEGER);
}

static void hout_append(const char *s, size_t n)
{
    if (P.hlen + n > P.hcap) {
        P.hcap = (P.hlen + n) * 2 + 65536;
        P.hout = realloc(P.hout, P.hcap);
        if (!P.hout)
            die("out of memory");
    }
    memcpy(P.hout + P.hlen, s, n);
    P.hlen += n;
}

static int pubhp_on_message_complete(http_parser *hp)
{
    pub_ack(hp->status_code >= 200 && hp->status_code < 300);
    return 0;
}

static http_parser_settings pub_settings;

static void http_pub_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)w;
    if (revents & EV_READ) {
        char buf[65536];
        for (;;) {
            ssize_t n = read(P.hfd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            if (n <= 0)
                die("HTTP publisher: connection closed by the server");
            http_parser_execute(&P.hp, &pub_settings, buf, (size_t)n);
            if (HTTP_PARSER_ERRNO(&P.hp) != HPE_OK)
                die("HTTP publisher: %s", http_errno_description(HTTP_PARSER_ERRNO(&P.hp)));
            if ((size_t)n < sizeof buf)
                break;
        }
    }
    if (revents & EV_WRITE) {
        while (P.hoff < P.hlen) {
            ssize_t n = write(P.hfd, P.hout + P.hoff, P.hlen - P.hoff);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            if (n <= 0)
                die("HTTP publisher: write: %s", strerror(errno));
            P.hoff += (size_t)n;
        }
        if (P.hoff == P.hlen) {
            P.hoff = P.hlen = 0;
            ev_io_stop(P.loop, &P.hio);
            ev_io_set(&P.hio, P.hfd, EV_READ);
            ev_io_start(P.loop, &P.hio);
        }
    }
}

static void publisher_open(void)
{
    if (o.pub == PUB_REDIS) {
        P.rc = redisAsyncConnect("127.0.0.1", o.redis_port);
        if (!P.rc || P.rc->err)
            die("redis: %s", P.rc ? P.rc->errstr : "out of memory");
        redisLibevAttach(P.loop, P.rc);
        redisAsyncSetConnectCallback(P.rc, redis_connect_cb);
        redisAsyncSetDisconnectCallback(P.rc, redis_disconnect_cb);
    } else {
        P.hfd = bench_connect(o.pub_port ? o.pub_port : o.port, 0);
        if (P.hfd < 0)
            die("HTTP publisher: connect: %s", strerror(errno));
        memset(&pub_settings, 0, sizeof pub_settings);
        pub_settings.on_message_complete = pubhp_on_message_complete;
        http_parser_init(&P.hp, HTTP_RESPONSE);
        ev_io_init(&P.hio, http_pub_read_cb, P.hfd, EV_READ | EV_WRITE);
        ev_io_start(P.loop, &P.hio);
    }
}

/* Publishes the next message of channel CH, SIZE bytes as a WebSocket frame. */
static void publish_one(uint32_t ch, size_t size)
{
    static char data[70000], msg[71000];
    const char *name = chan_name(ch);
    size_t chlen = strlen(name);
    int64_t now = bench_now_ns();
    if (P.published == 0)
        P.t_first_pub = now;
    int group = o.mode == M_CHAT && ch >= (uint32_t)o.n;
    make_data(data, sizeof data, P.chan_seq[ch]++, now, chlen, size, group);
    P.published++;
    if (group)
        P.group_published++;
    if (o.pub == PUB_REDIS) {
        int n = snprintf(msg, sizeof msg, "{\"channels\":[\"%s\"],\"data\":\"%s\"}", name, data);
        if (!P.rc)
            die("Redis connection lost");
        redisAsyncCommand(P.rc, redis_reply_cb, NULL, "PUBLISH %s %b", o.redis_channel, msg,
                          (size_t)n);
    } else {
        int bl = snprintf(msg, sizeof msg, "{\"data\":\"%s\",\"channel\":\"%s\"}", data, name);
        char head[512];
        int hl = snprintf(head, sizeof head,
                          "POST %s%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n"
                          "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n",
                          o.pub_path, name, bl);
        int was_empty = P.hlen == 0;
        hout_append(head, (size_t)hl);
        hout_append(msg, (size_t)bl);
        if (was_empty) {
            ev_io_stop(P.loop, &P.hio);
            ev_io_set(&P.hio, P.hfd, EV_READ | EV_WRITE);
            ev_io_start(P.loop, &P.hio);
        }
    }
}

static uint32_t next_channel(void)
{
    if (o.mode == M_CHAT) { /* alternately a private channel and a group, round robin */
        uint64_t k = P.published / 2;
        if (P.published % 2 == 0)
            return (uint32_t)(k % (uint64_t)o.n);
        return (uint32_t)o.n + (uint32_t)(k % (uint64_t)o.groups);
    }
    return o.channels > 1 ? (uint32_t)(P.published % (uint64_t)o.channels) : 0;
}

static void rate_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    double el = (double)(bench_now_ns() - P.rate_t0) / 1e9;
    uint64_t due = (uint64_t)(el * o.rate) + 1;
    if (due > P.rate_target)
        due = P.rate_target;
    if (o.mode == M_SLOW) {
        /* readers' channel 0 at o.rate, stalled clients' channel 1 at o.stall_rate */
        while (P.chan_seq[0] < due)
            publish_one(0, (size_t)o.size);
        uint64_t due1 = (uint64_t)(el * o.stall_rate) + 1;
        uint64_t max1 = (uint64_t)(o.stall_rate * o.duration);
        while (P.chan_seq[1] < (due1 < max1 ? due1 : max1))
            publish_one(1, (size_t)o.stall_size);
        return;
    }
    while (P.published < due)
        publish_one(next_channel(), (size_t)o.size);
}

static void tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
}

/* Runs the loop for up to SECS or until COND returns true (checked every few ms). */
static int pump(double secs, int (*cond)(void))
{
    int64_t end = bench_now_ns() + (int64_t)(secs * 1e9);
    while (bench_now_ns() < end) {
        if (cond && cond())
            return 1;
        ev_run(P.loop, EVRUN_ONCE);
    }
    return cond ? cond() : 0;
}

/* ---- parent: workers and results ------------------------------------------------------ */

static void send_cmd(int w, int op, int64_t a, int64_t b)
{
    struct cmd c = {.op = op, .a = a, .b = b};
    if (write(P.cmd_fd[w], &c, sizeof c) != (ssize_t)sizeof c)
        die("worker %d: command pipe: %s", w, strerror(errno));
}

static uint64_t sum_field(size_t off)
{
    uint64_t s = 0;
    for (int i = 0; i < o.workers; i++)
        s += *(volatile uint64_t *)((char *)&shared[i] + off);
    return s;
}
#define SUM(f) sum_field(offsetof(struct wshared, f))

static int64_t mark_seq;
static int64_t workers_cpu_at_mark(int64_t t_mid)
{
    mark_seq++;
    for (int i = 0; i < o.workers; i++)
        send_cmd(i, CMD_MARK, mark_seq, t_mid);
    int64_t end = bench_now_ns() + 2000000000;
    for (int i = 0; i < o.workers; i++)
        while (shared[i].mark != mark_seq && bench_now_ns() < end)
            ev_run(P.loop, EVRUN_ONCE);
    int64_t s = 0;
    for (int i = 0; i < o.workers; i++)
        s += shared[i].cpu_ns;
    return s;
}

static uint64_t want_ready;
static int setup_finished(void) { return SUM(open) + SUM(failed) >= want_ready; }

static int64_t ready_base = -1;
static int64_t ready_count(void)
{
    if (!o.ready_path || !o.ready_key)
        return -1;
    char buf[16384];
    if (bench_http_get(o.port, o.ready_path, buf, sizeof buf) < 0)
        return -1;
    return bench_find_num(buf, o.ready_key);
}

static int64_t ready_target;
static int64_t last_ready_check;
static int server_ready(void)
{
    if (ready_target <= 0)
        return 1;
    int64_t now = bench_now_ns();
    if (now - last_ready_check < 100000000)
        return 0;
    last_ready_check = now;
    return ready_count() >= ready_target;
}

/* Connects clients until TOTAL have been started (in the workers' order), waits for them
 * to be subscribed, then for the server to count them. */
static void connect_clients(uint32_t total, uint32_t subscribers)
{
    for (int i = 0; i < o.workers; i++) {
        uint32_t mine = 0;
        for (uint32_t k = (uint32_t)i; k < total; k += (uint32_t)o.workers)
            mine++;
        send_cmd(i, CMD_CONNECT, mine, 0);
    }
    want_ready = total;
    if (!pump(120, setup_finished))
        note("setup: only %llu of %u clients subscribed after 120 s",
             (unsigned long long)SUM(open), total);
    if (ready_base >= 0) {
        ready_target = ready_base + (int64_t)(subscribers < SUM(open) ? subscribers : SUM(open));
        if (!pump(60, server_ready))
            note("server counts %lld subscribers, expected %lld", (long long)ready_count(),
                 (long long)ready_target);
    }
}

static uint64_t expected_deliveries(void)
{
    /* every subscribed reader gets every message of its channel */
    if (o.mode == M_SLOW) /* only the readers' channel 0 counts */
        return P.chan_seq[0] * (SUM(open) - (uint64_t)o.stalled);
    uint64_t readers = SUM(open);
    if (o.mode == M_CHAT) /* 1 reader per private channel, readers / groups per group */
        return P.published - P.group_published +
               P.group_published * (readers / (uint64_t)o.groups);
    if (o.channels <= 1)
        return P.published * readers;
    return P.published * readers / (uint64_t)o.channels; /* n a multiple of channels */
}

static uint64_t last_delivered;
static int64_t last_progress;
static double stall_timeout = 3.0;
static int deliveries_done(void)
{
    uint64_t d = SUM(delivered);
    int64_t now = bench_now_ns();
    if (d != last_delivered) {
        last_delivered = d;
        last_progress = now;
    }
    if (P.published > 0 && d >= expected_deliveries() && P.acked >= P.published)
        return 1;
    return now - last_progress > (int64_t)(stall_timeout * 1e9);
}

static int redis_is_up(void) { return P.redis_up; }
static int all_acked(void) { return P.acked >= P.published; }

/* perf stat over the server for the write-family system calls (optional, --perf) */
static pid_t perf_pid;
static char perf_out[64];
static const char *perf_events =
    "syscalls:sys_enter_write,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,"
    "syscalls:sys_enter_sendmsg,syscalls:sys_enter_sendmmsg,syscalls:sys_enter_io_uring_enter";
static void perf_start(void)
{
    if (!o.perf || o.server_pid <= 0)
        return;
    snprintf(perf_out, sizeof perf_out, "/tmp/loadgen-perf.%d", (int)getpid());
    perf_pid = fork();
    if (perf_pid == 0) {
        char pid[16];
        snprintf(pid, sizeof pid, "%d", o.server_pid);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("perf", "perf", "stat", "-x", ",", "-o", perf_out, "-e", perf_events, "-p", pid,
               (char *)NULL);
        _exit(127);
    }
    pump(0.3, NULL); /* let perf attach */
}

static int64_t perf_stop(void)
{
    if (perf_pid <= 0)
        return -1;
    kill(perf_pid, SIGINT);
    int st;
    waitpid(perf_pid, &st, 0);
    perf_pid = 0;
    FILE *f = fopen(perf_out, "r");
    if (!f)
        return -1;
    char line[512];
    int64_t total = 0;
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] < '0' || line[0] > '9')
            continue;
        total += strtoll(line, NULL, 10);
        seen++;
    }
    fclose(f);
    unlink(perf_out);
    return seen ? total : -1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* How many stalled clients the server still holds: its side of their connections in
 * /proc/net/tcp, ESTABLISHED. A client cannot see the server's close by itself: the FIN
 * waits behind the data the kernel still queues for it, and with a tiny receive buffer
 * that trickles. A socket the server closed is FIN_WAIT1 (or gone, after a reset). */
static int64_t stalled_established(void)
{
    uint64_t *set = malloc(sizeof *set * (size_t)o.stalled);
    if (!set)
        return -1;
    memcpy(set, stalled_ep, sizeof *set * (size_t)o.stalled);
    qsort(set, (size_t)o.stalled, sizeof *set, cmp_u64);
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f) {
        free(set);
        return -1;
    }
    char line[512];
    int64_t n = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned lip, lport, rip, rport, st;
        if (sscanf(line, " %*d: %8X:%4X %8X:%4X %2X", &lip, &lport, &rip, &rport, &st) != 5)
            continue;
        if (lport != (unsigned)o.port || st != 0x01)
            continue;
        uint64_t key = ((uint64_t)rip << 16) | rport;
        if (bsearch(&key, set, (size_t)o.stalled, sizeof *set, cmp_u64))
            n++;
    }
    fclose(f);
    free(set);
    return n;
}

static void out_kv(const char *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_kv(const char *k, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%s=", k);
    vprintf(fmt, ap);
    putchar(' ');
    va_end(ap);
}

static void print_stats_keys(void)
{
    if (!o.stats_path || !o.stats_keys)
        return;
    char buf[16384];
    if (bench_http_get(o.port, o.stats_path, buf, sizeof buf) < 0)
        return;
    char keys[512];
    snprintf(keys, sizeof keys, "%s", o.stats_keys);
    for (char *save = NULL, *k = strtok_r(keys, ",", &save); k; k = strtok_r(NULL, ",", &save))
        out_kv(k, "%lld", (long long)bench_find_num(buf, k));
}

/* Redis's own count of the commands it ran, per command (INFO commandstats), to tell how
 * many a churn cycle costs. A blocking connection of its own; n = 0 when Redis is not
 * reachable. */
#define MAX_CMDSTATS 64
struct cmdstats {
    int n;
    char name[MAX_CMDSTATS][40];
    uint64_t calls[MAX_CMDSTATS];
};

static void redis_cmdstats(struct cmdstats *cs)
{
    cs->n = 0;
    struct timeval tv = {2, 0};
    redisContext *rc = redisConnectWithTimeout("127.0.0.1", o.redis_port, tv);
    if (!rc || rc->err) {
        if (rc)
            redisFree(rc);
        return;
    }
    redisReply *r = redisCommand(rc, "INFO commandstats");
    if (r && r->type == REDIS_REPLY_STRING) {
        /* lines "cmdstat_<name>:calls=<n>,usec=..." */
        for (char *line = r->str; line && *line && cs->n < MAX_CMDSTATS;) {
            char *next = strchr(line, '\n');
            unsigned long long calls;
            char name[40];
            if (sscanf(line, "cmdstat_%39[^:]:calls=%llu", name, &calls) == 2) {
                snprintf(cs->name[cs->n], sizeof cs->name[0], "%s", name);
                cs->calls[cs->n++] = calls;
            }
            line = next ? next + 1 : NULL;
        }
    }
    if (r)
        freeReplyObject(r);
    redisFree(rc);
}

static uint64_t cmdstats_calls(const struct cmdstats *cs, const char *name)
{
    for (int i = 0; i < cs->n; i++)
        if (!strcmp(cs->name[i], name))
            return cs->calls[i];
    return 0;
}

/* <per>=X <list>=<name>:<per unit>,... most frequent first: the commands Redis ran between
 * A and B per unit (churn cycle, published message); INFO, the command of this reading
 * itself, left out */
static void print_cmdstats(const struct cmdstats *a, const struct cmdstats *b, uint64_t cycles,
                           const char *per, const char *listkey)
{
    if (a->n == 0 && b->n == 0)
        return;
    uint64_t total = 0, d[MAX_CMDSTATS];
    int idx[MAX_CMDSTATS], n = 0;
    for (int i = 0; i < b->n; i++) {
        d[i] = strcmp(b->name[i], "info") ? b->calls[i] - cmdstats_calls(a, b->name[i]) : 0;
        total += d[i];
        if (d[i] == 0)
            continue;
        int k = n++;
        for (; k > 0 && d[idx[k - 1]] < d[i]; k--)
            idx[k] = idx[k - 1];
        idx[k] = i;
    }
    char list[1024];
    size_t len = 0;
    list[0] = '\0';
    for (int k = 0; k < n; k++) {
        int w = snprintf(list + len, sizeof list - len, "%s%s:%.2f", len ? "," : "",
                         b->name[idx[k]], cycles ? (double)d[idx[k]] / (double)cycles : 0.0);
        if (w > 0 && (size_t)w < sizeof list - len)
            len += (size_t)w;
    }
    out_kv(per, "%.2f", cycles ? (double)total / (double)cycles : 0.0);
    out_kv(listkey, "%s", len ? list : "none");
}

static void finish_workers(void)
{
    for (int i = 0; i < o.workers; i++)
        send_cmd(i, CMD_END, 0, 0);
    for (int i = 0; i < o.workers; i++) {
        int st;
        waitpid(P.pid[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            note("worker %d ended abnormally (status %d)", i, st);
    }
}

static void usage(void)
{
    fprintf(stderr,
"usage: loadgen [options]    (bench/README.md)\n"
"  --proto sio|ws        juggernautd (socket.io 1) or plain WebSocket/long-poll (Nchan)\n"
"  --mode fanout|channels|idle|churn|poll|slow|chat\n"
"  --port N              server port (127.0.0.1)\n"
"  -n N                  clients (idle/poll with --step1: the second measuring point)\n"
"  --channels C          channels (client i subscribes to channel i %% C)\n"
"  --groups G            chat: user i is on private channel i and group i %% G; messages\n"
"                        alternate between the two kinds (Nchan: --msub-path <a>/<b>)\n"
"  --workers W           receiving processes (default: 1 per 8000 clients, at least 2)\n"
"  --burst M | --rate R  publish M messages at once, or R messages/s for --duration s\n"
"  --bursts K            K bursts of M, each delivered completely before the next\n"
"  --duration S          rate/churn/slow duration (default 5)\n"
"  --size B              WebSocket frame size of a message (default 100)\n"
"  --pub redis|http      publish with Redis PUBLISH (--redis-port) or HTTP POST\n"
"  --redis-port N --redis-channel NAME --pub-port N --pub-path P --sub-path P\n"
"  --server-pid PID      read CPU, write syscalls and memory of this process\n"
"  --ready PATH:KEY      GET PATH; wait until the number after KEY counts the clients\n"
"  --step1 N             idle/poll: measure memory at N clients, then at -n\n"
"  --stalled S           slow: S more clients that stop reading (SO_RCVBUF --stall-rcvbuf),\n"
"                        on their own channel fed --stall-rate msg/s of --stall-size bytes\n"
"  --concurrency K       churn: clients cycling at once\n"
"  --stats PATH --stats-keys a,b   print these numbers from PATH at the end\n"
"  --cpu N               pin the load generator to CPU N\n"
"  --perf                count the server's write-family syscalls with perf stat too\n"
"  --tag T               channel name prefix (default: the pid)\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"proto", 1, 0, 'p'}, {"mode", 1, 0, 'm'}, {"port", 1, 0, 'P'}, {"channels", 1, 0, 'c'},
        {"workers", 1, 0, 'w'}, {"burst", 1, 0, 'b'}, {"rate", 1, 0, 'r'},
        {"duration", 1, 0, 'd'}, {"size", 1, 0, 's'}, {"pub", 1, 0, 1},
        {"redis-port", 1, 0, 2}, {"redis-channel", 1, 0, 3}, {"pub-port", 1, 0, 4},
        {"pub-path", 1, 0, 5}, {"sub-path", 1, 0, 6}, {"server-pid", 1, 0, 7},
        {"ready", 1, 0, 8}, {"step1", 1, 0, 9}, {"stalled", 1, 0, 10},
        {"stall-rcvbuf", 1, 0, 11}, {"concurrency", 1, 0, 12}, {"stats", 1, 0, 13},
        {"stats-keys", 1, 0, 14}, {"cpu", 1, 0, 15}, {"perf", 0, 0, 16}, {"tag", 1, 0, 17},
        {"inflight", 1, 0, 18}, {"settle", 1, 0, 19}, {"stall-rate", 1, 0, 20},
        {"stall-size", 1, 0, 21}, {"bursts", 1, 0, 22}, {"groups", 1, 0, 23},
        {"msub-path", 1, 0, 24}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'p':
            o.proto = strcmp(optarg, "ws") == 0 ? P_WS : P_SIO;
            break;
        case 'm':
            if (!strcmp(optarg, "fanout")) o.mode = M_FANOUT;
            else if (!strcmp(optarg, "channels")) o.mode = M_CHANNELS;
            else if (!strcmp(optarg, "idle")) o.mode = M_IDLE;
            else if (!strcmp(optarg, "churn")) o.mode = M_CHURN;
            else if (!strcmp(optarg, "poll")) o.mode = M_POLL;
            else if (!strcmp(optarg, "slow")) o.mode = M_SLOW;
            else if (!strcmp(optarg, "chat")) o.mode = M_CHAT;
            else usage();
            break;
        case 'P': o.port = atoi(optarg); break;
        case 'n': o.n = atoi(optarg); break;
        case 'c': o.channels = atoi(optarg); break;
        case 'w': o.workers = atoi(optarg); break;
        case 'b': o.burst = atol(optarg); break;
        case 'r': o.rate = atof(optarg); break;
        case 'd': o.duration = atof(optarg); break;
        case 's': o.size = atoi(optarg); break;
        case 1: o.pub = strcmp(optarg, "http") == 0 ? PUB_HTTP : PUB_REDIS; break;
        case 2: o.redis_port = atoi(optarg); break;
        case 3: o.redis_channel = optarg; break;
        case 4: o.pub_port = atoi(optarg); break;
        case 5: o.pub_path = optarg; break;
        case 6: o.sub_path = optarg; break;
        case 7: o.server_pid = atoi(optarg); break;
        case 8: {
            char *colon = strrchr(optarg, ':');
            if (!colon)
                usage();
            *colon = '\0';
            o.ready_path = optarg;
            o.ready_key = colon + 1;
            break;
        }
        case 9: o.step1 = atoi(optarg); break;
        case 10: o.stalled = atoi(optarg); break;
        case 11: o.stall_rcvbuf = atoi(optarg); break;
        case 12: o.concurrency = atoi(optarg); break;
        case 13: o.stats_path = optarg; break;
        case 14: o.stats_keys = optarg; break;
        case 15: o.cpu = atoi(optarg); break;
        case 16: o.perf = 1; break;
        case 17: snprintf(o.tag, sizeof o.tag, "%s", optarg); break;
        case 18: o.inflight = atoi(optarg); break;
        case 19: o.settle = atof(optarg); break;
        case 20: o.stall_rate = atof(optarg); break;
        case 21: o.stall_size = atoi(optarg); break;
        case 22: o.bursts = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 23: o.groups = atoi(optarg); break;
        case 24: o.msub_path = optarg; break;
        default: usage();
        }
    }
    if (!o.tag[0])
        snprintf(o.tag, sizeof o.tag, "%d", (int)getpid());
    if (o.mode == M_FANOUT || o.mode == M_SLOW || o.mode == M_IDLE)
        o.channels = 1;
    if (o.mode == M_CHAT) {
        if (o.groups < 1 || o.n % o.groups != 0)
            die("chat: -n must be a multiple of --groups");
        o.channels = o.n + o.groups; /* private channels 0..n-1, then the groups */
    }
    if (o.channels < 1)
        o.channels = 1;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    bench_pin_cpu(o.cpu);
    memset(&hp_settings, 0, sizeof hp_settings);
    hp_settings.on_body = hp_on_body;
    hp_settings.on_header_field = hp_on_header_field;
    hp_settings.on_header_value = hp_on_header_value;
    hp_settings.on_headers_complete = hp_on_headers_complete;
    hp_settings.on_message_complete = hp_on_message_complete;

    uint32_t total = (uint32_t)o.n + (o.mode == M_SLOW ? (uint32_t)o.stalled : 0);
    if (o.mode == M_CHURN)
        total = (uint32_t)o.concurrency;
    if (o.workers <= 0) {
        o.workers = (int)((total + 7999) / 8000);
        if (o.workers < 2)
            o.workers = 2;
    }
    if (o.workers > MAX_WORKERS)
        o.workers = MAX_WORKERS;
    if (total / (uint32_t)o.workers > 19000)
        die("%u clients need more than %d workers (open-file limit)", total, o.workers);

    shared = mmap(NULL, sizeof *shared * (size_t)o.workers, PROT_READ | PROT_WRITE,
                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    memset(shared, 0, sizeof *shared * (size_t)o.workers);
    chan_pub = mmap(NULL, sizeof *chan_pub * ((size_t)o.channels + 1), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (chan_pub == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    stalled_ep = mmap(NULL, sizeof *stalled_ep * (size_t)(o.stalled + 1), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (stalled_ep == MAP_FAILED)
        die("mmap: %s", strerror(errno));
    for (int i = 0; i < o.workers; i++) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0)
            die("pipe: %s", strerror(errno));
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            close(fds[1]);
            for (int k = 0; k < i; k++)
                close(P.cmd_fd[k]);
            worker_main(i, fds[0], total);
        }
        close(fds[0]);
        P.cmd_fd[i] = fds[1];
        P.pid[i] = pid;
    }

    P.loop = EV_DEFAULT;
    ev_timer_init(&P.tick, tick_cb, 0.002, 0.002);
    ev_timer_start(P.loop, &P.tick);
    P.chan_seq = chan_pub;
    ready_base = o.ready_path ? ready_count() : -1;
    if (o.ready_path && ready_base < 0)
        note("cannot read %s from %s: not waiting for the server's count", o.ready_key,
             o.ready_path);

    struct bench_proc s0, s1, m1, m2;
    int64_t t0, t1, lg0, lg1;

    static const char *const mode_names[] = {"fanout", "channels", "idle", "churn", "poll",
                                             "slow", "chat"};
    printf("mode=%s proto=%s ", mode_names[o.mode], o.proto == P_SIO ? "sio" : "ws");

    if (o.mode == M_CHURN) {
        for (int i = 0; i < o.workers; i++)
            send_cmd(i, CMD_CHURN, 0, 0);
        pump(0.5, NULL); /* warm up */
        struct cmdstats *rs = calloc(2, sizeof *rs);
        if (!rs)
            die("out of memory");
        int want_rs = o.proto == P_SIO && o.pub == PUB_REDIS;
        if (want_rs)
            redis_cmdstats(&rs[0]);
        uint64_t c0 = SUM(cycles), f0 = SUM(failed);
        lg0 = workers_cpu_at_mark(0) + bench_self_cpu_ns();
        bench_proc_read(o.server_pid, &s0);
        t0 = bench_now_ns();
        pump(o.duration, NULL);
        t1 = bench_now_ns();
        bench_proc_read(o.server_pid, &s1);
        uint64_t c1 = SUM(cycles);
        if (want_rs)
            redis_cmdstats(&rs[1]);
        lg1 = workers_cpu_at_mark(0) + bench_self_cpu_ns();
        uint64_t cyc = c1 - c0;
        double secs = (double)(t1 - t0) / 1e9;
        out_kv("cycles", "%llu", (unsigned long long)cyc);
        out_kv("cycles_per_s", "%.0f", (double)cyc / secs);
        out_kv("failed", "%llu", (unsigned long long)(SUM(failed) - f0));
        if (s0.cpu_ns >= 0 && cyc > 0)
            out_kv("srv_cpu_us_per_cycle", "%.2f", (double)(s1.cpu_ns - s0.cpu_ns) / 1e3 / (double)cyc);
        out_kv("srv_cpu_pct", "%.0f", s0.cpu_ns >= 0 ? 100.0 * (double)(s1.cpu_ns - s0.cpu_ns) / (double)(t1 - t0) : -1.0);
        if (s0.wait_ns >= 0)
            out_kv("srv_wait_pct", "%.0f", 100.0 * (double)(s1.wait_ns - s0.wait_ns) / (double)(t1 - t0));
        out_kv("lg_cpu_pct", "%.0f", 100.0 * (double)(lg1 - lg0) / (double)(t1 - t0));
        out_kv("secs", "%.2f", secs);
        print_cmdstats(&rs[0], &rs[1], cyc, "redis_cmds_per_cycle", "redis_cmds");
        finish_workers();
        print_stats_keys();
        putchar('\n');
        return 0;
    }

    if (o.mode == M_IDLE || (o.mode == M_POLL && o.rate <= 0 && o.burst <= 0)) {
        /* memory per connection: a slope between two numbers of clients */
        uint32_t n1 = o.step1 > 0 && o.step1 < o.n ? (uint32_t)o.step1 : 0;
        bench_proc_read(o.server_pid, &m1);
        if (n1 > 0) {
            connect_clients(n1, n1);
            pump(o.settle, NULL);
            bench_proc_read(o.server_pid, &m1);
        }
        connect_clients((uint32_t)o.n, (uint32_t)o.n);
        pump(o.settle, NULL);
        bench_proc_read(o.server_pid, &m2);
        uint64_t open = SUM(open);
        out_kv("n1", "%u", n1);
        out_kv("n2", "%d", o.n);
        out_kv("open", "%llu", (unsigned long long)open);
        out_kv("failed", "%llu", (unsigned long long)SUM(failed));
        out_kv("closed", "%llu", (unsigned long long)SUM(closed));
        out_kv("rss1_kb", "%lld", (long long)m1.rss_kb);
        out_kv("rss2_kb", "%lld", (long long)m2.rss_kb);
        out_kv("pss1_kb", "%lld", (long long)m1.pss_kb);
        out_kv("pss2_kb", "%lld", (long long)m2.pss_kb);
        uint64_t dn = open > n1 ? open - n1 : 1;
        out_kv("rss_per_conn_b", "%.0f", (double)(m2.rss_kb - m1.rss_kb) * 1024.0 / (double)dn);
        out_kv("pss_per_conn_b", "%.0f", (double)(m2.pss_kb - m1.pss_kb) * 1024.0 / (double)dn);
        finish_workers();
        print_stats_keys();
        putchar('\n');
        return 0;
    }

    /* fanout, channels, slow, poll with messages */
    publisher_open();
    if (o.pub == PUB_REDIS)
        pump(5, redis_is_up);
    uint32_t subscribers = (uint32_t)o.n + (o.mode == M_SLOW ? (uint32_t)o.stalled : 0);
    if (o.mode == M_CHAT && o.proto == P_SIO)
        subscribers *= 2; /* juggernautd counts a subscription per channel */
    connect_clients(total, subscribers);
    if (o.pub == PUB_REDIS && !P.redis_up)
        die("Redis did not answer");
    uint64_t open_at_start = SUM(open);
    if (o.mode == M_SLOW) {
        for (int i = 0; i < o.workers; i++)
            send_cmd(i, CMD_STALL, 0, 0);
        pump(0.2, NULL);
    }
    int64_t t_mid = o.mode == M_SLOW ? bench_now_ns() + (int64_t)(o.duration * 0.5e9) : 0;
    /* Redis's commands per published message (juggernautd: the load generator's own PUBLISH
     * is one of them) */
    struct cmdstats *prs = calloc(2, sizeof *prs);
    if (!prs)
        die("out of memory");
    int want_prs = o.proto == P_SIO && o.pub == PUB_REDIS;
    if (want_prs)
        redis_cmdstats(&prs[0]);
    lg0 = workers_cpu_at_mark(t_mid) + bench_self_cpu_ns();
    perf_start();
    bench_proc_read(o.server_pid, &s0);
    int64_t rss_max = s0.rss_kb;
    int64_t active_ns = 0; /* bursts: sum of (last delivery - first publish) per burst */
    t0 = bench_now_ns();
    if (o.burst > 0) {
        for (int b = 0; b < o.bursts; b++) {
            int64_t bs = bench_now_ns();
            for (long i = 0; i < o.burst; i++)
                publish_one(next_channel(), (size_t)o.size);
            last_progress = bench_now_ns();
            stall_timeout = 5.0;
            pump(600, deliveries_done);
            int64_t le = 0;
            for (int i = 0; i < o.workers; i++)
                if (shared[i].last_ns > le)
                    le = shared[i].last_ns;
            active_ns += (le > bs ? le : bench_now_ns()) - bs;
            if (SUM(delivered) < expected_deliveries())
                break; /* something was lost: do not pile up more */
        }
    } else {
        P.rate_t0 = t0;
        P.rate_target = (uint64_t)(o.rate * o.duration);
        if (P.rate_target == 0)
            P.rate_target = 1;
        ev_timer_init(&P.rate_timer, rate_cb, 0, 0.001);
        ev_timer_start(P.loop, &P.rate_timer);
        int64_t end = t0 + (int64_t)(o.duration * 1e9);
        while (bench_now_ns() < end) {
            pump(0.25, NULL);
            struct bench_proc m;
            bench_proc_read(o.server_pid, &m);
            if (m.rss_kb > rss_max)
                rss_max = m.rss_kb;
        }
        ev_timer_stop(P.loop, &P.rate_timer);
        /* stragglers: at most 5 s more (an overloaded server is reported as such: lost) */
        last_progress = bench_now_ns();
        stall_timeout = 1.0;
        pump(5, deliveries_done);
    }
    pump(o.burst > 0 ? 5 : 1, all_acked);
    bench_proc_read(o.server_pid, &s1);
    if (want_prs)
        redis_cmdstats(&prs[1]);
    int64_t sys_writes = perf_stop();
    t1 = bench_now_ns();
    lg1 = workers_cpu_at_mark(t_mid) + bench_self_cpu_ns();
    if (s1.rss_kb > rss_max)
        rss_max = s1.rss_kb;

    int64_t stalled_open = o.mode == M_SLOW ? stalled_established() : -1;
    finish_workers();

    struct bench_hist *h = calloc(2, sizeof *h);
    if (!h)
        die("out of memory");
    int64_t last = 0;
    for (int i = 0; i < o.workers; i++) {
        bench_hist_merge(&h[0], &shared[i].hist[0]);
        bench_hist_merge(&h[1], &shared[i].hist[1]);
        if (shared[i].last_ns > last)
            last = shared[i].last_ns;
    }
    struct bench_hist all = h[0];
    bench_hist_merge(&all, &h[1]);
    uint64_t delivered = SUM(delivered);
    int64_t span = active_ns > 0 ? active_ns : (last > P.t_first_pub ? last : t1) - P.t_first_pub;
    double secs = (double)span / 1e9;
    out_kv("n", "%d", o.n);
    out_kv("channels", "%d", o.channels);
    if (o.mode == M_CHAT) {
        out_kv("groups", "%d", o.groups);
        out_kv("group_published", "%llu", (unsigned long long)P.group_published);
    }
    if (o.burst > 0) {
        out_kv("burst", "%ld", o.burst);
        out_kv("bursts", "%d", o.bursts);
    }
    out_kv("open", "%llu", (unsigned long long)open_at_start);
    out_kv("failed", "%llu", (unsigned long long)SUM(failed));
    out_kv("closed", "%llu", (unsigned long long)SUM(closed));
    out_kv("published", "%llu", (unsigned long long)P.published);
    out_kv("pub_errors", "%llu", (unsigned long long)P.pub_errors);
    out_kv("pub_rate", "%.0f", P.t_last_ack > P.t_first_pub
           ? (double)P.acked / ((double)(P.t_last_ack - P.t_first_pub) / 1e9) : 0.0);
    out_kv("delivered", "%llu", (unsigned long long)delivered);
    out_kv("lost", "%llu", (unsigned long long)SUM(lost));
    out_kv("dup", "%llu", (unsigned long long)SUM(dup));
    out_kv("gaps", "%llu", (unsigned long long)SUM(gaps));
    out_kv("bad", "%llu", (unsigned long long)SUM(bad));
    out_kv("rate", "%.0f", secs > 0 ? (double)delivered / secs : 0.0);
    /* messages (not deliveries) through the whole path per second: in cluster mode what the
     * leader sequenced and the subscribers got */
    out_kv("msg_rate", "%.0f", secs > 0 && delivered > 0 ? (double)P.published / secs : 0.0);
    out_kv("p50_us", "%.0f", (double)bench_hist_quantile(&all, 0.50) / 1e3);
    out_kv("p99_us", "%.0f", (double)bench_hist_quantile(&all, 0.99) / 1e3);
    out_kv("max_us", "%.0f", (double)all.max / 1e3);
    if (delivered > 0 && s0.cpu_ns >= 0) {
        out_kv("srv_cpu_us", "%.3f", (double)(s1.cpu_ns - s0.cpu_ns) / 1e3 / (double)delivered);
        if (s0.syscw >= 0)
            out_kv("srv_writes", "%.3f", (double)(s1.syscw - s0.syscw) / (double)delivered);
        if (sys_writes >= 0)
            out_kv("srv_sys_writes", "%.3f", (double)sys_writes / (double)delivered);
    }
    out_kv("srv_cpu_pct", "%.0f", s0.cpu_ns >= 0 ? 100.0 * (double)(s1.cpu_ns - s0.cpu_ns) / (double)(t1 - t0) : -1.0);
    if (s0.wait_ns >= 0)
        out_kv("srv_wait_pct", "%.0f", 100.0 * (double)(s1.wait_ns - s0.wait_ns) / (double)(t1 - t0));
    out_kv("lg_cpu_pct", "%.0f", 100.0 * (double)(lg1 - lg0) / (double)(t1 - t0));
    out_kv("secs", "%.2f", secs);
    if (o.mode == M_SLOW) {
        out_kv("p50a_us", "%.0f", (double)bench_hist_quantile(&h[0], 0.50) / 1e3);
        out_kv("p99a_us", "%.0f", (double)bench_hist_quantile(&h[0], 0.99) / 1e3);
        out_kv("p50b_us", "%.0f", (double)bench_hist_quantile(&h[1], 0.50) / 1e3);
        out_kv("p99b_us", "%.0f", (double)bench_hist_quantile(&h[1], 0.99) / 1e3);
        out_kv("stalled", "%d", o.stalled);
        /* closed = no longer ESTABLISHED on the server's side (see stalled_established) */
        out_kv("stalled_closed", "%lld", stalled_open >= 0 ? (long long)o.stalled - stalled_open
                                                            : (long long)SUM(stalled_closed));
    }
    /* server RSS when the clients are subscribed, its maximum (sampled 4 times a second in
     * rate/slow runs; burst runs: the larger of start and end) and after the run */
    out_kv("rss_start_kb", "%lld", (long long)s0.rss_kb);
    out_kv("rss_max_kb", "%lld", (long long)rss_max);
    out_kv("rss_end_kb", "%lld", (long long)s1.rss_kb);
    if (want_prs)
        print_cmdstats(&prs[0], &prs[1], P.published, "redis_cmds_per_msg", "redis_cmds_msg");
    print_stats_keys();
    putchar('\n');
    return 0;
}
