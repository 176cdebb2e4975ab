/* inbound.c: a client's packets (inbound.h). */
#include "core/inbound.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/sb.h"
#include "core/pubsub.h"
#include "core/session.h"
#include "proto/sid.h"
#include "proto/sio.h"

void jg_inbound_packet(struct jg_session *s, const char *pkt, size_t len)
{
    struct jg_sio_packet p;
    if (jg_sio_packet_parse(pkt, len, &p) != 0) {
        jg_debug("session %s: ignoring a string that is not a socket.io packet", jg_session_sid(s));
        return;
    }
    /* Acks are sent before processing for ids without '+' (protocol.md §4.3). */
    if (p.id && !p.ack_data &&
        (p.type == JG_SIO_MESSAGE || p.type == JG_SIO_JSON || p.type == JG_SIO_EVENT)) {
        struct jg_sb ack = JG_SB_INIT;
        jg_sb_appendf(&ack, "6::%.*s:%.*s", (int)p.endpoint_len, p.endpoint, (int)p.id_len, p.id);
        struct jg_buf *b = jg_buf_new(ack.data, ack.len);
        jg_sb_free(&ack);
        jg_session_send(s, b, NULL);
        jg_buf_unref(b);
    }
    switch (p.type) {
    case JG_SIO_HEARTBEAT:
        jg_session_heartbeat_reply(s);
        break;
    case JG_SIO_DISCONNECT:
        if (p.endpoint_len == 0)
            jg_session_end(s, "client disconnect", true);
        break;
    case JG_SIO_MESSAGE:
    case JG_SIO_JSON:
        /* 4::: JSON packets carry the same messages (socket.json.send); the original
         * ignored them, juggernaut.js never sends them */
        if (p.endpoint_len == 0)
            jg_pubsub_client_message(s, p.data, p.data_len);
        break;
    default:
        /* 1 (namespace connect), 4, 5, 6, 7, 8: nothing for Juggernaut to do (§4.2, J6) */
        break;
    }
}

struct payload_ctx {
    struct jg_core *core;
    char sid[JG_SID_MAX + 1];
};

static void payload_packet(void *ctx, const char *pkt, size_t len)
{
    struct payload_ctx *pc = ctx;
    /* looked up per packet: a "0::" earlier in the payload ends (and frees) the session */
    struct jg_session *s = jg_session_find(pc->core, pc->sid);
    if (s)
        jg_inbound_packet(s, pkt, len);
}

void jg_inbound_payload(struct jg_session *s, const char *body, size_t len)
{
    struct jg_sb clean = JG_SB_INIT;
    const char *text = body;
    /* Decode the whole body once (protocol.md §5.3 Fix); bad sequences become U+FFFD. */
    if (!jg_sio_utf8_sanitize(body, len, &clean)) {
        text = clean.data;
        len = clean.len;
    }
    struct payload_ctx pc;
    pc.core = jg_session_core(s);
    snprintf(pc.sid, sizeof pc.sid, "%s", jg_session_sid(s));
    if (jg_sio_payload_decode(text, len, payload_packet, &pc) != 0)
        jg_info("session " JG_SID_LOG ": malformed payload framing; ignored the rest of the POST", pc.sid);
    jg_sb_free(&clean);
}
