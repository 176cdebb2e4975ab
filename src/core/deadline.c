/* deadline.c: one-shot deadlines in a binary min-heap behind one libev timer (deadline.h). */
#include "core/deadline.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xalloc.h"

static ev_tstamp now_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ev_tstamp)ts.tv_sec + (ev_tstamp)ts.tv_nsec * 1e-9;
}

static void put(struct jg_deadlines *q, size_t i, struct jg_deadline *d)
{
    q->heap[i] = d;
    d->pos = (uint32_t)i + 1;
}

static void sift_up(struct jg_deadlines *q, size_t i)
{
    struct jg_deadline *d = q->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (q->heap[parent]->at <= d->at)
            break;
        put(q, i, q->heap[parent]);
        i = parent;
    }
    put(q, i, d);
}

static void sift_down(struct jg_deadlines *q, size_t i)
{
    struct jg_deadline *d = q->heap[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= q->n)
            break;
        if (child + 1 < q->n && q->heap[child + 1]->at < q->heap[child]->at)
            child++;
        if (d->at <= q->heap[child]->at)
            break;
        put(q, i, q->heap[child]);
        i = child;
    }
    put(q, i, d);
}

/* The libev timer follows the earliest deadline. */
static void rearm(struct jg_deadlines *q)
{
    ev_timer_stop(q->loop, &q->timer);
    if (!q->n)
        return;
    double after = q->heap[0]->at - now_monotonic();
    ev_timer_set(&q->timer, after > 0 ? after : 0, 0);
    ev_timer_start(q->loop, &q->timer);
}

/* Takes D out of the heap (it must be in it). */
static void take_out(struct jg_deadlines *q, struct jg_deadline *d)
{
    size_t i = d->pos - 1;
    d->pos = 0;
    struct jg_deadline *last = q->heap[--q->n];
    if (i == q->n)
        return;
    put(q, i, last);
    if (i > 0 && q->heap[(i - 1) / 2]->at > last->at)
        sift_up(q, i);
    else
        sift_down(q, i);
}

static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct jg_deadlines *q = w->data;
    ev_tstamp now = now_monotonic();
    /* a callback may arm deadlines that are already due (0 s): they wait for the next
     * turn of the loop, as a libev timer would */
    size_t budget = q->n;
    while (q->n && q->heap[0]->at <= now && budget--) {
        struct jg_deadline *d = q->heap[0];
        take_out(q, d);
        q->due(d);
    }
    rearm(q);
}

void jg_deadlines_init(struct jg_deadlines *q, struct ev_loop *loop, void (*due)(struct jg_deadline *d))
{
    memset(q, 0, sizeof *q);
    q->loop = loop;
    q->due = due;
    ev_timer_init(&q->timer, timer_cb, 0, 0);
    q->timer.data = q;
}

void jg_deadlines_free(struct jg_deadlines *q)
{
    ev_timer_stop(q->loop, &q->timer);
    for (size_t i = 0; i < q->n; i++)
        q->heap[i]->pos = 0;
    free(q->heap);
    q->heap = NULL;
    q->n = q->cap = 0;
}

void jg_deadline_set(struct jg_deadlines *q, struct jg_deadline *d, double seconds)
{
    struct jg_deadline *first = q->n ? q->heap[0] : NULL;
    ev_tstamp first_at = first ? first->at : 0;
    if (d->pos)
        take_out(q, d);
    d->at = now_monotonic() + seconds;
    if (q->n == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->heap = jg_xrealloc(q->heap, q->cap * sizeof *q->heap);
    }
    q->heap[q->n++] = d;
    sift_up(q, q->n - 1);
    if (q->heap[0] != first || q->heap[0]->at != first_at)
        rearm(q);
}

void jg_deadline_stop(struct jg_deadlines *q, struct jg_deadline *d)
{
    if (!d->pos)
        return;
    bool was_first = d->pos == 1;
    take_out(q, d);
    if (was_first)
        rearm(q);
}

void jg_deadline_fire(struct jg_deadlines *q, struct jg_deadline *d)
{
    if (!d->pos)
        return;
    jg_deadline_stop(q, d);
    q->due(d);
}
