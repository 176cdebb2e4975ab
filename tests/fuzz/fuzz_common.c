/* fuzz_common.c: see fuzz_common.h. */
#include "fuzz_common.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/channel.h"
#include "base/config.h"
#include "transport/conn.h"
#include "base/list.h"
#include "base/log.h"
#include "app/router.h"
#include "app/server.h"
#include "transport/endpoint.h"
#include "core/session.h"

#define MAX_SIDS 64

/* ---- deterministic session ids: the link maps getrandom to this (-Wl,--wrap) ---- */

ssize_t __wrap_getrandom(void *buf, size_t len, unsigned int flags);

static uint64_t rnd_counter;   /* calls since fz_begin: one per sid */

ssize_t __wrap_getrandom(void *buf, size_t len, unsigned int flags)
{
    /* splitmix64 of the call number: distinct, fixed bytes for every call */
    uint64_t x = (rnd_counter++ + 1) * 0x9E3779B97F4A7C15ull;
    unsigned char *p = buf;
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0) {
            x += 0x9E3779B97F4A7C15ull;
            uint64_t z = x;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            x = z ^ (z >> 31);
        }
        p[i] = (unsigned char)(x >> (8 * (i % 8)));
    }
    return (ssize_t)len;
}

/* ---- the fixture ---- */

bool fz_cluster_mode;

struct slot {
    struct jg_conn *c;   /* borrowed; NULL once it closed */
    int peer;            /* our end; -1 when none */
};

static struct {
    bool ready;
    struct ev_loop *loop;
    struct jg_config cfg;
    struct jg_server srv;
    char dir[64];
    struct slot slots[FZ_MAX_CONNS];
    unsigned opened;                 /* connections opened during this input */
    char sids[MAX_SIDS][JG_SID_MAX + 1];
    bool sid_known[MAX_SIDS];
    bool dump;                       /* FUZZ_DUMP=1: what the clients read goes to stderr */
} F;

void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant failed: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fz_fail("cannot create %s: %s", path, strerror(errno));
    fputs(text, f);
    fclose(f);
}

static void remove_public_dir(void)
{
    char path[256];
    static const char *const files[] = { "index.html", "application.js", "sub/page.htm" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", F.dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/sub", F.dir);
    rmdir(path);
    rmdir(F.dir);
}

static void set(const char *key, const char *value)
{
    char err[256];
    if (jg_config_set(&F.cfg, key, value, err, sizeof err) != 0)
        fz_fail("config %s %s: %s", key, value, err);
}

struct jg_server *fz_server(void)
{
    if (F.ready)
        return &F.srv;
    signal(SIGPIPE, SIG_IGN);
    /* every log line is formatted (so its arguments are checked) and thrown away;
     * FUZZ_LOG=1 shows them */
    jg_log_threshold = getenv("FUZZ_QUIET") ? JG_LOG_SILENT : JG_LOG_DEBUG;
    if (!getenv("FUZZ_LOG") && jg_log_open("/dev/null") != 0)
        fz_fail("cannot open /dev/null");
    F.dump = getenv("FUZZ_DUMP") != NULL;
    strcpy(F.dir, "/tmp/jg_fuzz_public_XXXXXX");
    if (!mkdtemp(F.dir))
        fz_fail("mkdtemp: %s", strerror(errno));
    write_file(F.dir, "index.html", "<!DOCTYPE html><title>juggernaut</title><p>hello</p>\n");
    write_file(F.dir, "application.js", "var Juggernaut = function () {};\n");
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", F.dir);
    mkdir(sub, 0700);
    write_file(F.dir, "sub/page.htm", "<p>sub</p>\n");

    jg_config_defaults(&F.cfg);
    set("public-dir", F.dir);
    set("redis-url", "redis://127.0.0.1:1");
    set("redis-queue-limit", "16");
    set("origins", "http://a.example:80 http://b.example:*");
    set("cluster-secret", "fuzzing-cluster-secret-0123456789");
    /* no Redis answers here: cluster mode's claims would wait for it forever (the
     * single-instance paths are what these harnesses reach), except in fuzz_cluster, which
     * answers them itself */
    set("cluster", fz_cluster_mode ? "yes" : "no");
    set("cluster-ring-size", "100");   /* the smallest: inputs reach its eviction (and it is cheap) */
    set("publish-token", "fuzz-publish-token-0123456789");
    set("max-header-size", "1024");
    set("max-post-body", "2048");
    set("max-message-size", "1024");
    set("max-output-buffer", "65536");
    set("max-session-queue", "8");
    set("max-channel-length", "32");
    set("max-subscriptions", "4");
    F.loop = ev_loop_new(EVFLAG_AUTO);
    if (!F.loop)
        fz_fail("ev_loop_new");
    if (jg_server_init(&F.srv, F.loop, &F.cfg) != 0)
        fz_fail("jg_server_init");
    F.srv.net.dispatch = jg_router_dispatch;   /* as main wires it */
    remove_public_dir();   /* the files are in memory now; nothing is left behind by a crash */
    for (unsigned i = 0; i < FZ_MAX_CONNS; i++)
        F.slots[i].peer = -1;
    F.ready = true;
    return &F.srv;
}

void fz_begin(void)
{
    fz_server();
    rnd_counter = 0;
    memset(F.sid_known, 0, sizeof F.sid_known);
    F.opened = 0;
}

const char *fz_sid(unsigned k)
{
    if (k >= MAX_SIDS)
        fz_fail("fz_sid(%u): at most %d", k, MAX_SIDS);
    if (!F.sid_known[k]) {
        uint64_t saved = rnd_counter;
        rnd_counter = k;
        jg_sid_new(F.cfg.cluster_secret, ev_now(F.loop), F.sids[k]);
        rnd_counter = saved;
        F.sid_known[k] = true;
    }
    return F.sids[k];
}

unsigned fz_sid_count(void)
{
    return rnd_counter < MAX_SIDS ? (unsigned)rnd_counter : MAX_SIDS;
}

char *fz_subst(const uint8_t *in, size_t len, size_t *outlen)
{
    size_t cap = len + 1;
    for (size_t i = 0; i + 1 < len; i++)
        if (in[i] == '@' && in[i + 1] >= '0' && in[i + 1] <= '9')
            cap += JG_SID_MAX;
    char *out = malloc(cap);
    if (!out)
        abort();
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '@' && i + 1 < len && in[i + 1] >= '0' && in[i + 1] <= '9') {
            const char *sid = fz_sid((unsigned)(in[i + 1] - '0'));
            size_t sl = strlen(sid);
            memcpy(out + n, sid, sl);
            n += sl;
            i++;
        } else {
            out[n++] = (char)in[i];
        }
    }
    out[n] = '\0';
    *outlen = n;
    return out;
}

struct jg_conn *fz_conn_open(unsigned slot, bool admin)
{
    if (slot >= FZ_MAX_CONNS || F.opened >= FZ_MAX_CONNS)
        return NULL;
    struct slot *s = &F.slots[slot];
    if (s->peer >= 0) {
        /* keep the old peer open until fz_end; it has no slot any more */
        unsigned spare;
        for (spare = 0; spare < FZ_MAX_CONNS; spare++)
            if (F.slots[spare].peer < 0 && !F.slots[spare].c)
                break;
        if (spare == FZ_MAX_CONNS) {
            close(s->peer);
        } else {
            F.slots[spare].peer = s->peer;
            F.slots[spare].c = NULL;
        }
        s->peer = -1;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0)
        fz_fail("socketpair: %s", strerror(errno));
    /* a small send buffer: a peer that does not read makes writev return EAGAIN soon */
    int sndbuf = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    s->c = jg_endpoint_accept(&F.srv.net, sv[0], "127.0.0.1:9");
    s->c->admin = admin;
    s->peer = sv[1];
    F.opened++;
    return s->c;
}

struct jg_conn *fz_conn(unsigned slot)
{
    if (slot >= FZ_MAX_CONNS)
        return NULL;
    struct jg_conn *c = F.slots[slot].c;
    return c && !c->closing ? c : NULL;
}

int fz_peer(unsigned slot)
{
    return slot < FZ_MAX_CONNS ? F.slots[slot].peer : -1;
}

size_t fz_drain(unsigned slot, char *copy, size_t cap, size_t *copylen)
{
    int fd = fz_peer(slot);
    size_t total = 0;
    static char buf[65536];   /* static: ASan would poison a stack array this big on every call */
    if (fd < 0)
        return 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (F.dump) {
            fprintf(stderr, "--- slot %u got %zd bytes:\n", slot, n);
            fwrite(buf, 1, (size_t)n, stderr);
            fputc('\n', stderr);
        }
        if (copy && *copylen < cap) {
            size_t k = (size_t)n < cap - *copylen ? (size_t)n : cap - *copylen;
            memcpy(copy + *copylen, buf, k);
            *copylen += k;
        }
        total += (size_t)n;
    }
    return total;
}

static void forget_closed(void)
{
    for (unsigned i = 0; i < FZ_MAX_CONNS; i++)
        if (F.slots[i].c && F.slots[i].c->closing)
            F.slots[i].c = NULL;
}

void fz_hooks(void)
{
    struct jg_server *srv = &F.srv;
    /* prepare phase (server.c flush_cb) */
    jg_conn_process_resumed(&srv->net);
    jg_session_reap(&srv->core);
    jg_conn_flush_all(&srv->net);
    /* check phase (server.c reap_cb) */
    jg_session_reap(&srv->core);
    forget_closed();
    jg_conn_reap(&srv->net);
}

void fz_io_event(ev_io *w, int revents)
{
    if (!ev_is_active(w))
        return;
    ev_feed_event(F.loop, w, revents);
    ev_invoke_pending(F.loop);
}

void fz_timer_fire(ev_timer *t)
{
    if (!ev_is_active(t))
        return;
    ev_timer_stop(F.loop, t);   /* libev stops a non-repeating timer before its callback */
    ev_feed_event(F.loop, t, EV_TIMER);
    ev_invoke_pending(F.loop);
}

void fz_fire_sessions(enum fz_timer which)
{
    unsigned n = fz_sid_count();
    if (n < 10)
        n = 10;   /* "@k" may have named a sid adopted before it was generated */
    for (unsigned k = 0; k < n; k++) {
        struct jg_session *s = jg_session_find(&F.srv.core, fz_sid(k));
        if (!s)
            continue;
        enum jg_session_timer_kind want = which == FZ_CLOSE_TIMER ? JG_TIMER_CLOSE
                                          : which == FZ_HB_TIMER  ? JG_TIMER_HEARTBEAT
                                                                  : JG_TIMER_POLL;
        if (jg_session_timer_kind(s) != want)
            continue;
        jg_session_fire_timer(s);
        fz_hooks();
    }
}

void fz_end(void)
{
    struct jg_server *srv = &F.srv;
    while (!jg_list_empty(&srv->net.conns))
        jg_conn_close(jg_container_of(srv->net.conns.next, struct jg_conn, all_node), "fuzz reset");
    jg_session_end_all(&srv->core, "fuzz reset");
    fz_hooks();
    for (unsigned i = 0; i < FZ_MAX_CONNS; i++) {
        if (F.slots[i].peer >= 0)
            close(F.slots[i].peer);
        F.slots[i].peer = -1;
        F.slots[i].c = NULL;
    }
    const struct jg_stats *st = &srv->stats;
    if (st->connections || st->sessions || st->ws_connections || st->polls_pending ||
        st->htmlfile_streams || st->channels || st->subscriptions)
        fz_fail("gauges not back to 0 after every connection and session ended: connections %lld "
                "sessions %lld ws_connections %lld polls_pending %lld htmlfile_streams %lld "
                "channels %lld subscriptions %lld",
                (long long)st->connections, (long long)st->sessions, (long long)st->ws_connections,
                (long long)st->polls_pending, (long long)st->htmlfile_streams, (long long)st->channels,
                (long long)st->subscriptions);
    if (jg_session_count(&srv->core) || jg_channel_count(srv->core.channels))
        fz_fail("%zu sessions and %zu channels left after the reset", jg_session_count(&srv->core),
                jg_channel_count(srv->core.channels));
    if (!jg_list_empty(&srv->net.conns) || !jg_list_empty(&srv->net.closing) ||
        !jg_list_empty(&srv->net.pending_write) || !jg_list_empty(&srv->net.resume))
        fz_fail("connection lists not empty after the reset");
    srv->core.draining = false;
    F.cfg.duplicate_subscribe = false;
    jg_session_forget_spent(&srv->core);   /* the next input may adopt the same sids again */
}
