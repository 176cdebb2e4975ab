/* main.c: command line, configuration and its reload, signals, daemon mode, the loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ev.h>

#include "cluster/broker.h"
#include "base/config.h"
#include "base/log.h"
#include "base/notify.h"
#include "app/router.h"
#include "app/server.h"
#include "core/session.h"
#include "transport/static.h"
#include "app/usage.h"

#ifndef JG_VERSION
#define JG_VERSION "0.0.0"
#endif

#define SHUTDOWN_FLUSH_TIMEOUT 3.0   /* s to get queued Redis events out before exiting */


static const struct option long_opts[] = {
    { "config", required_argument, NULL, 'c' },    { "port", required_argument, NULL, 'p' },
    { "bind", required_argument, NULL, 'b' },      { "redis-url", required_argument, NULL, 'r' },
    { "public", required_argument, NULL, 'P' },    { "silent", no_argument, NULL, 's' },
    { "log-level", required_argument, NULL, 'l' }, { "test-config", no_argument, NULL, 't' },
    { "daemonize", no_argument, NULL, 'd' },       { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'v' },         { NULL, 0, NULL, 0 },
};
static const char short_opts[] = "c:p:b:r:P:sl:tdhv";

struct app {
    struct ev_loop *loop;
    struct jg_server srv;
    struct jg_config cfg;
    int argc;
    char **argv;
    const char *config_path;
    ev_signal sigterm, sigint, sighup, sigusr1;
    ev_timer shutdown_poll;
    double shutdown_deadline;
    bool stopping;
};

/* defaults -> file -> environment -> flags. Returns 0, or -1 with ERR set. Exits for
 * --help and --version. */
static int load_config(struct app *app, struct jg_config *cfg, bool *test_only, char *err, size_t errlen)
{
    int c;
    jg_config_defaults(cfg);
    app->config_path = NULL;
    optind = 1;
    while ((c = getopt_long(app->argc, app->argv, short_opts, long_opts, NULL)) != -1) {
        if (c == 'c') {
            app->config_path = optarg;
        } else if (c == 'h') {
            fputs(jg_usage, stdout);
            exit(0);
        } else if (c == 'v') {
            printf("juggernautd %s\n", JG_VERSION);
            exit(0);
        } else if (c == '?') {
            snprintf(err, errlen, "bad option; try 'juggernautd --help'");
            return -1;
        }
    }
    if (optind < app->argc) {
        snprintf(err, errlen, "unexpected argument \"%s\"; try 'juggernautd --help'", app->argv[optind]);
        return -1;
    }
    if (app->config_path && jg_config_load(cfg, app->config_path, err, errlen) < 0)
        return -1;
    if (jg_config_apply_env(cfg, err, errlen) < 0)
        return -1;
    optind = 1;
    while ((c = getopt_long(app->argc, app->argv, short_opts, long_opts, NULL)) != -1) {
        const char *key = NULL;
        char why[512];
        switch (c) {
        case 'p': key = "port"; break;
        case 'b': key = "bind"; break;
        case 'r': key = "redis-url"; break;
        case 'P': key = "public-dir"; break;
        case 'l': key = "log-level"; break;
        case 's': cfg->log_level = JG_LOG_ERROR; break;
        case 'd': cfg->daemonize = true; break;
        case 't': if (test_only) *test_only = true; break;
        default: break;
        }
        if (key && jg_config_set(cfg, key, optarg, why, sizeof why) < 0) {
            snprintf(err, errlen, "--%s: %s", key, why);
            return -1;
        }
    }
    char why[512];
    if (jg_config_check(cfg, why, sizeof why) < 0) {
        snprintf(err, errlen, "%s%s%s", app->config_path ? app->config_path : "", app->config_path ? ": " : "",
                 why);
        return -1;
    }
    return 0;
}

static void shutdown_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct app *app = w->data;
    if (jg_broker_idle(app->srv.broker) || ev_now(loop) >= app->shutdown_deadline) {
        if (!jg_broker_idle(app->srv.broker))
            jg_warn("shutdown: Redis did not take every queued event within %.0f s", SHUTDOWN_FLUSH_TIMEOUT);
        ev_break(loop, EVBREAK_ALL);
    }
}

static void drained(struct jg_server *srv)
{
    struct app *app = srv->loop ? ev_userdata(srv->loop) : NULL;
    jg_info("drain complete; flushing events to Redis");
    app->shutdown_deadline = ev_now(srv->loop) + SHUTDOWN_FLUSH_TIMEOUT;
    ev_timer_init(&app->shutdown_poll, shutdown_poll_cb, 0, 0.05);
    app->shutdown_poll.data = app;
    ev_timer_start(srv->loop, &app->shutdown_poll);
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
    jg_notify("STOPPING=1");
    jg_info("signal %d: shutting down", w->signum);
    jg_server_begin_drain(&app->srv, drained);
}

static void reload(struct app *app)
{
    char err[1024], changed[256];
    struct jg_config fresh;
    jg_notify("RELOADING=1");
    if (load_config(app, &fresh, NULL, err, sizeof err) < 0) {
        jg_error("SIGHUP: configuration not reloaded, the old one stays in force: %s", err);
        jg_config_deinit(&fresh);
        jg_notify("READY=1");
        return;
    }
    jg_config_keep_fixed(&fresh, &app->cfg, changed, sizeof changed);
    if (changed[0])
        jg_warn("SIGHUP: %s cannot change while running; restart to apply", changed);
    struct jg_config old = app->cfg;
    app->cfg = fresh;   /* the server reads its settings through &app->cfg */
    jg_config_deinit(&old);
    jg_log_threshold = (enum jg_log_level)app->cfg.log_level;
    int rc = jg_log_open(app->cfg.log_file);
    if (rc < 0)
        jg_error("SIGHUP: cannot open log file %s: %s; logging to stderr", app->cfg.log_file, strerror(-rc));
    jg_server_config_changed(&app->srv);
    /* reload the public files too: a deploy may have changed application.js */
    struct jg_static *files = jg_static_load(app->cfg.public_dir, err, sizeof err);
    if (files) {
        jg_static_free(app->srv.files);
        app->srv.files = files;
    } else {
        jg_error("SIGHUP: %s; still serving the files loaded before", err);
    }
    jg_info("SIGHUP: configuration reloaded%s%s", app->config_path ? " from " : "",
            app->config_path ? app->config_path : "");
    jg_notify("READY=1");
}

static void hup_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    reload(w->data);
}

/* logrotate's signal: reopen the log file only (no config reload, no RELOADING=1). */
static void usr1_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct app *app = w->data;
    int rc = jg_log_open(app->cfg.log_file);
    if (rc < 0)
        jg_error("SIGUSR1: cannot open log file %s: %s; logging to stderr", app->cfg.log_file, strerror(-rc));
    else
        jg_info("SIGUSR1: log file reopened");
}

/* Forks; the parent exits 0 once the child says it is listening, 1 if it dies first. */
static int daemonize(int *ready_fd)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close(p[1]);
        char byte;
        ssize_t n;
        do {
            n = read(p[0], &byte, 1);
        } while (n < 0 && errno == EINTR);
        _exit(n == 1 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    *ready_fd = p[1];
    return 0;
}

static void detach_stdio(void)
{
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return;
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
}

int main(int argc, char **argv)
{
    static struct app app;
    bool test_only = false;
    char err[1024];
    app.argc = argc;
    app.argv = argv;
    if (load_config(&app, &app.cfg, &test_only, err, sizeof err) < 0) {
        fprintf(stderr, "juggernautd: %s\n", err);
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
        fprintf(stderr, "juggernautd: cannot open log file %s: %s (check the directory exists and is writable)\n",
                app.cfg.log_file, strerror(-rc));
        jg_config_deinit(&app.cfg);
        return 1;
    }
    int ready_fd = -1;
    if (app.cfg.daemonize) {
        if (!app.cfg.log_file)
            fprintf(stderr, "juggernautd: --daemonize without log-file: log lines will be lost\n");
        if (daemonize(&ready_fd) < 0) {
            fprintf(stderr, "juggernautd: cannot daemonize: %s\n", strerror(errno));
            jg_config_deinit(&app.cfg);
            return 1;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    app.loop = ev_default_loop(EVBACKEND_EPOLL | EVFLAG_NOENV);
    if (!app.loop)
        app.loop = ev_default_loop(0);
    ev_set_userdata(app.loop, &app);
    if (jg_server_init(&app.srv, app.loop, &app.cfg) < 0) {
        jg_config_deinit(&app.cfg);
        return 1;
    }
    app.srv.net.dispatch = jg_router_dispatch;   /* the daemon's HTTP paths */
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
    ev_signal_init(&app.sigusr1, usr1_cb, SIGUSR1);
    app.sigterm.data = app.sigint.data = app.sighup.data = app.sigusr1.data = &app;
    ev_signal_start(app.loop, &app.sigterm);
    ev_signal_start(app.loop, &app.sigint);
    ev_signal_start(app.loop, &app.sighup);
    ev_signal_start(app.loop, &app.sigusr1);
    jg_info("juggernautd %s listening on %s:%d (redis %s:%d, transports %s)", JG_VERSION, app.cfg.bind,
            app.cfg.port, app.cfg.redis_host, app.cfg.redis_port, app.srv.net.transports_list);
    if (ready_fd >= 0) {
        detach_stdio();
        ssize_t n = write(ready_fd, "r", 1);
        (void)n;
        close(ready_fd);
    }
    jg_notify("READY=1");

    ev_run(app.loop, 0);

    jg_info("exiting");
    ev_timer_stop(app.loop, &app.shutdown_poll);
    ev_signal_stop(app.loop, &app.sigterm);
    ev_signal_stop(app.loop, &app.sigint);
    ev_signal_stop(app.loop, &app.sighup);
    ev_signal_stop(app.loop, &app.sigusr1);
    jg_server_deinit(&app.srv);
    if (app.cfg.pidfile)
        unlink(app.cfg.pidfile);
    jg_config_deinit(&app.cfg);
    ev_loop_destroy(app.loop);
    return 0;
}
