/* conn.h: one client TCP connection: its watchers, the HTTP parser state, a bounded output
 * queue of shared buffers flushed before the loop sleeps, and deferred freeing.
 * What the bytes mean is decided elsewhere (net->input: http.c, ws.c). The struct is the
 * transport layer's: its modules share it. Loop thread only. */
#ifndef JG_CONN_H
#define JG_CONN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <http_parser.h>
#include <wslay/wslay.h>

#include "base/config.h"
#include "base/list.h"
#include "base/sb.h"
#include "transport/net.h"

struct jg_addr_count;
struct jg_buf;
struct jg_http_req;
struct jg_session;

enum jg_conn_mode {
    JG_CONN_HTTP = 0,     /* parsing requests */
    JG_CONN_WS,           /* upgraded: bytes are WebSocket frames */
    JG_CONN_LINGER,       /* output done and write side shut: discarding input until EOF */
};

/* What a connection needs only while it speaks HTTP, and the timer of its deadline (the
 * header and keep-alive timeouts, and the linger before any connection closes). A
 * WebSocket drops it at the upgrade, so an idle subscriber's connection is 256 bytes, not
 * 384 (bench/RESULTS.md "idle"); it is made again only if the WebSocket lingers. */
struct jg_conn_http {
    struct jg_conn *conn;                /* the connection it belongs to */
    ev_timer timer;                      /* header/idle timeout, or linger deadline */
    http_parser parser;
    struct jg_sb held_input;             /* bytes that arrived while a request was held */
    struct jg_list resume_node;          /* in net->resume while held_input waits */
    struct jg_conn **waiter;             /* set to NULL when the connection closes: the slot
                                            of an asynchronous answer waiting for it */
};

/* Fields are grouped so that the struct has no holes: an idle WebSocket subscriber costs
 * this struct, its session and its subscription (bench/RESULTS.md "idle"). */
struct jg_conn {
    int fd;                              /* owned; -1 once closed */
    enum jg_conn_mode mode;
    uint64_t id;                         /* for log lines: c#<id> */
    struct jg_net *net;                  /* borrowed */
    struct jg_addr_count *addr;          /* its address's count (max-connections-per-ip), or NULL */
    ev_io io;                            /* EV_READ always; EV_WRITE too after EAGAIN */
    struct jg_conn_http *http;           /* owned; NULL for a WebSocket that is not lingering */
    struct jg_http_req *req;             /* owned: request being parsed or being answered */
    /* output queue: ring of buf refs; the head buf is written from head_off */
    struct jg_buf **out;                 /* owned array of owned refs */
    unsigned out_head;                   /* index of the oldest entry */
    unsigned out_count;                  /* entries queued */
    unsigned out_cap;                    /* slots allocated (power of two) */
    enum jg_transport_kind kind;         /* which transport, when session != NULL */
    size_t head_off;                     /* bytes of out[out_head] already written */
    size_t out_bytes;                    /* unsent bytes in the queue */
    /* transport role */
    struct jg_session *session;          /* borrowed: the session this conn carries, or NULL */
    wslay_event_context_ptr ws;          /* owned, JG_CONN_WS only, and only while a frame or
                                            fragmented message is in progress (ws.c) */
    uint64_t ws_unparsed;                /* bytes given to wslay not yet part of a whole frame */
    uint64_t ws_frame_len;               /* bytes (header + payload) of the frame being read */
    struct jg_list pending_node;         /* in net->pending_write or net->closing */
    struct jg_list all_node;             /* in net->conns until closed */
    bool ws_msg_open;                    /* a fragmented message awaits its last frame */
    bool held;                           /* a request is held open (long-poll, stream) */
    bool claimed;                        /* c->req's session claim is done (backplane.h) */
    bool sid_spent;                      /* the claim found c->req's session ended */
    bool closing;                        /* jg_conn_close ran; freed from net->closing */
    bool close_after_flush;              /* close once the queue is empty */
    bool overflowed;                     /* passed max-output-buffer: close on next flush */
    bool admin;                          /* accepted on the admin port: health/stats only */
    char peer[48];                       /* "ip:port" or "[ip6]:port" for log lines (inet_ntop
                                            writes at most 39 characters of an IPv6 address) */
};
/* One jemalloc size class: a field more costs every idle WebSocket 64 bytes (the next
 * class is 320); move what only HTTP needs to struct jg_conn_http instead. */
_Static_assert(sizeof(struct jg_conn) <= 256, "struct jg_conn outgrew its 256-byte size class");

/* Accepted socket FD (non-blocking) becomes a connection; its input goes to net->input. */
struct jg_conn *jg_conn_new(struct jg_net *net, int fd, const char *peer);

/* Queues a reference to B (takes a new ref; the caller keeps its own). Never writes now:
 * the flush happens before the loop sleeps. Passing max-output-buffer marks the
 * connection for closing as a slow consumer (done at flush, never inside a fan-out). */
void jg_conn_send(struct jg_conn *c, struct jg_buf *b);
/* Same, but takes over the caller's reference. */
void jg_conn_send_owned(struct jg_conn *c, struct jg_buf *b);
/* Copies LEN bytes into a new buf and queues it. */
void jg_conn_send_copy(struct jg_conn *c, const void *p, size_t len);

/* Closes the connection once everything queued has been written (and the peer had a
 * chance to read it: write side shut down, input drained briefly). */
void jg_conn_close_after_flush(struct jg_conn *c);
/* Closes now: stops watchers, detaches the session (which may end it), and parks the
 * struct for freeing after the current callback. Safe to call twice. REASON is logged
 * at debug level. */
void jg_conn_close(struct jg_conn *c, const char *reason);

/* The held request was answered: parse input that waited behind it (deferred to the
 * next loop iteration, so it never runs inside a fan-out). */
void jg_conn_resume(struct jg_conn *c);

/* (Re)arms the connection's deadline: after SECONDS it is closed ("idle timeout").
 * 0 stops it. */
void jg_conn_set_deadline(struct jg_conn *c, double seconds);

/* C became a WebSocket (or is being freed): its HTTP state and deadline go. */
void jg_conn_http_done(struct jg_conn *c);

/* Loop hooks, called by app/server.c: write queued output before the loop sleeps, free
 * closed connections after callbacks return, parse input that waited behind a request. */
void jg_conn_flush_all(struct jg_net *net);
void jg_conn_reap(struct jg_net *net);
void jg_conn_process_resumed(struct jg_net *net);
/* Shutdown: closes and frees every connection. */
void jg_conn_close_all(struct jg_net *net);

/* For the transports' jg_transport_ops (core/session.h): T (a connection) became session S's
 * transport, or stopped being it; kept in c->session and the gauges of open transports. */
void jg_conn_attached(void *t, struct jg_session *s);
void jg_conn_detached(void *t);

#endif /* JG_CONN_H */
