/* fuzz_jug_client.c: a client's Juggernaut message (the text of a "3:::" packet):
 * jg_jug_client_parse, the juggernaut:* event bodies built from it, and the message applied
 * to a live session (jg_pubsub_client_message, twice: a repeated subscribe is a no-op).
 * Oracles: the event bodies are JSON objects whose "channel", "session_id", "meta" and
 * "data" equal (as JavaScript sees them) what went in; an (un)subscribe's channel is a
 * non-empty string. The input is used as is. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/juggernaut.h"
#include "core/pubsub.h"
#include "app/server.h"
#include "core/session.h"

#include "fuzz_common.h"
#include "fuzz_jsoncheck.h"

#define SID "Zm9vYmFyYmF6cXV4cXV1eA"

/* OUT's member KEY must equal WANT (NULL: must be absent). */
static void expect_member(const json_t *out, const char *key, const json_t *want)
{
    const json_t *got = json_object_get(out, key);
    if (!want) {
        if (got)
            fz_fail("event has \"%s\" but should not", key);
        return;
    }
    if (!got || !fzj_equal(got, want))
        fz_fail("event member \"%s\" differs from what went in", key);
}

static void check_event(char *text, size_t len, const char *channel, const json_t *meta, const json_t *data,
                        bool custom)
{
    if (strlen(text) != len)
        fz_fail("event length %zu, strlen %zu", len, strlen(text));
    json_t *out = fzj_parse_output(text, len);
    if (!json_is_object(out))
        fz_fail("event is not an object");
    json_t *sid = json_string(SID);
    expect_member(out, "session_id", sid);
    json_decref(sid);
    expect_member(out, "meta", meta);
    if (custom) {
        expect_member(out, "data", data);
    } else {
        json_t *ch = json_string(channel);
        expect_member(out, "channel", ch);
        json_decref(ch);
    }
    json_decref(out);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct jg_jug_client_msg m;
    jg_jug_client_parse(text, size, &m);
    /* any JSON value the input holds serves as a meta */
    json_t *value = fzj_parse_like_daemon(text, size);
    size_t len;
    switch (m.type) {
    case JG_JUG_SUBSCRIBE:
    case JG_JUG_UNSUBSCRIBE:
        if (!m.channel || !m.channel[0])
            fz_fail("(un)subscribe without a channel");
        check_event(jg_jug_event_channel(m.channel, NULL, SID, &len), len, m.channel, NULL, NULL, false);
        check_event(jg_jug_event_channel(m.channel, value, SID, &len), len, m.channel, value, NULL, false);
        break;
    case JG_JUG_META:
    case JG_JUG_EVENT:
        if (m.channel)
            fz_fail("meta/event with a channel");
        check_event(jg_jug_event_custom(NULL, SID, m.data, &len), len, NULL, NULL, m.data, true);
        check_event(jg_jug_event_custom(m.data, SID, m.data, &len), len, NULL, m.data, m.data, true);
        break;
    case JG_JUG_INVALID:
        if (!m.error)
            fz_fail("invalid message without an error text");
        if (value)
            check_event(jg_jug_event_custom(value, SID, value, &len), len, NULL, value, value, true);
        break;
    default:
        fz_fail("message type %d", (int)m.type);
    }
    json_decref(value);
    jg_jug_client_msg_deinit(&m);

    /* the same text from a live session: subscriptions, meta, custom events */
    fz_begin();
    struct jg_server *srv = fz_server();
    struct jg_session *s = jg_session_create(&srv->core);
    jg_pubsub_client_message(s, text, size);
    jg_pubsub_client_message(s, text, size);
    static const char sub_a[] = "{\"type\":\"subscribe\",\"channel\":\"a\"}";
    jg_pubsub_client_message(s, sub_a, sizeof sub_a - 1);
    jg_pubsub_client_message(s, text, size);
    fz_end();
    return 0;
}
