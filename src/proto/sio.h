/* sio.h: socket.io protocol 1 codec (protocol.md §4, §5, §8.1, §9.1).
 * Pure functions: no sockets, no loop. Strings are byte spans (not NUL-terminated)
 * of UTF-8 text. Lengths in payload framing are JavaScript string lengths, i.e.
 * UTF-16 code units, never bytes (protocol.md §5.2). */
#ifndef JG_SIO_H
#define JG_SIO_H
#include <stdbool.h>
#include <stddef.h>

#include "base/sb.h"

enum jg_sio_type {
    JG_SIO_DISCONNECT = 0,
    JG_SIO_CONNECT = 1,
    JG_SIO_HEARTBEAT = 2,
    JG_SIO_MESSAGE = 3,
    JG_SIO_JSON = 4,
    JG_SIO_EVENT = 5,
    JG_SIO_ACK = 6,
    JG_SIO_ERROR = 7,
    JG_SIO_NOOP = 8,
};

/* One decoded packet; every pointer borrows from the input span. */
struct jg_sio_packet {
    enum jg_sio_type type;
    const char *id;          /* message id digits, or NULL when absent */
    size_t id_len;
    bool ack_data;           /* "+" after the id: the application answers, no auto-ack */
    const char *endpoint;    /* "" (len 0) for the default namespace */
    size_t endpoint_len;
    const char *data;        /* everything after the third ':', colons included */
    size_t data_len;
};

/* Decodes one packet "type:[id[+]]:[endpoint][:data]" as the original regex does
 * (protocol.md §4.1): "3::", "3:::" and "3:::a:b:c" are messages with data "", "", "a:b:c".
 * Returns 0, or -1 when S is not a packet (no ':', type not a single digit 0-8). */
int jg_sio_packet_parse(const char *s, size_t len, struct jg_sio_packet *out)
    __attribute__((warn_unused_result));

/* UTF-16 code units in the UTF-8 span S: bytes that are not continuation bytes, plus one
 * for each 4-byte lead byte (protocol.md §5.2). */
size_t jg_sio_utf16_len(const char *s, size_t len);

/* Called once per packet found in a payload; PKT borrows from the payload. */
typedef void (*jg_sio_packet_fn)(void *ctx, const char *pkt, size_t len);

/* Splits a payload (protocol.md §5.1, §5.3): a payload not starting with U+FFFD is one bare
 * packet; otherwise "\ufffd<len>\ufffd<packet>"... with len in UTF-16 units. Calls FN for
 * every packet in order. Returns 0 when the whole payload was well formed, or -1 at the
 * first bad frame (empty or non-digit length, span past the end, span ending inside a
 * 4-byte sequence): packets before it were delivered, the rest is ignored.
 * The input must already be valid UTF-8 (see jg_sio_utf8_sanitize). */
int jg_sio_payload_decode(const char *s, size_t len, jg_sio_packet_fn fn, void *ctx);

/* Appends one framed element "\ufffd<utf16 len>\ufffd<packet>" to SB. A payload of two
 * or more packets is the concatenation of these; a single packet is sent bare. */
void jg_sio_payload_append_framed(struct jg_sb *sb, const char *pkt, size_t len);

/* Appends S as a JavaScript/JSON string literal, quotes included, the way V8's
 * JSON.stringify writes strings (protocol.md §8.1), plus U+2028 -> \u2028 and
 * U+2029 -> \u2029. IN_HTML (htmlfile, §9.1: the literal sits inside a <script> element):
 * every '/' becomes "\/" and every '<' "\u003c", so no "</script", "<!--" or "<script"
 * can change the HTML parser's state whatever the data. */
void jg_sio_js_string_append(struct jg_sb *sb, const char *s, size_t len, bool in_html);

/* Appends S to OUT with every invalid UTF-8 sequence replaced by U+FFFD (EF BF BD), the
 * way Node decodes a Buffer (WHATWG "maximal subpart" replacement). Surrogate code points
 * encoded in UTF-8 (ED A0..BF xx) are invalid too. Returns true if S was valid as is. */
bool jg_sio_utf8_sanitize(const char *s, size_t len, struct jg_sb *out);

/* Finds form field NAME in an application/x-www-form-urlencoded BODY ("a=1&d=..."),
 * decodes it ('+' = space, %XX = byte) into OUT. Returns 0, or -1 if absent. */
int jg_sio_form_field(const char *body, size_t len, const char *name, struct jg_sb *out);

/* Decodes a URL path segment (%XX = byte; '+' stays) into OUT. */
void jg_sio_path_decode(const char *s, size_t len, struct jg_sb *out);

/* True if S (len bytes) is 1..9 ASCII digits: the only JSONP callback indexes accepted
 * (protocol.md §2.3 Fix). */
bool jg_sio_is_small_index(const char *s, size_t len);

#endif /* JG_SIO_H */
