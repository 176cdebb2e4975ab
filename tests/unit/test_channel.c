/* test_channel.c: the channel registry (include/channel.h): subscriptions in both lists,
 * duplicate handling (quirk J1), unsubscribe, dropping empty channels (Fix J2), the
 * channels/subscriptions gauges, and the fan-out with "except". Sessions are real ones of
 * a real jg_server whose loop is never run (Redis is not needed: the broker only queues). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <ev.h>

#include "server_fixture.h"
#include "base/buf.h"
#include "core/channel.h"
#include "base/config.h"
#include "transport/conn.h"
#include "base/log.h"
#include "app/server.h"
#include "core/session.h"
#include "base/stats.h"

/* ---- fixture: a server with a temporary public dir ---- */

struct fixture {
    struct ev_loop *loop;
    struct jg_config cfg;
    struct jg_server srv;
    char dir[64];
    char index[96];
};

static int setup_server(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    if (fixture_server_prepare("channel", f->dir, f->index, &f->cfg) != 0)
        return -1;
    if (fixture_server_start(&f->loop, &f->srv, &f->cfg) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown_server(void **state)
{
    struct fixture *f = *state;
    fixture_server_stop(f->loop, &f->srv, &f->cfg, f->dir, f->index);
    free(f);
    return 0;
}

/* ---- helpers ---- */

static struct jg_buf *packet(const char *text)
{
    return jg_buf_new(text, strlen(text));
}

/* Checks the registry's count and both gauges. */
static void assert_gauges(struct fixture *f, size_t channels, size_t subs)
{
    assert_int_equal(jg_channel_count(f->srv.channels), channels);
    assert_int_equal(f->srv.stats.channels, (int64_t)channels);
    assert_int_equal(f->srv.stats.subscriptions, (int64_t)subs);
}

/* The channels of S in subscription order, joined by ',' (one entry per subscription). */
static void session_channels(const struct jg_session *s, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (const struct jg_list *p = s->subs.next; p != &s->subs; p = p->next) {
        const struct jg_sub *sub = jg_container_of(p, struct jg_sub, session_node);
        assert_ptr_equal(sub->session, s);
        used += (size_t)snprintf(out + used, outlen - used, "%s%s", used ? "," : "", sub->channel->name);
    }
}

/* The subscribers of channel NAME in order, as indexes into SESS (one char per sub). */
static void channel_subs(struct fixture *f, const char *name, struct jg_session **sess, size_t nsess, char *out)
{
    struct jg_channel *ch = jg_channel_find(f->srv.channels, name);
    size_t n = 0;
    if (ch) {
        for (struct jg_list *p = ch->subs.next; p != &ch->subs; p = p->next) {
            struct jg_sub *sub = jg_container_of(p, struct jg_sub, channel_node);
            assert_ptr_equal(sub->channel, ch);
            size_t i;
            for (i = 0; i < nsess && sess[i] != sub->session; i++)
                ;
            assert_true(i < nsess);
            out[n++] = (char)('0' + i);
        }
        assert_int_equal(ch->nsubs, n);
    }
    out[n] = '\0';
}

/* ---- subscribe ---- */

static void test_subscribe(void **state)
{
    struct fixture *f = *state;
    struct jg_session *a = jg_session_create(&f->srv);
    struct jg_session *b = jg_session_create(&f->srv);
    assert_gauges(f, 0, 0);
    assert_null(jg_channel_find(f->srv.channels, "c1"));

    assert_int_equal(jg_channel_subscribe(f->srv.channels, "c1", a, false), 1);
    assert_gauges(f, 1, 1);
    struct jg_channel *c1 = jg_channel_find(f->srv.channels, "c1");
    assert_non_null(c1);
    assert_string_equal(c1->name, "c1");
    assert_int_equal(c1->nsubs, 1);
    assert_int_equal(a->nsubs, 1);

    assert_int_equal(jg_channel_subscribe(f->srv.channels, "c1", b, false), 1);
    assert_int_equal(jg_channel_subscribe(f->srv.channels, "c2", a, false), 1);
    assert_gauges(f, 2, 3);
    assert_ptr_equal(jg_channel_find(f->srv.channels, "c1"), c1);
    assert_int_equal(c1->nsubs, 2);
    assert_int_equal(a->nsubs, 2);
    assert_int_equal(b->nsubs, 1);

    char buf[128];
    session_channels(a, buf, sizeof buf);
    assert_string_equal(buf, "c1,c2");
    struct jg_session *sess[] = { a, b };
    channel_subs(f, "c1", sess, 2, buf);
    assert_string_equal(buf, "01");

    /* names are copied, compared exactly (case, UTF-8, empty) */
    char name[16] = "Ch/é";
    assert_int_equal(jg_channel_subscribe(f->srv.channels, name, b, false), 1);
    memset(name, 'x', sizeof name - 1);
    assert_non_null(jg_channel_find(f->srv.channels, "Ch/é"));
    assert_null(jg_channel_find(f->srv.channels, "ch/é"));
    assert_gauges(f, 3, 4);
}

static void test_subscribe_duplicate(void **state)
{
    struct fixture *f = *state;
    struct jg_session *a = jg_session_create(&f->srv);
    assert_int_equal(jg_channel_subscribe(f->srv.channels, "c", a, false), 1);
    /* Fix J1: a second subscribe changes nothing */
    assert_int_equal(jg_channel_subscribe(f->srv.channels, "c", a, false), 0);
    assert_int_equal(jg_channel_find(f->srv.channels, "c")->nsubs, 1);
    assert_int_equal(a->nsubs, 1);
    assert_gauges(f, 1, 1);
    /* duplicate-subscribe yes (quirk J1 kept): two subscriptions */
    assert_int_equal(jg_channel_subscribe(f->srv.channels, "c", a, true), 1);
    assert_int_equal(jg_channel_find(f->srv.channels, "c")->nsubs, 2);
    assert_int_equal(a->nsubs, 2);
    assert_gauges(f, 1, 2);
    /* and no third one when duplicates are off again */
    assert_int_equal(jg_channel_subscribe(f->srv.channels, "c", a, false), 0);
    assert_gauges(f, 1, 2);
}

/* find_sub walks whichever list is shorter: check duplicates are seen both ways. */
static void test_subscribe_duplicate_both_walks(void **state)
{
    struct fixture *f = *state;
    struct jg_session *s[6];
    for (int i = 0; i < 6; i++)
        s[i] = jg_session_create(&f->srv);
    /* busy channel (6 subscribers), session s0 with 1 subscription: walks the session */
    for (int i = 0; i < 6; i++)
        assert_int_equal(jg_channel_subscribe(f->srv.channels, "busy", s[i], false), 1);
    for (int i = 0; i < 6; i++)
        assert_int_equal(jg_channel_subscribe(f->srv.channels, "busy", s[i], false), 0);
    /* session s0 with many channels, channel "quiet" with one subscriber: walks the channel */
    char name[16];
    for (int i = 0; i < 10; i++) {
        snprintf(name, sizeof name, "ch%d", i);
        assert_int_equal(jg_channel_subscribe(f->srv.channels, name, s[0], false), 1);
    }
    assert_int_equal(jg_channel_subscribe(f->srv.channels, "quiet", s[0], false), 1);
    assert_int_equal(jg_channel_subscribe(f->srv.channels, "quiet", s[0], false), 0);
    assert_int_equal(jg_channel_subscribe(f->srv.channels, "quiet", s[1], false), 1);
    assert_int_equal(jg_channel_subscribe(f->srv.channels, "quiet", s[1], false), 0);
    assert_int_equal(s[0]->nsubs, 12);
    assert_gauges(f, 12, 6 + 10 + 2);
    assert_int_equal(jg_channel_unsubscribe(f->srv.channels, "quiet", s[0]), 1);
    assert_int_equal(jg_channel_unsubscribe(f->srv.channels, "busy", s[0]), 1);
    assert_int_equal(s[0]->nsubs, 10);
    assert_gauges(f, 12, 16);
}

/* ---- unsubscribe ---- */

static void test_unsubscribe(void **state)
{
    struct fixture *f = *state;
    struct jg_session *a = jg_session_create(&f->srv);
    struct jg_session *b = jg_session_create(&f->srv);
    struct jg_channel_registry *reg = f->srv.channels;
    assert_int_equal(jg_channel_unsubscribe(reg, "nope", a), 0);   /* unknown channel */
    jg_channel_subscribe(reg, "c", a, false);
    jg_channel_subscribe(reg, "c", b, false);
    jg_channel_subscribe(reg, "d", b, false);
    assert_gauges(f, 2, 3);
    assert_int_equal(jg_channel_unsubscribe(reg, "d", a), 0);      /* not subscribed */
    assert_gauges(f, 2, 3);

    assert_int_equal(jg_channel_unsubscribe(reg, "c", a), 1);
    assert_gauges(f, 2, 2);
    assert_non_null(jg_channel_find(reg, "c"));                   /* b still there */
    assert_int_equal(a->nsubs, 0);
    assert_true(jg_list_empty(&a->subs));
    assert_int_equal(jg_channel_unsubscribe(reg, "c", a), 0);

    assert_int_equal(jg_channel_unsubscribe(reg, "c", b), 1);
    assert_null(jg_channel_find(reg, "c"));                       /* Fix J2: dropped */
    assert_gauges(f, 1, 1);
    assert_int_equal(jg_channel_unsubscribe(reg, "d", b), 1);
    assert_null(jg_channel_find(reg, "d"));
    assert_gauges(f, 0, 0);
    assert_int_equal(b->nsubs, 0);
    assert_true(jg_list_empty(&b->subs));

    /* a channel can come back after being dropped */
    assert_int_equal(jg_channel_subscribe(reg, "c", b, false), 1);
    assert_gauges(f, 1, 1);
}

static void test_unsubscribe_duplicates(void **state)
{
    struct fixture *f = *state;
    struct jg_session *a = jg_session_create(&f->srv);
    struct jg_session *b = jg_session_create(&f->srv);
    struct jg_channel_registry *reg = f->srv.channels;
    struct jg_session *sess[] = { a, b };
    char order[16];
    /* a, b, a, a on one channel: removing a removes all three, b stays */
    jg_channel_subscribe(reg, "c", a, true);
    jg_channel_subscribe(reg, "c", b, true);
    jg_channel_subscribe(reg, "c", a, true);
    jg_channel_subscribe(reg, "c", a, true);
    jg_channel_subscribe(reg, "x", a, true);
    channel_subs(f, "c", sess, 2, order);
    assert_string_equal(order, "0100");
    assert_gauges(f, 2, 5);
    assert_int_equal(jg_channel_unsubscribe(reg, "c", a), 3);
    channel_subs(f, "c", sess, 2, order);
    assert_string_equal(order, "1");
    assert_int_equal(a->nsubs, 1);
    char chans[64];
    session_channels(a, chans, sizeof chans);
    assert_string_equal(chans, "x");
    assert_gauges(f, 2, 2);
    /* the only subscriber, twice: the channel goes with the last removal */
    jg_channel_subscribe(reg, "y", b, true);
    jg_channel_subscribe(reg, "y", b, true);
    assert_gauges(f, 3, 4);
    assert_int_equal(jg_channel_unsubscribe(reg, "y", b), 2);
    assert_null(jg_channel_find(reg, "y"));
    assert_gauges(f, 2, 2);
}

static void test_remove_sub(void **state)
{
    struct fixture *f = *state;
    struct jg_session *a = jg_session_create(&f->srv);
    struct jg_session *b = jg_session_create(&f->srv);
    struct jg_channel_registry *reg = f->srv.channels;
    jg_channel_subscribe(reg, "c", a, false);
    jg_channel_subscribe(reg, "c", b, false);
    jg_channel_subscribe(reg, "d", a, false);
    assert_gauges(f, 2, 3);
    /* remove a's subscriptions one by one from the session side (what session end does) */
    struct jg_sub *first = jg_container_of(a->subs.next, struct jg_sub, session_node);
    assert_string_equal(first->channel->name, "c");
    jg_channel_remove_sub(reg, first);
    assert_gauges(f, 2, 2);
    assert_int_equal(jg_channel_find(reg, "c")->nsubs, 1);
    assert_int_equal(a->nsubs, 1);
    struct jg_sub *second = jg_container_of(a->subs.next, struct jg_sub, session_node);
    assert_string_equal(second->channel->name, "d");
    jg_channel_remove_sub(reg, second);
    assert_null(jg_channel_find(reg, "d"));   /* emptied: dropped */
    assert_gauges(f, 1, 1);
    assert_true(jg_list_empty(&a->subs));
    /* from the channel side */
    struct jg_channel *c = jg_channel_find(reg, "c");
    jg_channel_remove_sub(reg, jg_container_of(c->subs.next, struct jg_sub, channel_node));
    assert_null(jg_channel_find(reg, "c"));
    assert_gauges(f, 0, 0);
    assert_int_equal(b->nsubs, 0);
}

/* Ending a session drops its subscriptions and the channels it alone used. */
static void test_session_end_drops_subs(void **state)
{
    struct fixture *f = *state;
    struct jg_session *a = jg_session_create(&f->srv);
    struct jg_session *b = jg_session_create(&f->srv);
    struct jg_channel_registry *reg = f->srv.channels;
    jg_channel_subscribe(reg, "shared", a, false);
    jg_channel_subscribe(reg, "shared", b, false);
    jg_channel_subscribe(reg, "mine", a, true);
    jg_channel_subscribe(reg, "mine", a, true);
    assert_gauges(f, 2, 4);
    jg_session_end(a, "test", false);
    assert_gauges(f, 1, 1);
    assert_null(jg_channel_find(reg, "mine"));
    assert_int_equal(jg_channel_find(reg, "shared")->nsubs, 1);
}

/* The registry on its own, without stats (NULL) and with minimal sessions. */
static void test_registry_without_stats(void **state)
{
    (void)state;
    struct jg_channel_registry *reg = jg_channel_registry_new(NULL);
    struct jg_session a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    jg_list_init(&a.subs);
    jg_list_init(&b.subs);
    assert_int_equal(jg_channel_count(reg), 0);
    assert_int_equal(jg_channel_subscribe(reg, "c", &a, false), 1);
    assert_int_equal(jg_channel_subscribe(reg, "c", &b, false), 1);
    assert_int_equal(jg_channel_subscribe(reg, "d", &b, false), 1);
    assert_int_equal(jg_channel_count(reg), 2);
    assert_int_equal(jg_channel_unsubscribe(reg, "c", &a), 1);
    assert_int_equal(jg_channel_unsubscribe(reg, "c", &b), 1);
    assert_int_equal(jg_channel_count(reg), 1);
    /* freeing with subscriptions left unlinks them from the sessions */
    jg_channel_registry_free(reg);
    assert_true(jg_list_empty(&b.subs));
    jg_channel_registry_free(NULL);
}

/* ---- publish ---- */

static void test_publish_queues(void **state)
{
    struct fixture *f = *state;
    struct jg_channel_registry *reg = f->srv.channels;
    struct jg_session *a = jg_session_create(&f->srv);
    struct jg_session *b = jg_session_create(&f->srv);
    struct jg_session *c = jg_session_create(&f->srv);
    jg_channel_subscribe(reg, "ch", a, false);
    jg_channel_subscribe(reg, "ch", b, false);
    jg_channel_subscribe(reg, "other", c, false);
    struct jg_buf *p1 = packet("3:::one");
    struct jg_buf *p2 = packet("3:::two");
    assert_int_equal(jg_channel_publish(reg, "ch", p1, NULL, 0), 2);
    assert_int_equal(jg_channel_publish(reg, "ch", p2, NULL, 0), 2);
    assert_int_equal(jg_channel_publish(reg, "nobody", p2, NULL, 0), 0);
    assert_int_equal(f->srv.stats.deliveries, 4);
    /* no transport: queued by reference, in order */
    assert_int_equal(a->queue_len, 2);
    assert_ptr_equal(a->queue[0], p1);
    assert_ptr_equal(a->queue[1], p2);
    assert_int_equal(b->queue_len, 2);
    assert_ptr_equal(b->queue[0], p1);
    assert_ptr_equal(b->queue[1], p2);
    assert_int_equal(c->queue_len, 0);
    assert_int_equal(p1->refs, 3);
    assert_int_equal(p2->refs, 3);
    jg_buf_unref(p1);
    jg_buf_unref(p2);
    assert_int_equal(a->queue[0]->len, 7);
    assert_memory_equal(a->queue[0]->data, "3:::one", 7);
}

/* Issue 13: the registry is keyed by client-chosen names. 2,000 names that share the low 11
 * bits of uthash's unkeyed Jenkins hash (one bucket of a 2048-bucket table, anyone can
 * compute them) land spread over the registry's buckets: the table hashes with jg_hash. */
static void test_registry_hash_is_keyed(void **state)
{
    struct fixture *f = *state;
    enum { N = 2000 };
    struct jg_session *s = jg_session_create(&f->srv);
    int found = 0;
    char last[32] = "";
    for (unsigned long i = 0; found < N; i++) {
        char name[32];
        int len = snprintf(name, sizeof name, "flood-%lu", i);
        unsigned jen = 0;
        HASH_JEN(name, (unsigned)len, jen);
        if ((jen & 2047) != 0)
            continue;
        assert_int_equal(jg_channel_subscribe(f->srv.channels, name, s, false), 1);
        memcpy(last, name, (size_t)len + 1);
        found++;
    }
    struct jg_channel *ch = jg_channel_find(f->srv.channels, last);
    assert_non_null(ch);
    const UT_hash_table *tbl = ch->hh.tbl;
    unsigned longest = 0;
    for (unsigned b = 0; b < tbl->num_buckets; b++)
        longest = tbl->buckets[b].count > longest ? tbl->buckets[b].count : longest;
    /* under Jenkins all N would share one chain in a table of up to 2048 buckets */
    assert_true(longest <= 3 * (N / tbl->num_buckets) + 8);
    assert_int_equal(tbl->noexpand, 0);
    jg_session_end(s, "test", false);
    assert_gauges(f, 0, 0);
}

static void test_publish_except(void **state)
{
    struct fixture *f = *state;
    struct jg_channel_registry *reg = f->srv.channels;
    struct jg_session *s[3];
    for (int i = 0; i < 3; i++) {
        s[i] = jg_session_create(&f->srv);
        jg_channel_subscribe(reg, "ch", s[i], false);
    }
    struct jg_buf *p = packet("3:::x");
    /* one sid */
    char *one[] = { s[1]->sid };
    assert_int_equal(jg_channel_publish(reg, "ch", p, one, 1), 2);
    assert_int_equal(s[0]->queue_len, 1);
    assert_int_equal(s[1]->queue_len, 0);
    assert_int_equal(s[2]->queue_len, 1);
    /* several, including one that matches nobody */
    char *several[] = { "no-such-sid", s[0]->sid, s[2]->sid };
    assert_int_equal(jg_channel_publish(reg, "ch", p, several, 3), 1);
    assert_int_equal(s[0]->queue_len, 1);
    assert_int_equal(s[1]->queue_len, 1);
    assert_int_equal(s[2]->queue_len, 1);
    /* none matching */
    char prefix[JG_SID_MAX + 1];
    snprintf(prefix, sizeof prefix, "%s", s[0]->sid);
    prefix[strlen(prefix) - 1] = '\0';   /* a strict prefix of a sid is not the sid */
    char *none[] = { "", prefix };
    assert_int_equal(jg_channel_publish(reg, "ch", p, none, 2), 3);
    /* everybody excepted */
    char *all[] = { s[2]->sid, s[1]->sid, s[0]->sid };
    assert_int_equal(jg_channel_publish(reg, "ch", p, all, 3), 0);
    assert_int_equal(s[0]->queue_len, 2);
    assert_int_equal(s[1]->queue_len, 2);
    assert_int_equal(s[2]->queue_len, 2);
    assert_int_equal(f->srv.stats.deliveries, 2 + 1 + 3);
    jg_buf_unref(p);
}

/* A recording transport: checks the fan-out order and the shared lazily built encoding. */
static struct {
    struct jg_conn *order[8];
    size_t n;
    struct jg_buf *first_frame;
    int builds;
} rec;

static void rec_deliver(struct jg_conn *c, struct jg_buf *const *pkts, size_t n, struct jg_buf **cache)
{
    assert_int_equal(n, 1);
    assert_non_null(cache);
    if (!*cache) {
        *cache = jg_buf_new(pkts[0]->data, pkts[0]->len);   /* the "encoding" */
        rec.builds++;
        rec.first_frame = *cache;
    }
    assert_ptr_equal(*cache, rec.first_frame);
    assert_true(rec.n < 8);
    rec.order[rec.n++] = c;
}

static void rec_end(struct jg_conn *c)
{
    (void)c;
}

static const struct jg_transport_ops rec_ops = {
    .name = "recorder", .streaming = true, .deliver = rec_deliver, .end = rec_end,
};

static void test_publish_order(void **state)
{
    struct fixture *f = *state;
    struct jg_channel_registry *reg = f->srv.channels;
    struct jg_session *s[4];
    struct jg_conn *conns[4];
    for (int i = 0; i < 4; i++) {
        s[i] = jg_session_create(&f->srv);
        conns[i] = calloc(1, sizeof *conns[i]);   /* identity only: the recorder never touches it */
        s[i]->transport = conns[i];
        s[i]->ops = &rec_ops;
    }
    /* subscription order 2, 0, 3, 1 */
    int subs[] = { 2, 0, 3, 1 };
    for (int i = 0; i < 4; i++)
        jg_channel_subscribe(reg, "ch", s[subs[i]], false);
    memset(&rec, 0, sizeof rec);
    struct jg_buf *p = packet("3:::ordered");
    assert_int_equal(jg_channel_publish(reg, "ch", p, NULL, 0), 4);
    assert_int_equal(rec.n, 4);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(rec.order[i], conns[subs[i]]);
    assert_int_equal(rec.builds, 1);   /* one encoding shared by every subscriber */
    /* unsubscribing one keeps the others' order */
    jg_channel_unsubscribe(reg, "ch", s[0]);
    memset(&rec, 0, sizeof rec);
    char *except[] = { s[3]->sid };
    assert_int_equal(jg_channel_publish(reg, "ch", p, except, 1), 2);
    assert_int_equal(rec.n, 2);
    assert_ptr_equal(rec.order[0], conns[2]);
    assert_ptr_equal(rec.order[1], conns[1]);
    assert_int_equal(rec.builds, 1);
    /* the shared encoding is released by publish (refs back to what the packet had) */
    assert_int_equal(p->refs, 1);
    jg_buf_unref(p);
    for (int i = 0; i < 4; i++) {
        s[i]->transport = NULL;   /* detach the fake transport before the teardown */
        s[i]->ops = NULL;
        free(conns[i]);
    }
}

int main(void)
{
    jg_log_threshold = JG_LOG_ERROR;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subscribe, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_subscribe_duplicate, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_subscribe_duplicate_both_walks, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_unsubscribe, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_unsubscribe_duplicates, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_remove_sub, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_session_end_drops_subs, setup_server, teardown_server),
        cmocka_unit_test(test_registry_without_stats),
        cmocka_unit_test_setup_teardown(test_publish_queues, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_publish_except, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_registry_hash_is_keyed, setup_server, teardown_server),
        cmocka_unit_test_setup_teardown(test_publish_order, setup_server, teardown_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
