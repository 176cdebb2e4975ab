/* fuzz_common.h: the fixture shared by the libFuzzer harnesses. One server (public dir in a
 * temp folder, Redis on a closed port so events wait in the broker's bounded queue) is made
 * once; every input runs on fresh connections (socketpairs) and sessions, and fz_end()
 * closes and frees all of them, then checks that every gauge is back to zero.
 * The event loop never runs: the harness calls the loop hooks itself and fires timers and
 * socket events by hand (ev_feed_event + ev_invoke_pending), so a run is deterministic.
 * Session ids are deterministic too (getrandom is wrapped at link time): the k-th sid made
 * during an input is fz_sid(k), and "@k" (k a digit) in an input can be replaced by it.
 * Debugging: FUZZ_LOG=1 shows the daemon's log (debug level), FUZZ_DUMP=1 what the clients
 * read. */
#ifndef JG_FUZZ_COMMON_H
#define JG_FUZZ_COMMON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "proto/sid.h"

struct jg_conn;
struct jg_server;
struct jg_session;

#define FZ_MAX_CONNS 8      /* connections opened per input, at most */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set before the first fz_server() for cluster mode ("cluster yes"; fuzz_cluster answers
 * the Redis calls itself). */
extern bool fz_cluster_mode;

/* The server (made on first use). Its config has small limits so inputs reach them. */
struct jg_server *fz_server(void);
/* Starts an input: the sid generator restarts at 0. */
void fz_begin(void);
/* Ends an input: closes every connection, ends every session, runs the hooks, frees what
 * was freed late, closes the peers, and aborts if a gauge or a list is not back to empty. */
void fz_end(void);

/* The sid of the K-th session created during this input (K < 64). */
const char *fz_sid(unsigned k);
/* Sessions created so far in this input (sids generated). */
unsigned fz_sid_count(void);
/* A copy of IN with every "@k" (k in 0-9) replaced by fz_sid(k); NUL-terminated, free() it. */
char *fz_subst(const uint8_t *in, size_t len, size_t *outlen);

/* A new connection over a socketpair in slot SLOT (< FZ_MAX_CONNS), or NULL when the input
 * already opened FZ_MAX_CONNS connections. The previous one in that slot is forgotten (it
 * is closed by fz_end at the latest). */
struct jg_conn *fz_conn_open(unsigned slot, bool admin);
/* The live (not closed) connection in SLOT, or NULL. */
struct jg_conn *fz_conn(unsigned slot);
/* The test's end of SLOT's socketpair, or -1. */
int fz_peer(unsigned slot);
/* Reads and discards what the daemon wrote to SLOT; returns the byte count. With COPY not
 * NULL, the bytes are also appended there (up to CAP bytes in all, *COPYLEN updated). */
size_t fz_drain(unsigned slot, char *copy, size_t cap, size_t *copylen);
/* The loop's prepare and check phases: resumed input, session ends, flushes, frees.
 * Slots whose connection closed are emptied first. */
void fz_hooks(void);

/* As if the loop saw this: a readable/writable socket (only if the watcher is active),
 * a non-repeating timer expiring (only if active: it is stopped, then its callback runs). */
void fz_io_event(ev_io *w, int revents);
void fz_timer_fire(ev_timer *t);

/* Which session timer fz_fire_sessions fires (what the session's one timer means now). */
enum fz_timer { FZ_CLOSE_TIMER, FZ_HB_TIMER, FZ_POLL_TIMER };
/* Fires timer WHICH of every live session of this input, in creation order. */
void fz_fire_sessions(enum fz_timer which);

/* Aborts with a message: an invariant the harness checks does not hold. */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif /* JG_FUZZ_COMMON_H */
