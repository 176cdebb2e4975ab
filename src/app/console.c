/* console.c: the admin console (console.h): its credential check, the page (admin/console.html,
 * embedded at build time) and the JSON it polls. */
#include "app/console.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <http_parser.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sodium.h>

#include "app/admin.h"
#include "cluster/broker.h"
#include "core/channel.h"
#include "cluster/cluster.h"
#include "base/config.h"
#include "transport/conn.h"
#include "transport/http.h"
#include "base/log.h"
#include "base/sb.h"
#include "app/server.h"
#include "proto/sio.h"
#include "base/stats.h"
#include "base/xalloc.h"

#define TOP_CHANNELS 20          /* busiest channels on the page */
#define MAX_CREDENTIAL 512       /* bytes of a decoded Basic credential */
#define TEXT(s) s, sizeof s - 1  /* a string literal as body, length */

extern const char jg_console_html[];

/* Members and leader in one read-only round trip: {leader or "", id, state, sessions, ...}.
 * jg:instances keeps an instance until it is reaped; one whose jg:instance:<id> expired is
 * dead and left out. */
static const char MEMBERS_SCRIPT[] =
    "local out = {redis.call('GET', 'jg:leader') or ''}\n"
    "for _, id in ipairs(redis.call('SMEMBERS', 'jg:instances')) do\n"
    "  local state = redis.call('GET', 'jg:instance:' .. id)\n"
    "  if state then\n"
    "    out[#out + 1] = id\n"
    "    out[#out + 1] = state\n"
    "    out[#out + 1] = redis.call('SCARD', 'jg:instance:' .. id .. ':sessions')\n"
    "  end\n"
    "end\n"
    "return out\n";

static bool token_equal(const char *token, const char *s, size_t len)
{
    size_t tlen = strlen(token);
    return len == tlen && CRYPTO_memcmp(s, token, tlen) == 0;
}

bool jg_console_credential_ok(const char *token, const char *authorization)
{
    if (!token || !*token || !authorization)
        return false;
    if (!strncmp(authorization, "Bearer ", 7))
        return token_equal(token, authorization + 7, strlen(authorization + 7));
    if (strncmp(authorization, "Basic ", 6) != 0)
        return false;
    unsigned char cred[MAX_CREDENTIAL];
    size_t len = 0;
    const char *b64 = authorization + 6;
    if (sodium_base642bin(cred, sizeof cred, b64, strlen(b64), NULL, &len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0)
        return false;
    /* "user:password": the user name is free, the password is the token */
    const unsigned char *colon = memchr(cred, ':', len);
    if (!colon)
        return false;
    size_t off = (size_t)(colon + 1 - cred);
    return token_equal(token, (const char *)cred + off, len - off);
}

static void respond_json(struct jg_conn *c, int status, const struct jg_sb *sb)
{
    jg_http_respond(c, status, "application/json", "Cache-Control: no-store\r\n", sb->data, sb->len);
}

static void respond_error(struct jg_conn *c, int status, const char *message)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_appends(&sb, "{\"error\":");
    jg_sio_js_string_append(&sb, message, strlen(message), false);
    jg_sb_appends(&sb, "}\n");
    respond_json(c, status, &sb);
    jg_sb_free(&sb);
}

/* The held request Redis answered for (W), or NULL if its connection closed meanwhile. */
static struct jg_conn *wait_done(struct jg_http_wait *w)
{
    struct jg_conn *c = jg_http_wait_end(w);
    jg_http_wait_free(w);
    return c;
}

/* ---- /console/state ---- */

/* {"stats":{...,"top_channels":[...]},"cluster":bool,"instance":..,"draining":bool (opens
 * the object; the caller adds the members and closes it) */
static void state_head(struct jg_server *srv, struct jg_sb *sb)
{
    jg_sb_appends(sb, "{\"stats\":");
    jg_stats_json(&srv->stats, sb);
    sb->len--;   /* reopen the stats object */
    jg_sb_appends(sb, ",\"top_channels\":");
    jg_channel_top_json(srv->core.channels, TOP_CHANNELS, sb);
    jg_sb_appendf(sb, "},\"cluster\":%s,\"instance\":", srv->cluster ? "true" : "false");
    if (srv->cluster) {
        const char *id = jg_cluster_id(srv->cluster);
        jg_sio_js_string_append(sb, id, strlen(id), false);
    } else {
        jg_sb_appends(sb, "null");
    }
}

static void members_reply(void *user, redisReply *r, void *priv)
{
    struct jg_conn *c = wait_done(priv);
    if (!c)
        return;
    struct jg_server *srv = jg_server_of(c->net);
    struct jg_sb sb = JG_SB_INIT;
    state_head(srv, &sb);
    if (r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_STRING) {
        const redisReply *leader = r->element[0];
        jg_sb_appends(&sb, ",\"leader\":");
        if (leader->len)
            jg_sio_js_string_append(&sb, leader->str, leader->len, false);
        else
            jg_sb_appends(&sb, "null");
        jg_sb_appends(&sb, ",\"members\":[");
        const char *sep = "";
        for (size_t i = 1; i + 2 < r->elements; i += 3) {
            const redisReply *id = r->element[i], *st = r->element[i + 1], *n = r->element[i + 2];
            if (id->type != REDIS_REPLY_STRING || st->type != REDIS_REPLY_STRING || n->type != REDIS_REPLY_INTEGER)
                continue;
            jg_sb_appendf(&sb, "%s{\"id\":", sep);
            jg_sio_js_string_append(&sb, id->str, id->len, false);
            jg_sb_appends(&sb, ",\"state\":");
            jg_sio_js_string_append(&sb, st->str, st->len, false);
            jg_sb_appendf(&sb, ",\"sessions\":%lld}", n->integer);
            sep = ",";
        }
        jg_sb_appends(&sb, "]}\n");
    } else {
        /* Redis away: the local half still helps */
        jg_sb_appends(&sb, ",\"leader\":null,\"members\":null,\"redis_error\":true}\n");
    }
    respond_json(c, 200, &sb);
    jg_sb_free(&sb);
}

static void state(struct jg_conn *c)
{
    struct jg_server *srv = jg_server_of(c->net);
    if (srv->cluster && jg_broker_ready(srv->broker)) {
        const char *argv[] = { "EVAL_RO", MEMBERS_SCRIPT, "0" };
        jg_broker_command(srv->broker, members_reply, jg_http_wait_begin(c, 0), false, 3, argv, NULL);
        return;
    }
    struct jg_sb sb = JG_SB_INIT;
    state_head(srv, &sb);
    jg_sb_appendf(&sb, ",\"leader\":null,\"members\":%s}\n", srv->cluster ? "null,\"redis_error\":true" : "[]");
    respond_json(c, 200, &sb);
    jg_sb_free(&sb);
}

/* ---- /console/publish ---- */

static void publish_reply(void *user, redisReply *r, void *priv)
{
    struct jg_conn *c = wait_done(priv);
    if (!c)
        return;
    if (r && r->type == REDIS_REPLY_INTEGER) {
        /* PUBLISH's answer: the Redis subscribers of "juggernaut" (instances, the leader in
         * cluster mode) that got it */
        char body[64];
        int n = snprintf(body, sizeof body, "{\"instances\":%lld}\n", r->integer);
        jg_http_respond(c, 200, "application/json", "Cache-Control: no-store\r\n", body, (size_t)n);
    } else {
        respond_error(c, 503, "redis unavailable");
    }
}

static void publish(struct jg_conn *c)
{
    struct jg_http_req *req = c->req;
    /* application/json: a page on another site cannot send it without a CORS preflight,
     * which this port refuses, so it cannot publish with the browser's saved credential */
    if (!req->content_type || strncasecmp(req->content_type, "application/json", 16) != 0) {
        respond_error(c, 415, "the body must be sent as application/json");
        return;
    }
    json_error_t err;
    json_t *msg = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &err);
    bool ok = msg && json_is_object(msg) && json_object_get(msg, "channels") && json_object_get(msg, "data");
    json_decref(msg);
    if (!ok) {
        respond_error(c, 400, "the body must be a Juggernaut publish: {\"channels\":[...],\"data\":...}");
        return;
    }
    if (!jg_broker_ready(jg_server_of(c->net)->broker)) {
        /* not queued: a test message that goes out minutes later would only confuse */
        respond_error(c, 503, "redis unavailable");
        return;
    }
    const char *argv[] = { "PUBLISH", "juggernaut", req->body.data };
    size_t lens[] = { 7, 10, req->body.len };
    jg_info("c#%llu %s: the console published %zu bytes", (unsigned long long)c->id, c->peer, req->body.len);
    jg_broker_command(jg_server_of(c->net)->broker, publish_reply, jg_http_wait_begin(c, 0), false, 3, argv, lens);
}

/* ---- routing ---- */

static void presence(struct jg_conn *c, const char *encoded)
{
    if (!jg_server_of(c->net)->cluster) {
        respond_error(c, 404, "presence is tracked in cluster mode only");
        return;
    }
    struct jg_sb channel = JG_SB_INIT;
    jg_sio_path_decode(encoded, strlen(encoded), &channel);
    if (!channel.data || !channel.len || memchr(channel.data, '\0', channel.len))
        respond_error(c, 400, "bad channel name");
    else
        jg_admin_presence(c, channel.data);
    jg_sb_free(&channel);
}

void jg_console_request(struct jg_conn *c, const char *rest)
{
    struct jg_server *srv = jg_server_of(c->net);
    bool get = c->req->method == HTTP_GET || c->req->method == HTTP_HEAD;
    if (!srv->cfg->publish_token) {
        jg_http_respond(c, 404, "text/plain", NULL, TEXT("the console is off: set publish-token\n"));
        return;
    }
    if (!jg_console_credential_ok(srv->cfg->publish_token, c->req->authorization)) {
        srv->stats.auth_refused++;
        jg_info("c#%llu %s: console refused: wrong or missing credential", (unsigned long long)c->id, c->peer);
        jg_http_respond(c, 401, "text/plain", "WWW-Authenticate: Basic realm=\"juggernautd admin\", charset=\"UTF-8\"\r\n",
                        TEXT("the console needs the publish-token (as the password)\n"));
        return;
    }
    if (get && (!strcmp(rest, "") || !strcmp(rest, "/")))
        jg_http_respond(c, 200, "text/html; charset=utf-8",
                        "Cache-Control: no-store\r\nX-Frame-Options: DENY\r\n"
                        "Content-Security-Policy: default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'\r\n",
                        jg_console_html, strlen(jg_console_html));
    else if (get && !strcmp(rest, "/state"))
        state(c);
    else if (get && !strncmp(rest, "/presence/", 10))
        presence(c, rest + 10);
    else if (c->req->method == HTTP_POST && !strcmp(rest, "/publish"))
        publish(c);
    else
        jg_http_respond(c, 404, "text/plain", NULL, TEXT("not found\n"));
}
