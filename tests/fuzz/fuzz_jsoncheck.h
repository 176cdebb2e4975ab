/* fuzz_jsoncheck.h: oracles for the JSON the daemon writes (juggernaut.c's JSON.stringify
 * writer), shared by fuzz_jug_client and fuzz_jug_publish. Header-only (static functions). */
#ifndef JG_FUZZ_JSONCHECK_H
#define JG_FUZZ_JSONCHECK_H
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "fuzz_common.h"

/* Parses TEXT the way the daemon parses JSON from clients and Redis (juggernaut.c). */
static inline json_t *fzj_parse_like_daemon(const char *text, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &err);
    if (!v && json_error_code(&err) == json_error_numeric_overflow)
        v = json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
    return v;
}

/* Parses what the daemon wrote; it must be JSON. Numbers come back as reals. */
static inline json_t *fzj_parse_output(const char *text, size_t len)
{
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &err);
    if (!v)
        fz_fail("the daemon wrote invalid JSON: %s at %d: %.300s", err.text, err.position, text);
    return v;
}

/* Equal as JavaScript sees them after JSON.parse: numbers are doubles, key order and
 * duplicate keys do not matter. */
static inline bool fzj_equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b))
        return json_number_value(a) == json_number_value(b);
    if (json_typeof(a) != json_typeof(b))
        return false;
    switch (json_typeof(a)) {
    case JSON_STRING:
        return json_string_length(a) == json_string_length(b) &&
               memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0;
    case JSON_ARRAY:
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!fzj_equal(json_array_get(a, i), json_array_get(b, i)))
                return false;
        return true;
    case JSON_OBJECT: {
        if (json_object_size(a) != json_object_size(b))
            return false;
        json_t *o = (json_t *)a;
        for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it)) {
            const json_t *bv = json_object_getn(b, json_object_iter_key(it), json_object_iter_key_len(it));
            if (!bv || !fzj_equal(json_object_iter_value(it), bv))
                return false;
        }
        return true;
    }
    default:
        return true;   /* true, false, null */
    }
}

#endif /* JG_FUZZ_JSONCHECK_H */
