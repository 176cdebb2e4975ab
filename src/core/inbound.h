/* inbound.h: what a client sends on any transport (protocol.md §4.2, §5.3): socket.io
 * packets, acked where asked, heartbeat replies, disconnects, and the messages that go to
 * pubsub.c. Loop thread only. */
#ifndef JG_INBOUND_H
#define JG_INBOUND_H
#include <stddef.h>

struct jg_session;

/* One packet received from the client (a WebSocket frame, or one of a POST's). */
void jg_inbound_packet(struct jg_session *s, const char *pkt, size_t len);
/* A POST body: one payload (bare or framed), decoded as UTF-8 with replacement. */
void jg_inbound_payload(struct jg_session *s, const char *body, size_t len);

#endif /* JG_INBOUND_H */
