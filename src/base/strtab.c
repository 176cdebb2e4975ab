/* strtab.c: string-keyed table of pointers (strtab.h). */
#include "base/strtab.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hash.h"
#include "base/xalloc.h"

#define MIN_CAP 16

static char dead_mark;
#define DEAD ((void *)&dead_mark)   /* a removed entry's slot: probing goes on past it */

static size_t home(const struct jg_strtab *t, const char *key)
{
    return (size_t)jg_hash(key, strlen(key)) & (t->cap - 1);
}

void jg_strtab_init(struct jg_strtab *t, const char *(*key_of)(const void *entry))
{
    memset(t, 0, sizeof *t);
    t->key_of = key_of;
}

void jg_strtab_free(struct jg_strtab *t)
{
    free(t->slots);
    t->slots = NULL;
    t->cap = t->live = t->dead = 0;
}

void *jg_strtab_find(const struct jg_strtab *t, const char *key)
{
    if (!t->cap)
        return NULL;
    for (size_t i = home(t, key);; i = (i + 1) & (t->cap - 1)) {
        void *e = t->slots[i];
        if (!e)
            return NULL;
        if (e != DEAD && strcmp(t->key_of(e), key) == 0)
            return e;
    }
}

/* Puts ENTRY in the first free or marked slot of its probe run (no rebuild). */
static void place(struct jg_strtab *t, void *entry)
{
    size_t i = home(t, t->key_of(entry));
    while (t->slots[i] && t->slots[i] != DEAD)
        i = (i + 1) & (t->cap - 1);
    if (t->slots[i] == DEAD)
        t->dead--;
    t->slots[i] = entry;
    t->live++;
}

/* A new slot array for twice the live entries (at least MIN_CAP), marks dropped. */
static void rebuild(struct jg_strtab *t)
{
    size_t cap = MIN_CAP;
    while (cap < (t->live + 1) * 2)
        cap *= 2;
    void **old = t->slots;
    size_t old_cap = t->cap;
    t->slots = jg_xcalloc(cap, sizeof *t->slots);
    t->cap = cap;
    t->live = t->dead = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] && old[i] != DEAD)
            place(t, old[i]);
    free(old);
}

void jg_strtab_add(struct jg_strtab *t, void *entry)
{
    /* a probe must always reach an empty slot: free slots never drop under a quarter */
    if ((t->live + t->dead + 1) * 4 > t->cap * 3)
        rebuild(t);
    place(t, entry);
}

void jg_strtab_remove(struct jg_strtab *t, const void *entry)
{
    if (!t->cap)
        return;
    for (size_t i = home(t, t->key_of(entry));; i = (i + 1) & (t->cap - 1)) {
        void *e = t->slots[i];
        if (!e)
            return;
        if (e == entry) {
            t->slots[i] = DEAD;
            t->live--;
            t->dead++;
            return;
        }
    }
}

void *jg_strtab_next(const struct jg_strtab *t, size_t *pos)
{
    while (*pos < t->cap) {
        void *e = t->slots[(*pos)++];
        if (e && e != DEAD)
            return e;
    }
    return NULL;
}
