/* jsonify.h: jansson values written exactly as JavaScript's JSON.stringify writes them
 * (protocol.md §8.1), so what juggernautd sends is byte for byte what the original's V8
 * sent. Pure functions. */
#ifndef JG_JSONIFY_H
#define JG_JSONIFY_H
#include <stddef.h>

#include <jansson.h>

#include "base/sb.h"

/* V, compact. CHANNEL, when not NULL and V is an object, replaces the value of its
 * "channel" key, or is appended as the last member when there is none (`message.channel =
 * name` in the original). */
void jg_jsonify(struct jg_sb *sb, const json_t *v, const char *channel);
/* A string of LEN bytes as a JSON string literal. */
void jg_jsonify_string(struct jg_sb *sb, const char *s, size_t len);

#endif /* JG_JSONIFY_H */
