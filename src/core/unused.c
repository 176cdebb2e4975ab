/* unused.c: counts of unused sessions (unused.h), per address in a uthash. */
#include "core/unused.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/hash.h"
#include "base/xalloc.h"

struct jg_unused_addr {
    char addr[64];                /* the peer without its port */
    size_t n;
    UT_hash_handle hh;
};

struct jg_unused {
    size_t n;
    struct jg_unused_addr *by_addr;   /* uthash head */
};

struct jg_unused *jg_unused_new(void)
{
    return jg_xcalloc(1, sizeof(struct jg_unused));
}

void jg_unused_free(struct jg_unused *u)
{
    if (!u)
        return;
    struct jg_unused_addr *a, *tmp;
    HASH_ITER(hh, u->by_addr, a, tmp) {
        HASH_DEL(u->by_addr, a);
        free(a);
    }
    free(u);
}

size_t jg_unused_count(const struct jg_unused *u)
{
    return u->n;
}

/* The address part of a peer "1.2.3.4:5678" or "[::1]:5678". */
static void peer_address(const char *peer, char *out, size_t len)
{
    const char *end = peer[0] == '[' ? strchr(peer, ']') : strrchr(peer, ':');
    size_t n = end ? (size_t)(end - peer) + (peer[0] == '[') : strlen(peer);
    snprintf(out, len, "%.*s", (int)n, peer);
}

bool jg_unused_take(struct jg_unused *u, const struct jg_config *cfg, const char *peer,
                    struct jg_unused_addr **addr, const char **limit)
{
    *addr = NULL;
    if (u->n >= cfg->max_unused_sessions) {
        *limit = "max-unused-sessions";
        return false;
    }
    size_t per_ip = cfg->max_unused_sessions_per_ip;
    if (per_ip) {
        char key[64];
        peer_address(peer, key, sizeof key);
        struct jg_unused_addr *a = NULL;
        HASH_FIND_STR(u->by_addr, key, a);
        if (a && a->n >= per_ip) {
            *limit = "max-unused-sessions-per-ip";
            return false;
        }
        if (!a) {
            a = jg_xcalloc(1, sizeof *a);
            snprintf(a->addr, sizeof a->addr, "%s", key);
            HASH_ADD_STR(u->by_addr, addr, a);
        }
        a->n++;
        *addr = a;
    }
    u->n++;
    return true;
}

void jg_unused_release(struct jg_unused *u, struct jg_unused_addr *a)
{
    u->n--;
    if (a && --a->n == 0) {
        HASH_DEL(u->by_addr, a);
        free(a);
    }
}
