/* cluster_http.c: cluster mode's admin endpoints (cluster.h): POST /publish (a Juggernaut
 * publish sequenced atomically by jg_publish, behind a bearer token) and
 * GET /presence/<channel> (who is subscribed, grouped by identity). */
#include "cluster/cluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "cluster/broker.h"
#include "cluster/cluster_int.h"
#include "transport/conn.h"
#include "transport/http.h"
#include "base/log.h"
#include "base/sb.h"
#include "app/server.h"
#include "proto/sio.h"
#include "base/xalloc.h"

/* ---- admin HTTP ---- */

struct http_ctx {
    struct jg_conn *conn;
    char *channel;
};

static struct http_ctx *http_wait(struct jg_conn *conn)
{
    struct http_ctx *h = jg_xcalloc(1, sizeof *h);
    h->conn = conn;
    conn->waiter = &h->conn;
    jg_http_hold(conn);
    return h;
}

static struct jg_conn *http_done(struct http_ctx *h)
{
    struct jg_conn *conn = h->conn;
    if (conn) {
        /* still held: the answer (jg_http_respond) releases it and resumes the requests
         * pipelined behind this one */
        conn->waiter = NULL;
        if (conn->closing)
            conn = NULL;
    }
    return conn;
}

static void publish_http_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct http_ctx *h = priv;
    struct jg_conn *conn = http_done(h);
    if (conn) {
        char body[160];
        int n;
        if (r && r->type == REDIS_REPLY_STRING && r->len < 24 && strspn(r->str, "0123456789") == r->len) {
            /* jg_publish answers the seq as a string (Lua numbers are doubles) */
            n = snprintf(body, sizeof body, "{\"seq\":%s}\n", r->str);
            jg_http_respond(conn, 200, "application/json", NULL, body, (size_t)n);
        } else if (r && r->type == REDIS_REPLY_ERROR) {
            n = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n", strstr(r->str, "JSON") ? "the body must be a JSON object" : "redis refused");
            jg_http_respond(conn, 400, "application/json", NULL, body, (size_t)n);
        } else {
            jg_http_respond(conn, 503, "application/json", NULL, "{\"error\":\"redis unavailable\"}\n", 30);
        }
    }
    free(h);
}

void jg_cluster_http_publish(struct jg_conn *conn)
{
    struct jg_server *srv = conn->srv;
    const struct jg_config *cfg = srv->cfg;
    struct jg_http_req *req = conn->req;
    if (!cfg->publish_token) {
        jg_http_respond(conn, 404, "text/plain", NULL, "POST /publish is off: set publish-token\n", 40);
        return;
    }
    const char *auth = req->authorization ? req->authorization : "";
    size_t tlen = strlen(cfg->publish_token);
    if (strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != tlen ||
        CRYPTO_memcmp(auth + 7, cfg->publish_token, tlen) != 0) {
        srv->stats.auth_refused++;
        jg_info("c#%llu %s: POST /publish refused: wrong or missing token", (unsigned long long)conn->id, conn->peer);
        jg_http_respond(conn, 403, "text/plain", NULL, "wrong or missing publish token\n", 31);
        return;
    }
    const char *body = req->body.data ? req->body.data : "";
    const char *args[] = { body };
    size_t lens[] = { req->body.len };
    jg_cluster_fcall(srv->cluster, publish_http_reply, http_wait(conn), false, "jg_publish", 1, args, lens);
}

static void presence_http_reply(struct jg_server *srv, redisReply *r, void *priv)
{
    struct http_ctx *h = priv;
    struct jg_conn *conn = http_done(h);
    if (conn && r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER) {
        /* {total, sid, meta, ...}: at most presence-max-members pairs. Grouped by identity
         * (the meta's JSON text; no meta = the session). */
        size_t total = (size_t)r->element[0]->integer, read = (r->elements - 1) / 2;
        json_t *counts = json_object();
        struct jg_sb sb = JG_SB_INIT;
        jg_sb_appends(&sb, "{\"channel\":");
        jg_sio_js_string_append(&sb, h->channel, strlen(h->channel), false);
        jg_sb_appendf(&sb, ",\"sessions\":%zu,%s\"members\":[", total, total > read ? "\"truncated\":true," : "");
        if (total > read)
            srv->stats.presence_truncated++;
        for (size_t i = 1; i + 1 < r->elements; i += 2) {
            const redisReply *m = r->element[i + 1];
            if (m->type != REDIS_REPLY_STRING || r->element[i]->type != REDIS_REPLY_STRING)
                continue;
            char key[JG_SID_MAX + 8];
            const char *id = m->str;
            if (!strcmp(m->str, "null")) {
                snprintf(key, sizeof key, "sid:%s", r->element[i]->str);
                id = key;
            }
            json_t *n = json_object_get(counts, id);
            json_object_set_new(counts, id, json_integer(n ? json_integer_value(n) + 1 : 1));
        }
        bool first = true;
        const char *id;
        json_t *n;
        json_object_foreach(counts, id, n) {
            jg_sb_appendf(&sb, "%s{\"meta\":%s,\"sessions\":%lld}", first ? "" : ",",
                          strncmp(id, "sid:", 4) ? id : "null", json_integer_value(n));
            first = false;
        }
        jg_sb_appends(&sb, "]}\n");
        json_decref(counts);
        jg_http_respond(conn, 200, "application/json", "Cache-Control: no-cache\r\n", sb.data, sb.len);
        jg_sb_free(&sb);
    } else if (conn) {
        jg_http_respond(conn, 503, "application/json", NULL, "{\"error\":\"redis unavailable\"}\n", 30);
    }
    free(h->channel);
    free(h);
}

void jg_cluster_http_presence(struct jg_conn *conn, const char *channel)
{
    struct jg_server *srv = conn->srv;
    char maxp[24];
    snprintf(maxp, sizeof maxp, "%zu", srv->cfg->presence_max_members);
    struct http_ctx *h = http_wait(conn);
    h->channel = jg_xstrdup(channel);
    const char *args[] = { channel, maxp };
    jg_cluster_fcall(srv->cluster, presence_http_reply, h, false, "jg_presence", 2, args, NULL);
}

