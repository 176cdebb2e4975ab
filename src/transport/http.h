/* http.h: HTTP/1.1 request parsing on a connection (nodejs http-parser glue) and response
 * writing. Keeps only the headers the daemon uses; enforces header and body limits.
 * Complete requests go to net->dispatch (app/router.c). Loop thread only. */
#ifndef JG_HTTP_H
#define JG_HTTP_H
#include <stdbool.h>
#include <stddef.h>

#include "base/sb.h"

struct jg_buf;
struct jg_conn;

struct jg_http_req {
    unsigned method;             /* enum http_method */
    bool keep_alive;             /* answer keeps the connection open */
    bool upgrade_websocket;      /* "Upgrade: websocket" was sent */
    struct jg_sb url;            /* request-target as sent */
    char *origin;                /* owned; Origin header or NULL */
    char *referer;               /* owned; Referer header or NULL */
    char *ws_key;                /* owned; Sec-WebSocket-Key or NULL */
    char *ws_version;            /* owned; Sec-WebSocket-Version or NULL */
    char *if_none_match;         /* owned; If-None-Match or NULL */
    char *authorization;         /* owned; Authorization or NULL (admin POST /publish) */
    char *content_type;          /* owned; Content-Type or NULL (the console's POST) */
    char *request_id;            /* owned; X-Request-Id or NULL: the balancer's id of the
                                    request, the same in its retries (conf/haproxy.cfg) */
    struct jg_sb body;           /* request body (bounded by max-post-body) */
    /* parser bookkeeping */
    struct jg_sb field;          /* header name being read */
    struct jg_sb value;          /* header value being read */
    bool in_value;               /* last callback was a value fragment */
    size_t header_bytes;         /* request line + headers so far */
    size_t nheaders;
    int error_status;            /* 413, 431, ...: answer this and close */
    bool complete;               /* on_message_complete seen */
};

/* Sets up the parser of a fresh connection. */
void jg_http_conn_init(struct jg_conn *c);
/* Feeds bytes read from the socket. Dispatches every complete request to the router.
 * Stops early when a request is held, the connection upgrades or closes; the unparsed
 * rest is stored (held_input) or handed to the WebSocket layer. */
void jg_http_feed(struct jg_conn *c, const char *data, size_t len);
void jg_http_req_free(struct jg_http_req *req);

/* Response writing. EXTRA is zero or more complete header lines ("Name: v\r\n").
 * Adds Content-Length, and Connection: close when the request does not keep alive. The
 * request is finished afterwards (the connection resumes parsing or closes). */
void jg_http_respond(struct jg_conn *c, int status, const char *content_type, const char *extra,
                     const void *body, size_t len);
/* Same with a shared body buffer queued by reference (no copy); HEAD_ONLY omits it. */
void jg_http_respond_buf(struct jg_conn *c, int status, const char *content_type, const char *extra,
                         struct jg_buf *body, bool head_only);
/* Starts a chunked response that stays open (htmlfile); chunks go with jg_http_chunk. */
void jg_http_start_chunked(struct jg_conn *c, int status, const char *content_type, const char *extra);
void jg_http_chunk(struct jg_conn *c, const void *p, size_t len);
/* Ends a chunked response (terminating chunk); the connection then closes. */
void jg_http_end_chunked(struct jg_conn *c);
/* Marks the current request as held: its answer comes later (long-poll); input that
 * arrives meanwhile waits. */
void jg_http_hold(struct jg_conn *c);

/* Appends the CORS lines for a request with an Origin (protocol.md §7.4: echo the
 * origin, allow credentials); nothing without Origin. */
void jg_http_cors(const struct jg_http_req *req, struct jg_sb *out);
const char *jg_http_status_text(int status);
/* With access-log on: one info line for the answer to c->req (LENGTH -1 = streamed). */
void jg_http_access_log(const struct jg_conn *c, int status, long long length);

/* Finds query parameter NAME in the request-target URL (after '?'). Returns a pointer to
 * its raw value and sets *LEN, or returns NULL. A bare "name" gives an empty value. */
const char *jg_query_param(const char *url, size_t urllen, const char *name, size_t *len);

/* A request whose answer comes later from something asynchronous (Redis): C is held (input
 * behind it waits) and the wait carries SIZE bytes of the waiter's own (jg_http_wait_data).
 * When the answer is there, jg_http_wait_end returns C if it is still open (answer it), or
 * NULL if it closed meanwhile; jg_http_wait_free then frees the wait (and its bytes). */
struct jg_http_wait;
struct jg_http_wait *jg_http_wait_begin(struct jg_conn *c, size_t size);
void *jg_http_wait_data(struct jg_http_wait *w);
struct jg_conn *jg_http_wait_end(struct jg_http_wait *w);
void jg_http_wait_free(struct jg_http_wait *w);

#endif /* JG_HTTP_H */
