/* pktq.c: a session's packet queue (pktq.h): two parallel arrays that grow by doubling. */
#include "core/pktq.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"

static void grow(struct jg_pktq *q)
{
    if (q->len < q->cap)
        return;
    q->cap = q->cap ? q->cap * 2 : 4;
    q->pkts = jg_xrealloc(q->pkts, q->cap * sizeof *q->pkts);
    q->seqs = jg_xrealloc(q->seqs, q->cap * sizeof *q->seqs);
}

/* An empty queue keeps no arrays: most sessions are idle most of the time. */
static void release_if_empty(struct jg_pktq *q)
{
    if (q->len)
        return;
    free(q->pkts);
    free(q->seqs);
    *q = (struct jg_pktq){ 0 };
}

void jg_pktq_push(struct jg_pktq *q, struct jg_buf *pkt, uint64_t seq)
{
    grow(q);
    q->seqs[q->len] = seq;
    q->pkts[q->len++] = jg_buf_ref(pkt);
}

void jg_pktq_push_front(struct jg_pktq *q, struct jg_buf *pkt, uint64_t seq)
{
    grow(q);
    memmove(q->pkts + 1, q->pkts, q->len * sizeof *q->pkts);
    memmove(q->seqs + 1, q->seqs, q->len * sizeof *q->seqs);
    q->pkts[0] = jg_buf_ref(pkt);
    q->seqs[0] = seq;
    q->len++;
}

size_t jg_pktq_take(struct jg_pktq *q, uint64_t upto, struct jg_buf ***out)
{
    size_t n = 0;
    unsigned kept = 0;
    struct jg_buf **taken = jg_xmalloc((q->len ? q->len : 1) * sizeof *taken);
    for (unsigned i = 0; i < q->len; i++) {
        if (q->seqs[i] <= upto) {
            taken[n++] = q->pkts[i];
        } else {
            q->seqs[kept] = q->seqs[i];
            q->pkts[kept++] = q->pkts[i];
        }
    }
    q->len = kept;
    release_if_empty(q);
    *out = taken;
    return n;
}

void jg_pktq_confirm(struct jg_pktq *q, uint64_t cursor)
{
    unsigned kept = 0;
    for (unsigned i = 0; i < q->len; i++) {
        if (q->seqs[i] && q->seqs[i] <= cursor) {
            jg_buf_unref(q->pkts[i]);
            continue;
        }
        q->seqs[kept] = q->seqs[i];
        q->pkts[kept++] = q->pkts[i];
    }
    q->len = kept;
    release_if_empty(q);
}

uint64_t jg_pktq_last_seq(const struct jg_pktq *q, uint64_t cap, bool *plain)
{
    uint64_t to = 0;
    *plain = false;
    for (unsigned i = 0; i < q->len; i++) {
        if (q->seqs[i] > to && q->seqs[i] <= cap)
            to = q->seqs[i];
        *plain = *plain || !q->seqs[i];
    }
    return to;
}

void jg_pktq_clear(struct jg_pktq *q)
{
    for (unsigned i = 0; i < q->len; i++)
        jg_buf_unref(q->pkts[i]);
    free(q->pkts);
    free(q->seqs);
    *q = (struct jg_pktq){ 0 };
}
