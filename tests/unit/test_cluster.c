/* test_cluster.c: cluster mode's leader change and hand-over, without sockets or Redis.
 * The broker is replaced at link time (-Wl,--wrap, see the Makefile): every command the
 * daemon sends is recorded with its callback and answered by the test (a fake bus), so the
 * state machine (follower -> aligning -> leader -> released) runs on scripted replies. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "cluster/cluster_int.h"
#include "cluster/broker.h"
#include "base/buf.h"
#include "core/channel.h"
#include "cluster/cluster.h"
#include "transport/conn.h"
#include "app/server.h"
#include "core/session.h"
#include "transport/endpoint.h"
#include "server_fixture.h"

#include "fake_bus.h"

/* What the cluster gave the broker to call (its hooks and the channels its subscriber link
 * subscribes to): kept, so tests call the real hooks as the broker would. */
static struct jg_broker_hooks hooks;
static char subscribed_to[256];
void __real_jg_broker_start(struct jg_broker *b, const struct jg_broker_hooks *h, const char *const *channels,
                            size_t nchannels);
void __wrap_jg_broker_start(struct jg_broker *b, const struct jg_broker_hooks *h, const char *const *channels,
                            size_t nchannels);
void __wrap_jg_broker_start(struct jg_broker *b, const struct jg_broker_hooks *h, const char *const *channels,
                            size_t nchannels)
{
    hooks = *h;
    subscribed_to[0] = '\0';
    for (size_t i = 0; i < nchannels; i++)
        snprintf(subscribed_to + strlen(subscribed_to), sizeof subscribed_to - strlen(subscribed_to), "%s%s",
                 i ? " " : "", channels[i]);
    __real_jg_broker_start(b, h, channels, nchannels);
}

/* ---- fixture ---- */

struct fx {
    struct ev_loop *loop;
    struct jg_server srv;
    struct jg_config cfg;
    char dir[64], index[96];
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (fake_bus_server_start("cluster", &f->loop, &f->srv, &f->cfg, f->dir, f->index) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fake_bus_give_up_all();
    fixture_server_stop(f->loop, &f->srv, &f->cfg, f->dir, f->index);
    free(f);
    return 0;
}

static void beat(struct fx *f)
{
    ev_invoke(f->loop, &f->srv.cluster->beat, EV_TIMER);
}

/* A mature follower (listening for long) asks for the lease each beat. */
static void make_mature(struct fx *f)
{
    f->srv.cluster->subscribed_since = ev_now(f->loop) - 100;
}

/* Beat, win the lease, read an empty log: the instance leads. */
static void become_leader(struct fx *f)
{
    make_mature(f);
    size_t mark = ncmds;
    beat(f);
    answer_int(find_cmd("FCALL jg_lease 0", mark), 1);
    int xr = find_cmd("XRANGE jg:log", mark);
    answer_empty_array(xr >= 0 ? xr : find_cmd("XREVRANGE jg:log", mark));
    assert_int_equal(f->srv.cluster->role, LEADER);
}

/* ---- tests ---- */

/* Legacy messages heard while another instance leads wait; once the lease is ours the log
 * is read first (aligning), then what is still pending is sequenced in the order heard. */
static void test_leader_change_sequences_pending_in_order(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    make_mature(f);
    const char *a = "{\"channels\":[\"x\"],\"data\":1}", *b = "{\"channels\":[\"x\"],\"data\":2}";
    jg_cluster_legacy_message(c, a, strlen(a));
    jg_cluster_legacy_message(c, b, strlen(b));
    assert_int_equal(find_cmd("FCALL jg_sequence", 0), -1);   /* a follower sequences nothing */

    size_t mark = ncmds;
    beat(f);
    int lease = find_cmd("FCALL jg_lease 0", mark);
    assert_true(lease >= 0);
    assert_non_null(strstr(cmds[lease].text, " 0"));   /* mature: young flag 0 */
    answer_int(lease, 1);                              /* the lease is ours */
    assert_int_equal(c->role, ALIGNING);
    int xr = find_cmd("XRANGE jg:log", mark);
    if (xr < 0)
        xr = find_cmd("XREVRANGE jg:log", mark);
    assert_true(xr >= 0);
    assert_int_equal(find_cmd("FCALL jg_sequence", mark), -1);   /* not before the log is read */
    answer_empty_array(xr);
    assert_int_equal(c->role, LEADER);
    /* both in one call, in the order heard: leader id, count 2, then text, 1 channel, "x" */
    int s1 = find_cmd("FCALL jg_sequence_packed 0 ", mark);
    assert_true(s1 >= 0);
    assert_int_equal(find_cmd("FCALL jg_sequence", (size_t)s1 + 1), -1);
    char want[256];
    snprintf(want, sizeof want, "FCALL jg_sequence_packed 0 %s 2 %s 1 x %s 1 x", jg_cluster_id(c), a, b);
    assert_string_equal(cmds[s1].text, want);
}

/* A leader sequences what one loop turn brought in one call (never a round trip per
 * message), in the order heard; the reply counts them all. */
static void test_leader_batches_a_loop_turn(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    become_leader(f);
    size_t mark = ncmds;
    char text[50][64];
    for (int i = 0; i < 50; i++) {
        snprintf(text[i], sizeof text[i], "{\"channels\":[\"c%d\",\"d\"],\"data\":%d}", i, i);
        jg_cluster_legacy_message(c, text[i], strlen(text[i]));
    }
    assert_int_equal(find_cmd("FCALL jg_sequence", mark), -1);   /* not one by one */
    ev_invoke(f->loop, &c->batch, EV_PREPARE);                    /* the loop is about to sleep */
    int b = find_cmd("FCALL jg_sequence_packed 0 ", mark);
    assert_true(b >= 0);
    assert_int_equal(find_cmd("FCALL jg_sequence", (size_t)b + 1), -1);
    char head[96];
    snprintf(head, sizeof head, "FCALL jg_sequence_packed 0 %s 50 ", jg_cluster_id(c));
    assert_memory_equal(cmds[b].text, head, strlen(head));
    const char *prev = cmds[b].text;
    for (int i = 0; i < 50; i++) {   /* each with its two channels, in order */
        char part[160];
        snprintf(part, sizeof part, "%.64s 2 c%d d", text[i], i);
        const char *at = strstr(prev, part);
        assert_non_null(at);
        prev = at + 1;
    }
    redisReply seq = { .type = REDIS_REPLY_STRING, .str = "1050", .len = 4 };
    int64_t before = f->srv.stats.messages_sequenced;
    answer(b, &seq);
    assert_int_equal(f->srv.stats.messages_sequenced, before + 50);
    assert_int_equal(c->role, LEADER);
}

/* This instance leads; legacy message M is heard and the loop turn ends: returns the index
 * of the jg_sequence_packed call that carries it. */
static int leader_sequences_one(struct fx *f, const char *m)
{
    struct jg_cluster *c = f->srv.cluster;
    become_leader(f);
    size_t mark = ncmds;
    jg_cluster_legacy_message(c, m, strlen(m));
    ev_invoke(f->loop, &c->batch, EV_PREPARE);
    int seq = find_cmd("FCALL jg_sequence_packed", mark);
    assert_true(seq >= 0);
    return seq;
}

/* Another instance won the lease: NOTLEADER makes a leader step down, and what it had
 * handed to jg_sequence is pending again for the next leader. */
static void test_notleader_steps_down(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    int seq = leader_sequences_one(f, "{\"channels\":[\"y\"],\"data\":3}");
    answer_error(seq, "NOTLEADER");
    assert_int_equal(c->role, FOLLOWER);
    assert_int_equal(f->srv.stats.cluster_leader, 0);
    struct legacy *l = jg_container_of(c->legacy.next, struct legacy, node);
    assert_false(l->sent);   /* the next leader sequences it */
}

/* After MARK the instance leads again and sends legacy message M once more, alone. */
static void sent_again(struct fx *f, const char *m, size_t mark)
{
    struct jg_cluster *c = f->srv.cluster;
    become_leader(f);
    char want[160];
    snprintf(want, sizeof want, "FCALL jg_sequence_packed 0 %s 1 %s 1 y", jg_cluster_id(c), m);
    int again = find_cmd("FCALL jg_sequence_packed 0 ", mark);
    assert_true(again >= 0);
    assert_string_equal(cmds[again].text, want);
}

/* Any other error (Redis out of memory, say) loses nothing: the leader steps down with the
 * batch pending, and sends it again when it leads again. */
static void test_failed_batch_goes_again(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    const char *m = "{\"channels\":[\"y\"],\"data\":5}";
    int seq = leader_sequences_one(f, m);
    answer_error(seq, "OOM command not allowed when used memory > 'maxmemory'.");
    assert_int_equal(c->role, FOLLOWER);
    assert_false(jg_container_of(c->legacy.next, struct legacy, node)->sent);
    sent_again(f, m, ncmds);
}

/* An instance of an older version loaded its library last (it has no jg_sequence_packed):
 * the leader loads its own again (a superset), marks the older instance alive so nothing
 * packed reaches it, and steps down with what it sent pending again; leading again, it
 * sends them once more. */
static void test_older_library_is_replaced(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    const char *m = "{\"channels\":[\"y\"],\"data\":4}";
    int seq = leader_sequences_one(f, m);
    size_t mark = ncmds;
    answer_error(seq, "ERR Function not found");
    assert_int_equal(c->role, FOLLOWER);
    assert_false(jg_container_of(c->legacy.next, struct legacy, node)->sent);
    int load = find_cmd("FUNCTION LOAD REPLACE #!lua name=juggernaut", mark);
    assert_true(load >= 0);
    char want[160];
    snprintf(want, sizeof want, "SET jg:wire1-seen %s PX ", jg_cluster_id(c));
    int wire = find_cmd(want, mark);
    assert_true(wire > load);

    sent_again(f, m, ncmds);
}

/* The packed text of messages FIRST.. with data D[0..N): "B <first> <n>\n" + "L<bytes>:<json>"... */
static void packed(char *out, size_t cap, uint64_t first, const int *d, int n)
{
    int at = snprintf(out, cap, "B %llu %d\n", (unsigned long long)first, n);
    for (int i = 0; i < n; i++) {
        char json[64];
        int len = snprintf(json, sizeof json, "{\"channels\":[\"x\"],\"data\":%d}", d[i]);
        at += snprintf(out + at, cap - (size_t)at, "L%d:%s", len, json);
    }
}

/* A packed batch on juggernaut:sequenced is its messages, in order, with consecutive seqs; one
 * that is not well formed is ignored whole, counted, and leaves the stream where it was. */
static void test_packed_batch_delivers_each_message(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    struct jg_session *s = jg_session_claimed(&f->srv.core, "PPPPPPPPPPPPPPPPPPPPPP", false);
    struct jg_sub *sub = jg_channel_subscribe(f->srv.core.channels, "x", s, false);
    jg_sub_set_seq_hi(sub, 100);
    c->last_seq = 100;
    char text[512];
    static const int d[3] = { 1, 2, 3 };
    packed(text, sizeof text, 101, d, 3);
    jg_cluster_sequenced_message(c, text, strlen(text));
    assert_int_equal(c->last_seq, 103);
    assert_int_equal(f->srv.stats.sequenced_in, 3);
    assert_int_equal(jg_session_queue_len(s), 3);
    assert_int_equal(jg_sub_seq_hi(sub), 103);

    static const char *const bad[] = {
        "B 104 2\nL27:{\"channels\":[\"x\"],\"data\":4}",                      /* one of two */
        "B 104 1\nL99:{\"channels\":[\"x\"],\"data\":4}",                      /* length past the end */
        "B 104 1\nL27:{\"channels\":[\"x\"],\"data\":4}xx",                    /* bytes after it */
        "B 0 1\nL27:{\"channels\":[\"x\"],\"data\":4}",                        /* seq 0 */
        "B 104 1001\nL27:{\"channels\":[\"x\"],\"data\":4}",                   /* more than a pack */
        "B 104 1\nL-1:{}", "B 104", "B", "B 99999999999999999999999 1\nL2:{}", "B 104 1\nL27",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        jg_cluster_sequenced_message(c, bad[i], strlen(bad[i]));
    assert_int_equal(f->srv.stats.sequenced_malformed, (int64_t)(sizeof bad / sizeof *bad));
    assert_int_equal(c->last_seq, 103);
    assert_int_equal(jg_session_queue_len(s), 3);
}

/* A gap before a packed batch is filled from jg:log, whose packed entry (id: its last seq)
 * also holds seqs already applied: only the missing ones are applied, then the held batch. */
static void test_gap_filled_from_a_packed_log_entry(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    c->last_seq = 100;
    char text[512];
    static const int later[2] = { 105, 106 };
    packed(text, sizeof text, 105, later, 2);
    size_t mark = ncmds;
    jg_cluster_sequenced_message(c, text, strlen(text));   /* 101..104 missed */
    assert_int_equal(c->last_seq, 100);
    assert_int_equal(f->srv.stats.sequence_gaps, 1);
    int xr = find_cmd("XRANGE jg:log (100-0 + COUNT", mark);
    assert_true(xr >= 0);

    char batch[512];
    static const int earlier[5] = { 100, 101, 102, 103, 104 };   /* 100 was applied already */
    packed(batch, sizeof batch, 100, earlier, 5);
    redisReply id = { .type = REDIS_REPLY_STRING, .str = "104-0", .len = 5 };
    redisReply name = { .type = REDIS_REPLY_STRING, .str = "b", .len = 1 };
    redisReply value = { .type = REDIS_REPLY_STRING, .str = batch, .len = strlen(batch) };
    redisReply *fv[2] = { &name, &value };
    redisReply fields = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = fv };
    redisReply *ev[2] = { &id, &fields };
    redisReply entry = { .type = REDIS_REPLY_ARRAY, .elements = 2, .element = ev };
    redisReply *el[1] = { &entry };
    redisReply r = { .type = REDIS_REPLY_ARRAY, .elements = 1, .element = el };
    answer(xr, &r);
    assert_int_equal(c->last_seq, 106);
    assert_int_equal(f->srv.stats.sequenced_in, 6);   /* 101..104 from the log, 105 and 106 held */
    assert_int_equal(c->ring.len, 6);
    assert_int_equal(jg_ring_at(&c->ring, 0)->seq, 101);
    assert_int_equal(jg_ring_at(&c->ring, 5)->seq, 106);
}

/* Shutting down: the lease is handed over at once (jg_release), and the draining instance
 * neither asks for it again nor takes it when offered. */
static void test_draining_releases_the_lease(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    become_leader(f);

    size_t mark = ncmds;
    f->srv.core.draining = true;
    jg_cluster_draining(c);
    assert_true(find_cmd("FCALL jg_release 0", mark) >= 0);
    assert_int_equal(c->role, FOLLOWER);
    mark = ncmds;
    beat(f);
    assert_int_equal(find_cmd("FCALL jg_lease", mark), -1);
}

/* A young instance says since when it listens, so that among young instances the one that
 * heard the most takes a free lease. */
static void test_young_instance_says_since_when_it_listens(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    c->subscribed_since = ev_now(f->loop) - 1;
    size_t mark = ncmds;
    beat(f);
    int b = find_cmd("FCALL jg_beat 0", mark);
    assert_true(b >= 0);
    assert_non_null(strstr(cmds[b].text, " young:"));
    int lease = find_cmd("FCALL jg_lease 0", mark);
    assert_true(lease >= 0);
    char since[32];
    snprintf(since, sizeof since, " 1 %.0f", c->subscribed_since * 1000);
    assert_non_null(strstr(cmds[lease].text, since));
}

/* A streaming transport that records the packets it is given. */
static struct {
    char text[8][128];
    size_t n;
} stream_rec;

static void rec_attached(void *t, struct jg_session *s) { (void)t; (void)s; }
static void rec_detached(void *t) { (void)t; }
static void rec_end(void *t) { (void)t; }

static void rec_deliver(void *t, struct jg_buf *const *pkts, size_t n, struct jg_buf **cache)
{
    for (size_t i = 0; i < n; i++) {
        assert_true(stream_rec.n < 8 && pkts[i]->len < sizeof stream_rec.text[0]);
        memcpy(stream_rec.text[stream_rec.n], pkts[i]->data, pkts[i]->len);
        stream_rec.text[stream_rec.n++][pkts[i]->len] = '\0';
    }
}

static const struct jg_transport_ops rec_ops = {
    .name = "recorder", .streaming = true, .attached = rec_attached, .detached = rec_detached,
    .deliver = rec_deliver, .end = rec_end,
};

/* A log entry as XRANGE/XREVRANGE answers it: ["<seq>-0", ["k", "D", "m", TEXT]]. */
struct log_entry {
    char id[32];
    redisReply id_r, k_r, kv_r, m_r, mv_r, fields_r, entry_r;
    redisReply *fields[4], *entry[2];
};

static void log_entry_init(struct log_entry *e, uint64_t seq, const char *text)
{
    snprintf(e->id, sizeof e->id, "%llu-0", (unsigned long long)seq);
    e->id_r = (redisReply){ .type = REDIS_REPLY_STRING, .str = e->id, .len = strlen(e->id) };
    e->k_r = (redisReply){ .type = REDIS_REPLY_STRING, .str = "k", .len = 1 };
    e->kv_r = (redisReply){ .type = REDIS_REPLY_STRING, .str = "D", .len = 1 };
    e->m_r = (redisReply){ .type = REDIS_REPLY_STRING, .str = "m", .len = 1 };
    e->mv_r = (redisReply){ .type = REDIS_REPLY_STRING, .str = (char *)text, .len = strlen(text) };
    e->fields[0] = &e->k_r, e->fields[1] = &e->kv_r, e->fields[2] = &e->m_r, e->fields[3] = &e->mv_r;
    e->fields_r = (redisReply){ .type = REDIS_REPLY_ARRAY, .elements = 4, .element = e->fields };
    e->entry[0] = &e->id_r, e->entry[1] = &e->fields_r;
    e->entry_r = (redisReply){ .type = REDIS_REPLY_ARRAY, .elements = 2, .element = e->entry };
}

/* A fresh instance (it just started) takes a session over before it has read the log's
 * tail: the replay then finds an empty ring. Once the tail is read, the session gets what
 * came after its cursor (here 101 and 102), not only what is published from then on. */
static void test_fresh_instance_replays_sessions_claimed_before_its_catchup(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    assert_int_equal(c->last_seq, 0);
    struct jg_session *s = jg_session_claimed(&f->srv.core, "AAAAAAAAAAAAAAAAAAAAAA", false);
    struct jg_sub *sub = jg_channel_subscribe(f->srv.core.channels, "x", s, false);
    assert_non_null(sub);
    assert_ptr_equal(jg_channel_find_sub(f->srv.core.channels, "x", s), sub);
    jg_sub_set_seq_hi(sub, 100);             /* its cursor, from the record */
    jg_cluster_replay_session(c, s);         /* as the claim does: nothing yet */
    assert_int_equal(jg_session_queue_len(s), 0);

    size_t mark = ncmds;
    /* the subscriber link came up (the broker calls the cluster's hook): the catch-up reads
     * the log's tail */
    char want[160];
    snprintf(want, sizeof want, "juggernaut juggernaut:sequenced juggernaut:instance:%s", jg_cluster_id(c));
    assert_string_equal(subscribed_to, want);
    assert_ptr_equal(hooks.user, c);
    hooks.subscriber_ready(hooks.user);
    assert_true(c->subscribed_since >= ev_now(f->loop) - 1);
    int tail = find_cmd("XREVRANGE jg:log", mark);
    assert_true(tail >= 0);
    static const char *const text[4] = {   /* seq 102 .. 99: the data tells them apart */
        "{\"channels\":[\"x\"],\"data\":102}", "{\"channels\":[\"x\"],\"data\":101}",
        "{\"channels\":[\"x\"],\"data\":100}", "{\"channels\":[\"x\"],\"data\":99}",
    };
    struct log_entry e[4];
    redisReply *el[4];
    for (int i = 0; i < 4; i++) {            /* newest first: 102, 101, 100, 99 */
        log_entry_init(&e[i], 102 - (uint64_t)i, text[i]);
        el[i] = &e[i].entry_r;
    }
    redisReply r = { .type = REDIS_REPLY_ARRAY, .elements = 4, .element = el };
    answer(tail, &r);
    assert_int_equal(c->last_seq, 102);
    assert_int_equal(jg_session_queue_len(s), 2);
    assert_int_equal(jg_session_seq_hi(s), 102);
    assert_int_equal(jg_sub_seq_hi(sub), 102);
    jg_session_confirm(s, 100);              /* both are sequenced after its cursor */
    assert_int_equal(jg_session_queue_len(s), 2);
    /* the queue holds 101 then 102: a stream opened now gets "1::", then them in order */
    static char stream;
    memset(&stream_rec, 0, sizeof stream_rec);
    assert_true(jg_session_open_transport(s, &stream, &rec_ops));
    assert_int_equal(jg_session_queue_len(s), 0);
    assert_int_equal(stream_rec.n, 3);
    assert_string_equal(stream_rec.text[0], "1::");
    assert_non_null(strstr(stream_rec.text[1], "\"data\":101"));
    assert_non_null(strstr(stream_rec.text[2], "\"data\":102"));
    jg_session_transport_done(s, &stream);
}

/* Runs the loop for a few milliseconds: the connection's bytes are read and written. */
static void pump(struct fx *f)
{
    fixture_pump(f->loop, 0.02);
}

/* A client connection on a socketpair, its GET for SID written: returns our end. */
static int poll_get(struct fx *f, const char *sid, int t)
{
    char req[160];
    snprintf(req, sizeof req, "GET /socket.io/1/xhr-polling/%s?t=%d HTTP/1.1\r\nHost: x\r\n\r\n", sid, t);
    return fixture_client(&f->srv, req);
}

/* A session held here, subscribed to "x" (cursor 100), with a GET held (t=5) on a
 * socketpair; then message 101 arrives and the GET's answer is being recorded: returns our
 * end of the connection, the session in *S and the jg_pend command's index in *PEND. */
static int held_get_answering(struct fx *f, const char *sid, struct jg_session **s, int *pend)
{
    struct jg_cluster *c = f->srv.cluster;
    *s = jg_session_claimed(&f->srv.core, sid, true);
    assert_non_null(jg_channel_subscribe(f->srv.core.channels, "x", *s, false));
    jg_sub_set_seq_hi(jg_channel_find_sub(f->srv.core.channels, "x", *s), 100);
    c->last_seq = 100;
    int fd = poll_get(f, sid, 5);
    size_t mark = ncmds;
    pump(f);
    answer_record(find_cmd("FCALL jg_claim 0", mark), c->id, "1", true);   /* ours: the GET is held */
    pump(f);
    char out[64];
    assert_int_equal(fixture_read_all(fd, out, sizeof out), 0);
    mark = ncmds;
    const char *msg = "101 D {\"channels\":[\"x\"],\"data\":\"hello\"}";
    jg_cluster_sequenced_message(c, msg, strlen(msg));
    *pend = find_cmd("FCALL jg_pend 0", mark);
    assert_true(*pend >= 0);
    return fd;
}

/* While the copy here waits for its answer to be recorded, another instance took the
 * session (a drop notice: the copy ends once answered), and then the client's next GET
 * comes back here: the claim replaces the copy at once. Never two copies with one sid
 * (they corrupted the session table: polls answered 7:::1+0 while orphans filled up). */
static void test_a_copy_replaced_while_answering_goes_at_once(void **state)
{
    struct fx *f = *state;
    const char *sid = "CCCCCCCCCCCCCCCCCCCCCC";
    struct jg_session *s;
    int pend;
    int fd1 = held_get_answering(f, sid, &s, &pend);
    struct jg_cluster *c = f->srv.cluster;
    const char *drop = "drop CCCCCCCCCCCCCCCCCCCCCC 2";
    jg_cluster_notice(c, drop, strlen(drop));   /* taken: ends once answered */
    assert_non_null(jg_session_find(&f->srv.core, sid));

    int fd2 = poll_get(f, sid, 6);              /* the client is back here */
    size_t mark = ncmds;
    pump(f);
    answer_record(find_cmd("FCALL jg_claim 0", mark), "other-instance", "3", false);
    assert_int_equal(jg_session_count(&f->srv.core), 1);
    struct jg_session *now = jg_session_find(&f->srv.core, sid);
    assert_non_null(now);
    answer_int(pend, 0);                        /* the old answer's record: not ours any more */
    pump(f);
    assert_int_equal(jg_session_count(&f->srv.core), 1);
    assert_ptr_equal(jg_session_find(&f->srv.core, sid), now);
    close(fd1);
    close(fd2);
    pump(f);
}

/* A session moves away (here: its instance drains) while the answer to its held GET is
 * being recorded in Redis (jg_pend, carrying message 101). The client's next request
 * will confirm that answer, so the GET must get message 101, not 8::, and the copy goes
 * only then. */
static void test_moved_while_answering_sends_the_recorded_answer(void **state)
{
    struct fx *f = *state;
    const char *sid = "BBBBBBBBBBBBBBBBBBBBBB";
    struct jg_session *s;
    int pend;
    int fd = held_get_answering(f, sid, &s, &pend);
    char out[4096];
    f->srv.core.bp_ops->hand_off(f->srv.core.bp, s);   /* the drain hands the session off meanwhile */
    pump(f);
    assert_int_equal(fixture_read_all(fd, out, sizeof out), 0);   /* no 8:: in its place */
    assert_non_null(jg_session_find(&f->srv.core, sid));

    answer_int(pend, 1);                     /* recorded: the answer goes out */
    pump(f);
    fixture_read_all(fd, out, sizeof out);
    assert_non_null(strstr(out, "hello"));
    assert_null(strstr(out, "8::"));
    assert_null(jg_session_find(&f->srv.core, sid));   /* and the copy is gone */
    close(fd);
    pump(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_leader_change_sequences_pending_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leader_batches_a_loop_turn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notleader_steps_down, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch_goes_again, setup, teardown),
        cmocka_unit_test_setup_teardown(test_older_library_is_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_batch_delivers_each_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gap_filled_from_a_packed_log_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_draining_releases_the_lease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_young_instance_says_since_when_it_listens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fresh_instance_replays_sessions_claimed_before_its_catchup, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_moved_while_answering_sends_the_recorded_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_copy_replaced_while_answering_goes_at_once, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
