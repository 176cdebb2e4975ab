/* endlater.c: the sessions to end from the check phase (endlater.h): one array that grows by
 * doubling and is freed once handed out; it never looks into a session. */
#include "core/endlater.h"

#include <stdlib.h>

#include "base/xalloc.h"

uint32_t jg_endlater_add(struct jg_endlater *l, struct jg_session *s, const char *reason)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->v = jg_xrealloc(l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (struct jg_endlater_entry){ .s = s, .reason = reason };
    return (uint32_t)l->n;
}

void jg_endlater_remove(struct jg_endlater *l, uint32_t pos)
{
    l->v[pos - 1].s = NULL;
}

struct jg_session *jg_endlater_next(struct jg_endlater *l, const char **reason)
{
    while (l->done < l->n) {
        const struct jg_endlater_entry *e = &l->v[l->done++];
        if (e->s) {
            *reason = e->reason;
            return e->s;
        }
    }
    if (l->v)
        jg_endlater_deinit(l);   /* a burst of ends leaves no large array behind */
    return NULL;
}

void jg_endlater_deinit(struct jg_endlater *l)
{
    free(l->v);
    *l = (struct jg_endlater){ 0 };
}
