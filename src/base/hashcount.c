/* hashcount.c: counts per 64-bit hash (hashcount.h). */
#include "base/hashcount.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

#define MIN_CAP 64

static size_t mask(const struct jg_hashcount *t) { return t->cap - 1; }

void jg_hashcount_init(struct jg_hashcount *t)
{
    memset(t, 0, sizeof *t);
}

void jg_hashcount_free(struct jg_hashcount *t)
{
    free(t->slots);
    jg_hashcount_init(t);
}

/* The slot of KEY, or the empty slot where it would go. */
static struct jg_hashcount_slot *slot_of(const struct jg_hashcount *t, uint64_t key)
{
    for (size_t i = (size_t)key & mask(t);; i = (i + 1) & mask(t)) {
        struct jg_hashcount_slot *s = &t->slots[i];
        if (!s->n || s->key == key)
            return s;
    }
}

static void rebuild(struct jg_hashcount *t, size_t cap)
{
    struct jg_hashcount_slot *old = t->slots;
    size_t old_cap = t->cap;
    t->slots = jg_xcalloc(cap, sizeof *t->slots);
    t->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].n)
            *slot_of(t, old[i].key) = old[i];
    free(old);
}

uint64_t jg_hashcount_get(const struct jg_hashcount *t, uint64_t key)
{
    return t->cap ? slot_of(t, key)->n : 0;
}

void jg_hashcount_add(struct jg_hashcount *t, uint64_t key)
{
    if ((t->live + 1) * 2 > t->cap)
        rebuild(t, t->cap ? t->cap * 2 : MIN_CAP);
    struct jg_hashcount_slot *s = slot_of(t, key);
    if (!s->n++) {
        s->key = key;
        t->live++;
    }
}

void jg_hashcount_remove(struct jg_hashcount *t, uint64_t key)
{
    struct jg_hashcount_slot *s = slot_of(t, key);
    if (!s->n || --s->n)
        return;
    t->live--;
    /* Close the gap: a later entry of the run whose home is not in (gap, itself] would no
     * longer be reachable from its home, so it moves into the gap (Knuth's algorithm R). */
    size_t gap = (size_t)(s - t->slots);
    for (size_t j = (gap + 1) & mask(t); t->slots[j].n; j = (j + 1) & mask(t)) {
        size_t home = (size_t)t->slots[j].key & mask(t);
        bool stays = gap <= j ? (gap < home && home <= j) : (gap < home || home <= j);
        if (stays)
            continue;
        t->slots[gap] = t->slots[j];
        t->slots[j].n = 0;
        gap = j;
    }
    if (t->cap > MIN_CAP && t->live * 8 < t->cap)
        rebuild(t, t->cap / 2);
}
