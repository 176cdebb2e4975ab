/* router.h: sends a complete HTTP request to the handler for its path: socket.io
 * (transport/endpoint.c), /health, /stats, /metrics, the static files, the admin port's
 * endpoints. It is the transport layer's net->dispatch. */
#ifndef JG_ROUTER_H
#define JG_ROUTER_H
#include <stddef.h>

struct jg_conn;

/* Handles c->req. For a WebSocket upgrade, REST/RESTLEN are the bytes that followed the
 * request (already frames). */
void jg_router_dispatch(struct jg_conn *c, const char *rest, size_t restlen);

#endif /* JG_ROUTER_H */
