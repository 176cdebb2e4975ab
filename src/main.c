/* main.c: command line, configuration, signals and the event loop. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "broker.h"
#include "config.h"
#include "conn.h"
#include "log.h"
#include "server.h"
#include "session.h"

#ifndef JG_VERSION
#define JG_VERSION "0.0.0"
#endif

#define SHUTDOWN_FLUSH_TIMEOUT 3.0   /* s to get queued Redis events out before exiting */

static const char usage[] =
    "Usage: juggernautd [options]\n"
    "\n"
    "A drop-in replacement for the Juggernaut 2.1.1 push server (socket.io protocol 1).\n"
    "Browsers load /application.js and subscribe to channels; publish with\n"
    "  redis-cli publish juggernaut '{\"channels\":[\"channel1\"],\"data\":\"hello\"}'\n"
    "\n"
    "Options (they override the config file):\n"
    "  -c, --config FILE      read settings from FILE (see conf/juggernautd.conf)\n"
    "  -p, --port N           listen on port N (default 8080, or $PORT)\n"
    "  -b, --bind ADDR        listen on address ADDR (default 0.0.0.0)\n"
    "  -r, --redis-url URL    redis://[:password@]host:port[/db] (default redis://127.0.0.1:6379,\n"
    "                         or $REDIS_URL / $REDISTOGO_URL)\n"
    "  -P, --public DIR       serve index.html and application.js from DIR (default ./public)\n"
    "  -s, --silent           log errors only\n"
    "  -l, --log-level LEVEL  debug, info, warn or error (default info)\n"
    "  -t, --test-config      check the configuration and exit (0 = valid)\n"
    "  -h, --help             show this help and exit\n"
    "  -v, --version          show the version and exit\n"
    "\n"
    "Signals: SIGTERM/SIGINT shut down (a second one exits at once), SIGHUP reopens the log file.\n";

struct app {
    struct ev_loop *loop;
    struct jg_server srv;
    struct jg_config cfg;
    ev_signal sigterm, sigint, sighup;
    ev_timer shutdown_poll;
    double shutdown_deadline;
    bool stopping;
};

static void shutdown_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct app *app = w->data;
    if (jg_broker_idle(app->srv.broker) || ev_now(loop) >= app->shutdown_deadline) {
        if (!jg_broker_idle(app->srv.broker))
            jg_warn("shutdown: Redis did not take every queued event within %.0f s", SHUTDOWN_FLUSH_TIMEOUT);
        ev_break(loop, EVBREAK_ALL);
    }
}

static void stop_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct app *app = w->data;
    if (app->stopping) {
        jg_warn("second signal: exiting now");
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    app->stopping = true;
    jg_info("signal %d: shutting down (%lld sessions)", w->signum, (long long)app->srv.stats.sessions);
    app->srv.draining = true;
    jg_server_stop_listening(&app->srv);
    /* Transports close without "0::", so clients reconnect elsewhere (protocol.md §11.4);
     * the unsubscribe events go to Redis before we exit. */
    jg_session_end_all(&app->srv, "shutdown");
    app->shutdown_deadline = ev_now(loop) + SHUTDOWN_FLUSH_TIMEOUT;
    ev_timer_init(&app->shutdown_poll, shutdown_poll_cb, 0.05, 0.05);
    app->shutdown_poll.data = app;
    ev_timer_start(loop, &app->shutdown_poll);
}

static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct app *app = w->data;
    int rc = jg_log_open(app->cfg.log_file);
    if (rc < 0)
        jg_error("SIGHUP: cannot reopen log file %s: %s", app->cfg.log_file, strerror(-rc));
    else
        jg_info("SIGHUP: log reopened");
}

static int parse_args(int argc, char **argv, struct jg_config *cfg, bool *test_only)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },  { "port", required_argument, NULL, 'p' },
        { "bind", required_argument, NULL, 'b' },    { "redis-url", required_argument, NULL, 'r' },
        { "public", required_argument, NULL, 'P' },  { "silent", no_argument, NULL, 's' },
        { "log-level", required_argument, NULL, 'l' }, { "test-config", no_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },          { "version", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NULL;
    char err[1024];
    int c;
    /* first pass: the config file, so that flags can override it */
    while ((c = getopt_long(argc, argv, "c:p:b:r:P:sl:thv", opts, NULL)) != -1) {
        if (c == 'c')
            config_path = optarg;
        else if (c == 'h') {
            fputs(usage, stdout);
            exit(0);
        } else if (c == 'v') {
            printf("juggernautd %s\n", JG_VERSION);
            exit(0);
        } else if (c == '?') {
            fputs("Try 'juggernautd --help'.\n", stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "juggernautd: unexpected argument \"%s\"; try 'juggernautd --help'\n", argv[optind]);
        return -1;
    }
    if (config_path && jg_config_load(cfg, config_path, err, sizeof err) < 0) {
        fprintf(stderr, "juggernautd: %s\n", err);
        return -1;
    }
    if (jg_config_apply_env(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "juggernautd: %s\n", err);
        return -1;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:p:b:r:P:sl:thv", opts, NULL)) != -1) {
        const char *key = NULL;
        switch (c) {
        case 'p': key = "port"; break;
        case 'b': key = "bind"; break;
        case 'r': key = "redis-url"; break;
        case 'P': key = "public-dir"; break;
        case 'l': key = "log-level"; break;
        case 's': cfg->log_level = JG_LOG_ERROR; break;
        case 't': *test_only = true; break;
        default: break;
        }
        if (key && jg_config_set(cfg, key, optarg, err, sizeof err) < 0) {
            fprintf(stderr, "juggernautd: --%s: %s\n", key, err);
            return -1;
        }
    }
    if (jg_config_check(cfg, err, sizeof err) < 0) {
        fprintf(stderr, "juggernautd: %s%s%s\n", config_path ? config_path : "", config_path ? ": " : "", err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static struct app app;
    bool test_only = false;
    jg_config_defaults(&app.cfg);
    if (parse_args(argc, argv, &app.cfg, &test_only) < 0) {
        jg_config_deinit(&app.cfg);
        return 1;
    }
    if (test_only) {
        printf("juggernautd: configuration OK\n");
        jg_config_deinit(&app.cfg);
        return 0;
    }
    jg_log_threshold = (enum jg_log_level)app.cfg.log_level;
    int rc = jg_log_open(app.cfg.log_file);
    if (rc < 0) {
        fprintf(stderr, "juggernautd: cannot open log file %s: %s\n", app.cfg.log_file, strerror(-rc));
        jg_config_deinit(&app.cfg);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    app.loop = ev_default_loop(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!app.loop)
        app.loop = ev_default_loop(0);
    if (jg_server_init(&app.srv, app.loop, &app.cfg) < 0) {
        jg_config_deinit(&app.cfg);
        return 1;
    }
    char err[512];
    if (jg_server_listen(&app.srv, err, sizeof err) < 0) {
        jg_error("%s", err);
        jg_server_deinit(&app.srv);
        jg_config_deinit(&app.cfg);
        return 1;
    }
    if (app.cfg.pidfile) {
        FILE *f = fopen(app.cfg.pidfile, "w");
        if (!f) {
            jg_error("cannot write pidfile %s: %s", app.cfg.pidfile, strerror(errno));
            jg_server_deinit(&app.srv);
            jg_config_deinit(&app.cfg);
            return 1;
        }
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    ev_signal_init(&app.sigterm, stop_cb, SIGTERM);
    ev_signal_init(&app.sigint, stop_cb, SIGINT);
    ev_signal_init(&app.sighup, hup_cb, SIGHUP);
    app.sigterm.data = app.sigint.data = app.sighup.data = &app;
    ev_signal_start(app.loop, &app.sigterm);
    ev_signal_start(app.loop, &app.sigint);
    ev_signal_start(app.loop, &app.sighup);
    jg_info("juggernautd %s listening on %s:%d (redis %s:%d, transports %s)", JG_VERSION, app.cfg.bind,
            app.cfg.port, app.cfg.redis_host, app.cfg.redis_port, app.srv.transports_list);

    ev_run(app.loop, 0);

    jg_info("exiting");
    ev_timer_stop(app.loop, &app.shutdown_poll);
    ev_signal_stop(app.loop, &app.sigterm);
    ev_signal_stop(app.loop, &app.sigint);
    ev_signal_stop(app.loop, &app.sighup);
    jg_server_deinit(&app.srv);
    if (app.cfg.pidfile)
        unlink(app.cfg.pidfile);
    jg_config_deinit(&app.cfg);
    ev_loop_destroy(app.loop);
    return 0;
}
