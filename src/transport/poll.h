/* poll.h: the HTTP transports (protocol.md §7-§9): xhr-polling and jsonp-polling (a GET held
 * until there is something to send), htmlfile (a chunked document that never ends), and the
 * POSTs that carry client packets for all three. Loop thread only. */
#ifndef JG_POLL_H
#define JG_POLL_H
#include "base/config.h"

struct jg_conn;
struct jg_session;
struct jg_transport_ops;

/* GET on /socket.io/1/<kind>/<sid>; S is NULL when the sid is unknown. */
void jg_poll_get(struct jg_conn *c, struct jg_session *s, enum jg_transport_kind kind);
/* POST on the same URL: answered "1", then the payload goes to S (if any). */
void jg_poll_post(struct jg_conn *c, struct jg_session *s, enum jg_transport_kind kind);

/* These transports' side of a session (core/session.h). */
extern const struct jg_transport_ops jg_xhr_ops, jg_jsonp_ops, jg_htmlfile_ops;

#endif /* JG_POLL_H */
