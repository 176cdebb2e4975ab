/* test_juggernaut.c: Juggernaut message semantics (protocol.md §12). Expected texts are the
 * captures of protocol.md §10.5/§12.2/§14, and for the JSON.stringify corner cases the
 * output of Node 20 (JSON.stringify of the original's Message copy). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto/juggernaut.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- helpers ---- */

static void parse_pub(const char *text, struct jg_jug_publish *p)
{
    const char *err = NULL;
    int rc = jg_jug_publish_parse(text, strlen(text), p, &err);
    assert_int_equal(rc, 0);
}

static void assert_packet(const struct jg_jug_publish *p, const char *channel, const char *want)
{
    size_t len = 0;
    char *got = jg_jug_publish_packet(p, channel, &len);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
}

/* Parses TEXT as a publish and checks the packet for every target channel in turn. */
static void assert_publish(const char *text, size_t nchannels, const char *const *channels,
                           const char *const *packets)
{
    struct jg_jug_publish p;
    parse_pub(text, &p);
    assert_int_equal(p.nchannels, nchannels);
    for (size_t i = 0; i < nchannels; i++) {
        assert_string_equal(p.channels[i], channels[i]);
        assert_packet(&p, p.channels[i], packets[i]);
    }
    jg_jug_publish_deinit(&p);
}

static void assert_channels(const char *text, size_t n, const char *const *want)
{
    struct jg_jug_publish p;
    parse_pub(text, &p);
    assert_int_equal(p.nchannels, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(p.channels[i], want[i]);
    if (n == 0)
        assert_null(p.channels);
    jg_jug_publish_deinit(&p);
}

static void assert_pub_fails(const char *text)
{
    struct jg_jug_publish p;
    const char *err = NULL;
    memset(&p, 0x5a, sizeof p);
    assert_int_equal(jg_jug_publish_parse(text, strlen(text), &p, &err), -1);
    assert_non_null(err);
    assert_null(p.root);
    assert_null(p.channels);
    assert_int_equal(p.nchannels, 0);
    assert_null(p.except);
    assert_int_equal(p.nexcept, 0);
    jg_jug_publish_deinit(&p);                /* harmless on a zeroed struct */
}

static void client(const char *text, struct jg_jug_client_msg *m)
{
    memset(m, 0x5a, sizeof *m);
    jg_jug_client_parse(text, strlen(text), m);
}

static void assert_client_invalid(const char *text)
{
    struct jg_jug_client_msg m;
    client(text, &m);
    assert_int_equal(m.type, JG_JUG_INVALID);
    assert_non_null(m.error);
    assert_null(m.channel);
    assert_null(m.data);
    jg_jug_client_msg_deinit(&m);
}

static void assert_client_channel(const char *text, enum jg_jug_client_type type,
                                  const char *channel)
{
    struct jg_jug_client_msg m;
    client(text, &m);
    assert_int_equal(m.type, type);
    assert_non_null(m.channel);
    assert_string_equal(m.channel, channel);
    assert_null(m.data);
    jg_jug_client_msg_deinit(&m);
    assert_null(m.channel);
}

/* Serializes a JSON value the way the event bodies do, via the custom event's "data". */
static void assert_event_custom(const char *meta_json, const char *sid, const char *data_json,
                                const char *want)
{
    json_t *meta = meta_json ? json_loads(meta_json, JSON_DECODE_ANY, NULL) : NULL;
    json_t *data = data_json ? json_loads(data_json, JSON_DECODE_ANY, NULL) : NULL;
    if (meta_json)
        assert_non_null(meta);
    if (data_json)
        assert_non_null(data);
    size_t len = 0;
    char *got = jg_jug_event_custom(meta, sid, data, &len);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    json_decref(meta);
    json_decref(data);
}

static void assert_event_channel(const char *channel, const char *meta_json, const char *sid,
                                 const char *want)
{
    json_t *meta = meta_json ? json_loads(meta_json, JSON_DECODE_ANY, NULL) : NULL;
    if (meta_json)
        assert_non_null(meta);
    size_t len = 0;
    char *got = jg_jug_event_channel(channel, meta, sid, &len);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(got);
    json_decref(meta);
}

/* ---- §12.2 and §10.5 captures ---- */

static void test_publish_captured_table(void **state)
{
    (void)state;
    assert_publish("{\"channels\":[\"c1\",\"c2\"],\"data\":{\"a\":1},\"except\":\"nobody\",\"extra\":true}",
                   2, (const char *const[]){ "c1", "c2" },
                   (const char *const[]){
                       "3:::{\"data\":{\"a\":1},\"extra\":true,\"channel\":\"c1\"}",
                       "3:::{\"data\":{\"a\":1},\"extra\":true,\"channel\":\"c2\"}" });
    assert_publish("{\"channel\":\"c2\",\"data\":\"plain string\"}",
                   1, (const char *const[]){ "c2" },
                   (const char *const[]){ "3:::{\"channel\":\"c2\",\"data\":\"plain string\"}" });
    assert_publish("{\"channels\":\"c2\",\"data\":\"channels as string\"}",
                   1, (const char *const[]){ "c2" },
                   (const char *const[]){ "3:::{\"data\":\"channels as string\",\"channel\":\"c2\"}" });
    assert_publish("{\"channels\":[\"c2\"]}",
                   1, (const char *const[]){ "c2" },
                   (const char *const[]){ "3:::{\"channel\":\"c2\"}" });
}

static void test_publish_captured_websocket(void **state)
{
    (void)state;
    /* §10.5: the frame was 81 47, a 71-byte payload; without "except" (session ids never
     * reach a client) it is 56 bytes */
    struct jg_jug_publish p;
    parse_pub("{\"channels\":[\"channel1\"],\"data\":{\"body\":\"h\xc3\xa9llo \xf0\x9f\x98\x80\"},"
              "\"except\":\"999\"}", &p);
    assert_int_equal(p.nchannels, 1);
    assert_string_equal(p.channels[0], "channel1");
    size_t len = 0;
    char *got = jg_jug_publish_packet(&p, "channel1", &len);
    static const char want[] =
        "3:::{\"data\":{\"body\":\"h\xc3\xa9llo \xf0\x9f\x98\x80\"},"
        "\"channel\":\"channel1\"}";
    assert_int_equal(len, 56);
    assert_memory_equal(got, want, sizeof want);
    free(got);
    assert_int_equal(p.nexcept, 1);
    assert_true(jg_jug_publish_excepts(&p, "999"));
    assert_false(jg_jug_publish_excepts(&p, "10131689012122198360"));
    jg_jug_publish_deinit(&p);
}

static void test_events_captured_websocket(void **state)
{
    (void)state;
    static const char sid[] = "10131689012122198360";
    struct jg_jug_client_msg meta, sub, ev;
    client("{\"type\":\"meta\",\"data\":{\"user_id\":7}}", &meta);
    client("{\"type\":\"subscribe\",\"channel\":\"channel1\"}", &sub);
    client("{\"type\":\"event\",\"data\":{\"typing\":true}}", &ev);
    assert_int_equal(meta.type, JG_JUG_META);
    assert_int_equal(sub.type, JG_JUG_SUBSCRIBE);
    assert_int_equal(ev.type, JG_JUG_EVENT);
    assert_string_equal(sub.channel, "channel1");

    static const char want_sub[] =
        "{\"channel\":\"channel1\",\"meta\":{\"user_id\":7},\"session_id\":\"10131689012122198360\"}";
    static const char want_custom[] =
        "{\"meta\":{\"user_id\":7},\"session_id\":\"10131689012122198360\",\"data\":{\"typing\":true}}";
    size_t len = 0;
    char *s = jg_jug_event_channel(sub.channel, meta.data, sid, &len);
    assert_string_equal(s, want_sub);           /* also the unsubscribe body */
    assert_int_equal(len, strlen(want_sub));
    free(s);
    s = jg_jug_event_custom(meta.data, sid, ev.data, &len);
    assert_string_equal(s, want_custom);
    assert_int_equal(len, strlen(want_custom));
    free(s);
    jg_jug_client_msg_deinit(&meta);
    jg_jug_client_msg_deinit(&sub);
    jg_jug_client_msg_deinit(&ev);
}

/* ---- §14 items 47-49: event bodies ---- */

static void test_events_checklist(void **state)
{
    (void)state;
    /* 47: no meta key when no meta was set */
    assert_event_channel("c1", NULL, "abc", "{\"channel\":\"c1\",\"session_id\":\"abc\"}");
    /* 48 */
    assert_event_channel("c1", "{\"user_id\":1}", "abc",
                         "{\"channel\":\"c1\",\"meta\":{\"user_id\":1},\"session_id\":\"abc\"}");
    /* 49 */
    assert_event_custom("{\"user_id\":1}", "abc", "{\"k\":\"v\"}",
                        "{\"meta\":{\"user_id\":1},\"session_id\":\"abc\",\"data\":{\"k\":\"v\"}}");
    assert_event_custom(NULL, "abc", "{\"k\":\"v\"}",
                        "{\"session_id\":\"abc\",\"data\":{\"k\":\"v\"}}");
    /* null is a value: kept */
    assert_event_channel("c1", "null", "abc",
                         "{\"channel\":\"c1\",\"meta\":null,\"session_id\":\"abc\"}");
    assert_event_custom("null", "abc", "null",
                        "{\"meta\":null,\"session_id\":\"abc\",\"data\":null}");
    /* no data in the event message: key omitted */
    assert_event_custom("{\"user_id\":1}", "abc", NULL,
                        "{\"meta\":{\"user_id\":1},\"session_id\":\"abc\"}");
    assert_event_custom(NULL, "abc", NULL, "{\"session_id\":\"abc\"}");
    /* nested meta, scalars */
    assert_event_channel("c1", "{\"user\":{\"id\":1,\"roles\":[\"a\",{\"b\":[]}],\"x\":{}},\"f\":1.50}",
                         "abc",
                         "{\"channel\":\"c1\",\"meta\":{\"user\":{\"id\":1,\"roles\":[\"a\",{\"b\":[]}],"
                         "\"x\":{}},\"f\":1.5},\"session_id\":\"abc\"}");
    assert_event_custom("\"str\"", "abc", "[1,true,false,null,\"x\"]",
                        "{\"meta\":\"str\",\"session_id\":\"abc\",\"data\":[1,true,false,null,\"x\"]}");
    assert_event_custom("5", "abc", "-2.25", "{\"meta\":5,\"session_id\":\"abc\",\"data\":-2.25}");
    /* channel and sid are escaped like any JS string; non-ASCII raw */
    assert_event_channel("\xc3\xa9\xf0\x9f\x98\x80 \"q\" \\ /\n", NULL, "s",
                         "{\"channel\":\"\xc3\xa9\xf0\x9f\x98\x80 \\\"q\\\" \\\\ /\\n\","
                         "\"session_id\":\"s\"}");
}

/* Items 47-49 end to end: client messages in, event bodies out. */
static void test_events_from_client_messages(void **state)
{
    (void)state;
    struct jg_jug_client_msg meta, sub;
    client("{\"type\":\"meta\",\"data\":{\"user_id\":1}}", &meta);
    client("{\"type\":\"subscribe\",\"channel\":\"c1\"}", &sub);
    size_t len;
    char *s = jg_jug_event_channel(sub.channel, NULL, "sid1", &len);
    assert_string_equal(s, "{\"channel\":\"c1\",\"session_id\":\"sid1\"}");
    free(s);
    s = jg_jug_event_channel(sub.channel, meta.data, "sid1", &len);
    assert_string_equal(s, "{\"channel\":\"c1\",\"meta\":{\"user_id\":1},\"session_id\":\"sid1\"}");
    free(s);
    jg_jug_client_msg_deinit(&meta);

    /* meta null: a real value */
    client("{\"type\":\"meta\",\"data\":null}", &meta);
    assert_int_equal(meta.type, JG_JUG_META);
    assert_non_null(meta.data);
    assert_true(json_is_null(meta.data));
    s = jg_jug_event_channel(sub.channel, meta.data, "sid1", &len);
    assert_string_equal(s, "{\"channel\":\"c1\",\"meta\":null,\"session_id\":\"sid1\"}");
    free(s);
    jg_jug_client_msg_deinit(&meta);

    /* nested meta re-serialized with the published key order and number forms */
    client("{\"type\":\"meta\",\"data\":{\"z\":{\"2\":1.0,\"1\":\"\\u00e9\"},\"a\":[1e2]}}", &meta);
    s = jg_jug_event_channel(sub.channel, meta.data, "sid1", &len);
    assert_string_equal(s, "{\"channel\":\"c1\",\"meta\":{\"z\":{\"1\":\"\xc3\xa9\",\"2\":1},"
                           "\"a\":[100]},\"session_id\":\"sid1\"}");
    free(s);
    jg_jug_client_msg_deinit(&meta);
    jg_jug_client_msg_deinit(&sub);
}

/* ---- §12.1 client messages ---- */

static void test_client_types(void **state)
{
    (void)state;
    assert_client_channel("{\"type\":\"subscribe\",\"channel\":\"c\"}", JG_JUG_SUBSCRIBE, "c");
    assert_client_channel("{\"type\":\"unsubscribe\",\"channel\":\"c\"}", JG_JUG_UNSUBSCRIBE, "c");
    assert_client_channel("{\"channel\":\"c\",\"type\":\"subscribe\",\"extra\":[1]}",
                          JG_JUG_SUBSCRIBE, "c");
    assert_client_channel("{\"type\":\"subscribe\",\"channel\":\"\xc3\xa9\xf0\x9f\x98\x80\"}",
                          JG_JUG_SUBSCRIBE, "\xc3\xa9\xf0\x9f\x98\x80");
    assert_client_channel("{\"type\":\"subscribe\",\"channel\":\"\\u00e9\\ud83d\\ude00\"}",
                          JG_JUG_SUBSCRIBE, "\xc3\xa9\xf0\x9f\x98\x80");
    /* whitespace around and inside is JSON */
    assert_client_channel(" {\"type\" : \"subscribe\" ,\n\"channel\":\"c\"}\r\n", JG_JUG_SUBSCRIBE, "c");

    struct jg_jug_client_msg m;
    client("{\"type\":\"meta\",\"data\":{\"user_id\":7}}", &m);
    assert_int_equal(m.type, JG_JUG_META);
    assert_null(m.channel);
    assert_true(json_is_object(m.data));
    assert_int_equal(json_integer_value(json_object_get(m.data, "user_id")), 7);
    jg_jug_client_msg_deinit(&m);
    assert_null(m.data);

    client("{\"type\":\"meta\"}", &m);            /* absent: undefined */
    assert_int_equal(m.type, JG_JUG_META);
    assert_null(m.data);
    jg_jug_client_msg_deinit(&m);

    client("{\"type\":\"meta\",\"data\":\"x\"}", &m);
    assert_int_equal(m.type, JG_JUG_META);
    assert_string_equal(json_string_value(m.data), "x");
    jg_jug_client_msg_deinit(&m);

    client("{\"type\":\"event\",\"data\":[1,2]}", &m);
    assert_int_equal(m.type, JG_JUG_EVENT);
    assert_int_equal(json_array_size(m.data), 2);
    jg_jug_client_msg_deinit(&m);

    client("{\"type\":\"event\"}", &m);
    assert_int_equal(m.type, JG_JUG_EVENT);
    assert_null(m.data);
    jg_jug_client_msg_deinit(&m);

    client("{\"type\":\"event\",\"data\":null}", &m);
    assert_int_equal(m.type, JG_JUG_EVENT);
    assert_true(json_is_null(m.data));
    jg_jug_client_msg_deinit(&m);

    /* data outlives the parse: its value is intact after the root was freed */
    client("{\"type\":\"event\",\"data\":{\"k\":{\"deep\":\"v\"}}}", &m);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m.data, "k"), "deep")),
                        "v");
    jg_jug_client_msg_deinit(&m);

    /* deinit twice is harmless */
    jg_jug_client_msg_deinit(&m);
}

static void test_client_channel_rule(void **state)
{
    (void)state;
    /* captured: channels array subscribes to the first only (J4) */
    assert_client_channel("{\"type\":\"subscribe\",\"channels\":[\"a\",\"b\"]}", JG_JUG_SUBSCRIBE, "a");
    assert_client_channel("{\"type\":\"unsubscribe\",\"channels\":[\"a\",\"b\"]}",
                          JG_JUG_UNSUBSCRIBE, "a");
    assert_client_channel("{\"type\":\"subscribe\",\"channels\":\"s\"}", JG_JUG_SUBSCRIBE, "s");
    /* channels wins over channel when truthy */
    assert_client_channel("{\"type\":\"subscribe\",\"channel\":\"x\",\"channels\":[\"a\"]}",
                          JG_JUG_SUBSCRIBE, "a");
    /* falsy channels: channel is used */
    assert_client_channel("{\"type\":\"subscribe\",\"channels\":\"\",\"channel\":\"x\"}",
                          JG_JUG_SUBSCRIBE, "x");
    assert_client_channel("{\"type\":\"subscribe\",\"channels\":null,\"channel\":\"x\"}",
                          JG_JUG_SUBSCRIBE, "x");
    assert_client_channel("{\"type\":\"subscribe\",\"channels\":0,\"channel\":\"x\"}",
                          JG_JUG_SUBSCRIBE, "x");
    assert_client_channel("{\"type\":\"subscribe\",\"channels\":false,\"channel\":\"x\"}",
                          JG_JUG_SUBSCRIBE, "x");
    /* makeArray(channel) too: an array channel gives its first element */
    assert_client_channel("{\"type\":\"subscribe\",\"channel\":[\"a\",\"b\"]}", JG_JUG_SUBSCRIBE, "a");

    /* Fix J11: no usable channel */
    assert_client_invalid("{\"type\":\"subscribe\"}");
    assert_client_invalid("{\"type\":\"unsubscribe\"}");
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":5}");
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":\"\"}");
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":null}");
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":true}");
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":{\"a\":1}}");
    assert_client_invalid("{\"type\":\"subscribe\",\"channels\":[],\"channel\":\"x\"}"); /* [] truthy */
    assert_client_invalid("{\"type\":\"subscribe\",\"channels\":[5,\"a\"]}");
    assert_client_invalid("{\"type\":\"subscribe\",\"channels\":[\"\",\"a\"]}");
    assert_client_invalid("{\"type\":\"subscribe\",\"channels\":5,\"channel\":\"x\"}");
    assert_client_invalid("{\"type\":\"unsubscribe\",\"channel\":5}");
}

static void test_client_invalid(void **state)
{
    (void)state;
    assert_client_invalid("");
    assert_client_invalid("not json");
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":\"c\"");
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":\"c\"} x");
    assert_client_invalid("[object Object]");      /* what a 4::: packet reaches it as */
    assert_client_invalid("\"x\"");
    assert_client_invalid("5");
    assert_client_invalid("[1]");
    assert_client_invalid("null");
    assert_client_invalid("[{\"type\":\"subscribe\",\"channel\":\"c\"}]");
    assert_client_invalid("{}");
    assert_client_invalid("{\"type\":\"bogus\",\"channel\":\"c\"}");
    assert_client_invalid("{\"type\":\"Subscribe\",\"channel\":\"c\"}");
    assert_client_invalid("{\"type\":5,\"channel\":\"c\"}");
    assert_client_invalid("{\"type\":null,\"data\":1}");
    assert_client_invalid("{\"type\":[\"meta\"],\"data\":1}");
    assert_client_invalid("{\"data\":1}");
    /* \u0000 inside a string is refused */
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":\"a\\u0000b\"}");
    assert_client_invalid("{\"type\":\"meta\",\"data\":\"a\\u0000b\"}");
    /* a lone surrogate, invalid UTF-8 */
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":\"\\ud800\"}");
    assert_client_invalid("{\"type\":\"subscribe\",\"channel\":\"\xff\"}");

    /* LEN is honoured: the text need not be NUL-terminated */
    static const char text[] = "{\"type\":\"subscribe\",\"channel\":\"c\"}GARBAGE";
    struct jg_jug_client_msg m;
    jg_jug_client_parse(text, sizeof text - 1 - 7, &m);
    assert_int_equal(m.type, JG_JUG_SUBSCRIBE);
    assert_string_equal(m.channel, "c");
    jg_jug_client_msg_deinit(&m);
    jg_jug_client_parse(text, sizeof text - 1, &m);
    assert_int_equal(m.type, JG_JUG_INVALID);
    jg_jug_client_msg_deinit(&m);
}

/* ---- §12.3 publishes ---- */

static void test_publish_targets(void **state)
{
    (void)state;
    assert_channels("{\"channels\":[\"a\",\"b\",\"a\"]}", 3, (const char *const[]){ "a", "b", "a" });
    assert_channels("{\"channels\":\"a\",\"channel\":\"x\"}", 1, (const char *const[]){ "a" });
    assert_channels("{\"channels\":[\"a\"],\"channel\":\"x\"}", 1, (const char *const[]){ "a" });
    assert_channels("{\"channel\":\"x\"}", 1, (const char *const[]){ "x" });
    assert_channels("{\"channel\":[\"x\",\"y\"]}", 2, (const char *const[]){ "x", "y" });
    /* non-strings in the array skipped */
    assert_channels("{\"channels\":[1,\"a\",null,{\"b\":1},[\"c\"],\"d\",true]}", 2,
                    (const char *const[]){ "a", "d" });
    /* falsy channels fall back to channel */
    assert_channels("{\"channels\":\"\",\"channel\":\"x\"}", 1, (const char *const[]){ "x" });
    assert_channels("{\"channels\":0,\"channel\":\"x\"}", 1, (const char *const[]){ "x" });
    assert_channels("{\"channels\":0.0,\"channel\":\"x\"}", 1, (const char *const[]){ "x" });
    assert_channels("{\"channels\":false,\"channel\":\"x\"}", 1, (const char *const[]){ "x" });
    assert_channels("{\"channels\":null,\"channel\":\"x\"}", 1, (const char *const[]){ "x" });
    /* truthy channels that name nothing win over channel */
    assert_channels("{\"channels\":[],\"channel\":\"x\"}", 0, NULL);
    assert_channels("{\"channels\":5,\"channel\":\"x\"}", 0, NULL);
    assert_channels("{\"channels\":true,\"channel\":\"x\"}", 0, NULL);
    assert_channels("{\"channels\":{\"a\":1},\"channel\":\"x\"}", 0, NULL);
    /* nothing usable */
    assert_channels("{}", 0, NULL);
    assert_channels("{\"data\":\"x\"}", 0, NULL);
    assert_channels("{\"channel\":\"\"}", 0, NULL);
    assert_channels("{\"channel\":5}", 0, NULL);
    assert_channels("{\"channel\":null}", 0, NULL);
    assert_channels("{\"channels\":[5]}", 0, NULL);

    /* J10 and invalid JSON */
    assert_pub_fails("not json");
    assert_pub_fails("");
    assert_pub_fails("\"c1\"");
    assert_pub_fails("[\"c1\"]");
    assert_pub_fails("[{\"channels\":[\"c1\"]}]");
    assert_pub_fails("5");
    assert_pub_fails("null");
    assert_pub_fails("{\"channels\":[\"c1\"],\"data\":\"a\\u0000b\"}");
    assert_pub_fails("{\"channels\":[\"c1\"]} trailing");
}

static void test_publish_root(void **state)
{
    (void)state;
    struct jg_jug_publish p;
    parse_pub("{\"channels\":[\"c1\",\"c2\"],\"data\":\"x\"}", &p);
    /* "channels" removed from the object */
    assert_null(json_object_get(p.root, "channels"));
    assert_int_equal(json_object_size(p.root), 1);
    assert_packet(&p, "c1", "3:::{\"data\":\"x\",\"channel\":\"c1\"}");   /* item 50 */
    /* the object is not modified by building packets */
    assert_null(json_object_get(p.root, "channel"));
    assert_packet(&p, "c2", "3:::{\"data\":\"x\",\"channel\":\"c2\"}");
    assert_packet(&p, "c1", "3:::{\"data\":\"x\",\"channel\":\"c1\"}");
    jg_jug_publish_deinit(&p);
    assert_null(p.root);

    /* item 51 */
    assert_publish("{\"channel\":\"c1\",\"data\":\"x\"}", 1, (const char *const[]){ "c1" },
                   (const char *const[]){ "3:::{\"channel\":\"c1\",\"data\":\"x\"}" });
    assert_publish("{\"channels\":\"c1\",\"data\":\"x\"}", 1, (const char *const[]){ "c1" },
                   (const char *const[]){ "3:::{\"data\":\"x\",\"channel\":\"c1\"}" });
    /* a "channel" key stays in place, also when "channels" chose the targets */
    assert_publish("{\"x\":1,\"channel\":\"old\",\"channels\":[\"c\",\"d\"],\"y\":[]}", 2,
                   (const char *const[]){ "c", "d" },
                   (const char *const[]){ "3:::{\"x\":1,\"channel\":\"c\",\"y\":[]}",
                                          "3:::{\"x\":1,\"channel\":\"d\",\"y\":[]}" });
    assert_publish("{\"channel\":[\"a\",\"b\"],\"data\":1}", 2, (const char *const[]){ "a", "b" },
                   (const char *const[]){ "3:::{\"channel\":\"a\",\"data\":1}",
                                          "3:::{\"channel\":\"b\",\"data\":1}" });
    /* item 52: extra fields through, channels and except not; any value types */
    assert_publish("{\"channels\":[\"c\"],\"data\":{},\"except\":[],\"foo\":1,\"n\":null,\"f\":false,"
                   "\"e\":[]}", 1, (const char *const[]){ "c" },
                   (const char *const[]){ "3:::{\"data\":{},\"foo\":1,\"n\":null,"
                                          "\"f\":false,\"e\":[],\"channel\":\"c\"}" });
    /* the Ruby gem's form */
    assert_publish("{\"channels\":[\"/chat\"],\"data\":\"hi\",\"except\":\"s1\",\"foo\":1}", 1,
                   (const char *const[]){ "/chat" },
                   (const char *const[]){ "3:::{\"data\":\"hi\",\"foo\":1,"
                                          "\"channel\":\"/chat\"}" });
    /* duplicates kept, in published order (item 54) */
    assert_publish("{\"channels\":[\"a\",\"b\",\"a\"],\"data\":0}", 3,
                   (const char *const[]){ "a", "b", "a" },
                   (const char *const[]){ "3:::{\"data\":0,\"channel\":\"a\"}",
                                          "3:::{\"data\":0,\"channel\":\"b\"}",
                                          "3:::{\"data\":0,\"channel\":\"a\"}" });

    /* a zeroed publish (failed parse) still yields valid JSON */
    memset(&p, 0, sizeof p);
    assert_packet(&p, "c", "3:::{\"channel\":\"c\"}");
}

static void test_publish_except(void **state)
{
    (void)state;
    struct jg_jug_publish p;

    parse_pub("{\"channels\":[\"c\"],\"except\":\"s1\"}", &p);
    assert_int_equal(p.nexcept, 1);
    assert_true(jg_jug_publish_excepts(&p, "s1"));
    assert_false(jg_jug_publish_excepts(&p, "s2"));
    assert_false(jg_jug_publish_excepts(&p, "s"));
    assert_false(jg_jug_publish_excepts(&p, "s10"));
    /* J5 sent it along; session ids are credentials: never to a client */
    assert_packet(&p, "c", "3:::{\"channel\":\"c\"}");
    jg_jug_publish_deinit(&p);

    parse_pub("{\"channels\":[\"c\"],\"except\":[\"s1\",5,null,\"s3\",[\"s4\"]]}", &p);
    assert_int_equal(p.nexcept, 2);
    assert_true(jg_jug_publish_excepts(&p, "s1"));
    assert_true(jg_jug_publish_excepts(&p, "s3"));
    assert_false(jg_jug_publish_excepts(&p, "s4"));
    assert_false(jg_jug_publish_excepts(&p, "5"));
    assert_packet(&p, "c", "3:::{\"channel\":\"c\"}");
    jg_jug_publish_deinit(&p);

    /* a number excludes nobody, not even a sid spelled like it */
    parse_pub("{\"channels\":[\"c\"],\"except\":123}", &p);
    assert_int_equal(p.nexcept, 0);
    assert_false(jg_jug_publish_excepts(&p, "123"));
    assert_packet(&p, "c", "3:::{\"channel\":\"c\"}");   /* whatever its type */
    jg_jug_publish_deinit(&p);

    static const char *const nobody[] = {
        "{\"channels\":[\"c\"]}",
        "{\"channels\":[\"c\"],\"except\":\"\"}",
        "{\"channels\":[\"c\"],\"except\":null}",
        "{\"channels\":[\"c\"],\"except\":true}",
        "{\"channels\":[\"c\"],\"except\":[]}",
        "{\"channels\":[\"c\"],\"except\":{\"s1\":1}}",
        "{\"channels\":[\"c\"],\"except\":[123]}",
    };
    for (size_t i = 0; i < sizeof nobody / sizeof *nobody; i++) {
        parse_pub(nobody[i], &p);
        assert_int_equal(p.nexcept, 0);
        assert_null(p.except);
        assert_false(jg_jug_publish_excepts(&p, "s1"));
        assert_false(jg_jug_publish_excepts(&p, "123"));
        jg_jug_publish_deinit(&p);
    }
}

/* ---- JSON.stringify fidelity (expected texts from Node 20) ---- */

static void test_json_strings(void **state)
{
    (void)state;
    /* V8: \b \t \n \f \r, other C0 as lowercase \u00xx; DEL, '/', U+2028/9, non-BMP raw */
    assert_publish("{\"data\":\"\\u00e9\\u0001\\u001f\\u007f\\u2028\\u2029\\/\\b\\t\\n\\f\\r\\u000b"
                   "\\\"\\\\\\ud83d\\ude00\",\"channels\":[\"c\"]}",
                   1, (const char *const[]){ "c" },
                   (const char *const[]){
                       "3:::{\"data\":\"\xc3\xa9\\u0001\\u001f\x7f\xe2\x80\xa8\xe2\x80\xa9/\\b\\t\\n"
                       "\\f\\r\\u000b\\\"\\\\\xf0\x9f\x98\x80\",\"channel\":\"c\"}" });
    /* raw UTF-8 in, raw out (3- and 4-byte forms, U+FFFD, U+2028 raw too) */
    assert_publish("{\"channels\":[\"\xe2\x82\xac\"],\"s\":\"\xef\xbf\xbd\xe2\x80\xa8 \xf0\x9f\x98\x80 </script>\"}",
                   1, (const char *const[]){ "\xe2\x82\xac" },
                   (const char *const[]){ "3:::{\"s\":\"\xef\xbf\xbd\xe2\x80\xa8 \xf0\x9f\x98\x80 </script>\","
                                          "\"channel\":\"\xe2\x82\xac\"}" });
}

static void test_json_control_chars(void **state)
{
    (void)state;
    static const char *const want[32] = {
        NULL, "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
        "\\b", "\\t", "\\n", "\\u000b", "\\f", "\\r", "\\u000e", "\\u000f",
        "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
        "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
    };
    for (int c = 1; c < 32; c++) {
        char text[64], expect[64];
        snprintf(text, sizeof text, "{\"channels\":[\"c\"],\"s\":\"\\u%04x\"}", c);
        snprintf(expect, sizeof expect, "3:::{\"s\":\"%s\",\"channel\":\"c\"}", want[c]);
        struct jg_jug_publish p;
        parse_pub(text, &p);
        assert_packet(&p, "c", expect);
        /* the channel name is escaped the same way */
        char ch[2] = { (char)c, 0 };
        snprintf(expect, sizeof expect, "3:::{\"s\":\"%s\",\"channel\":\"%s\"}", want[c], want[c]);
        assert_packet(&p, ch, expect);
        jg_jug_publish_deinit(&p);
    }
}

static void test_json_key_order(void **state)
{
    (void)state;
    /* array-index keys first, ascending, at every level; "01", "-1", 2^32-1 are names */
    assert_publish("{\"b\":1,\"2\":2,\"a\":{\"z\":1,\"10\":0,\"9\":1},\"1\":4,\"01\":5,\"4294967294\":6,"
                   "\"4294967295\":7,\"-1\":8,\"channels\":[\"c\"]}",
                   1, (const char *const[]){ "c" },
                   (const char *const[]){
                       "3:::{\"1\":4,\"2\":2,\"4294967294\":6,\"b\":1,\"a\":{\"9\":1,\"10\":0,\"z\":1},"
                       "\"01\":5,\"4294967295\":7,\"-1\":8,\"channel\":\"c\"}" });
    /* duplicate keys: last value, first position */
    assert_publish("{\"a\":1,\"b\":2,\"a\":3,\"channels\":[\"c\"]}", 1, (const char *const[]){ "c" },
                   (const char *const[]){ "3:::{\"a\":3,\"b\":2,\"channel\":\"c\"}" });
    /* a duplicate "channels" is still one key; a duplicate "channel" keeps its first place */
    assert_publish("{\"channel\":\"x\",\"d\":1,\"channel\":\"y\"}", 1, (const char *const[]){ "y" },
                   (const char *const[]){ "3:::{\"channel\":\"y\",\"d\":1}" });
    assert_publish("{\"channels\":[\"a\"],\"d\":1,\"channels\":[\"b\"]}", 1,
                   (const char *const[]){ "b" },
                   (const char *const[]){ "3:::{\"d\":1,\"channel\":\"b\"}" });
    /* keys are escaped like strings */
    assert_publish("{\"k\\n\\u00e9\\\"\":1,\"channels\":[\"c\"]}", 1, (const char *const[]){ "c" },
                   (const char *const[]){ "3:::{\"k\\n\xc3\xa9\\\"\":1,\"channel\":\"c\"}" });
}

static void test_json_numbers(void **state)
{
    (void)state;
    assert_publish("{\"data\":[1.0,1e3,0.1,1e21,1e-7,1.5e-7,-0.0,-0,12345678901234567890,"
                   "9007199254740993,0.000001,2e-6,-1.5,7.120236347223044426e-307,1E2,"
                   "123456789012345680000,9223372036854775807,-9223372036854775808,"
                   "1.7976931348623157e308,5e-324,0.30000000000000004,100,-5,1.25e+20,"
                   "2.5e-5,3.14159],\"channels\":[\"c\"]}",
                   1, (const char *const[]){ "c" },
                   (const char *const[]){
                       "3:::{\"data\":[1,1000,0.1,1e+21,1e-7,1.5e-7,0,0,12345678901234567000,"
                       "9007199254740992,0.000001,0.000002,-1.5,7.120236347223045e-307,100,"
                       "123456789012345680000,9223372036854776000,-9223372036854776000,"
                       "1.7976931348623157e+308,5e-324,0.30000000000000004,100,-5,125000000000000000000,"
                       "0.000025,3.14159],\"channel\":\"c\"}" });
    /* subnormals: fewer significant bits, shorter forms */
    assert_publish("{\"d\":[1e-323,2.2250738585072014e-308,2.225073858507201e-308,"
                   "4.9406564584124654e-324,1.5e-323,3.2682988371619e-310,16777215.999999998],"
                   "\"channels\":[\"c\"]}", 1, (const char *const[]){ "c" },
                   (const char *const[]){ "3:::{\"d\":[1e-323,2.2250738585072014e-308,"
                                          "2.225073858507201e-308,5e-324,1.5e-323,"
                                          "3.2682988371619e-310,16777215.999999998],\"channel\":\"c\"}" });
    /* an over-long integer makes the whole document reals: still printed as JS does */
    assert_publish("{\"a\":1,\"b\":[2,99999999999999999999],\"channels\":[\"c\"]}", 1,
                   (const char *const[]){ "c" },
                   (const char *const[]){ "3:::{\"a\":1,\"b\":[2,100000000000000000000],\"channel\":\"c\"}" });
    /* an integer json_t beyond 2^53 built by hand prints the double JS would hold */
    json_t *big = json_integer(9007199254740993LL);
    size_t len;
    char *s = jg_jug_event_custom(NULL, "s", big, &len);
    assert_string_equal(s, "{\"session_id\":\"s\",\"data\":9007199254740992}");
    free(s);
    json_decref(big);
    json_t *r = json_real(1.0);
    s = jg_jug_event_custom(r, "s", NULL, &len);
    assert_string_equal(s, "{\"meta\":1,\"session_id\":\"s\"}");
    free(s);
    json_decref(r);
    /* real overflow (JS: Infinity -> null) is refused by jansson: nothing delivered */
    assert_pub_fails("{\"channels\":[\"c\"],\"data\":1e400}");
}


/* Cluster mode: "seq" is the last member, after "channel", and overrides a published one. */
static void test_publish_packet_seq(void **state)
{
    (void)state;
    struct jg_jug_publish p;
    parse_pub("{\"channels\":[\"a\",\"b\"],\"data\":1}", &p);
    size_t len = 0;
    char *got = jg_jug_publish_packet_seq(&p, "b", 1795965253887442ULL, &len);
    assert_string_equal(got, "3:::{\"data\":1,\"channel\":\"b\",\"seq\":1795965253887442}");
    assert_int_equal(len, strlen(got));
    free(got);
    got = jg_jug_publish_packet_seq(&p, "b", 0, &len);   /* 0 = no seq: the legacy bytes */
    assert_string_equal(got, "3:::{\"data\":1,\"channel\":\"b\"}");
    free(got);
    jg_jug_publish_deinit(&p);
    parse_pub("{\"channel\":\"c\",\"seq\":\"mine\"}", &p);
    got = jg_jug_publish_packet_seq(&p, "c", 7, &len);
    assert_string_equal(got, "3:::{\"channel\":\"c\",\"seq\":\"mine\",\"seq\":7}");   /* JSON.parse keeps 7 */
    free(got);
    jg_jug_publish_deinit(&p);
}

/* Cluster mode's subscribe options: since (number or digit string), history (capped), presence. */
static void test_client_catch_up_options(void **state)
{
    (void)state;
    struct jg_jug_client_msg m;
    client("{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":1795965253887442,\"presence\":true}", &m);
    assert_int_equal(m.type, JG_JUG_SUBSCRIBE);
    assert_true(m.has_since);
    assert_true(m.since == 1795965253887442ULL);
    assert_true(m.presence);
    assert_int_equal(m.history, 0);
    jg_jug_client_msg_deinit(&m);
    client("{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":\"42\",\"history\":5000}", &m);
    assert_true(m.has_since);
    assert_true(m.since == 42);
    assert_int_equal(m.history, 1000);
    assert_false(m.presence);
    jg_jug_client_msg_deinit(&m);
    /* not a sequence number: ignored, the subscribe stands */
    const char *bad[] = { "-1", "1.5", "\"12a\"", "\"\"", "null", "true", "[1]" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":%s,\"history\":%s}", bad[i],
                 bad[i]);
        client(text, &m);
        assert_int_equal(m.type, JG_JUG_SUBSCRIBE);
        assert_false(m.has_since);
        assert_int_equal(m.history, 0);
        jg_jug_client_msg_deinit(&m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_captured_table),
        cmocka_unit_test(test_publish_captured_websocket),
        cmocka_unit_test(test_events_captured_websocket),
        cmocka_unit_test(test_events_checklist),
        cmocka_unit_test(test_events_from_client_messages),
        cmocka_unit_test(test_client_types),
        cmocka_unit_test(test_client_channel_rule),
        cmocka_unit_test(test_client_invalid),
        cmocka_unit_test(test_publish_targets),
        cmocka_unit_test(test_publish_root),
        cmocka_unit_test(test_publish_except),
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_json_control_chars),
        cmocka_unit_test(test_json_key_order),
        cmocka_unit_test(test_json_numbers),
        cmocka_unit_test(test_publish_packet_seq),
        cmocka_unit_test(test_client_catch_up_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
