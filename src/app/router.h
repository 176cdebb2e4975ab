/* router.h: sends a complete HTTP request to the handler for its path: socket.io
 * (handshake and transports), /health, /stats, /metrics, or the static files. */
#ifndef JG_ROUTER_H
#define JG_ROUTER_H
#include <stddef.h>

struct jg_conn;

/* Handles c->req. For a WebSocket upgrade, REST/RESTLEN are the bytes that followed the
 * request (already frames). */
void jg_router_dispatch(struct jg_conn *c, const char *rest, size_t restlen);

/* The session claim of c->req finished (cluster mode): handle the request now. */
void jg_router_resume_claimed(struct jg_conn *c);

/* Finds query parameter NAME in the request-target URL (after '?'). Returns a pointer to
 * its raw value and sets *LEN, or returns NULL. A bare "name" gives an empty value. */
const char *jg_query_param(const char *url, size_t urllen, const char *name, size_t *len);

#endif /* JG_ROUTER_H */
