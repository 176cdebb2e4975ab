/* cluster_admin.c: cluster mode's admin requests (cluster.h): a publish sequenced
 * atomically by jg_publish, and who is subscribed to a channel, grouped by identity. The
 * HTTP side (the token, the request) is app/admin.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <jansson.h>

#include "base/sb.h"
#include "base/xalloc.h"
#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "proto/sio.h"

#define UNAVAILABLE "{\"error\":\"redis unavailable\"}\n"

struct answer {
    jg_cluster_answer_fn *done;
    void *arg;
    char channel[];
};

static struct answer *answer_new(jg_cluster_answer_fn *done, void *arg, const char *channel)
{
    size_t n = channel ? strlen(channel) + 1 : 1;
    struct answer *a = jg_xcalloc(1, sizeof *a + n);
    a->done = done;
    a->arg = arg;
    memcpy(a->channel, channel ? channel : "", n);
    return a;
}

static void publish_reply(void *user, redisReply *r, void *priv)
{
    struct answer *a = priv;
    char body[160];
    int n;
    if (r && r->type == REDIS_REPLY_STRING && r->len < 24 && strspn(r->str, "0123456789") == r->len) {
        /* jg_publish answers the seq as a string (Lua numbers are doubles) */
        n = snprintf(body, sizeof body, "{\"seq\":%s}\n", r->str);
        a->done(a->arg, 200, body, (size_t)n);
    } else if (r && r->type == REDIS_REPLY_ERROR) {
        n = snprintf(body, sizeof body, "{\"error\":\"%s\"}\n",
                     strstr(r->str, "JSON") ? "the body must be a JSON object" : "redis refused");
        a->done(a->arg, 400, body, (size_t)n);
    } else {
        a->done(a->arg, 503, UNAVAILABLE, strlen(UNAVAILABLE));
    }
    free(a);
}

void jg_cluster_publish(struct jg_cluster *c, const char *body, size_t len, jg_cluster_answer_fn *done, void *arg)
{
    const char *args[] = { body };
    size_t lens[] = { len };
    jg_cluster_fcall(c, publish_reply, answer_new(done, arg, NULL), false, "jg_publish", 1, args, lens);
}

static void presence_reply(void *user, redisReply *r, void *priv)
{
    struct answer *h = priv;
    struct jg_cluster *c = user;
    if (c && r && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER) {
        /* {total, sid, meta, ...}: at most presence-max-members pairs. Grouped by identity
         * (the meta's JSON text; no meta = the session). */
        size_t total = (size_t)r->element[0]->integer, read = (r->elements - 1) / 2;
        json_t *counts = json_object();
        struct jg_sb sb = JG_SB_INIT;
        jg_sb_appends(&sb, "{\"channel\":");
        jg_sio_js_string_append(&sb, h->channel, strlen(h->channel), false);
        jg_sb_appendf(&sb, ",\"sessions\":%zu,%s\"members\":[", total, total > read ? "\"truncated\":true," : "");
        if (total > read)
            c->stats->presence_truncated++;
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
        h->done(h->arg, 200, sb.data, sb.len);
        jg_sb_free(&sb);
    } else {
        h->done(h->arg, 503, UNAVAILABLE, strlen(UNAVAILABLE));
    }
    free(h);
}

void jg_cluster_presence(struct jg_cluster *c, const char *channel, jg_cluster_answer_fn *done, void *arg)
{
    char maxp[24];
    snprintf(maxp, sizeof maxp, "%zu", c->cfg->presence_max_members);
    const char *args[] = { channel, maxp };
    jg_cluster_fcall(c, presence_reply, answer_new(done, arg, channel), false, "jg_presence", 2, args, NULL);
}
