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

/* ---- JSON.stringify ---- */

static void write_value(struct jg_sb *sb, const json_t *v, const char *channel);

/* A JS string as JSON.stringify writes it (protocol.md §8.1 table, V8): '"' and '\' and
 * control characters escaped, \b \t \n \f \r short forms, other C0 as lowercase \u00xx;
 * everything else raw, including '/', DEL, U+2028/U+2029 and non-ASCII UTF-8. */
static void write_string(struct jg_sb *sb, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    jg_sb_reserve(sb, len + 2);
    jg_sb_appendc(sb, '"');
    size_t run = 0;                       /* start of the pending raw bytes */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        jg_sb_append(sb, s + run, i - run);
        run = i + 1;
        char esc[6] = { '\\', 0, 0, 0, 0, 0 };
        size_t elen = 2;
        switch (c) {
        case '"':  esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\t': esc[1] = 't'; break;
        case '\n': esc[1] = 'n'; break;
        case '\f': esc[1] = 'f'; break;
        case '\r': esc[1] = 'r'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            elen = 6;
            break;
        }
        jg_sb_append(sb, esc, elen);
    }
    jg_sb_append(sb, s + run, len - run);
    jg_sb_appendc(sb, '"');
}

/* Splits the %e rendering of a positive finite double into its significant digits
 * (trailing zeros dropped) and the decimal exponent of the first digit. */
static size_t e_digits(const char *e, char *digits, int *exp10)
{
    size_t k = 0;
    for (; *e && *e != 'e'; e++) {
        if (*e >= '0' && *e <= '9')
            digits[k++] = *e;
    }
    *exp10 = *e ? atoi(e + 1) : 0;
    while (k > 1 && digits[k - 1] == '0')
        k--;
    digits[k] = '\0';
    return k;
}

/* Shortest decimal digits that read back as D (> 0, finite), the ECMAScript
 * Number::toString choice: fewest digits, then the closest to D. printf rounds correctly,
 * so at each precision the rounded digits are the closest candidate; the only other
 * candidate that can read back when they don't is one unit up in the last digit, at a
 * power of two where the interval above D is twice as wide as below.
 * Start at 15 digits: any candidate of p <= 15 digits lies within one ulp (< 2.3e-16
 * relative) of D, less than half a unit of the 15th digit (>= 5e-16 relative), so the
 * 15-digit rounding of D is that candidate padded with zeros, reads back, and trimmed is
 * the shortest form. If it does not read back, the answer has 16 or 17 digits. This costs
 * one snprintf + strtod for most numbers instead of up to 17. Subnormals have fewer
 * significant bits (5e-324 is one digit), so for them every precision is tried.
 * Returns k, the number of digits; *N gets the JS "n" (D = 0.digits * 10^n). */
static size_t shortest_digits(double d, char digits[32], int *n)
{
    char buf[48];
    for (int p = d < 2.2250738585072014e-308 ? 1 : 15; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*e", p - 1, d);
        double back = strtod(buf, NULL);
        int exp10;
        size_t k = e_digits(buf, digits, &exp10);
        if (back == d) {
            *n = exp10 + 1;
            return k;
        }
        if (back > d || p == 17)
            continue;
        /* one unit up in the p-th digit (BUF still holds the rounded form) */
        char up[32];
        size_t m = 0;
        for (const char *q = buf; *q && *q != 'e'; q++) {
            if (*q >= '0' && *q <= '9')
                up[m++] = *q;
        }
        int upexp = exp10;
        size_t j = m;
        while (j > 0 && up[j - 1] == '9')
            up[--j] = '0';
        if (j == 0) {
            up[0] = '1';                  /* 9.99 -> 10.0: the zeros are trimmed below */
            upexp++;
        } else {
            up[j - 1]++;
        }
        char cand[64];
        snprintf(cand, sizeof cand, "%c.%.*se%d", up[0], (int)(m - 1), up + 1, upexp);
        if (strtod(cand, NULL) == d) {
            while (m > 1 && up[m - 1] == '0')
                m--;
            memcpy(digits, up, m);
            digits[m] = '\0';
            *n = upexp + 1;
            return m;
        }
    }
    /* unreachable: %.16e always reads back; keep the 17-digit form */
    int exp10;
    snprintf(buf, sizeof buf, "%.16e", d);
    size_t k = e_digits(buf, digits, &exp10);
    *n = exp10 + 1;
    return k;
}

/* A double as JSON.stringify writes it (ECMAScript Number::toString(10)); NaN and
 * infinities, which no parsed value can hold, become null as in JS. */
static void write_double(struct jg_sb *sb, double d)
{
    if (isnan(d) || isinf(d)) {
        jg_sb_appends(sb, "null");
        return;
    }
    if (d == 0) {
        jg_sb_appendc(sb, '0');           /* also -0 */
        return;
    }
    /* Integers below 2^53 are their own shortest form. */
    if (fabs(d) < 9007199254740992.0 && d == trunc(d)) {
        jg_sb_appendf(sb, "%lld", (long long)d);
        return;
    }
    if (d < 0) {
        jg_sb_appendc(sb, '-');
        d = -d;
    }
    char s[32];
    int n;
    int k = (int)shortest_digits(d, s, &n);
    if (k <= n && n <= 21) {
        jg_sb_append(sb, s, (size_t)k);
        for (int i = k; i < n; i++)
            jg_sb_appendc(sb, '0');
    } else if (0 < n && n <= 21) {
        jg_sb_append(sb, s, (size_t)n);
        jg_sb_appendc(sb, '.');
        jg_sb_append(sb, s + n, (size_t)(k - n));
    } else if (-6 < n && n <= 0) {
        jg_sb_appends(sb, "0.");
        for (int i = n; i < 0; i++)
            jg_sb_appendc(sb, '0');
        jg_sb_append(sb, s, (size_t)k);
    } else {
        jg_sb_appendc(sb, s[0]);
        if (k > 1) {
            jg_sb_appendc(sb, '.');
            jg_sb_append(sb, s + 1, (size_t)(k - 1));
        }
        jg_sb_appendf(sb, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
}

/* Canonical array index ("0", "42", up to 2^32 - 2): V8 keeps such keys first, ascending,
 * whatever the insertion order (ECMAScript OrdinaryOwnPropertyKeys). */
static bool array_index(const char *k, size_t len, uint32_t *idx)
{
    if (len == 0 || len > 10 || (k[0] == '0' && len > 1))
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (k[i] < '0' || k[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(k[i] - '0');
    }
    if (v > 4294967294u)
        return false;
    *idx = (uint32_t)v;
    return true;
}

struct index_key {
    uint32_t idx;                         /* numeric value of the key */
    const char *key;                      /* borrowed from the object */
    size_t len;                           /* bytes */
    const json_t *value;                  /* borrowed */
};

static int cmp_index_key(const void *a, const void *b)
{
    uint32_t x = ((const struct index_key *)a)->idx, y = ((const struct index_key *)b)->idx;
    return (x > y) - (x < y);
}

static void write_member(struct jg_sb *sb, bool *first, const char *key, size_t klen,
                         const json_t *value, const char *channel)
{
    if (!*first)
        jg_sb_appendc(sb, ',');
    *first = false;
    write_string(sb, key, klen);
    jg_sb_appendc(sb, ':');
    if (channel)
        write_string(sb, channel, strlen(channel));
    else
        write_value(sb, value, NULL);
}

/* An object in JS property order: array-index keys ascending, then the others in insertion
 * order (jansson keeps it; json_object_set on an existing key keeps the position).
 * CHANNEL, when not NULL, replaces the value of a "channel" key, or is appended as the
 * last member when there is none: `message.channel = name` in the original. */
static void write_object(struct jg_sb *sb, const json_t *obj, const char *channel)
{
    json_t *o = (json_t *)obj;            /* the iterator API is not const; we only read */
    size_t nidx = 0;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        uint32_t idx;
        if (array_index(json_object_iter_key(it), json_object_iter_key_len(it), &idx))
            nidx++;
    }
    bool first = true;
    jg_sb_appendc(sb, '{');
    if (nidx > 0) {
        struct index_key *keys = jg_xmalloc(nidx * sizeof *keys);
        size_t n = 0;
        for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
            const char *k = json_object_iter_key(it);
            size_t klen = json_object_iter_key_len(it);
            if (array_index(k, klen, &keys[n].idx)) {
                keys[n].key = k;
                keys[n].len = klen;
                keys[n].value = json_object_iter_value(it);
                n++;
            }
        }
        qsort(keys, n, sizeof *keys, cmp_index_key);
        for (size_t i = 0; i < n; i++)
            write_member(sb, &first, keys[i].key, keys[i].len, keys[i].value, NULL);
        free(keys);
    }
    bool had_channel = false;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
        const char *k = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        uint32_t idx;
        if (nidx > 0 && array_index(k, klen, &idx))
            continue;
        const char *override = NULL;
        if (channel && klen == 7 && memcmp(k, "channel", 7) == 0) {
            override = channel;
            had_channel = true;
        }
        write_member(sb, &first, k, klen, json_object_iter_value(it), override);
    }
    if (channel && !had_channel)
        write_member(sb, &first, "channel", 7, NULL, channel);
    jg_sb_appendc(sb, '}');
}

/* Any JSON value, compact, as JSON.stringify. CHANNEL: see write_object (top level only). */
static void write_value(struct jg_sb *sb, const json_t *v, const char *channel)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        write_object(sb, v, channel);
        break;
    case JSON_ARRAY: {
        jg_sb_appendc(sb, '[');
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            if (i > 0)
                jg_sb_appendc(sb, ',');
            write_value(sb, e, NULL);
        }
        jg_sb_appendc(sb, ']');
        break;
    }
    case JSON_STRING:
        write_string(sb, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER: {
        json_int_t i = json_integer_value(v);
        /* JS holds every number as a double: beyond 2^53 print what the double says */
        if (i > -9007199254740992LL && i < 9007199254740992LL)
            jg_sb_appendf(sb, "%" JSON_INTEGER_FORMAT, i);
        else
            write_double(sb, (double)i);
        break;
    }
    case JSON_REAL:
        write_double(sb, json_real_value(v));
        break;
    case JSON_TRUE:
        jg_sb_appends(sb, "true");
        break;
    case JSON_FALSE:
        jg_sb_appends(sb, "false");
        break;
    case JSON_NULL:
    default:
        jg_sb_appends(sb, "null");
        break;
    }
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
    write_value(&sb, v, NULL);
    return jg_sb_steal(&sb, len);
}

/* ---- events ---- */

char *jg_jug_event_channel(const char *channel, const json_t *meta, const char *sid, size_t *len)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_reserve(&sb, 64);
    jg_sb_appends(&sb, "{\"channel\":");
    write_string(&sb, channel, strlen(channel));
    if (meta) {
        jg_sb_appends(&sb, ",\"meta\":");
        write_value(&sb, meta, NULL);
    }
    jg_sb_appends(&sb, ",\"session_id\":");
    write_string(&sb, sid, strlen(sid));
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
        write_value(&sb, meta, NULL);
        jg_sb_appendc(&sb, ',');
    }
    jg_sb_appends(&sb, "\"session_id\":");
    write_string(&sb, sid, strlen(sid));
    if (data) {
        jg_sb_appends(&sb, ",\"data\":");
        write_value(&sb, data, NULL);
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
        write_object(&sb, p->root, channel);
    } else {                              /* not from a successful parse: {"channel":...} */
        jg_sb_appends(&sb, "{\"channel\":");
        write_string(&sb, channel, strlen(channel));
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
