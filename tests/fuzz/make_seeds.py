#!/usr/bin/env python3
"""tests/fuzz/make_seeds.py: writes the hand-made seed corpora tests/fuzz/corpus/<harness>/.

Run from the repository root when the input layout of a harness changes; the files are
committed. See the comment at the top of each harness for its input layout."""
import json
import os
import re
import shutil
import urllib.parse

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
FFFD = "\ufffd"

# chunk sizes of fuzz_http / fuzz_ws control bytes (index 15 = everything left)
SIZES = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987]


def write(harness, name, data):
    d = os.path.join(ROOT, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def pieces(n):
    """Control-size indexes whose sizes add up to N (greedy; sizes are Fibonacci-like)."""
    out = []
    while n > 0:
        i = max(i for i, s in enumerate(SIZES) if s <= n)
        out.append(i)
        n -= SIZES[i]
    return out


SID_LEN = 38   # "@k" becomes a signed sid (the harnesses set a cluster-secret)


def sent_len(data):
    """Length of DATA once the harness replaced each "@k" by a sid."""
    return len(data) + (SID_LEN - 2) * len(re.findall(rb"@[0-9]", data))


def steps(*parts, nctl=8):
    """PARTS: (slot, bytes, op) sent in order; the last part with bytes is sent whole (size 15).
    Returns the control bytes and the concatenated stream."""
    ctl, stream = [], b""
    for k, (slot, data, op) in enumerate(parts):
        if isinstance(data, str):
            data = data.encode("utf-8")
        last = all(not p[1] for p in parts[k + 1:])   # the last part with bytes goes whole
        if op == 2 and not last:
            # a Redis message is one chunk: pad the JSON with spaces to a chunk size
            data += b" " * (min(x for x in SIZES if x >= sent_len(data)) - sent_len(data))
        idx = [15] if last and data else pieces(sent_len(data))
        if not idx:
            idx = [0]   # an empty part (only after the last bytes were sent): its op alone
        for j, i in enumerate(idx):
            o = op if j == len(idx) - 1 else 0
            ctl.append(i | (slot << 4) | (o << 5))
        stream += data
    if len(ctl) > nctl:
        raise ValueError("too many steps: %d" % len(ctl))
    ctl += [0] * (nctl - len(ctl))   # steps with nothing left to send: no-ops
    return bytes(ctl), stream


def http_seed(name, *parts, flags=0):
    ctl, stream = steps(*parts)
    write("fuzz_http", name, bytes([flags]) + ctl + stream)


def req(method, url, headers=(), body=b""):
    if isinstance(body, str):
        body = body.encode("utf-8")
    lines = ["%s %s HTTP/1.1" % (method, url), "Host: localhost"]
    lines += list(headers)
    if body or method == "POST":
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def framed(*pkts):
    return "".join(FFFD + str(len(p.encode("utf-16-le")) // 2) + FFFD + p for p in pkts)


def ws_frame(opcode, payload, fin=True, mask=b"\0\0\0\0", length=None):
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([0x80 | 127]) + n.to_bytes(8, "big")
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


WS_UPGRADE = ["Upgrade: websocket", "Connection: Upgrade",
              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13"]
SUB = lambda ch: json.dumps({"type": "subscribe", "channel": ch}, separators=(",", ":"))
MSG = lambda obj: "3:::" + json.dumps(obj, separators=(",", ":"))


def http_seeds():
    G = lambda url, *h: req("GET", url, h)
    http_seed("handshake", (0, G("/socket.io/1/?t=1"), 0))
    http_seed("handshake_jsonp", (0, G("/socket.io/1/?t=1&jsonp=3", "Origin: http://a.example"), 0))
    http_seed("handshake_bad_origin", (0, G("/socket.io/1/", "Origin: http://evil.example:80") +
                                       G("/socket.io/1/?jsonp=1", "Origin: http://evil.example"), 0))
    http_seed("handshake_draining", (0, G("/socket.io/1/") + G("/health"), 0), flags=1)
    http_seed("xhr_poll_held", (0, G("/socket.io/1/xhr-polling/@0?t=1") + G("/socket.io/1/xhr-polling/@0?t=2"), 1))
    http_seed("xhr_post_framed", (0, req("POST", "/socket.io/1/xhr-polling/@1?t=3", ["Origin: http://b.example:81"],
                                         framed("2::", MSG({"type": "subscribe", "channel": "b"}), "3:1::x",
                                                "5:::{\"name\":\"e\"}", "0::/ns", MSG({"type": "meta", "data": {"x": 1}}),
                                                MSG({"type": "event", "data": [1, "\u2028"]}), "1::/ns")), 0))
    http_seed("xhr_post_bare", (0, req("POST", "/socket.io/1/xhr-polling/@0", [],
                                       MSG({"type": "subscribe", "channels": ["c", "d"]})) +
                                G("/socket.io/1/xhr-polling/@0"), 0))
    d = "d=" + urllib.parse.quote_plus(json.dumps(framed(MSG({"type": "subscribe", "channel": "é😀"}), "2::")))
    http_seed("jsonp_post", (0, req("POST", "/socket.io/1/jsonp-polling/@0?t=1&i=2",
                                    ["Content-Type: application/x-www-form-urlencoded"], d) +
                             G("/socket.io/1/jsonp-polling/@0?t=2&i=7"), 0))
    http_seed("jsonp_post_bad", (0, req("POST", "/socket.io/1/jsonp-polling/@0?i=x", [], "d=%ZZ&d=\"3:::x\"") +
                                 req("POST", "/socket.io/1/jsonp-polling/@0", [], "e=1"), 0))
    http_seed("htmlfile", (0, G("/socket.io/1/htmlfile/@1?t=1"), 3), (1, b"", 2))
    http_seed("htmlfile_publish", (0, G("/socket.io/1/htmlfile/@1?t=1"), 0),
              (0, json.dumps({"channel": "a", "data": "</script><b>"}), 2), (0, b"", 3), (0, b"", 3))
    ws = req("GET", "/socket.io/1/websocket/@0", WS_UPGRADE)
    http_seed("websocket", (0, ws + ws_frame(1, "2::") + ws_frame(1, MSG({"type": "subscribe", "channel": "a"})) +
                            ws_frame(9, "ping") + ws_frame(1, "3:::x", fin=False, mask=b"\x01\x02\x03\x04") +
                            ws_frame(0, "y") + ws_frame(8, b"\x03\xe8"), 0))
    stream = ws + ws_frame(1, "2::") + ws_frame(1, "0::")   # cut at 34 and 178: inside the first frame
    http_seed("websocket_split", (0, stream[:34], 0), (0, stream[34:178], 0), (0, stream[178:], 0))
    http_seed("websocket_publish", (0, ws.replace(b"@0", b"@1"), 0), (1, json.dumps({"channels": ["a", "b"], "data": {"k": [1, 2.5]}}), 2),
              (0, b"", 3), (0, b"", 3), (0, b"", 3))
    http_seed("websocket_bad", (0, req("GET", "/socket.io/1/websocket/@0", ["Upgrade: websocket",
                                                                         "Sec-WebSocket-Key: short"]) +
                                req("GET", "/socket.io/1/websocket/@1", WS_UPGRADE[:3] + ["Sec-WebSocket-Version: 8"]), 0))
    http_seed("websocket_unknown_sid", (0, req("GET", "/socket.io/1/websocket/nosuchsid", WS_UPGRADE) +
                                        ws_frame(1, "2::"), 0))
    http_seed("websocket_outside", (0, req("GET", "/chat", WS_UPGRADE), 0))
    http_seed("disconnect", (0, G("/socket.io/1/xhr-polling/@1?disconnect") +
                             G("/socket.io/1/xhr-polling/@0?disconnect=1", "Origin: http://a.example"), 0))
    http_seed("pipelined", (0, G("/socket.io/1/") + G("/health") + G("/stats") + G("/metrics") + G("/") +
                            G("/application.js", "If-None-Match: x") + req("HEAD", "/sub/page.htm") + G("/missing") +
                            G("/../etc/passwd") + req("DELETE", "/") + G("/socket.io") + G("/socket.io/2/") +
                            G("/socket.io/1/xhr-polling/") + G("/socket.io/0/"), 0))
    http_seed("transport_not_enabled", (0, G("/socket.io/1/nope/@0"), 0))
    http_seed("options_cors", (0, req("OPTIONS", "/socket.io/1/xhr-polling/@0", ["Origin: http://a.example"]) +
                               req("PUT", "/socket.io/1/xhr-polling/@0"), 0))
    http_seed("malformed", (0, b"GET / HTTP/1.1\r\nHost\r\n\r\n", 0))
    http_seed("garbage", (0, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0))
    http_seed("header_too_long", (0, G("/", "X-Long: " + "x" * 1100), 0))
    http_seed("body_too_large", (0, b"POST /socket.io/1/xhr-polling/@0 HTTP/1.1\r\nContent-Length: 99999\r\n\r\n", 0))
    http_seed("chunked_post", (0, b"POST /socket.io/1/xhr-polling/@0 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  b"5\r\n3:::x\r\n0\r\n\r\n" + G("/health"), 0))
    http_seed("http10_close", (0, b"GET /health HTTP/1.0\r\n\r\n" + G("/stats"), 0))
    http_seed("admin_port", (0, G("/stats") + G("/health") + G("/metrics") + G("/socket.io/1/"), 0), flags=4)
    http_seed("admin_upgrade", (0, req("GET", "/socket.io/1/websocket/@0", WS_UPGRADE), 0), flags=4)
    # a held GET on slot 0, a POST on slot 1 answers it; the pipelined request behind waits
    http_seed("two_conns", (0, G("/socket.io/1/xhr-polling/@1") + G("/socket.io/1/xhr-polling/@1") + G("/health"), 0),
              (1, req("POST", "/socket.io/1/xhr-polling/@1", [], framed("3:::hello", "3:::again")), 0),
              (0, b"", 6), flags=8)
    http_seed("two_polls_replace", (0, G("/socket.io/1/xhr-polling/@0") + G("/socket.io/1/xhr-polling/@0"), 0),
              (1, G("/socket.io/1/xhr-polling/@0"), 1))
    http_seed("publish_to_held", (0, G("/socket.io/1/xhr-polling/@1") + G("/socket.io/1/xhr-polling/@1?t=2") +
                                  G("/health"), 0),
              (0, json.dumps({"channel": "a", "except": ["x"], "data": "hi"}), 2),
              (0, json.dumps({"channels": ["a"], "data": 2}), 2), (0, b"", 6))
    # @1 (channel a, no transport) gets 10 packets queued: past max-session-queue 8
    http_seed("queue_overflow", (0, json.dumps({"channels": ["a"] * 10, "data": 1}), 2), (0, b"", 4))
    http_seed("idle_timeout", (0, b"GET /socket.io/1/?t=1 HTTP/1.1\r\nHo", 5))
    http_seed("eof_on_held", (0, G("/socket.io/1/xhr-polling/@0") + G("/socket.io/1/xhr-polling/@0"), 7))
    http_seed("eof_on_ws", (0, ws, 7))
    http_seed("close_timeout", (0, G("/socket.io/1/xhr-polling/@0"), 4), (0, b"", 4))
    http_seed("stalled_output", (0, G("/stats") * 6 + G("/metrics") * 6, 0), (0, b"", 6), flags=16)
    http_seed("output_overflow", (0, G("/metrics") * 40, 0), flags=16)
    http_seed("drain_end", (0, G("/socket.io/1/xhr-polling/@0") + G("/socket.io/1/xhr-polling/@0"), 0),
              (1, G("/socket.io/1/htmlfile/@1"), 0), flags=32)
    http_seed("drain_end_ws", (0, req("GET", "/socket.io/1/websocket/@0", WS_UPGRADE), 0), flags=32)
    http_seed("adopt_sid", (0, G("/socket.io/1/xhr-polling/@9?t=1") + G("/socket.io/1/htmlfile/@8"), 0))
    http_seed("held_socket_path", (0, G("/socket.io/1/xhr-polling/@0") + G("/socket.io/1/xhr-polling/@0"), 0),
              (0, G("/health") + req("POST", "/socket.io/1/xhr-polling/@0", [], "3:::x"), 1), flags=8)
    http_seed("handshake_then_use", (0, G("/socket.io/1/") + G("/socket.io/1/xhr-polling/@2") +
                                     G("/socket.io/1/xhr-polling/@2"), 1),
              (1, req("POST", "/socket.io/1/xhr-polling/@2", [], framed(MSG({"type": "subscribe", "channel": "z"}),
                                                                       "0::")), 0))
    http_seed("duplicate_subscribe", (0, req("POST", "/socket.io/1/xhr-polling/@0", [],
                                             framed(MSG({"type": "subscribe", "channel": "a"}),
                                                    MSG({"type": "subscribe", "channel": "a"}),
                                                    MSG({"type": "unsubscribe", "channel": "a"}),
                                                    MSG({"type": "subscribe", "channel": "x" * 40}))), 0), flags=2)


def ws_seed(name, frames, flags=0, ctl=(0x0f, 0, 0, 0)):
    if isinstance(frames, str):
        frames = frames.encode()
    write("fuzz_ws", name, bytes([flags]) + bytes(ctl) + frames)


def ws_seeds():
    ws_seed("text", ws_frame(1, "2::") + ws_frame(1, "3:::" + SUB("b")))
    ws_seed("masked", ws_frame(1, "3:::" + SUB("a"), mask=b"\x37\xfa\x21\x3d") + ws_frame(1, "3:1::hi", mask=b"\xff\x00\xff\x00"))
    ws_seed("fragmented", ws_frame(1, "3:::{\"type\":", fin=False) + ws_frame(9, "") +
            ws_frame(0, "\"meta\",\"data\":1}", fin=False) + ws_frame(0, "", fin=True))
    ws_seed("ping_pong", ws_frame(9, "abc") + ws_frame(10, "x") + ws_frame(9, "y" * 125))
    ws_seed("close", ws_frame(8, b"\x03\xe8bye") + ws_frame(1, "2::"))
    ws_seed("close_bad_code", ws_frame(8, b"\x00\x01"))
    ws_seed("close_empty", ws_frame(8, b""))
    ws_seed("binary", ws_frame(2, b"\x00\x01\x02"))
    ws_seed("bad_utf8", ws_frame(1, b"3:::\xff\xfe"))
    ws_seed("unmasked", b"\x81\x03" + b"2::")
    ws_seed("reserved_bits", b"\xc1\x83\0\0\0\0" + b"2::")
    ws_seed("len16", ws_frame(1, "3:::" + "x" * 200))
    ws_seed("oversized", ws_frame(1, "3:::" + "y" * 1100))
    ws_seed("len64_huge", ws_frame(1, b"", length=1 << 40)[:14])
    ws_seed("len64_small", b"\x81\xff" + (5).to_bytes(8, "big") + b"\0\0\0\0" + b"2::ab")
    ws_seed("control_too_long", b"\x89\xfe\x00\x80\0\0\0\0" + b"p" * 128)
    ws_seed("fragmented_control", ws_frame(9, "p", fin=False))
    ws_seed("continuation_first", ws_frame(0, "x"))
    ws_seed("disconnect_packet", ws_frame(1, "0::") + ws_frame(1, "2::"))
    ws_seed("with_upgrade", ws_frame(1, "2::") + ws_frame(1, "3:::" + SUB("c")), flags=1, ctl=(0x06, 0, 0, 0x0f))
    ws_seed("unknown_sid", ws_frame(1, "2::"), flags=4)
    ws_seed("via_socket", ws_frame(1, "2::") + ws_frame(1, "3:::" + SUB("b")), flags=2, ctl=(0x03, 0x14, 0x0f, 0))
    split = ws_frame(1, "3:::" + SUB("d")) + ws_frame(9, "z")
    ws_seed("split", split, ctl=(0x01, 0x03, 0x04, 0x0f))
    ws_seed("publish_then_hb", ws_frame(1, "2::"), ctl=(0x1f, 0x20, 0x30, 0x30))
    ws_seed("server_ends", ws_frame(1, "2::") + ws_frame(1, "2::"), ctl=(0x55, 0x0f, 0, 0))
    ws_seed("stalled", ws_frame(1, "2::"), flags=8, ctl=(0x2f, 0x20, 0x20, 0x40))
    ws_seed("eof", ws_frame(1, "2::"), ctl=(0x7f, 0, 0, 0))
    ws_seed("conn_timer", ws_frame(8, b"\x03\xe8"), ctl=(0x6f, 0, 0, 0))
    ws_seed("unsubscribe", ws_frame(1, "3:::" + json.dumps({"type": "unsubscribe", "channel": "a"})) +
            ws_frame(1, "3:::" + json.dumps({"type": "event", "data": [1]})), ctl=(0x1f, 0x10, 0, 0))
    ws_seed("stalled_publish", ws_frame(9, "x" * 100) * 3, flags=8, ctl=(0x2f, 0x20, 0x20, 0x40))


def sio_seeds():
    seeds = {
        "message": "3:::hello",
        "message_id": "3:12+::data:with:colons",
        "json": "4:1::{\"a\":1}",
        "event": "5:::{\"name\":\"x\",\"args\":[]}",
        "endpoint": "1::/chat",
        "ack": "6:::4+[\"x\"]",
        "error": "7:::1+0",
        "noop": "8::",
        "heartbeat": "2::",
        "disconnect": "0::",
        "bad_type": "9::x",
        "short": "3:",
        "framed": framed("3:::a", "3:::\U0001F600b", "2::"),
        "framed_bad_len": FFFD + "9" + FFFD + "3:::a",
        "framed_empty_len": FFFD + FFFD + "3:::",
        "framed_split_pair": FFFD + "5" + FFFD + "3:::\U0001F600",
        "framed_huge_len": FFFD + "99999999999999999999999" + FFFD + "x",
        "form": "a=1&d=%223%3A%3A%3Ax%22&d=2",
        "form_plus": "%64=%E2%80%A8+x%2&=&d",
        "js_escapes": "\"\\/\b\t\n\f\r\x01\x1f\u2028\u2029</script>",
        "index": "123456789",
    }
    for name, text in seeds.items():
        write("fuzz_sio", name, text)
    write("fuzz_sio", "invalid_utf8", b"3:::\xc0\xaf\xed\xa0\x80\xf4\x90\x80\x80\xe0\x80\xff\xf0\x9f\x98")
    write("fuzz_sio", "framed_raw_invalid", FFFD.encode() + b"3" + FFFD.encode() + b"\xff\xfe\xfd")


def jug_client_seeds():
    seeds = {
        "subscribe": {"type": "subscribe", "channel": "a"},
        "subscribe_channels": {"type": "subscribe", "channels": ["a", "b"]},
        "subscribe_channels_str": {"type": "subscribe", "channels": "c", "channel": "d"},
        "unsubscribe": {"type": "unsubscribe", "channel": "a"},
        "meta": {"type": "meta", "data": {"user": 1, "2": "x", "1": [True, False, None]}},
        "event": {"type": "event", "data": {"t": "\u2028\u0001\"\\/", "n": -0.0, "big": 1e21, "small": 5e-324}},
        "event_nodata": {"type": "event"},
        "unknown_type": {"type": "publish"},
        "no_channel": {"type": "subscribe", "channel": ""},
        "channel_number": {"type": "subscribe", "channel": 5},
        "long_channel": {"type": "subscribe", "channel": "x" * 40},
    }
    for name, obj in seeds.items():
        write("fuzz_jug_client", name, json.dumps(obj, ensure_ascii=False))
    write("fuzz_jug_client", "dup_keys", '{"type":"meta","data":1,"data":{"a":1,"a":2,"0":0}}')
    write("fuzz_jug_client", "bigint", '{"type":"event","data":[12345678901234567890123,9007199254740993,-1e400]}')
    write("fuzz_jug_client", "bigint2", '{"type":"event","data":[12345678901234567890123,9007199254740993,1.5e300]}')
    write("fuzz_jug_client", "not_object", '[1,2,"subscribe"]')
    write("fuzz_jug_client", "not_json", '{"type":')
    write("fuzz_jug_client", "nul_escape", '{"type":"subscribe","channel":"a\\u0000b"}')


def jug_publish_seeds():
    seeds = {
        "channel": {"channel": "a", "data": "hello"},
        "channels": {"channels": ["a", "b", "c"], "data": {"x": [1, 2, {"y": None}]}},
        "channels_and_channel": {"channels": ["b"], "channel": "zzz", "data": 1},
        "except_str": {"channel": "a", "except": "@1", "data": "not for @1"},
        "except_list": {"channels": ["a", "c"], "except": ["@0", "@3", 5], "data": True},
        "numbers": {"channel": "b", "data": [0.1, 1e21, 123456789012, -0.0, 1e-7, 2 ** 53 + 1]},
        "index_keys": {"channel": "c", "10": 1, "2": 2, "a": 3, "01": 4, "4294967295": 5},
        "strings": {"channel": "a", "data": "</script>\u2028\u2029\"\\\x01\x7f é 😀"},
        "dup_channel": {"channels": ["a", "a", "", 7], "data": "twice"},
        "no_target": {"data": 1},
        "falsy_channels": {"channels": [], "channel": "b", "except": 0},
    }
    for name, obj in seeds.items():
        write("fuzz_jug_publish", name, json.dumps(obj, ensure_ascii=False))
    write("fuzz_jug_publish", "not_object", '["a"]')
    write("fuzz_jug_publish", "not_json", "{channel:a}")
    write("fuzz_jug_publish", "bigint", '{"channel":"a","data":123456789012345678901234567890}')
    write("fuzz_jug_publish", "big_message", json.dumps({"channels": ["a", "b", "c"], "data": "x" * 3000}))


# ---- fuzz_cluster: operations (see the top of fuzz_cluster.c) ----

def c_text(data):
    """A TEXT argument: its length once every "@k" is a sid, then the bytes."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    n = sent_len(data)
    assert n < 256, (n, data)
    return bytes([n]) + data


def r_str(data):
    return b"\x00" + c_text(data)


def r_int(v):
    if -16 <= v < 112:
        return b"\x01" + bytes([v + 16])
    return b"\x01\x80" + (v & (2 ** 64 - 1)).to_bytes(8, "big")


def r_arr(*elems):
    assert len(elems) < 32
    return b"\x02" + bytes([len(elems)]) + b"".join(elems)


R_NIL = b"\x03"


def r_err(data):
    return b"\x04" + c_text(data)


def op_seq(text):
    return b"\x00" + c_text(text)


def op_notice(text):
    return b"\x01" + c_text(text)


def op_legacy(text):
    return b"\x02" + c_text(text)


def op_reply(idx, reply):
    return b"\x03" + bytes([idx]) + reply


def op_giveup(idx):
    return b"\x04" + bytes([idx])


def op_http(slot, data):
    return b"\x05" + bytes([slot]) + c_text(data)


def op_msg(k, obj):
    return b"\x06" + bytes([k]) + c_text(json.dumps(obj) if not isinstance(obj, (str, bytes)) else obj)


def op_beat(flags):
    return b"\x07" + bytes([flags])


OP_HANDSHAKE = b"\x08"
OP_CATCHUP = b"\x0a"
OP_READ = b"\x0b"
OP_DRAIN = b"\x0d"


def op_timers(w):
    return b"\x09" + bytes([w])


def op_admin(slot, data):
    return b"\x0c" + bytes([slot]) + c_text(data)


def poll(sid, t=1, transport="xhr-polling"):
    return f"GET /socket.io/1/{transport}/{sid}?t={t} HTTP/1.1\r\nHost: x\r\n\r\n"


def record(owner="other-1", cursor="0", connected="1", subs=(), meta=None):
    fields = ["owner", owner, "cursor", cursor, "connected", connected, "gen", "2"]
    for ch, seq, pres in subs:
        fields += ["sub:" + ch, f"{seq} {pres} {json.dumps(ch)}"]
    if meta is not None:
        fields += ["meta", meta]
    fields += ["old_owner", owner]
    return fields


def r_list(fields):
    return r_arr(*[r_str(f) for f in fields])


def cluster_seeds():
    # a session made here, its record written, a poll claimed (the record says it is ours),
    # then messages sequenced, with a gap, and read
    write("fuzz_cluster", "handshake_poll_messages",
          OP_HANDSHAKE + op_reply(0, r_int(1)) +
          op_msg(0, {"type": "subscribe", "channel": "a"}) + op_reply(0, r_arr(r_str("3"), r_int(1))) +
          op_http(0, poll("@0")) +
          op_reply(0, r_list(record(owner="x", subs=[("a", 3, 0)]))) + OP_READ +
          op_seq('4 D {"channel":"a","data":1}') + op_seq('5 L {"channels":["a","b"],"data":2,"except":"@1"}') +
          op_seq('7 D {"channel":"a","data":3}') +
          op_reply(0, r_arr(r_arr(r_str("6-0"), r_arr(r_str("k"), r_str("P"), r_str("m"), r_str('{"channels":["a"],"presence":"join","meta":{"u":1}}'))))) +
          op_http(1, poll("@0", 2)) + op_reply(0, r_list(record(owner="x", cursor="3", subs=[("a", 3, 0)]))) +
          op_reply(0, r_int(1)) + OP_READ)
    # a poll for a sid another instance issued: claimed from its record (subscriptions, meta,
    # cursor), then notices from the owner
    write("fuzz_cluster", "claim_other_instance",
          op_http(0, poll("@3")) +
          op_reply(0, r_list(record(owner="other-1", cursor="2", subs=[("a", 1, 1), ("b", 2, 0)], meta='{"u":7}'))) +
          op_notice("sub @3 9 1 c") + op_notice('meta @3 {"u":8}') + op_notice("unsub @3 b") +
          op_notice("drop @3 5") + OP_READ)
    write("fuzz_cluster", "claim_while_notice",
          op_http(0, poll("@4")) + op_notice("sub @4 3 0 z") + op_notice("drop @4 1") +
          op_reply(0, r_list(record(owner="o", subs=[("z", 3, 0)]))) + op_reply(0, r_int(1)) + OP_READ)
    write("fuzz_cluster", "claim_nil", op_http(0, poll("@5")) + op_reply(0, R_NIL) + OP_READ)
    write("fuzz_cluster", "claim_error", op_http(0, poll("@5", 3, "jsonp-polling") ) + op_reply(0, r_err("ERR no")) + OP_READ)
    # subscribe with history, since and presence: jg_subscribe's and jg_backfill's replies
    write("fuzz_cluster", "subscribe_backfill",
          OP_HANDSHAKE + op_reply(0, r_int(1)) +
          op_msg(0, {"type": "subscribe", "channel": "a", "history": 3, "presence": True}) +
          op_reply(0, r_arr(r_str("10"), r_int(1))) +
          op_reply(0, r_arr(r_str("12"), r_int(0), r_int(2), r_str("8"), r_str('{"channel":"a","data":"h1","except":"@1"}'),
                            r_str("9"), r_str('{"channel":"a","data":"h2"}'), r_int(2), r_str("@1"), r_str('{"u":1}'),
                            r_str("@2"), r_str("null"))) +
          op_seq('11 D {"channel":"a","data":"live"}') + op_seq('12 P {"channels":["a"],"presence":"leave","meta":{"u":1}}') +
          op_http(0, poll("@0")) + op_reply(0, r_list(record(owner="x", subs=[("a", 10, 1)]))) + OP_READ)
    write("fuzz_cluster", "subscribe_since_trimmed",
          OP_HANDSHAKE + op_reply(0, r_int(1)) +
          op_msg(0, {"type": "subscribe", "channel": "b", "since": 3}) +
          op_reply(0, r_arr(r_str("3"), r_int(1))) +
          op_reply(0, r_arr(r_str("20"), r_int(1), r_int(0), r_int(0))) + OP_READ)
    # the leader: lease granted, catch-up, legacy messages sequenced and seen back
    write("fuzz_cluster", "leader",
          op_beat(3) + op_reply(1, r_int(1)) + op_reply(0, r_arr()) +
          op_legacy('{"channel":"a","data":1}') + op_legacy('{"channels":["a","b"],"data":2}') +
          op_reply(0, r_str("31")) + op_reply(0, r_err("NOTLEADER")) +
          op_seq('31 L {"channel":"a","data":1}') + op_beat(1) + op_reply(0, r_int(0)) + op_reply(0, r_int(3)))
    write("fuzz_cluster", "catchup_fresh",
          OP_CATCHUP + op_reply(0, r_arr(
              r_arr(r_str("41-0"), r_arr(r_str("k"), r_str("D"), r_str("m"), r_str('{"channel":"a","data":41}'))),
              r_arr(r_str("40-0"), r_arr(r_str("k"), r_str("L"), r_str("m"), r_str('{"channel":"a","data":40}'))),
              r_arr(r_str("bad"), r_int(3)))) +
          op_seq('43 D {"channel":"a"}') + op_reply(0, r_arr()) + op_seq("x y z") + op_seq("44 D [1]"))
    # packed batches (jg_sequence_packed) on juggernaut:sequenced and in jg:log, the library
    # fallback, and a batch that is not well formed
    pa = '{"channel":"a","data":1}'
    pb = '{"channels":["a","b"],"data":2,"except":"@1"}'
    write("fuzz_cluster", "packed",
          OP_HANDSHAKE + op_reply(0, r_int(1)) +
          op_msg(0, {"type": "subscribe", "channel": "a"}) + op_reply(0, r_arr(r_str("50"), r_int(1))) +
          op_seq(f"B 51 2\nL{len(pa)}:{pa}L{sent_len(pb.encode())}:{pb}") +
          op_seq(f"B 55 1\nL{len(pa)}:{pa}") +
          op_reply(0, r_arr(r_arr(r_str("54-0"), r_arr(r_str("b"), r_str(f"B 52 3\nD{len(pa)}:{pa}P2:{{}}L{len(pa)}:{pa}"))))) +
          op_seq(f"B 56 2\nL{len(pa)}:{pa}") + op_seq("B 57 1\nL99:{}") +
          op_beat(3) + op_reply(1, r_int(1)) + op_reply(0, r_arr()) +
          op_legacy(pa) + op_reply(0, r_err("ERR Function not found")) + op_beat(3) + op_reply(0, r_int(1)) +
          op_http(0, poll("@0")) + OP_READ)
    # admin endpoints: presence (HGETALL) and POST /publish (jg_publish)
    write("fuzz_cluster", "admin_presence",
          op_beat(3) + op_giveup(0) + op_giveup(0) + op_admin(0, "GET /presence/a%20b HTTP/1.1\r\nHost: x\r\n\r\n") +
          op_reply(0, r_arr(r_str("@0"), r_str('{"u":1}'), r_str("@1"), r_str('{"u":1}'), r_str("@2"), r_str("null"))) +
          op_admin(1, 'POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fuzz-publish-token-0123456789\r\n'
                      'Content-Length: 24\r\n\r\n{"channel":"a","data":1}') +
          op_reply(0, r_str("55")) + OP_READ)
    write("fuzz_cluster", "websocket_and_drain",
          OP_HANDSHAKE + op_reply(0, r_int(1)) +
          op_http(0, "GET /socket.io/1/websocket/@0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n") +
          op_seq('60 D {"channel":"a"}') + op_timers(1) + OP_DRAIN + op_giveup(0) + OP_READ)


def config_seeds():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "conf", "juggernautd.conf"), "rb") as f:
        write("fuzz_config", "shipped", f.read())
    write("fuzz_config", "small", "port 8080\nbind 0.0.0.0\nredis-url redis://:pw@h:7/3\n"
                                   'history "* 10 60; p 0 0"\norigins "http://a:* b:80"\n'
                                   "transports websocket,xhr-polling\nhttp://a:5")
    write("fuzz_config", "bad_value", "max-connections -1\n")
    write("fuzz_config", "quoted_empty", 'auth-secret ""\nlog-level debug\n')


if __name__ == "__main__":
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    http_seeds()
    ws_seeds()
    sio_seeds()
    jug_client_seeds()
    jug_publish_seeds()
    cluster_seeds()
    config_seeds()
