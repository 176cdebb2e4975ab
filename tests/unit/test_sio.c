/* test_sio.c: the socket.io protocol 1 codec against protocol.md §4, §5, §8.1, §8.2, §9.1
 * (grammar consequences, worked examples and captured bytes). Every span handed to a
 * decoder in the split tests is an exact-size heap copy, so ASan/valgrind catch over-reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/sb.h"
#include "proto/sio.h"
#include "base/xalloc.h"

#define FFFD "\xef\xbf\xbd"

/* ---- helpers ---- */

static char *dup_exact(const char *s, size_t len)
{
    char *p = jg_xmalloc(len ? len : 1);
    if (len)
        memcpy(p, s, len);
    return p;
}

static void assert_span(const char *p, size_t len, const char *want)
{
    size_t wlen = strlen(want);
    if (len != wlen || (len && memcmp(p, want, len) != 0))
        fail_msg("got \"%.*s\" (%zu bytes), want \"%s\" (%zu bytes)", (int)len, p, len, want,
                 wlen);
}

static void assert_sb(const struct jg_sb *sb, const char *want)
{
    assert_span(sb->len ? sb->data : "", sb->len, want);
}

/* Decodes "hh hh hh ..." into bytes; returns a malloc'd buffer and its length. */
static char *unhex(const char *hex, size_t *len)
{
    char *out = jg_xmalloc(strlen(hex) / 2 + 1);
    size_t n = 0;
    for (const char *p = hex; *p;) {
        if (*p == ' ') {
            p++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(p, "%2x", &v), 1);
        out[n++] = (char)v;
        p += 2;
    }
    *len = n;
    return out;
}

#define MAXPKT 16
struct collect {
    size_t n;
    char *pkt[MAXPKT];  /* owned copies, NUL-terminated */
    size_t len[MAXPKT]; /* bytes */
};

static void collect_fn(void *ctx, const char *pkt, size_t len)
{
    struct collect *c = ctx;
    assert_true(c->n < MAXPKT);
    c->pkt[c->n] = jg_xstrndup(len ? pkt : "", len);
    c->len[c->n] = len;
    c->n++;
}

static void collect_free(struct collect *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->pkt[i]);
    c->n = 0;
}

static int decode_str(const char *s, struct collect *c)
{
    size_t len = strlen(s);
    char *p = dup_exact(s, len);
    memset(c, 0, sizeof *c);
    int rc = jg_sio_payload_decode(p, len, collect_fn, c);
    free(p);
    return rc;
}

/* ---- §4.1 packets ---- */

static void parse_ok(const char *s, enum jg_sio_type type, const char *id, bool ack_data,
                     const char *endpoint, const char *data)
{
    size_t len = strlen(s);
    char *p = dup_exact(s, len);
    struct jg_sio_packet pkt;
    memset(&pkt, 0xAA, sizeof pkt);
    if (jg_sio_packet_parse(p, len, &pkt) != 0)
        fail_msg("\"%s\" not parsed", s);
    assert_int_equal(pkt.type, type);
    if (id) {
        assert_non_null(pkt.id);
        assert_span(pkt.id, pkt.id_len, id);
    } else {
        assert_null(pkt.id);
        assert_int_equal(pkt.id_len, 0);
    }
    assert_int_equal(pkt.ack_data, ack_data);
    assert_span(pkt.endpoint, pkt.endpoint_len, endpoint);
    assert_span(pkt.data, pkt.data_len, data);
    free(p);
}

static void parse_bad(const char *s, size_t len)
{
    char *p = dup_exact(s, len);
    struct jg_sio_packet pkt;
    if (jg_sio_packet_parse(p, len, &pkt) != -1)
        fail_msg("\"%.*s\" parsed but is not a packet", (int)len, s);
    free(p);
}

static void test_packet_types(void **state)
{
    (void)state;
    parse_ok("0::", JG_SIO_DISCONNECT, NULL, false, "", "");
    parse_ok("1::", JG_SIO_CONNECT, NULL, false, "", "");
    parse_ok("1::/ns?a=b", JG_SIO_CONNECT, NULL, false, "/ns?a=b", "");
    parse_ok("2::", JG_SIO_HEARTBEAT, NULL, false, "", "");
    parse_ok("3:::hello", JG_SIO_MESSAGE, NULL, false, "", "hello");
    parse_ok("4:::{\"a\":1}", JG_SIO_JSON, NULL, false, "", "{\"a\":1}");
    parse_ok("5:::{\"name\":\"x\",\"args\":[]}", JG_SIO_EVENT, NULL, false, "",
             "{\"name\":\"x\",\"args\":[]}");
    parse_ok("6:::1", JG_SIO_ACK, NULL, false, "", "1");
    parse_ok("6:::1+[\"a\"]", JG_SIO_ACK, NULL, false, "", "1+[\"a\"]");
    parse_ok("7:::1+0", JG_SIO_ERROR, NULL, false, "", "1+0");
    parse_ok("8::", JG_SIO_NOOP, NULL, false, "", "");
}

static void test_packet_grammar(void **state)
{
    (void)state;
    /* protocol.md §4.1 and checklist item 19 */
    parse_ok("3::", JG_SIO_MESSAGE, NULL, false, "", "");
    parse_ok("3:::", JG_SIO_MESSAGE, NULL, false, "", "");
    parse_ok("3:::a:b:c", JG_SIO_MESSAGE, NULL, false, "", "a:b:c");
    parse_ok("3::::x", JG_SIO_MESSAGE, NULL, false, "", ":x");
    parse_ok("3:::x", JG_SIO_MESSAGE, NULL, false, "", "x");
    /* §4.3: ids and acks */
    parse_ok("3:1::x", JG_SIO_MESSAGE, "1", false, "", "x");
    parse_ok("3:1+::x", JG_SIO_MESSAGE, "1", true, "", "x");
    parse_ok("3:123::{\"type\":\"meta\",\"data\":1}", JG_SIO_MESSAGE, "123", false, "",
             "{\"type\":\"meta\",\"data\":1}");
    /* '+' without id: socket.io sets no ack at all */
    parse_ok("3:+::x", JG_SIO_MESSAGE, NULL, false, "", "x");
    /* endpoints */
    parse_ok("3::/ns:x", JG_SIO_MESSAGE, NULL, false, "/ns", "x");
    parse_ok("3::/ns", JG_SIO_MESSAGE, NULL, false, "/ns", "");
    parse_ok("3:7:/ns:a:b", JG_SIO_MESSAGE, "7", false, "/ns", "a:b");
    parse_ok("3:7::/ns:a:b", JG_SIO_MESSAGE, "7", false, "", "/ns:a:b");
    parse_ok("3:1:", JG_SIO_MESSAGE, "1", false, "", "");
    parse_ok("6::/ns:1", JG_SIO_ACK, NULL, false, "/ns", "1");
    parse_ok("0::/ns", JG_SIO_DISCONNECT, NULL, false, "/ns", "");
    /* data may hold anything: newlines, U+FFFD, non-ASCII */
    parse_ok("3:::a\nb\r\n" FFFD "\xc3\xa9\xf0\x9f\x98\x80", JG_SIO_MESSAGE, NULL, false, "",
             "a\nb\r\n" FFFD "\xc3\xa9\xf0\x9f\x98\x80");
    parse_ok("3:::\"quoted\":[1]", JG_SIO_MESSAGE, NULL, false, "", "\"quoted\":[1]");
}

static void test_packet_not_a_packet(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "3", "3:", "3:1", "3:x::", "3:12a::x", "3:1+", "3:1++::x", "hello",
        "33::x", "9::", "9:::x", "a::", "-1::", " 3::", "3 ::", "::", ":::", ":3::x",
        ("\xef\xbf\xbd" "3::"),
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        parse_bad(bad[i], strlen(bad[i]));
    /* a NUL byte is not a digit either */
    parse_bad("\0::", 3);
}

/* Every prefix of a packet, as an exact-size buffer: never an over-read, and the
 * result is what the grammar says for that prefix. */
static void test_packet_prefixes(void **state)
{
    (void)state;
    const char *s = "3:12+::/ns:a:b";
    size_t len = strlen(s);
    for (size_t n = 0; n <= len; n++) {
        char *p = dup_exact(s, n);
        struct jg_sio_packet pkt;
        int rc = jg_sio_packet_parse(p, n, &pkt);
        /* "3:12+:" (6 bytes) is the shortest prefix that is a packet */
        assert_int_equal(rc, n >= 6 ? 0 : -1);
        if (rc == 0) {
            assert_int_equal(pkt.type, JG_SIO_MESSAGE);
            assert_span(pkt.id, pkt.id_len, "12");
            assert_true(pkt.ack_data);
        }
        free(p);
    }
}

/* ---- §5.2 UTF-16 lengths ---- */

static void test_utf16_len(void **state)
{
    (void)state;
    assert_int_equal(jg_sio_utf16_len("", 0), 0);
    assert_int_equal(jg_sio_utf16_len("3:::a", 5), 5);
    assert_int_equal(jg_sio_utf16_len("\xc3\xa9", 2), 1);                 /* é */
    assert_int_equal(jg_sio_utf16_len("\xe4\xb8\xad\xe6\x96\x87", 6), 2); /* 中文 */
    assert_int_equal(jg_sio_utf16_len("\xf0\x9f\x98\x80", 4), 2);         /* 😀 */
    assert_int_equal(jg_sio_utf16_len(FFFD, 3), 1);
    const char *p = "3:::\xc3\xa9\xf0\x9f\x98\x80"; /* worked example: 10 bytes, 7 units */
    assert_int_equal(strlen(p), 10);
    assert_int_equal(jg_sio_utf16_len(p, 10), 7);
    assert_int_equal(jg_sio_utf16_len("3:::echo:a\xc3\xa9", 12), 11);
    assert_int_equal(jg_sio_utf16_len("3:::echo:\xf0\x9f\x98\x80" "b", 14), 12);
    const char *c16 = "3:::{\"type\":\"subscribe\",\"channel\":\"\xc3\xa9\xf0\x9f\x98\x80\"}";
    assert_int_equal(strlen(c16), 43);
    assert_int_equal(jg_sio_utf16_len(c16, 43), 40);
}

/* ---- §5 payload encoding ---- */

static void test_framed_worked_example(void **state)
{
    (void)state;
    struct jg_sb sb = JG_SB_INIT;
    jg_sio_payload_append_framed(&sb, "3:::\xc3\xa9\xf0\x9f\x98\x80", 10);
    jg_sio_payload_append_framed(&sb, "3:::a", 5);
    size_t wlen;
    char *want = unhex("ef bf bd 37 ef bf bd 33 3a 3a 3a c3 a9 f0 9f 98 80 ef bf bd 35 ef bf bd "
                       "33 3a 3a 3a 61", &wlen);
    assert_int_equal(wlen, 29);
    assert_int_equal(sb.len, 29);
    assert_memory_equal(sb.data, want, 29);
    free(want);
    jg_sb_free(&sb);
}

static void test_framed_captured(void **state)
{
    (void)state;
    /* §5.2 captured xhr-polling GET body (42 bytes) */
    struct jg_sb sb = JG_SB_INIT;
    jg_sio_payload_append_framed(&sb, "3:::echo:a\xc3\xa9", 12);
    jg_sio_payload_append_framed(&sb, "3:::echo:\xf0\x9f\x98\x80" "b", 14);
    size_t wlen;
    char *want = unhex("ef bf bd 31 31 ef bf bd 33 3a 3a 3a 65 63 68 6f 3a 61 c3 a9 ef bf bd 31 "
                       "32 ef bf bd 33 3a 3a 3a 65 63 68 6f 3a f0 9f 98 80 62", &wlen);
    assert_int_equal(wlen, 42);
    assert_int_equal(sb.len, 42);
    assert_memory_equal(sb.data, want, 42);
    free(want);

    /* §8.2 captured framed JSONP answer */
    struct jg_sb pl = JG_SB_INIT;
    jg_sio_payload_append_framed(&pl, "3:::echo:A", 10);
    jg_sio_payload_append_framed(&pl, "3:::echo:B", 10);
    jg_sb_reset(&sb);
    jg_sb_appends(&sb, "io.j[1](");
    jg_sio_js_string_append(&sb, pl.data, pl.len, false);
    jg_sb_appends(&sb, ");");
    assert_sb(&sb, "io.j[1](\"" FFFD "10" FFFD "3:::echo:A" FFFD "10" FFFD "3:::echo:B\");");
    jg_sb_free(&pl);
    jg_sb_free(&sb);
}

/* ---- §5.1/§5.3 payload decoding ---- */

static void test_decode_bare(void **state)
{
    (void)state;
    struct collect c;
    assert_int_equal(decode_str("3:::hello", &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.pkt[0], "3:::hello");
    collect_free(&c);
    /* U+FFFD inside a bare packet does not make it framed */
    assert_int_equal(decode_str("3:::" FFFD "5" FFFD "x", &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.pkt[0], "3:::" FFFD "5" FFFD "x");
    collect_free(&c);
    /* an empty body is one (empty, unparsable) packet, as in the original */
    assert_int_equal(decode_str("", &c), 0);
    assert_int_equal(c.n, 1);
    assert_int_equal(c.len[0], 0);
    collect_free(&c);
}

static void test_decode_framed(void **state)
{
    (void)state;
    struct collect c;
    assert_int_equal(decode_str(FFFD "7" FFFD "3:::\xc3\xa9\xf0\x9f\x98\x80" FFFD "5" FFFD
                                     "3:::a", &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.pkt[0], "3:::\xc3\xa9\xf0\x9f\x98\x80");
    assert_string_equal(c.pkt[1], "3:::a");
    collect_free(&c);

    /* §5.2 captured client POST */
    assert_int_equal(decode_str(FFFD "6" FFFD "3:::a\xc3\xa9" FFFD "7" FFFD
                                     "3:::\xf0\x9f\x98\x80" "b", &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.pkt[0], "3:::a\xc3\xa9");
    assert_string_equal(c.pkt[1], "3:::\xf0\x9f\x98\x80" "b");
    collect_free(&c);

    /* checklist item 16: 40 units = 43 bytes, 38 units = 38 bytes */
    assert_int_equal(decode_str(FFFD "40" FFFD
                                "3:::{\"type\":\"subscribe\",\"channel\":\"\xc3\xa9\xf0\x9f\x98\x80\"}"
                                FFFD "38" FFFD "3:::{\"type\":\"subscribe\",\"channel\":\"a\"}", &c),
                     0);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.len[0], 43);
    assert_string_equal(c.pkt[0],
                        "3:::{\"type\":\"subscribe\",\"channel\":\"\xc3\xa9\xf0\x9f\x98\x80\"}");
    assert_int_equal(c.len[1], 38);
    assert_string_equal(c.pkt[1], "3:::{\"type\":\"subscribe\",\"channel\":\"a\"}");
    collect_free(&c);

    /* U+FFFD and colons inside a framed packet are data: the length decides */
    assert_int_equal(decode_str(FFFD "6" FFFD "3:::" FFFD "x" FFFD "3" FFFD "2::", &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.pkt[0], "3:::" FFFD "x");
    assert_string_equal(c.pkt[1], "2::");
    collect_free(&c);

    /* leading zeros are digits; a zero length is an empty packet */
    assert_int_equal(decode_str(FFFD "003" FFFD "2::" FFFD "0" FFFD, &c), 0);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.pkt[0], "2::");
    assert_int_equal(c.len[1], 0);
    collect_free(&c);

    /* one framed packet is accepted too */
    assert_int_equal(decode_str(FFFD "3" FFFD "1::", &c), 0);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.pkt[0], "1::");
    collect_free(&c);
}

static void decode_bad(const char *s, size_t want_n, const char *first)
{
    struct collect c;
    if (decode_str(s, &c) != -1)
        fail_msg("payload \"%s\" accepted", s);
    assert_int_equal(c.n, want_n);
    if (want_n)
        assert_string_equal(c.pkt[0], first);
    collect_free(&c);
}

static void test_decode_bad(void **state)
{
    (void)state;
    decode_bad(FFFD "x" FFFD "3::", 0, NULL);          /* non-digit length */
    decode_bad(FFFD "1x" FFFD "3::", 0, NULL);
    decode_bad(FFFD "-3" FFFD "3::", 0, NULL);
    decode_bad(FFFD "+3" FFFD "3::", 0, NULL);
    decode_bad(FFFD " 3" FFFD "3::", 0, NULL);
    decode_bad(FFFD FFFD "3::", 0, NULL);              /* empty length */
    decode_bad(FFFD, 0, NULL);
    decode_bad(FFFD "12", 0, NULL);                    /* length never terminated */
    decode_bad(FFFD "9" FFFD "3::", 0, NULL);          /* past the end */
    decode_bad(FFFD "99999999999999999999999999" FFFD "3::", 0, NULL); /* overflows size_t */
    decode_bad(FFFD "18446744073709551616" FFFD "3::", 0, NULL);     /* 2^64 */
    decode_bad(FFFD "18446744073709551615" FFFD "3::", 0, NULL);     /* SIZE_MAX: past end */
    /* bad second frame: the first packet is kept, the rest ignored */
    decode_bad(FFFD "5" FFFD "3:::a" FFFD "x" FFFD "3:::b" FFFD "5" FFFD "3:::c", 1, "3:::a");
    decode_bad(FFFD "5" FFFD "3:::a" FFFD FFFD "3:::b", 1, "3:::a");
    decode_bad(FFFD "5" FFFD "3:::a" FFFD "9" FFFD "3:::b", 1, "3:::a");
    /* a length ending inside a surrogate pair: 3:::😀 is 6 units */
    decode_bad(FFFD "5" FFFD "3:::a" FFFD "5" FFFD "3:::\xf0\x9f\x98\x80", 1, "3:::a");
    decode_bad(FFFD "5" FFFD "3:::\xf0\x9f\x98\x80", 0, NULL);
    /* trailing bytes that are not a frame */
    decode_bad(FFFD "3" FFFD "2::x", 1, "2::");
    decode_bad(FFFD "3" FFFD "2::" FFFD, 1, "2::");
    decode_bad(FFFD "3" FFFD "2::" "\xef\xbf", 1, "2::");
}

/* Every prefix of a framed body (as if the body ended early): no over-read, and exactly
 * the frames wholly inside the prefix are delivered; the result is 0 only at a frame
 * boundary. */
static void test_decode_prefixes(void **state)
{
    (void)state;
    const char *full = FFFD "7" FFFD "3:::\xc3\xa9\xf0\x9f\x98\x80" FFFD "5" FFFD "3:::a"
                       FFFD "12" FFFD "3:::echo:\xf0\x9f\x98\x80" "b";
    size_t len = strlen(full);
    size_t ends[3] = { 0 };
    ends[0] = 3 + 1 + 3 + 10;
    ends[1] = ends[0] + 3 + 1 + 3 + 5;
    ends[2] = ends[1] + 3 + 2 + 3 + 14;
    assert_int_equal(ends[2], len);
    for (size_t n = 0; n <= len; n++) {
        char *p = dup_exact(full, n);
        struct collect c;
        memset(&c, 0, sizeof c);
        int rc = jg_sio_payload_decode(p, n, collect_fn, &c);
        size_t whole = 0;
        for (size_t k = 0; k < 3; k++)
            if (ends[k] <= n)
                whole = k + 1;
        if (n < 3) {
            /* too short to be framed: one bare packet */
            assert_int_equal(rc, 0);
            assert_int_equal(c.n, 1);
        } else {
            bool boundary = n == ends[0] || n == ends[1] || n == ends[2];
            assert_int_equal(rc, boundary ? 0 : -1);
            assert_int_equal(c.n, whole);
        }
        collect_free(&c);
        free(p);
    }
}

/* Encoder then decoder give back the packets. */
static void test_roundtrip(void **state)
{
    (void)state;
    static const char *const pkts[] = {
        "1::", "3:::\xf0\x9f\x98\x80\xf0\x9f\x98\x80", "3:::" FFFD FFFD "9" FFFD,
        "3:::\xe4\xb8\xad\xc3\xa9:x", "3::", "3:::\xe2\x80\xa8",
    };
    size_t n = sizeof pkts / sizeof pkts[0];
    struct jg_sb sb = JG_SB_INIT;
    for (size_t i = 0; i < n; i++)
        jg_sio_payload_append_framed(&sb, pkts[i], strlen(pkts[i]));
    struct collect c;
    assert_int_equal(decode_str(sb.data, &c), 0);
    assert_int_equal(c.n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(c.pkt[i], pkts[i]);
    collect_free(&c);
    jg_sb_free(&sb);
}

/* ---- §8.1 / §9.1 JS string escaping ---- */

static void js(const char *s, size_t len, bool slash, const char *want)
{
    struct jg_sb sb = JG_SB_INIT;
    char *p = dup_exact(s, len);
    jg_sio_js_string_append(&sb, p, len, slash);
    assert_sb(&sb, want);
    free(p);
    jg_sb_free(&sb);
}

#define JS(lit, want) js(lit, sizeof(lit) - 1, false, want)
#define JS_SLASH(lit, want) js(lit, sizeof(lit) - 1, true, want)

static void test_js_escape(void **state)
{
    (void)state;
    JS("", "\"\"");
    JS("abc", "\"abc\"");
    JS("\"", "\"\\\"\"");
    JS("\\", "\"\\\\\"");
    JS("\b\t\n\f\r", "\"\\b\\t\\n\\f\\r\"");
    JS("\x01", "\"\\u0001\"");
    JS("\x1f", "\"\\u001f\"");
    JS("\x0b", "\"\\u000b\"");
    JS("\x1a\x0e", "\"\\u001a\\u000e\"");
    JS("\0", "\"\\u0000\"");
    JS("\x7f", "\"\x7f\"");
    JS(" ", "\" \"");
    JS("\xe2\x80\xa8", "\"\\u2028\"");
    JS("\xe2\x80\xa9", "\"\\u2029\"");
    JS("a\xe2\x80\xa8" "b\xe2\x80\xa9" "c", "\"a\\u2028b\\u2029c\"");
    JS("\xe2\x80\xaa\xe2\x80\xa7\xe2\x82\xac", "\"\xe2\x80\xaa\xe2\x80\xa7\xe2\x82\xac\""); /* not 2028/9 */
    JS("\xe2\x80", "\"\xe2\x80\"");  /* truncated: copied, no over-read */
    JS("/", "\"/\"");
    JS("</script>", "\"</script>\"");
    JS("\xc3\xa9\xf0\x9f\x98\x80" FFFD, "\"\xc3\xa9\xf0\x9f\x98\x80" FFFD "\"");
    /* checklist item 31 in one string */
    JS("\"\\\n\x01\xe2\x80\xa8\xc3\xa9\xf0\x9f\x98\x80/",
       "\"\\\"\\\\\\n\\u0001\\u2028\xc3\xa9\xf0\x9f\x98\x80/\"");
    /* every control character */
    for (unsigned c = 0; c < 0x20; c++) {
        char in = (char)c;
        char want[16];
        switch (c) {
        case '\b': strcpy(want, "\"\\b\""); break;
        case '\t': strcpy(want, "\"\\t\""); break;
        case '\n': strcpy(want, "\"\\n\""); break;
        case '\f': strcpy(want, "\"\\f\""); break;
        case '\r': strcpy(want, "\"\\r\""); break;
        default: snprintf(want, sizeof want, "\"\\u%04x\"", c); break;
        }
        js(&in, 1, false, want);
    }
}

static void test_js_escape_slash(void **state)
{
    (void)state;
    JS_SLASH("/", "\"\\/\"");
    JS_SLASH("</script>", "\"\\u003c\\/script>\"");
    JS_SLASH("a/b</script>\xe2\x80\xa9\"", "\"a\\/b\\u003c\\/script>\\u2029\\\"\"");
    /* issue 13: "<!--" and "<script" would put the HTML parser into its script data
     * escaped states: every '<' is \u003c */
    JS_SLASH("</script><script>x</script><!--<script>", "\"\\u003c\\/script>\\u003cscript>x\\u003c\\/script>"
             "\\u003c!--\\u003cscript>\"");
    /* §9.1 htmlfile write of the captured packet, daemon form (every '/' and '<' escaped) */
    struct jg_sb sb = JG_SB_INIT;
    const char *p = "3:::echo:a/b</script>";
    jg_sb_appends(&sb, "<script>_(");
    jg_sio_js_string_append(&sb, p, strlen(p), true);
    jg_sb_appends(&sb, ");</script>");
    assert_sb(&sb, "<script>_(\"3:::echo:a\\/b\\u003c\\/script>\");</script>");
    jg_sb_free(&sb);
}

/* §8.2 captured JSONP GET answer, byte for byte */
static void test_js_captured_jsonp(void **state)
{
    (void)state;
    const char *pkt = "3:::echo:say \"hi\" \\ </script>\n\xc3\xa9\xf0\x9f\x98\x80";
    struct jg_sb sb = JG_SB_INIT;
    jg_sb_appends(&sb, "io.j[1](");
    jg_sio_js_string_append(&sb, pkt, strlen(pkt), false);
    jg_sb_appends(&sb, ");");
    size_t wlen;
    char *want = unhex("69 6f 2e 6a 5b 31 5d 28 22 33 3a 3a 3a 65 63 68 6f 3a 73 61 79 20 5c 22 "
                       "68 69 5c 22 20 5c 5c 20 3c 2f 73 63 72 69 70 74 3e 5c 6e c3 a9 f0 9f 98 "
                       "80 22 29 3b", &wlen);
    assert_int_equal(wlen, 52);
    assert_int_equal(sb.len, 52);
    assert_memory_equal(sb.data, want, 52);
    free(want);
    /* appends, does not overwrite */
    jg_sb_reset(&sb);
    jg_sb_appends(&sb, "x");
    jg_sio_js_string_append(&sb, "7:::1+0", 7, false);
    assert_sb(&sb, "x\"7:::1+0\"");
    jg_sb_free(&sb);
}

/* ---- §5.3 UTF-8 repair ---- */

static void san(const char *s, size_t len, bool want_valid, const char *want)
{
    struct jg_sb sb = JG_SB_INIT;
    char *p = dup_exact(s, len);
    jg_sb_appends(&sb, "<");
    bool valid = jg_sio_utf8_sanitize(p, len, &sb);
    jg_sb_appends(&sb, ">");
    if (valid != want_valid)
        fail_msg("input %zu bytes: valid=%d, want %d", len, valid, want_valid);
    struct jg_sb w = JG_SB_INIT;
    jg_sb_appends(&w, "<");
    jg_sb_appends(&w, want);
    jg_sb_appends(&w, ">");
    assert_sb(&sb, w.data);
    jg_sb_free(&w);
    free(p);
    jg_sb_free(&sb);
}

#define SAN(lit, valid, want) san(lit, sizeof(lit) - 1, valid, want)

static void test_utf8_sanitize(void **state)
{
    (void)state;
    SAN("", true, "");
    SAN("abc", true, "abc");
    SAN("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80" FFFD, true, "\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80" FFFD);
    SAN("\xef\xbf\xbf\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80", true,
        "\xef\xbf\xbf\xf4\x8f\xbf\xbf\xed\x9f\xbf\xee\x80\x80"); /* U+FFFF U+10FFFF U+D7FF U+E000 */
    /* truncated 4-byte sequence then ASCII: one replacement (maximal subpart) */
    SAN("\xf0\x9f\x98" "A", false, FFFD "A");
    SAN("\xf0\x9f\x98", false, FFFD);
    SAN("\xf0\x9f", false, FFFD);
    SAN("\xe4\xb8", false, FFFD);
    SAN("\xc3", false, FFFD);
    SAN("a\xc3" "b", false, "a" FFFD "b");
    /* encoded surrogates: each byte replaced */
    SAN("\xed\xa0\x80", false, FFFD FFFD FFFD);
    SAN("\xed\xbf\xbf", false, FFFD FFFD FFFD);
    SAN("\xed\xa0\xbd\xed\xb8\x80", false, FFFD FFFD FFFD FFFD FFFD FFFD);
    /* overlongs */
    SAN("\xc0\x80", false, FFFD FFFD);
    SAN("\xc1\xbf", false, FFFD FFFD);
    SAN("\xe0\x80\x80", false, FFFD FFFD FFFD);
    SAN("\xe0\x9f\xbf", false, FFFD FFFD FFFD);
    SAN("\xf0\x80\x80\x80", false, FFFD FFFD FFFD FFFD);
    SAN("\xf0\x8f\xbf\xbf", false, FFFD FFFD FFFD FFFD);
    /* above U+10FFFF and bytes that never appear */
    SAN("\xf4\x90\x80\x80", false, FFFD FFFD FFFD FFFD);
    SAN("\xf5\x80\x80\x80", false, FFFD FFFD FFFD FFFD);
    SAN("\xf8\x88\x80\x80\x80", false, FFFD FFFD FFFD FFFD FFFD);
    SAN("\xfe\xff", false, FFFD FFFD);
    /* stray continuation bytes */
    SAN("\x80", false, FFFD);
    SAN("a\x80\xbf" "b", false, "a" FFFD FFFD "b");
    /* a bad continuation is reconsidered as a lead byte */
    SAN("\xe4\xb8\xc3\xa9", false, FFFD "\xc3\xa9");
    SAN("\xf0\x9f\xf0\x9f\x98\x80", false, FFFD "\xf0\x9f\x98\x80");
    SAN("\xc3\xc3\xa9", false, FFFD "\xc3\xa9");
    /* the W3C/Unicode example: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64 */
    SAN("\x61\xf1\x80\x80\xe1\x80\xc2\x62\x80\x63\x80\xbf\x64", false,
        "a" FFFD FFFD FFFD "b" FFFD "c" FFFD FFFD "d");

    /* NUL is valid and kept */
    struct jg_sb sb = JG_SB_INIT;
    assert_true(jg_sio_utf8_sanitize("a\0b", 3, &sb));
    assert_int_equal(sb.len, 3);
    assert_memory_equal(sb.data, "a\0b", 3);
    jg_sb_free(&sb);
}

/* Why bodies are repaired only once complete (§5.3 Fix): repairing each half of a split
 * character separately garbles it, repairing the whole keeps it. Also exercises every
 * prefix of a multi-byte text with exact-size buffers. */
static void test_utf8_sanitize_split(void **state)
{
    (void)state;
    const char *text = "3:::\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80" "z";
    size_t len = strlen(text);
    for (size_t cut = 0; cut <= len; cut++) {
        struct jg_sb a = JG_SB_INIT, b = JG_SB_INIT, whole = JG_SB_INIT;
        char *p1 = dup_exact(text, cut);
        char *p2 = dup_exact(text + cut, len - cut);
        bool v1 = jg_sio_utf8_sanitize(p1, cut, &a);
        bool v2 = jg_sio_utf8_sanitize(p2, len - cut, &b);
        jg_sb_append(&whole, p1, cut);
        jg_sb_append(&whole, p2, len - cut);
        struct jg_sb out = JG_SB_INIT;
        assert_true(jg_sio_utf8_sanitize(whole.data, whole.len, &out));
        assert_sb(&out, text);
        /* a cut inside a character makes both halves invalid */
        unsigned char next = cut < len ? (unsigned char)text[cut] : 0;
        bool inside = (next & 0xC0) == 0x80;
        assert_int_equal(v1 && v2, !inside);
        if (!inside) {
            jg_sb_append(&a, b.data ? b.data : "", b.len);
            assert_sb(&a, text);
        }
        free(p1);
        free(p2);
        jg_sb_free(&a);
        jg_sb_free(&b);
        jg_sb_free(&whole);
        jg_sb_free(&out);
    }
}

/* ---- §8.2 form fields ---- */

static int field(const char *body, const char *name, struct jg_sb *out)
{
    size_t len = strlen(body);
    char *p = dup_exact(body, len);
    jg_sb_reset(out);
    int rc = jg_sio_form_field(p, len, name, out);
    free(p);
    return rc;
}

static void test_form_field(void **state)
{
    (void)state;
    struct jg_sb sb = JG_SB_INIT;
    /* §8.2 captured POST body */
    assert_int_equal(field("d=%223%3A%3A%3Asay+%5C%22hi%5C%22+%5C%5C+%3C%2Fscript%3E%5Cn%C3%A9"
                           "%F0%9F%98%80%22", "d", &sb), 0);
    assert_sb(&sb, "\"3:::say \\\"hi\\\" \\\\ </script>\\n\xc3\xa9\xf0\x9f\x98\x80\"");

    assert_int_equal(field("a=1&d=x+y&b=2", "d", &sb), 0);
    assert_sb(&sb, "x y");
    assert_int_equal(field("a=1&b=2", "d", &sb), -1);
    assert_int_equal(field("", "d", &sb), -1);
    assert_int_equal(field("dd=1&xd=2", "d", &sb), -1);
    assert_int_equal(field("d=", "d", &sb), 0);
    assert_sb(&sb, "");
    assert_int_equal(field("d", "d", &sb), 0); /* no '=': empty value, as Node */
    assert_sb(&sb, "");
    assert_int_equal(field("&&d=1&&", "d", &sb), 0);
    assert_sb(&sb, "1");
    assert_int_equal(field("d=a=b", "d", &sb), 0);
    assert_sb(&sb, "a=b");
    assert_int_equal(field("d=1&d=2", "d", &sb), 0); /* first wins */
    assert_sb(&sb, "1");
    assert_int_equal(field("%64=enc", "d", &sb), 0); /* names are decoded too */
    assert_sb(&sb, "enc");
    assert_int_equal(field("=x&d=y", "d", &sb), 0);
    assert_sb(&sb, "y");
    /* invalid %XY stays literal; case-insensitive hex */
    assert_int_equal(field("d=%zz%4%%41%e9%C3%A9%2b+%", "d", &sb), 0);
    assert_sb(&sb, "%zz%4%A\xe9\xc3\xa9+ %");
    assert_int_equal(field("d=%4", "d", &sb), 0);
    assert_sb(&sb, "%4");
    assert_int_equal(field("d=%00", "d", &sb), 0);
    assert_int_equal(sb.len, 1);
    assert_int_equal(sb.data[0], '\0');
    /* appends to OUT */
    jg_sb_reset(&sb);
    jg_sb_appends(&sb, "pre:");
    assert_int_equal(jg_sio_form_field("d=v", 3, "d", &sb), 0);
    assert_sb(&sb, "pre:v");
    jg_sb_free(&sb);
}

/* Every prefix of a body with exact-size buffers: no over-read. */
static void test_form_field_prefixes(void **state)
{
    (void)state;
    const char *body = "a=1&d=%22%C3%A9%2";
    size_t len = strlen(body);
    struct jg_sb sb = JG_SB_INIT;
    for (size_t n = 0; n <= len; n++) {
        char *p = dup_exact(body, n);
        jg_sb_reset(&sb);
        int rc = jg_sio_form_field(p, n, "d", &sb);
        assert_int_equal(rc, n >= 5 ? 0 : -1);
        free(p);
    }
    assert_sb(&sb, "\"\xc3\xa9%2");
    jg_sb_free(&sb);
}

/* ---- §2.3 JSONP index ---- */

static void test_is_small_index(void **state)
{
    (void)state;
    assert_true(jg_sio_is_small_index("0", 1));
    assert_true(jg_sio_is_small_index("1", 1));
    assert_true(jg_sio_is_small_index("123456789", 9));
    assert_true(jg_sio_is_small_index("007", 3));
    assert_false(jg_sio_is_small_index("", 0));
    assert_false(jg_sio_is_small_index("1234567890", 10));
    assert_false(jg_sio_is_small_index("x1", 2));
    assert_false(jg_sio_is_small_index("1x", 2));
    assert_false(jg_sio_is_small_index("-1", 2));
    assert_false(jg_sio_is_small_index("+1", 2));
    assert_false(jg_sio_is_small_index(" 1", 2));
    assert_false(jg_sio_is_small_index("alert(1)", 8));
    assert_false(jg_sio_is_small_index("1\0", 2));
    /* only LEN bytes are looked at */
    assert_true(jg_sio_is_small_index("12abc", 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packet_types),
        cmocka_unit_test(test_packet_grammar),
        cmocka_unit_test(test_packet_not_a_packet),
        cmocka_unit_test(test_packet_prefixes),
        cmocka_unit_test(test_utf16_len),
        cmocka_unit_test(test_framed_worked_example),
        cmocka_unit_test(test_framed_captured),
        cmocka_unit_test(test_decode_bare),
        cmocka_unit_test(test_decode_framed),
        cmocka_unit_test(test_decode_bad),
        cmocka_unit_test(test_decode_prefixes),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_js_escape),
        cmocka_unit_test(test_js_escape_slash),
        cmocka_unit_test(test_js_captured_jsonp),
        cmocka_unit_test(test_utf8_sanitize),
        cmocka_unit_test(test_utf8_sanitize_split),
        cmocka_unit_test(test_form_field),
        cmocka_unit_test(test_form_field_prefixes),
        cmocka_unit_test(test_is_small_index),
    };
    return cmocka_run_group_tests_name("sio", tests, NULL, NULL);
}
