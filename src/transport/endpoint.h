/* endpoint.h: the socket.io resource (protocol.md §2-§3, §6): handshakes and the transport
 * requests of sessions, which it hands to poll.c and ws.c; and what a connection's bytes
 * mean (net->input). The top of the transport layer. Loop thread only. */
#ifndef JG_ENDPOINT_H
#define JG_ENDPOINT_H
#include <stddef.h>

struct jg_conn;
struct jg_net;

/* Sets NET's input and release hooks, and the handshake's transports list from its config
 * (call again after a reload). */
void jg_endpoint_init(struct jg_net *net);
/* An accepted socket FD (non-blocking) from PEER becomes a connection reading HTTP. */
struct jg_conn *jg_endpoint_accept(struct jg_net *net, int fd, const char *peer);
/* A request on the resource ("/socket.io"); PATH is what follows it. For a WebSocket
 * upgrade, REST/RESTLEN are the bytes that followed the request (already frames). */
void jg_endpoint_request(struct jg_conn *c, const char *path, const char *rest, size_t restlen);

#endif /* JG_ENDPOINT_H */
