/* ring.c: the ring of recent sequenced messages (ring.h). */
#include "cluster/ring.h"

#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void jg_ring_init(struct jg_ring *r, size_t max_entries, size_t max_bytes)
{
    memset(r, 0, sizeof *r);
    r->cap = max_entries ? max_entries : 1;
    r->max_bytes = max_bytes;
    r->slots = jg_xcalloc(r->cap, sizeof *r->slots);
}

void jg_ring_deinit(struct jg_ring *r)
{
    for (size_t i = 0; i < r->len; i++)
        jg_jug_publish_deinit(&jg_ring_at(r, i)->p);
    free(r->slots);
    memset(r, 0, sizeof *r);
}

struct jg_ring_entry *jg_ring_at(const struct jg_ring *r, size_t i)
{
    return &r->slots[(r->start + i) % r->cap];
}

struct jg_ring_entry *jg_ring_push(struct jg_ring *r, size_t bytes)
{
    while (r->len && (r->len == r->cap || r->bytes + bytes > r->max_bytes)) {
        struct jg_ring_entry *old = jg_ring_at(r, 0);
        r->bytes -= old->bytes;
        jg_jug_publish_deinit(&old->p);
        r->start = (r->start + 1) % r->cap;
        r->len--;
    }
    struct jg_ring_entry *e = jg_ring_at(r, r->len++);
    memset(e, 0, sizeof *e);
    e->bytes = bytes;
    r->bytes += bytes;
    return e;
}

size_t jg_ring_after(const struct jg_ring *r, uint64_t seq)
{
    size_t lo = 0, hi = r->len;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (jg_ring_at(r, mid)->seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}
