/* strtab.h: a table of pointers to entries that each carry their own string key, for
 * tables of many small entries: a slot is 8 bytes and the table is at most 3/4 full, where
 * a uthash handle adds 56 bytes to every entry (an idle session is a quarter smaller
 * without one: bench/RESULTS.md "idle"). Open addressing with linear probing over the
 * process's keyed hash (hash.h), so chosen keys cannot flood one run of slots.
 *
 * An entry removed is only marked, nothing moves: removing entries (the current one or
 * others) while walking is safe. Adding while walking is not: the table may be rebuilt. */
#ifndef JG_STRTAB_H
#define JG_STRTAB_H
#include <stddef.h>

struct jg_strtab {
    void **slots;                        /* owned array of CAP borrowed entries, NULL or marked */
    size_t cap;                          /* a power of two; 0 until the first add */
    size_t live;                         /* entries in the table */
    size_t dead;                         /* marked slots, reused by adds, dropped by rebuilds */
    const char *(*key_of)(const void *entry);
};

void jg_strtab_init(struct jg_strtab *t, const char *(*key_of)(const void *entry));
/* Frees the slots, not the entries. */
void jg_strtab_free(struct jg_strtab *t);

/* The entry whose key is KEY, or NULL. */
void *jg_strtab_find(const struct jg_strtab *t, const char *key);
/* Adds ENTRY, whose key must not be in the table yet. */
void jg_strtab_add(struct jg_strtab *t, void *entry);
/* Removes ENTRY (this pointer; nothing if it is not in the table). */
void jg_strtab_remove(struct jg_strtab *t, const void *entry);

/* Walks the entries in no particular order: start with *POS = 0; NULL at the end.
 *     size_t pos = 0;
 *     for (struct x *e; (e = jg_strtab_next(&t, &pos));) ... */
void *jg_strtab_next(const struct jg_strtab *t, size_t *pos);

#endif /* JG_STRTAB_H */
