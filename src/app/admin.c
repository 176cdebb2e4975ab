/* admin.c: the admin port's cluster endpoints (admin.h): the HTTP side of
 * jg_cluster_publish and jg_cluster_presence, each answered when Redis has. */
#include "app/admin.h"

#include <string.h>

#include <openssl/crypto.h>

#include "app/server.h"
#include "base/log.h"
#include "cluster/cluster.h"
#include "transport/conn.h"
#include "transport/http.h"

/* Redis answered: the held request gets it, if its connection is still there. */
static void answer(void *arg, int status, const char *extra, const char *body, size_t len)
{
    struct jg_http_wait *w = arg;
    struct jg_conn *c = jg_http_wait_end(w);
    jg_http_wait_free(w);
    if (c)
        jg_http_respond(c, status, "application/json", extra, body, len);
}

static void published(void *arg, int status, const char *body, size_t len)
{
    answer(arg, status, NULL, body, len);
}

static void presence_answered(void *arg, int status, const char *body, size_t len)
{
    answer(arg, status, status == 200 ? "Cache-Control: no-cache\r\n" : NULL, body, len);
}

void jg_admin_publish(struct jg_conn *c)
{
    struct jg_server *srv = jg_server_of(c->net);
    const struct jg_config *cfg = srv->cfg;
    struct jg_http_req *req = c->req;
    if (!cfg->publish_token) {
        jg_http_respond(c, 404, "text/plain", NULL, "POST /publish is off: set publish-token\n", 40);
        return;
    }
    const char *auth = req->authorization ? req->authorization : "";
    size_t tlen = strlen(cfg->publish_token);
    if (strncmp(auth, "Bearer ", 7) != 0 || strlen(auth + 7) != tlen ||
        CRYPTO_memcmp(auth + 7, cfg->publish_token, tlen) != 0) {
        srv->stats.auth_refused++;
        jg_info("c#%llu %s: POST /publish refused: wrong or missing token", (unsigned long long)c->id, c->peer);
        jg_http_respond(c, 403, "text/plain", NULL, "wrong or missing publish token\n", 31);
        return;
    }
    const char *body = req->body.data ? req->body.data : "";
    jg_cluster_publish(srv->cluster, body, req->body.len, published, jg_http_wait_begin(c, 0));
}

void jg_admin_presence(struct jg_conn *c, const char *channel)
{
    jg_cluster_presence(jg_server_of(c->net)->cluster, channel, presence_answered, jg_http_wait_begin(c, 0));
}
