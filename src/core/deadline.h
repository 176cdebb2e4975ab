/* deadline.h: many one-shot deadlines behind one libev timer. Every session has a deadline
 * (handshake expiry, close timeout, heartbeat, polling duration); as a libev timer each
 * costs a 48-byte watcher and a 16-byte entry in libev's heap, as a struct jg_deadline 16
 * bytes and an 8-byte entry here (48 bytes less per session: bench/RESULTS.md "idle"). A
 * binary min-heap of the armed deadlines; the libev timer is armed for the earliest. Loop
 * thread only. */
#ifndef JG_DEADLINE_H
#define JG_DEADLINE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

/* Embedded in what has a deadline; zeroed = not armed. */
struct jg_deadline {
    ev_tstamp at;                        /* CLOCK_MONOTONIC time it falls due (not ev_now's
                                            wall clock: a step of the clock moves no deadline,
                                            as it moves no libev timer) */
    uint32_t pos;                        /* 1 + its index in the heap; 0 = not armed */
};

struct jg_deadlines {
    struct ev_loop *loop;                /* borrowed */
    ev_timer timer;                      /* armed for heap[0] */
    struct jg_deadline **heap;           /* owned array of borrowed deadlines */
    size_t n, cap;
    /* D fell due (it is no longer armed; the callback may arm it, or any other, again) */
    void (*due)(struct jg_deadline *d);
};

void jg_deadlines_init(struct jg_deadlines *q, struct ev_loop *loop, void (*due)(struct jg_deadline *d));
/* Stops the timer and frees the heap; the deadlines still armed are forgotten. */
void jg_deadlines_free(struct jg_deadlines *q);

/* Arms (or re-arms) D to fall due SECONDS from now. */
void jg_deadline_set(struct jg_deadlines *q, struct jg_deadline *d, double seconds);
/* Disarms D (nothing if it is not armed). */
void jg_deadline_stop(struct jg_deadlines *q, struct jg_deadline *d);
static inline bool jg_deadline_armed(const struct jg_deadline *d)
{
    return d->pos != 0;
}
/* If D is armed: disarms it and calls the due callback now, as if it had fallen due (for
 * the fuzzing harnesses, which fire timers by hand). */
void jg_deadline_fire(struct jg_deadlines *q, struct jg_deadline *d);

#endif /* JG_DEADLINE_H */
