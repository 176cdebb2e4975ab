/* ring.h: cluster mode's ring of recent sequenced messages (cluster.c keeps one), bounded
 * in count AND in bytes of message text, so a burst of large messages cannot multiply.
 * Entries ascend by seq; the oldest go first. Pure data structure: no I/O, no loop. */
#ifndef JG_RING_H
#define JG_RING_H
#include <stddef.h>
#include <stdint.h>

#include "proto/juggernaut.h"

struct jg_ring_entry {
    uint64_t seq;
    char kind;                      /* 'L' legacy, 'D' direct, 'P' presence */
    size_t bytes;                   /* of the message's text, counted against max_bytes */
    struct jg_jug_publish p;        /* owned by the ring */
};

struct jg_ring {
    struct jg_ring_entry *slots;    /* circular */
    size_t cap, start, len;
    size_t bytes, max_bytes;
};

void jg_ring_init(struct jg_ring *r, size_t max_entries, size_t max_bytes);
void jg_ring_deinit(struct jg_ring *r);
/* A zeroed entry of BYTES at the end (fill in seq, kind, p); the oldest entries are dropped
 * first while the ring is full or would pass max_bytes. */
struct jg_ring_entry *jg_ring_push(struct jg_ring *r, size_t bytes);
/* The I-th entry, oldest first (I < r->len). */
struct jg_ring_entry *jg_ring_at(const struct jg_ring *r, size_t i);
/* Index of the first entry with seq > SEQ (r->len if none). */
size_t jg_ring_after(const struct jg_ring *r, uint64_t seq);

#endif /* JG_RING_H */
