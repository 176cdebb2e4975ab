/* juggernaut.h: Juggernaut message semantics (protocol.md §12), free of sockets and loop.
 * Parses client messages and Redis publishes, and builds the JSON texts the daemon sends:
 * per-channel client messages and the juggernaut:* events. Uses jansson. */
#ifndef JG_JUGGERNAUT_H
#define JG_JUGGERNAUT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* ---- client -> server (protocol.md §12.1) ---- */

enum jg_jug_client_type {
    JG_JUG_INVALID = 0,      /* not JSON, not an object, unknown type, no usable channel */
    JG_JUG_SUBSCRIBE,
    JG_JUG_UNSUBSCRIBE,
    JG_JUG_META,
    JG_JUG_EVENT,
};

struct jg_jug_client_msg {
    enum jg_jug_client_type type;
    char *channel;           /* owned, NUL-terminated; SUBSCRIBE/UNSUBSCRIBE only */
    json_t *data;            /* owned reference; META/EVENT "data", NULL when absent */
    char *auth;              /* owned; the "auth" string (private channels, signed meta) or NULL */
    /* SUBSCRIBE, cluster mode: what to catch up on */
    bool has_since;          /* "since": a seq (non-negative integer) */
    uint64_t since;
    long history;            /* "history": the last N messages, 0 = none */
    bool presence;           /* "presence": true */
    const char *error;       /* static text saying why, when INVALID */
};

/* Parses the text of one message packet. The channel of (un)subscribe is the first element
 * of "channels" (string or array of strings) else "channel" (§12.1 item 3, quirk J4); a
 * missing, empty or non-string channel makes the message INVALID (Fix J11). Never fails
 * otherwise: OUT is always initialised and must be released with _deinit. */
void jg_jug_client_parse(const char *text, size_t len, struct jg_jug_client_msg *out);
void jg_jug_client_msg_deinit(struct jg_jug_client_msg *m);

/* V8 JSON.stringify-compatible compact text of V (malloc'd; *LEN gets its length). */
char *jg_jug_json_dump(const json_t *v, size_t *len);

/* ---- events to Redis (protocol.md §12.4) ---- */

/* {"channel":<channel>,"meta":<meta>,"session_id":<sid>}, meta omitted when NULL.
 * The same body serves juggernaut:subscribe and juggernaut:unsubscribe.
 * Returns a malloc'd NUL-terminated compact JSON text; *LEN gets its length. */
char *jg_jug_event_channel(const char *channel, const json_t *meta, const char *sid, size_t *len);
/* {"meta":<meta>,"session_id":<sid>,"data":<data>}, meta/data omitted when NULL. */
char *jg_jug_event_custom(const json_t *meta, const char *sid, const json_t *data, size_t *len);

/* ---- Redis -> clients (protocol.md §12.2, §12.3) ---- */

struct jg_jug_publish {
    json_t *root;            /* owned: the published object with "channels" and "except" removed */
    char **channels;         /* owned: target channels in published order, duplicates kept */
    size_t nchannels;
    char **except;           /* owned: session ids to skip ("except" string or array) */
    size_t nexcept;
};

/* Parses one message from the Redis channel "juggernaut". Targets are "channels" if
 * truthy, else "channel"; a string is one channel, an array its string elements. Returns 0,
 * or -1 (nothing to deliver, OUT zeroed, nothing to release) with *ERROR set to a static
 * reason when the text is not JSON or not an object. An object with no targets returns 0
 * with nchannels == 0. */
int jg_jug_publish_parse(const char *text, size_t len, struct jg_jug_publish *out,
                         const char **error) __attribute__((warn_unused_result));
void jg_jug_publish_deinit(struct jg_jug_publish *p);

/* The client message for one target channel: the published object with "channel" set to
 * CHANNEL (kept in place if the object had a "channel" key, else appended), serialized
 * compactly like JSON.stringify, prefixed with the socket.io message header "3:::".
 * Returns a malloc'd NUL-terminated text; *LEN gets its length. */
char *jg_jug_publish_packet(const struct jg_jug_publish *p, const char *channel, size_t *len);

/* The same with "seq":SEQ as the object's last member (cluster mode); SEQ 0 = none. */
char *jg_jug_publish_packet_seq(const struct jg_jug_publish *p, const char *channel, uint64_t seq, size_t *len);

/* True if SID is one of the publish's "except" session ids (strict string equality). */
bool jg_jug_publish_excepts(const struct jg_jug_publish *p, const char *sid);

#endif /* JG_JUGGERNAUT_H */
