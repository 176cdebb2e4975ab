/* sio.c: socket.io protocol 1 codec (protocol.md §4, §5, §8.1, §9.1): packet parsing,
 * payload framing in UTF-16 units, JS string escaping, UTF-8 repair, form fields.
 * Pure byte-span functions: no sockets, no loop, no allocation except into a jg_sb. */
#include "proto/sio.h"

#include <stdint.h>
#include <string.h>

/* U+FFFD in UTF-8: the payload frame marker. */
static const char FFFD[3] = { '\xef', '\xbf', '\xbd' };

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_fffd(const char *s, size_t len, size_t i)
{
    return len - i >= 3 && memcmp(s + i, FFFD, 3) == 0;
}

/* The original decodes with the unanchored regex
 * ([^:]+):([0-9]+)?(\+)?:([^:]+)?:?([\s\S]*)?  and looks the type up in a 9-entry table.
 * Reading it left to right: type = everything before the first ':' (must be one digit
 * 0-8 here), then optional digits, optional '+', a mandatory second ':', an endpoint up to
 * the next ':' or the end, an optional ':' and the data (the rest, colons included).
 * When the match at position 0 fails, a later match position can only yield a type that
 * is a whole later segment, which is never a lone digit unless the input starts with ':'
 * (":3::x"): protocol.md §4.1 fixes the type as the text before the first ':', so such
 * input is rejected here. */
int jg_sio_packet_parse(const char *s, size_t len, struct jg_sio_packet *out)
{
    size_t i = 0;

    if (len < 3 || s[0] < '0' || s[0] > '8' || s[1] != ':')
        return -1;
    out->type = (enum jg_sio_type)(s[0] - '0');
    i = 2;

    size_t id_start = i;
    while (i < len && is_digit((unsigned char)s[i]))
        i++;
    size_t id_len = i - id_start;
    bool plus = false;
    if (i < len && s[i] == '+') {
        plus = true;
        i++;
    }
    if (i >= len || s[i] != ':')
        return -1;
    i++;

    /* socket.io only sets packet.ack when there is an id: a '+' without one means nothing. */
    out->id = id_len ? s + id_start : NULL;
    out->id_len = id_len;
    out->ack_data = id_len && plus;

    size_t ep_start = i;
    while (i < len && s[i] != ':')
        i++;
    out->endpoint = s + ep_start;
    out->endpoint_len = i - ep_start;
    if (i < len)
        i++; /* the optional ':' before the data */
    out->data = s + i;
    out->data_len = len - i;
    return 0;
}

size_t jg_sio_utf16_len(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((b & 0xC0) != 0x80)
            n++;
        if (b >= 0xF0)
            n++; /* a code point >= U+10000 is a surrogate pair in JS */
    }
    return n;
}

/* Bytes of the UTF-8 sequence led by B (1 for ASCII and, defensively, for stray bytes). */
static size_t seq_len(unsigned char b)
{
    if (b >= 0xF0)
        return 4;
    if (b >= 0xE0)
        return 3;
    if (b >= 0xC0)
        return 2;
    return 1;
}

/* Framed payloads: "\ufffd<len>\ufffd<packet>" repeated, len in UTF-16 units (§5.2).
 * Unlike the original (which validates nothing and skips whatever character follows a
 * packet as if it were the next U+FFFD), every frame must match the grammar exactly. */
int jg_sio_payload_decode(const char *s, size_t len, jg_sio_packet_fn fn, void *ctx)
{
    if (!is_fffd(s, len, 0)) {
        fn(ctx, s, len);
        return 0;
    }

    size_t i = 0;
    while (i < len) {
        if (!is_fffd(s, len, i))
            return -1;
        i += 3;

        size_t units = 0, ndigits = 0;
        while (i < len && is_digit((unsigned char)s[i])) {
            unsigned d = (unsigned)(s[i] - '0');
            if (units > (SIZE_MAX - d) / 10)
                return -1; /* overflows size_t: certainly past the end */
            units = units * 10 + d;
            ndigits++;
            i++;
        }
        if (ndigits == 0 || !is_fffd(s, len, i))
            return -1; /* empty length, non-digit, or unterminated length field */
        i += 3;

        size_t start = i;
        while (units > 0) {
            if (i >= len)
                return -1; /* past the end */
            unsigned char b = (unsigned char)s[i];
            size_t n = seq_len(b);
            size_t u = n == 4 ? 2 : 1;
            if (u > units)
                return -1; /* the length splits a surrogate pair */
            if (n > len - i)
                return -1; /* truncated sequence at the end */
            units -= u;
            i += n;
        }
        fn(ctx, s + start, i - start);
    }
    return 0;
}

void jg_sio_payload_append_framed(struct jg_sb *sb, const char *pkt, size_t len)
{
    jg_sb_append(sb, FFFD, 3);
    jg_sb_appendf(sb, "%zu", jg_sio_utf16_len(pkt, len));
    jg_sb_append(sb, FFFD, 3);
    jg_sb_append(sb, pkt, len);
}

void jg_sio_js_string_append(struct jg_sb *sb, const char *s, size_t len, bool in_html)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending run of bytes copied as they are */

    jg_sb_reserve(sb, len + 2);
    jg_sb_appendc(sb, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char ubuf[6];
        size_t skip = 1;

        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\t': esc = "\\t"; break;
        case '\n': esc = "\\n"; break;
        case '\f': esc = "\\f"; break;
        case '\r': esc = "\\r"; break;
        case '/':
            if (in_html)
                esc = "\\/";
            break;
        case '<':
            /* "<!--" and "<script" inside a script element change how the HTML parser
             * looks for its end (script data escaped states): no raw '<' at all */
            if (in_html)
                esc = "\\u003c";
            break;
        case 0xE2:
            /* U+2028 = E2 80 A8, U+2029 = E2 80 A9: line terminators in pre-ES2019 JS */
            if (len - i >= 3 && (unsigned char)s[i + 1] == 0x80 &&
                ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
                esc = (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
                skip = 3;
            }
            break;
        default:
            if (c < 0x20) {
                memcpy(ubuf, "\\u00", 4);
                ubuf[4] = hex[c >> 4];
                ubuf[5] = hex[c & 0xF];
                jg_sb_append(sb, s + run, i - run);
                jg_sb_append(sb, ubuf, 6);
                run = i + 1;
            }
            break;
        }
        if (esc) {
            jg_sb_append(sb, s + run, i - run);
            jg_sb_appends(sb, esc);
            i += skip - 1;
            run = i + 1;
        }
    }
    jg_sb_append(sb, s + run, len - run);
    jg_sb_appendc(sb, '"');
}

/* WHATWG UTF-8 decoder (Encoding Standard §4.1, what V8 uses for Buffer#toString): a lead
 * byte fixes the sequence length and the allowed range of its first continuation byte;
 * the first byte that does not fit ends the bad sequence with one U+FFFD and is then
 * reconsidered as a lead byte ("maximal subpart"). */
bool jg_sio_utf8_sanitize(const char *s, size_t len, struct jg_sb *out)
{
    bool valid = true;
    size_t run = 0; /* start of the pending run of valid bytes */
    size_t i = 0;

    jg_sb_reserve(out, len);
    while (i < len) {
        unsigned char b = (unsigned char)s[i];
        size_t need;
        unsigned char lo = 0x80, hi = 0xBF;

        if (b < 0x80) {
            i++;
            continue;
        } else if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            if (b == 0xE0)
                lo = 0xA0; /* overlong */
            else if (b == 0xED)
                hi = 0x9F; /* UTF-16 surrogates */
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            if (b == 0xF0)
                lo = 0x90; /* overlong */
            else if (b == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            need = 0; /* stray continuation, C0/C1 overlong lead, F5..FF */
        }

        size_t j = i + 1;
        bool ok = need > 0;
        for (size_t k = 0; ok && k < need; k++, j++) {
            if (j >= len) {
                ok = false;
                break;
            }
            unsigned char c = (unsigned char)s[j];
            if (c < lo || c > hi) {
                ok = false;
                break;
            }
            lo = 0x80;
            hi = 0xBF;
        }
        if (ok) {
            i = j;
            continue;
        }
        /* s[i..j) is the maximal subpart (just the lead byte when it cannot start a
         * sequence); s[j] is reconsidered. */
        valid = false;
        jg_sb_append(out, s + run, i - run);
        jg_sb_append(out, FFFD, 3);
        i = j;
        run = i;
    }
    jg_sb_append(out, s + run, len - run);
    return valid;
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Form decoding as Node's querystring.unescapeBuffer: '+' is a space (when PLUS_IS_SPACE),
 * %XY a byte, and a '%' not followed by two hex digits is kept literally. */
static void percent_decode(const char *s, size_t len, bool plus_is_space, struct jg_sb *out)
{
    jg_sb_reserve(out, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+' && plus_is_space) {
            jg_sb_appendc(out, ' ');
        } else if (c == '%' && len - i >= 3 && hexval((unsigned char)s[i + 1]) >= 0 &&
                   hexval((unsigned char)s[i + 2]) >= 0) {
            jg_sb_appendc(out, (char)(hexval((unsigned char)s[i + 1]) * 16 +
                                      hexval((unsigned char)s[i + 2])));
            i += 2;
        } else {
            jg_sb_appendc(out, (char)c);
        }
    }
}

/* Fields are compared after decoding their names ("%64=" is field "d", as in Node). The
 * first field of that name wins (Node would make an array of duplicates, which then
 * fails JSON.parse). A field without '=' has an empty value. */
static void form_decode(const char *s, size_t len, struct jg_sb *out)
{
    percent_decode(s, len, true, out);
}

void jg_sio_path_decode(const char *s, size_t len, struct jg_sb *out)
{
    percent_decode(s, len, false, out);
}

int jg_sio_form_field(const char *body, size_t len, const char *name, struct jg_sb *out)
{
    size_t name_len = strlen(name);
    struct jg_sb key = JG_SB_INIT;
    int rc = -1;
    size_t i = 0;

    while (i <= len) {
        size_t end = i;
        while (end < len && body[end] != '&')
            end++;
        size_t eq = i;
        while (eq < end && body[eq] != '=')
            eq++;
        if (end > i) {
            jg_sb_reset(&key);
            form_decode(body + i, eq - i, &key);
            if (key.len == name_len && (name_len == 0 || memcmp(key.data, name, name_len) == 0)) {
                size_t vstart = eq < end ? eq + 1 : end;
                form_decode(body + vstart, end - vstart, out);
                rc = 0;
                break;
            }
        }
        i = end + 1;
    }
    jg_sb_free(&key);
    return rc;
}

bool jg_sio_is_small_index(const char *s, size_t len)
{
    if (len < 1 || len > 9)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!is_digit((unsigned char)s[i]))
            return false;
    return true;
}
