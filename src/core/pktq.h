/* pktq.h: the packets a session keeps for its next transport, in order, each with the seq
 * of its message (0 = not a sequenced message: acks, refusals, "1::"). Holds references. */
#ifndef JG_PKTQ_H
#define JG_PKTQ_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jg_buf;

struct jg_pktq {
    struct jg_buf **pkts;        /* owned refs */
    uint64_t *seqs;              /* owned: the seq of each packet, 0 = none */
    unsigned len;
    unsigned cap;
};

/* Appends PKT (a new reference is taken). */
void jg_pktq_push(struct jg_pktq *q, struct jg_buf *pkt, uint64_t seq);
/* Puts PKT first (a new reference is taken). */
void jg_pktq_push_front(struct jg_pktq *q, struct jg_buf *pkt, uint64_t seq);
/* Moves the packets with no seq or a seq up to UPTO, in order, into a new array (*OUT, which
 * the caller frees, with a reference each); the others stay. Returns how many. */
size_t jg_pktq_take(struct jg_pktq *q, uint64_t upto, struct jg_buf ***out);
/* Drops the sequenced packets up to CURSOR (the client confirmed them). */
void jg_pktq_confirm(struct jg_pktq *q, uint64_t cursor);
/* The highest seq not above CAP; *PLAIN tells whether packets without a seq wait. */
uint64_t jg_pktq_last_seq(const struct jg_pktq *q, uint64_t cap, bool *plain);
/* Drops everything and frees the arrays. */
void jg_pktq_clear(struct jg_pktq *q);

#endif /* JG_PKTQ_H */
