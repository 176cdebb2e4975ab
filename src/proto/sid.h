/* sid.h: session ids. Without a cluster secret: 128 random bits from getrandom(2) as 22
 * URL-safe base64 characters. With one (cluster-secret), the id also carries its issue time
 * and an HMAC-SHA256 tag, so any instance sharing the secret can accept a sid another
 * instance issued (handshake on one, WebSocket upgrade on another behind a round-robin
 * balancer) without asking anyone. Pure: no loop, no sockets. */
#ifndef JG_SID_H
#define JG_SID_H
#include <stdbool.h>
#include <stddef.h>

#define JG_SID_LEN 22            /* plain sid: 16 random bytes */
#define JG_SID_SIGNED_LEN 38     /* signed sid: 16 random + 4 time + 8 tag bytes */
#define JG_SID_MAX 40            /* room for either, NUL excluded */

/* A sid is a bearer credential: logs at info level and above show only its first 8
 * characters (48 of its random bits), enough to correlate lines and Redis keys, useless to
 * poll with. Use as printf("session " JG_SID_LOG, sid). Debug logs show it whole. */
#define JG_SID_LOG "%.8s..."

/* Writes a new sid into OUT. SECRET may be NULL (plain sid); NOW is seconds since the epoch. */
void jg_sid_new(const char *secret, double now, char out[JG_SID_MAX + 1]);
/* True if SID has the form of a sid this daemon (or another instance) could have issued:
 * JG_SID_LEN or JG_SID_SIGNED_LEN characters of the URL-safe base64 alphabet. Anything else
 * is refused at the edge, before any lookup, claim or Redis call. */
bool jg_sid_well_formed(const char *sid);
/* True if SID is a signed sid whose tag matches SECRET (constant-time comparison) and that
 * was issued at most MAX_AGE seconds before NOW (and not in the future beyond 60 s of
 * clock skew between instances). */
bool jg_sid_verify(const char *secret, const char *sid, double now, double max_age);

#endif /* JG_SID_H */
