/* juggernaut.c: Juggernaut message semantics (protocol.md §12): client messages, Redis
 * publishes, the juggernaut:* event bodies. Pure functions over jansson values; no sockets,
 * no loop. Output goes through our own JSON.stringify-compatible writer, not json_dumps. */
#include "proto/juggernaut.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sb.h"
#include "proto/jsonify.h"
#include "base/xalloc.h"

/* ---- parsing ---- */

/* JSON.parse-like decode: any value at the top level, no \u0000 (jansson's default; keys
 * with NUL are always refused). Duplicate keys collapse like V8 (last value, first
 * position). jansson refuses integers beyond long long ("too big integer") where JS just
 * rounds to a double; retry those with every integer read as a real, which is exactly what
 * JS does (strtod, correctly rounded). A real overflow (1e400, JS Infinity) stays an error. */
static json_t *parse_json(const char *text, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &err);
    if (!v && json_error_code(&err) == json_error_numeric_overflow)
        v = json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
    return v;
}

/* JavaScript truthiness of a JSON value; NULL (undefined) is falsy. */
static bool js_truthy(const json_t *v)
{
    if (!v)
        return false;
    switch (json_typeof(v)) {
    case JSON_OBJECT:
    case JSON_ARRAY:
    case JSON_TRUE:
        return true;
    case JSON_STRING:
        return json_string_length(v) > 0;
    case JSON_INTEGER:
        return json_integer_value(v) != 0;
    case JSON_REAL:
        return json_real_value(v) != 0.0;
    case JSON_FALSE:
    case JSON_NULL:
    default:
        return false;
    }
}

/* Message.getChannels() of the original: Array.makeArray(this.channels || this.channel).
 * Returns the value that names the targets (borrowed), or NULL. makeArray then turns a
 * truthy string into one target and an array into its elements; anything else (number,
 * boolean, object, falsy) into none. */
static const json_t *targets_value(const json_t *obj)
{
    const json_t *channels = json_object_get(obj, "channels");
    if (js_truthy(channels))
        return channels;
    return json_object_get(obj, "channel");
}

/* Appends the string elements of V (a truthy string, or an array's string elements) to a
 * new owned vector. Non-strings in an array are skipped (they can name no channel and
 * equal no session id). */
static void collect_strings(const json_t *v, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (json_is_string(v)) {
        if (json_string_length(v) == 0)
            return;                       /* makeArray("") == [] */
        *out = jg_xmalloc(sizeof **out);
        (*out)[0] = jg_xstrdup(json_string_value(v));
        *n = 1;
        return;
    }
    if (!json_is_array(v) || json_array_size(v) == 0)
        return;
    *out = jg_xmalloc(json_array_size(v) * sizeof **out);
    size_t i;
    const json_t *e;
    json_array_foreach(v, i, e) {
        if (json_is_string(e))
            (*out)[(*n)++] = jg_xstrdup(json_string_value(e));
    }
    if (*n == 0) {
        free(*out);
        *out = NULL;
    }
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- client -> server ---- */

/* Message.getChannel() = getChannels()[0]; Fix J11: it must be a non-empty string. */
static const char *first_channel(const json_t *obj)
{
    const json_t *v = targets_value(obj);
    if (json_is_array(v))
        v = json_array_get(v, 0);
    if (!json_is_string(v) || json_string_length(v) == 0)
        return NULL;
    return json_string_value(v);
}

/* A sequence number: a non-negative integer (a JSON number, or a string of digits). */
static bool seq_value(const json_t *v, uint64_t *out)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        *out = (uint64_t)json_integer_value(v);
        return true;
    }
    if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9007199254740992.0 &&
        json_real_value(v) == (double)(uint64_t)json_real_value(v)) {
        *out = (uint64_t)json_real_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) > 19 || strspn(s, "0123456789") != strlen(s))
        return false;
    *out = strtoull(s, NULL, 10);
    return true;
}

/* Cluster mode's subscribe options: "since", "history", "presence". */
static void catch_up_options(json_t *root, struct jg_jug_client_msg *out)
{
    out->has_since = seq_value(json_object_get(root, "since"), &out->since);
    uint64_t n = 0;
    if (seq_value(json_object_get(root, "history"), &n))
        out->history = n > 1000 ? 1000 : (long)n;
    out->presence = json_is_true(json_object_get(root, "presence"));
}

void jg_jug_client_parse(const char *text, size_t len, struct jg_jug_client_msg *out)
{
    memset(out, 0, sizeof *out);
    out->type = JG_JUG_INVALID;
    json_t *root = parse_json(text, len);
    if (!root) {
        out->error = "not JSON";
        return;
    }
    if (!json_is_object(root)) {
        out->error = "not a JSON object";
        goto out;
    }
    const char *type = json_string_value(json_object_get(root, "type"));
    const char *auth = json_string_value(json_object_get(root, "auth"));
    if (auth)
        out->auth = jg_xstrdup(auth);
    if (!type) {
        out->error = "no type";
    } else if (strcmp(type, "subscribe") == 0 || strcmp(type, "unsubscribe") == 0) {
        const char *channel = first_channel(root);
        if (!channel) {
            out->error = "no usable channel";
            goto out;
        }
        out->type = type[0] == 's' ? JG_JUG_SUBSCRIBE : JG_JUG_UNSUBSCRIBE;
        out->channel = jg_xstrdup(channel);
        catch_up_options(root, out);
    } else if (strcmp(type, "meta") == 0 || strcmp(type, "event") == 0) {
        out->type = type[0] == 'm' ? JG_JUG_META : JG_JUG_EVENT;
        /* a new reference: it outlives ROOT; json null is a value, absent is NULL */
        out->data = json_incref(json_object_get(root, "data"));
    } else {
        out->error = "unknown type";
    }
out:
    json_decref(root);
}

void jg_jug_client_msg_deinit(struct jg_jug_client_msg *m)
{
    free(m->channel);
    free(m->auth);
    json_decref(m->data);
    memset(m, 0, sizeof *m);
}

char *jg_jug_json_dump(const json_t *v, size_t *len)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_jsonify(&sb, v, NULL);
    return jg_sb_steal(&sb, len);
}

/* ---- events ---- */

char *jg_jug_event_channel(const char *channel, const json_t *meta, const char *sid, size_t *len)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_reserve(&sb, 64);
    jg_sb_appends(&sb, "{\"channel\":");
    jg_jsonify_string(&sb, channel, strlen(channel));
    if (meta) {
        jg_sb_appends(&sb, ",\"meta\":");
        jg_jsonify(&sb, meta, NULL);
    }
    jg_sb_appends(&sb, ",\"session_id\":");
    jg_jsonify_string(&sb, sid, strlen(sid));
    jg_sb_appendc(&sb, '}');
    return jg_sb_steal(&sb, len);
}

char *jg_jug_event_custom(const json_t *meta, const char *sid, const json_t *data, size_t *len)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_reserve(&sb, 64);
    jg_sb_appendc(&sb, '{');
    if (meta) {
        jg_sb_appends(&sb, "\"meta\":");
        jg_jsonify(&sb, meta, NULL);
        jg_sb_appendc(&sb, ',');
    }
    jg_sb_appends(&sb, "\"session_id\":");
    jg_jsonify_string(&sb, sid, strlen(sid));
    if (data) {
        jg_sb_appends(&sb, ",\"data\":");
        jg_jsonify(&sb, data, NULL);
    }
    jg_sb_appendc(&sb, '}');
    return jg_sb_steal(&sb, len);
}

/* ---- Redis -> clients ---- */

int jg_jug_publish_parse(const char *text, size_t len, struct jg_jug_publish *out,
                         const char **error)
{
    memset(out, 0, sizeof *out);
    json_t *root = parse_json(text, len);
    if (!root) {
        *error = "not JSON";
        return -1;
    }
    if (!json_is_object(root)) {          /* J10: for-in over a non-object has no channels */
        json_decref(root);
        *error = "not a JSON object";
        return -1;
    }
    collect_strings(targets_value(root), &out->channels, &out->nchannels);
    /* Client#write: `if (message.except)` then makeArray; a number excludes nobody */
    const json_t *except = json_object_get(root, "except");
    if (js_truthy(except))
        collect_strings(except, &out->except, &out->nexcept);
    /* after collecting (the strings were copied): routing fields never reach a client.
     * "except" holds session ids, which are credentials (the original relayed it: J5,
     * a deliberate difference, README "Differences from Juggernaut 2.1.1") */
    json_object_del(root, "channels");
    json_object_del(root, "except");
    out->root = root;
    return 0;
}

void jg_jug_publish_deinit(struct jg_jug_publish *p)
{
    json_decref(p->root);
    free_strings(p->channels, p->nchannels);
    free_strings(p->except, p->nexcept);
    memset(p, 0, sizeof *p);
}

/* The object is not modified: the writer substitutes CHANNEL for the "channel" value (or
 * appends it), which is byte for byte what setting the key and dumping would give, without
 * a copy or a set/restore per channel. */
char *jg_jug_publish_packet(const struct jg_jug_publish *p, const char *channel, size_t *len)
{
    return jg_jug_publish_packet_seq(p, channel, 0, len);
}

char *jg_jug_publish_packet_seq(const struct jg_jug_publish *p, const char *channel, uint64_t seq, size_t *len)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_reserve(&sb, 128);
    jg_sb_append(&sb, "3:::", 4);
    if (p->root) {
        jg_jsonify(&sb, p->root, channel);
    } else {                              /* not from a successful parse: {"channel":...} */
        jg_sb_appends(&sb, "{\"channel\":");
        jg_jsonify_string(&sb, channel, strlen(channel));
        jg_sb_appendc(&sb, '}');
    }
    if (seq) {
        /* last member, so a "seq" the publisher sent is overridden (JSON.parse keeps the last) */
        sb.len--;
        jg_sb_appendf(&sb, "%s\"seq\":%llu}", sb.data[sb.len - 1] == '{' ? "" : ",", (unsigned long long)seq);
    }
    return jg_sb_steal(&sb, len);
}

bool jg_jug_publish_excepts(const struct jg_jug_publish *p, const char *sid)
{
    for (size_t i = 0; i < p->nexcept; i++) {
        if (strcmp(p->except[i], sid) == 0)
            return true;
    }
    return false;
}
