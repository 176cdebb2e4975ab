/* backplane.h: what the core needs from beyond this process, declared here and implemented
 * above it: cluster/single.c (one instance: events are published, nothing is shared) and
 * cluster/cluster*.c (sessions, subscriptions and the message sequence kept in Redis, so any
 * instance can serve any request). app/server.c picks one. Every op gets the implementation's
 * own state BP first. Ops marked "shared only" may be NULL when jg_backplane_ops.shared is
 * false; the core then never calls them. */
#ifndef JG_BACKPLANE_H
#define JG_BACKPLANE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jg_session;
struct jg_sub;

/* What a subscribe asked for besides the channel (cluster mode: a backfill). */
struct jg_subscribe_req {
    bool has_since;          /* "since": messages after this seq */
    uint64_t since;
    long history;            /* "history": the last N messages, 0 = none */
    bool presence;           /* "presence": a snapshot, then joins and leaves */
};

/* The backplane's own bookkeeping of a session: kept in the session, never read by the core. */
struct jg_backplane_state {
    uint64_t claim_gen;              /* generation of the claim that brought the copy here */
    const char *end_when_answered;   /* moved away while a polling answer was being recorded:
                                        the copy ends (this reason) once that answer went out */
    bool recorded;                   /* its record was written (at its first transport request) */
};

/* A transport request for a session, as the backplane needs to know it to claim the session
 * for this instance before the request is served. */
struct jg_claim {
    const char *sid;                 /* well-formed */
    bool has_t;                      /* a GET with "t" (its key in T) */
    uint64_t t;
    bool connects;                   /* a GET: it may open a transport (send "1::") */
    bool polling;                    /* xhr-polling or jsonp-polling */
    bool polling_get;                /* a GET of one of those */
    bool disconnect;                 /* ?disconnect */
};

enum jg_claim_result {
    JG_CLAIM_DONE = 0,               /* serve the request (the session is here, or unknown) */
    JG_CLAIM_SPENT,                  /* the sid's session ended: it is unknown, never adopted */
    JG_CLAIM_FAILED,                 /* the backplane could not answer: 503, the balancer retries */
    JG_CLAIM_LATE,                   /* no answer within polling-duration: serve a session held
                                        here as it is, else 503 (the claim still completes) */
};

/* Called exactly once per claim, never from inside jg_backplane_ops.claim. */
typedef void jg_claim_done_fn(void *arg, enum jg_claim_result result);

struct jg_backplane_ops {
    const char *name;
    bool shared;
    /* A juggernaut:* event: juggernaut:custom always; juggernaut:subscribe and
     * juggernaut:unsubscribe when not shared (a shared backplane makes its own). */
    void (*event)(void *bp, const char *channel, const char *json, size_t len);

    /* ---- shared only ---- */
    /* The highest message seq applied here: a new subscription starts after it. */
    uint64_t (*position)(void *bp);
    /* A handshake made S. */
    void (*session_created)(void *bp, struct jg_session *s);
    /* S ends here, not moved: its unsubscribe events are the backplane's. */
    void (*session_ended)(void *bp, struct jg_session *s);
    void (*subscribed)(void *bp, struct jg_session *s, struct jg_sub *sub, const struct jg_subscribe_req *req);
    void (*unsubscribed)(void *bp, struct jg_session *s, const char *channel);
    void (*meta_changed)(void *bp, struct jg_session *s);
    /* A streaming session's heartbeat: it is alive, and has had everything up to its seq. */
    void (*touch)(void *bp, struct jg_session *s);
    /* A polling answer carrying messages up to seq TO is to go out on S's held GET: record it
     * first; jg_session_poll_recorded follows. */
    void (*record_answer)(void *bp, struct jg_session *s, uint64_t to);
    /* The highest seq a polling answer of S may carry now (UINT64_MAX: no limit): live
     * messages behind a backfill still on its way must not be confirmed past. */
    uint64_t (*answer_cap)(void *bp, struct jg_session *s);
    /* Shutting down: let S go without its events (another instance takes its next poll). */
    void (*hand_off)(void *bp, struct jg_session *s);
    /* A request's claim of SID is waiting for the backplane (the client is there). */
    bool (*claim_pending)(void *bp, const char *sid);
    /* Must request CL (for S, NULL when not held here) wait for a claim? May record S. */
    bool (*claim_needed)(void *bp, const struct jg_claim *cl, struct jg_session *s);
    void (*claim)(void *bp, const struct jg_claim *cl, struct jg_session *s, jg_claim_done_fn *done, void *arg);
    /* True when other instances cannot find S yet (its record is on its way): the
     * handshake's answer waits for after_record then. */
    bool (*sid_unknown)(void *bp, const struct jg_session *s);
    /* DONE(ARG, JG_CLAIM_DONE) once what was sent to the backplane so far has arrived
     * (JG_CLAIM_FAILED: it may not have). */
    void (*after_record)(void *bp, jg_claim_done_fn *done, void *arg);
};

#endif /* JG_BACKPLANE_H */
