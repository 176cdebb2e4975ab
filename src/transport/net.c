/* net.c: the transport layer's context (net.h) and the per-address connection counts. */
#include "transport/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/hash.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "transport/uring.h"

struct jg_addr_count {
    unsigned char key[17];          /* family (4 or 6), then the address */
    size_t n;
    UT_hash_handle hh;
};

void jg_net_init(struct jg_net *net, struct ev_loop *loop, const struct jg_config *cfg, struct jg_stats *stats,
                 struct jg_core *core)
{
    memset(net, 0, sizeof *net);
    net->loop = loop;
    net->cfg = cfg;
    net->stats = stats;
    net->core = core;
    jg_list_init(&net->pending_write);
    jg_list_init(&net->closing);
    jg_list_init(&net->resume);
    jg_list_init(&net->conns);
    if (cfg->io_uring && !(net->uring = jg_uring_new(JG_NET_SEND_BATCH)))
        jg_warn("io_uring is not available (%s): writing to clients with one writev(2) each; "
                "set io-uring no to say so on purpose", strerror(errno));
}

void jg_net_deinit(struct jg_net *net)
{
    jg_uring_free(net->uring);
    net->uring = NULL;
}

static void addr_key(const struct sockaddr_storage *ss, unsigned char key[17])
{
    memset(key, 0, 17);
    if (ss->ss_family == AF_INET) {
        key[0] = 4;
        memcpy(key + 1, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        key[0] = 6;
        memcpy(key + 1, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    }
}

struct jg_addr_count *jg_net_addr_take(struct jg_net *net, const struct sockaddr_storage *ss)
{
    unsigned char key[17];
    addr_key(ss, key);
    struct jg_addr_count *a = NULL;
    HASH_FIND(hh, net->by_addr, key, sizeof key, a);
    if (a && a->n >= net->cfg->max_connections_per_ip)
        return NULL;
    if (!a) {
        a = jg_xcalloc(1, sizeof *a);
        memcpy(a->key, key, sizeof key);
        HASH_ADD(hh, net->by_addr, key, sizeof a->key, a);
    }
    a->n++;
    return a;
}

void jg_net_addr_release(struct jg_net *net, struct jg_addr_count *a)
{
    if (--a->n == 0) {
        HASH_DEL(net->by_addr, a);
        free(a);
    }
}
