/* jsonify.c: JSON.stringify as V8 writes it (jsonify.h): strings, numbers (the shortest
 * round-trip digits), and object keys in V8's order (integer-like keys first, ascending). */
#include "proto/jsonify.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

/* A JS string as JSON.stringify writes it (protocol.md §8.1 table, V8): '"' and '\' and
 * control characters escaped, \b \t \n \f \r short forms, other C0 as lowercase \u00xx;
 * everything else raw, including '/', DEL, U+2028/U+2029 and non-ASCII UTF-8. */
void jg_jsonify_string(struct jg_sb *sb, const char *s, size_t len)
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
    jg_jsonify_string(sb, key, klen);
    jg_sb_appendc(sb, ':');
    if (channel)
        jg_jsonify_string(sb, channel, strlen(channel));
    else
        jg_jsonify(sb, value, NULL);
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
void jg_jsonify(struct jg_sb *sb, const json_t *v, const char *channel)
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
            jg_jsonify(sb, e, NULL);
        }
        jg_sb_appendc(sb, ']');
        break;
    }
    case JSON_STRING:
        jg_jsonify_string(sb, json_string_value(v), json_string_length(v));
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

