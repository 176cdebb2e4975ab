/* ws.h: the websocket transport (protocol.md §10): RFC 6455 upgrade, inbound frames through
 * wslay (fragments, pings, close handshake, size and UTF-8 checks), and outbound frames built
 * by us once per message and shared by every subscriber. Loop thread only. */
#ifndef JG_WS_H
#define JG_WS_H
#include <stddef.h>

struct jg_buf;
struct jg_conn;
struct jg_session;
struct jg_transport_ops;

/* Answers the upgrade request c->req for session S (NULL when the sid is unknown: 101, then
 * "7:::1+0" and a close, like 0.8.7). REST are bytes that followed the request. */
void jg_ws_upgrade(struct jg_conn *c, struct jg_session *s, const char *rest, size_t restlen);
/* Bytes read from an upgraded connection. */
void jg_ws_feed(struct jg_conn *c, const unsigned char *data, size_t len);
/* Frees C's WebSocket parser state (the connection is being freed). */
void jg_ws_release(struct jg_conn *c);
/* A new unmasked, unfragmented text frame carrying PAYLOAD (refs = 1). */
struct jg_buf *jg_ws_frame_new(const void *payload, size_t len);
/* Sec-WebSocket-Accept for KEY: base64(SHA-1(key + GUID)), NUL-terminated into OUT. */
void jg_ws_accept_key(const char *key, char out[29]);

/* The WebSocket transport's side of a session (core/session.h). */
extern const struct jg_transport_ops jg_ws_ops;

#endif /* JG_WS_H */
