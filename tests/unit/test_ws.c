/* test_ws.c: the pure parts of the WebSocket transport (protocol.md §10.1, §10.3): the
 * Sec-WebSocket-Accept computation and the server frame header forms. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "transport/ws.h"
#include "base/xalloc.h"

/* ---- accept key ---- */

static void test_accept_key_rfc6455(void **state)
{
    (void)state;
    char out[29];
    memset(out, 'x', sizeof out);
    /* RFC 6455 §1.3 */
    jg_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out);
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(strlen(out), 28);
}

static void test_accept_key_other_vectors(void **state)
{
    (void)state;
    char out[29];
    /* computed with: printf '%s' KEY'258EAFA5-E914-47DA-95CA-C5AB0DC85B11' | openssl sha1 -binary | base64 */
    jg_ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", out);
    assert_string_equal(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
    /* the longest key jg_ws_upgrade accepts (64 bytes) still hashes the whole key */
    jg_ws_accept_key("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", out);
    assert_string_equal(out, "CNVCgqrOv9cq/hZteEmJXitx+cU=");
}

/* ---- frames ---- */

/* Builds a frame for LEN bytes of a recognisable pattern and checks header and payload. */
static void check_frame(size_t len, const unsigned char *want_head, size_t hlen)
{
    unsigned char *payload = jg_xmalloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        payload[i] = (unsigned char)('a' + i % 26);
    struct jg_buf *f = jg_ws_frame_new(payload, len);
    assert_non_null(f);
    assert_int_equal(f->refs, 1);
    assert_int_equal(f->len, hlen + len);
    assert_memory_equal(f->data, want_head, hlen);
    if (len)
        assert_memory_equal(f->data + hlen, payload, len);
    assert_int_equal(f->data[f->len], 0);   /* buf's trailing NUL */
    jg_buf_unref(f);
    free(payload);
}

static void test_frame_7bit(void **state)
{
    (void)state;
    static const unsigned char h0[] = { 0x81, 0x00 };
    static const unsigned char h1[] = { 0x81, 0x01 };
    static const unsigned char h125[] = { 0x81, 0x7d };
    check_frame(0, h0, sizeof h0);
    check_frame(1, h1, sizeof h1);
    check_frame(125, h125, sizeof h125);
}

static void test_frame_16bit(void **state)
{
    (void)state;
    static const unsigned char h126[] = { 0x81, 0x7e, 0x00, 0x7e };
    static const unsigned char h127[] = { 0x81, 0x7e, 0x00, 0x7f };
    static const unsigned char h256[] = { 0x81, 0x7e, 0x01, 0x00 };
    static const unsigned char h65535[] = { 0x81, 0x7e, 0xff, 0xff };
    check_frame(126, h126, sizeof h126);
    check_frame(127, h127, sizeof h127);
    check_frame(256, h256, sizeof h256);
    check_frame(65535, h65535, sizeof h65535);
}

static void test_frame_64bit(void **state)
{
    (void)state;
    /* 65536 must use the 64-bit form (0.8.7 wrote 81 7e 00 00: §10.3 Fix) */
    static const unsigned char h65536[] = { 0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00 };
    static const unsigned char h70000[] = { 0x81, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x11, 0x70 };
    static const unsigned char h1m[] = { 0x81, 0x7f, 0, 0, 0, 0, 0, 0x10, 0x00, 0x00 };
    check_frame(65536, h65536, sizeof h65536);
    check_frame(70000, h70000, sizeof h70000);
    check_frame(1 << 20, h1m, sizeof h1m);
}

static void test_frame_text_payload(void **state)
{
    (void)state;
    /* a socket.io packet with multi-byte UTF-8 and NUL bytes goes through untouched */
    static const char pkt[] = "3:::{\"data\":\"\xc3\xa9\xf0\x9f\x98\x80\"}\0x";
    size_t len = sizeof pkt - 1;
    struct jg_buf *f = jg_ws_frame_new(pkt, len);
    assert_int_equal(f->len, 2 + len);
    assert_int_equal(f->data[0], 0x81);   /* FIN, text, no RSV bits */
    assert_int_equal(f->data[1], len);    /* server frames are never masked */
    assert_memory_equal(f->data + 2, pkt, len);
    jg_buf_unref(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key_rfc6455),
        cmocka_unit_test(test_accept_key_other_vectors),
        cmocka_unit_test(test_frame_7bit),
        cmocka_unit_test(test_frame_16bit),
        cmocka_unit_test(test_frame_64bit),
        cmocka_unit_test(test_frame_text_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
