/* spent.c: the set of spent sids (spent.h): a uthash by sid plus a FIFO by expiry. */
#include "core/spent.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/hash.h"
#include "base/list.h"
#include "base/xalloc.h"
#include "proto/sid.h"

#define SPENT_MAX 65536           /* ~7 MB at most; beyond, the oldest are forgotten */

struct spent {
    char sid[JG_SID_MAX + 1];
    double until;                 /* after this the signature has expired anyway */
    struct jg_list node;          /* in fifo, oldest first */
    UT_hash_handle hh;
};

struct jg_spent_set {
    struct spent *by_sid;         /* uthash head */
    struct jg_list fifo;
    size_t n;
};

struct jg_spent_set *jg_spent_new(void)
{
    struct jg_spent_set *set = jg_xcalloc(1, sizeof *set);
    jg_list_init(&set->fifo);
    return set;
}

static void spent_remove(struct jg_spent_set *set, struct spent *e)
{
    HASH_DEL(set->by_sid, e);
    jg_list_remove(&e->node);
    set->n--;
    free(e);
}

/* Forgets the entries whose signature expired, and the oldest beyond SPENT_MAX. */
static void expire(struct jg_spent_set *set, double now)
{
    while (!jg_list_empty(&set->fifo)) {
        struct spent *e = jg_container_of(set->fifo.next, struct spent, node);
        if (e->until > now && set->n <= SPENT_MAX)
            break;
        spent_remove(set, e);
    }
}

void jg_spent_add(struct jg_spent_set *set, const char *sid, double until, double now)
{
    struct spent *e = NULL;
    HASH_FIND_STR(set->by_sid, sid, e);
    if (e)
        return;
    e = jg_xcalloc(1, sizeof *e);
    snprintf(e->sid, sizeof e->sid, "%s", sid);
    e->until = until;
    HASH_ADD_STR(set->by_sid, sid, e);
    jg_list_add_tail(&set->fifo, &e->node);
    set->n++;
    expire(set, now);
}

bool jg_spent_has(struct jg_spent_set *set, const char *sid, double now)
{
    expire(set, now);
    struct spent *e = NULL;
    HASH_FIND_STR(set->by_sid, sid, e);
    return e != NULL;
}

void jg_spent_clear(struct jg_spent_set *set)
{
    while (!jg_list_empty(&set->fifo))
        spent_remove(set, jg_container_of(set->fifo.next, struct spent, node));
}

void jg_spent_free(struct jg_spent_set *set)
{
    if (!set)
        return;
    jg_spent_clear(set);
    free(set);
}
