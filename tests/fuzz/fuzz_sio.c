/* fuzz_sio.c: the socket.io codec (sio.c) on arbitrary bytes, with oracles:
 *   - jg_sio_packet_parse: every span lies inside the input, in order;
 *   - jg_sio_utf8_sanitize: the output is valid UTF-8 (sanitizing it again changes
 *     nothing), and equals the input when the input was valid;
 *   - jg_sio_utf16_len: equals an independent count of UTF-16 units of valid UTF-8;
 *   - jg_sio_payload_decode: each packet lies inside the payload; packets framed with
 *     jg_sio_payload_append_framed decode back to themselves;
 *   - jg_sio_js_string_append: the literal is valid JSON whose value is the input;
 *   - jg_sio_form_field: the decoded value is never longer than the body.
 * The input is used raw (packet parse, sanitize, utf16 length, form field) and sanitized
 * (payload decode, string literals), as the daemon does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/sb.h"
#include "proto/sio.h"

#include "fuzz_common.h"

static void check_packet(const char *s, size_t len)
{
    struct jg_sio_packet p;
    if (jg_sio_packet_parse(s, len, &p) != 0)
        return;
    if ((unsigned)p.type > 8)
        fz_fail("packet type %d", (int)p.type);
    const char *end = s + len;
    if (p.id && (p.id < s || p.id + p.id_len > end || p.id_len == 0))
        fz_fail("packet id span outside the input");
    if (!p.id && (p.id_len || p.ack_data))
        fz_fail("no id but id_len %zu ack %d", p.id_len, (int)p.ack_data);
    if (p.endpoint < s || p.endpoint + p.endpoint_len > end || memchr(p.endpoint, ':', p.endpoint_len))
        fz_fail("endpoint span wrong");
    if (p.data < p.endpoint + p.endpoint_len || p.data + p.data_len != end)
        fz_fail("data span wrong");
}

/* UTF-16 units of valid UTF-8, by decoding code points. */
static size_t utf16_units(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char b = (unsigned char)s[i];
        size_t k = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
        n += k == 4 ? 2 : 1;
        i += k;
    }
    return n;
}

struct collect {
    const char *base;
    size_t len;
    size_t count;
    const char *pkts[64];
    size_t lens[64];
};

static void on_packet(void *ctx, const char *pkt, size_t len)
{
    struct collect *c = ctx;
    if (pkt < c->base || pkt + len > c->base + c->len)
        fz_fail("payload packet outside the payload");
    check_packet(pkt, len);
    if (c->count < 64) {
        c->pkts[c->count] = pkt;
        c->lens[c->count] = len;
    }
    c->count++;
}

/* Splits the valid UTF-8 text at '\n' into packets, frames them, decodes them back. */
static void check_framing(const char *s, size_t len)
{
    struct jg_sb sb = JG_SB_INIT;
    const char *parts[64];
    size_t plens[64], nparts = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len && nparts < 64; i++) {
        if (i == len || s[i] == '\n') {
            parts[nparts] = s + start;
            plens[nparts] = i - start;
            nparts++;
            start = i + 1;
        }
    }
    for (size_t i = 0; i < nparts; i++)
        jg_sio_payload_append_framed(&sb, parts[i], plens[i]);
    struct collect c = { .base = sb.data, .len = sb.len };
    if (jg_sio_payload_decode(sb.data, sb.len, on_packet, &c) != 0)
        fz_fail("a payload we framed does not decode");
    if (c.count != nparts)
        fz_fail("framed %zu packets, decoded %zu", nparts, c.count);
    for (size_t i = 0; i < nparts; i++)
        if (c.lens[i] != plens[i] || memcmp(c.pkts[i], parts[i], plens[i]) != 0)
            fz_fail("framed packet %zu decoded differently", i);
    jg_sb_free(&sb);
}

static void check_js_string(const char *s, size_t len, bool escape_slash)
{
    struct jg_sb sb = JG_SB_INIT;
    jg_sio_js_string_append(&sb, s, len, escape_slash);
    json_error_t err;
    json_t *v = json_loadb(sb.data, sb.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!v || !json_is_string(v))
        fz_fail("string literal is not JSON: %s (%.200s)", v ? "not a string" : err.text, sb.data);
    if (json_string_length(v) != len || memcmp(json_string_value(v), s, len) != 0)
        fz_fail("string literal decodes to something else");
    if (escape_slash && memchr(sb.data, '/', sb.len)) {
        for (size_t i = 0; i < sb.len; i++)
            if (sb.data[i] == '/' && (i == 0 || sb.data[i - 1] != '\\'))
                fz_fail("unescaped '/' with escape_slash");
    }
    if (escape_slash && memchr(sb.data, '<', sb.len))
        fz_fail("a raw '<' in an htmlfile string literal");
    /* U+2028 and U+2029 never appear raw: they end a line in pre-ES2019 JavaScript */
    for (size_t i = 0; i + 2 < sb.len; i++)
        if ((unsigned char)sb.data[i] == 0xE2 && (unsigned char)sb.data[i + 1] == 0x80 &&
            ((unsigned char)sb.data[i + 2] == 0xA8 || (unsigned char)sb.data[i + 2] == 0xA9))
            fz_fail("raw U+2028/U+2029 in a string literal");
    json_decref(v);
    jg_sb_free(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_packet(s, size);
    (void)jg_sio_is_small_index(s, size);

    struct jg_sb clean = JG_SB_INIT;
    bool valid = jg_sio_utf8_sanitize(s, size, &clean);
    const char *text = clean.data ? clean.data : "";
    if (valid && (clean.len != size || memcmp(text, s, size) != 0))
        fz_fail("sanitize changed valid UTF-8");
    struct jg_sb again = JG_SB_INIT;
    if (!jg_sio_utf8_sanitize(text, clean.len, &again))
        fz_fail("sanitize output is not valid UTF-8");
    jg_sb_free(&again);
    if (jg_sio_utf16_len(text, clean.len) != utf16_units(text, clean.len))
        fz_fail("utf16_len %zu, expected %zu", jg_sio_utf16_len(text, clean.len), utf16_units(text, clean.len));
    (void)jg_sio_utf16_len(s, size);

    struct collect c = { .base = text, .len = clean.len };
    (void)jg_sio_payload_decode(text, clean.len, on_packet, &c);
    check_framing(text, clean.len);
    check_js_string(text, clean.len, false);
    check_js_string(text, clean.len, true);

    static const char *const names[] = { "d", "", "i" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        struct jg_sb field = JG_SB_INIT;
        int rc = jg_sio_form_field(s, size, names[i], &field);
        if (rc == 0 && field.len > size)
            fz_fail("form field longer than the body");
        if (rc != 0 && field.len)
            fz_fail("absent form field has a value");
        jg_sb_free(&field);
    }
    jg_sb_free(&clean);
    return 0;
}
