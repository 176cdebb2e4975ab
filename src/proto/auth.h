/* auth.h: signatures the Rails app makes for its clients (private channels, signed meta):
 * hex(HMAC-SHA256(auth-secret, session_id + ":" + subject)), compared in constant time.
 * Pure: no loop, no sockets. */
#ifndef JG_AUTH_H
#define JG_AUTH_H
#include <stdbool.h>
#include <stddef.h>

#define JG_AUTH_HEX_LEN 64

/* Writes the lowercase hex signature of SID ":" SUBJECT into OUT (NUL-terminated). */
void jg_auth_sign(const char *secret, const char *sid, const char *subject, size_t subject_len,
                  char out[JG_AUTH_HEX_LEN + 1]);
/* True if HEX (case-insensitive) is that signature. NULL HEX is false. */
bool jg_auth_check(const char *secret, const char *sid, const char *subject, size_t subject_len, const char *hex);

#endif /* JG_AUTH_H */
