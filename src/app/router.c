/* router.c: the daemon's HTTP paths: the socket.io resource (transport/endpoint.c), /health,
 * /stats, /metrics, the static files, and on the admin port the operator endpoints
 * (app/admin.c, app/console.c). */
#include "app/router.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/admin.h"
#include "app/console.h"
#include "app/server.h"
#include "cluster/broker.h"
#include "core/channel.h"
#include "proto/sio.h"
#include "transport/conn.h"
#include "transport/endpoint.h"
#include "transport/http.h"
#include "transport/static.h"

#define RESOURCE "/socket.io"
#define TOP_CHANNELS 20      /* channels listed in /stats */

/* The path part of the URL, NUL-terminated into OUT (truncated if huge). */
static void url_path(const struct jg_http_req *req, char *out, size_t outlen)
{
    const char *url = req->url.data ? req->url.data : "";
    size_t n = strcspn(url, "?#");
    if (n >= outlen)
        n = outlen - 1;
    memcpy(out, url, n);
    out[n] = '\0';
}

static void health(struct jg_conn *c)
{
    struct jg_server *srv = jg_server_of(c->net);
    if (srv->core.draining) {
        jg_http_respond(c, 503, "text/plain", NULL, "draining\n", 9);
        return;
    }
    if (jg_broker_down_for(srv->broker) > srv->cfg->health_redis_grace) {
        jg_http_respond(c, 503, "text/plain", NULL, "redis unavailable\n", 18);
        return;
    }
    jg_http_respond(c, 200, "text/plain", NULL, "ok\n", 3);
}

static void stats(struct jg_conn *c, bool prometheus)
{
    struct jg_sb out = JG_SB_INIT;
    struct jg_server *srv = jg_server_of(c->net);
    enum jg_public_stats pub = c->admin ? JG_PUBLIC_STATS_FULL : srv->cfg->public_stats;
    if (pub == JG_PUBLIC_STATS_OFF) {
        jg_http_respond(c, 404, "text/plain", NULL, "not found\n", 10);
        return;
    }
    if (prometheus) {
        jg_stats_prometheus(&srv->stats, &out);
    } else {
        jg_stats_json(&srv->stats, &out);
    }
    if (!prometheus && pub == JG_PUBLIC_STATS_FULL) {
        /* ...plus the busiest channels: {"top_channels":[{"channel":..,"subscribers":N}]}.
         * Channel names (private ones too) only where public-stats or the admin port allow */
        out.len--;   /* reopen the object */
        jg_sb_appends(&out, ",\"top_channels\":");
        jg_channel_top_json(srv->core.channels, TOP_CHANNELS, &out);
        jg_sb_appendc(&out, '}');
    }
    jg_http_respond(c, 200, prometheus ? "text/plain; version=0.0.4" : "application/json",
                    "Cache-Control: no-cache\r\n", out.data, out.len);
    jg_sb_free(&out);
}

/* GET /presence/<channel>, the channel name percent-encoded as any path segment. */
static void presence(struct jg_conn *c, const char *encoded)
{
    struct jg_sb channel = JG_SB_INIT;
    jg_sio_path_decode(encoded, strlen(encoded), &channel);
    if (!channel.data || memchr(channel.data, '\0', channel.len)) {
        jg_http_respond(c, 400, "text/plain", NULL, "bad channel name\n", 17);
    } else {
        jg_admin_presence(c, channel.data);
    }
    jg_sb_free(&channel);
}

/* The admin port serves the operator endpoints only. */
static void admin_request(struct jg_conn *c, const char *path)
{
    bool get = c->req->method == HTTP_GET || c->req->method == HTTP_HEAD;
    if (c->req->upgrade_websocket || c->http->parser.upgrade) {
        jg_conn_close_after_flush(c);
        return;
    }
    if (get && !strcmp(path, "/health"))
        health(c);
    else if (get && !strcmp(path, "/stats"))
        stats(c, false);
    else if (get && !strcmp(path, "/metrics"))
        stats(c, true);
    else if (jg_server_of(c->net)->cluster && c->req->method == HTTP_POST && !strcmp(path, "/publish"))
        jg_admin_publish(c);
    else if (jg_server_of(c->net)->cluster && get && !strncmp(path, "/presence/", 10) && path[10])
        presence(c, path + 10);
    else if (!strncmp(path, "/console", 8) && (path[8] == '\0' || path[8] == '/'))
        jg_console_request(c, path + 8);
    else
        jg_http_respond(c, 404, "text/plain", NULL, "not found\n", 10);
}

void jg_router_dispatch(struct jg_conn *c, const char *rest, size_t restlen)
{
    struct jg_http_req *req = c->req;
    char path[2048];
    url_path(req, path, sizeof path);
    if (c->admin) {
        admin_request(c, path);
        return;
    }
    if (strncmp(path, RESOURCE, strlen(RESOURCE)) == 0) {
        /* raw prefix match, like 0.8.7 (§2.1) */
        jg_endpoint_request(c, path + strlen(RESOURCE), rest, restlen);
        return;
    }
    if (req->upgrade_websocket || c->http->parser.upgrade) {
        /* "destroy upgrade" (§2.1): no answer outside the socket.io resource */
        c->net->stats->http_errors++;
        jg_conn_close_after_flush(c);
        return;
    }
    bool get = req->method == HTTP_GET || req->method == HTTP_HEAD;
    if (get && !strcmp(path, "/health")) {
        health(c);
        return;
    }
    if (get && !strcmp(path, "/stats")) {
        stats(c, false);
        return;
    }
    if (get && !strcmp(path, "/metrics")) {
        stats(c, true);
        return;
    }
    jg_static_serve(jg_server_of(c->net)->files, c, path);
}
