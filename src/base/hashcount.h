/* hashcount.h: how many times each 64-bit hash is held, for a set that answers "is any
 * entry with this hash here?" without walking the entries. The keys are hashes already
 * (the process's keyed hash, hash.h), so their low bits place them: open addressing with
 * linear probing, 16 bytes a slot, at most half full. A key whose count falls to 0 leaves
 * its slot and the run behind it moves back (no tombstones), so a table where keys come
 * and go all the time, as the cluster's pending messages do, stays as short to probe as a
 * fresh one; it shrinks again once mostly empty. */
#ifndef JG_HASHCOUNT_H
#define JG_HASHCOUNT_H
#include <stddef.h>
#include <stdint.h>

struct jg_hashcount_slot {
    uint64_t key;
    uint64_t n;                  /* 0 = an empty slot */
};

struct jg_hashcount {
    struct jg_hashcount_slot *slots;     /* owned array of CAP */
    size_t cap;                          /* a power of two; 0 until the first add */
    size_t live;                         /* keys with a count */
};

void jg_hashcount_init(struct jg_hashcount *t);
void jg_hashcount_free(struct jg_hashcount *t);

/* How many times KEY was added and not yet removed. */
uint64_t jg_hashcount_get(const struct jg_hashcount *t, uint64_t key);
void jg_hashcount_add(struct jg_hashcount *t, uint64_t key);
/* One KEY less; KEY must have a count. */
void jg_hashcount_remove(struct jg_hashcount *t, uint64_t key);

#endif /* JG_HASHCOUNT_H */
