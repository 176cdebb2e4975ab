/* test_claim_race.c: a session's requests racing with this instance's own claim of it, in
 * cluster mode, without sockets to Redis. The broker is replaced at link time (-Wl,--wrap,
 * see the Makefile): every command the daemon sends is recorded with its callback and
 * answered by the test in the order Redis would run them (one link: in the order sent). */
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

#include "cluster/broker.h"
#include "cluster/cluster.h"
#include "cluster/cluster_int.h"
#include "core/channel.h"
#include "core/session.h"
#include "transport/endpoint.h"
#include "server_fixture.h"

#include "fake_bus.h"

/* ---- fixture ---- */

struct fx {
    struct ev_loop *loop;
    struct jg_server srv;
    struct jg_config cfg;
    char dir[64], index[96];
    int fds[8];
    size_t nfds;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    if (fake_bus_server_start("claim_race", &f->loop, &f->srv, &f->cfg, f->dir, f->index) != 0)
        return -1;
    *state = f;
    return 0;
}

/* Runs the loop for a few milliseconds: the connections' bytes are read and written. */
static void pump(struct fx *f)
{
    fixture_pump(f->loop, 0.02);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    fake_bus_give_up_all();
    for (size_t i = 0; i < f->nfds; i++)
        close(f->fds[i]);
    pump(f);
    fixture_server_stop(f->loop, &f->srv, &f->cfg, f->dir, f->index);
    free(f);
    return 0;
}

/* A client connection on a socketpair with REQ written: returns our end. */
static int client_request(struct fx *f, const char *req)
{
    assert_true(f->nfds < sizeof f->fds / sizeof f->fds[0]);
    int fd = fixture_client(&f->srv, req);
    f->fds[f->nfds++] = fd;
    return fd;
}

/* ---- tests ---- */

#define SID "DDDDDDDDDDDDDDDDDDDDDD"

/* The copy here is stale (another instance took the session since: its drop notice is still
 * on its way) when the client's GET arrives here and claims it back, and its subscribe POST
 * comes here too while that claim is in flight. The claim's reply replaces the copy with one
 * built from the record as it was before the subscribe (Redis runs jg_subscribe after the
 * claim, and tells no other instance, since this one owns the session by then): the
 * subscription must still reach the copy that holds the GET. It did not: the POST was
 * served by the stale copy, so the held GET never got the channel's messages (one polling
 * session in cluster.test.js lost all of them). */
static void test_post_during_own_claim_reaches_the_copy_that_stays(void **state)
{
    struct fx *f = *state;
    struct jg_cluster *c = f->srv.cluster;
    c->last_seq = 100;
    assert_non_null(jg_session_claimed(&f->srv.core, SID, true));   /* ours until lately */

    size_t mark = ncmds;
    int get = client_request(f, "GET /socket.io/1/xhr-polling/" SID "?t=5 HTTP/1.1\r\nHost: x\r\n\r\n");
    pump(f);
    int claim_get = find_cmd("FCALL jg_claim 0 " SID, mark);
    assert_true(claim_get >= 0);

    static const char body[] = "3:::{\"type\":\"subscribe\",\"channel\":\"x\"}";
    char post[256];
    snprintf(post, sizeof post, "POST /socket.io/1/xhr-polling/" SID "?t=6 HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    int post_fd = client_request(f, post);
    pump(f);

    /* Redis runs what came first first: the GET's claim, taking the session back from the
     * other instance (full record, no subscription yet) */
    answer_record(claim_get, "other-instance", "3", false);
    pump(f);
    /* then whatever the POST sent after it: a claim of its own (short: ours, with a copy) */
    int claim_post = find_cmd("FCALL jg_claim 0 " SID, (size_t)claim_get + 1);
    if (claim_post >= 0) {
        answer_record(claim_post, c->id, "4", true);
        pump(f);
    }
    char out[4096];
    fixture_read_all(post_fd, out, sizeof out);
    assert_non_null(strstr(out, "200 OK"));
    assert_true(find_cmd("FCALL jg_subscribe 0 " SID, mark) >= 0);

    /* the copy holding the GET has the subscription: a message on "x" reaches the GET */
    struct jg_session *s = jg_session_find(&f->srv.core, SID);
    assert_non_null(s);
    assert_true(jg_session_holds_poll(s));
    assert_non_null(jg_channel_find_sub(f->srv.core.channels, "x", s));
    mark = ncmds;
    const char *msg = "101 D {\"channels\":[\"x\"],\"data\":\"hello\"}";
    jg_cluster_sequenced_message(c, msg, strlen(msg));
    int pend = find_cmd("FCALL jg_pend 0 " SID, mark);
    assert_true(pend >= 0);
    answer_int(pend, 1);
    pump(f);
    fixture_read_all(get, out, sizeof out);
    assert_non_null(strstr(out, "hello"));
}

/* The "t" argument of recorded command I (FCALL jg_claim 0 <sid> <me> <t> ...). */
static void claim_t(int i, char out[32])
{
    assert_true(i >= 0);
    const char *p = cmds[i].text;
    for (int field = 0; field < 5; field++) {
        p = strchr(p, ' ');
        assert_non_null(p);
        p++;
    }
    size_t n = strcspn(p, " ");
    assert_true(n < 32);
    memcpy(out, p, n);
    out[n] = '\0';
}

/* The "t" a GET with T and request id ID (NULL: none) claims with; its claim is answered. */
static void poll_t(struct fx *f, const char *t, const char *id, char out[32])
{
    char req[256];
    snprintf(req, sizeof req, "GET /socket.io/1/xhr-polling/" SID "?t=%s HTTP/1.1\r\nHost: x\r\n%s%s%s\r\n", t,
             id ? "X-Request-Id: " : "", id ? id : "", id ? "\r\n" : "");
    size_t mark = ncmds;
    client_request(f, req);
    pump(f);
    int i = find_cmd("FCALL jg_claim 0 " SID, mark);
    claim_t(i, out);
    answer_record(i, f->srv.cluster->id, "2", true);
    pump(f);
}

/* jg_claim confirms the last answer unless the poll has the same t as the one it answered:
 * a retry of that request, whose answer was lost, gets the same messages again. Two polls
 * of one client sent within one millisecond have the same t too, and the second got the
 * first one's messages again (duplicates in cluster.test.js). The balancer's request id,
 * which a retry keeps, tells them apart. */
static void test_polls_with_one_t_are_told_apart_by_the_request_id(void **state)
{
    struct fx *f = *state;
    assert_non_null(jg_session_claimed(&f->srv.core, SID, true));
    char first[32], next[32], retry[32], bare[32];
    poll_t(f, "1796370746812", "7F000001:BCFE_7F000001:46B4_6B127233_0000:1EF5", first);
    poll_t(f, "1796370746812", "7F000001:BD04_7F000001:46B4_6B127233_0001:1EF5", next);
    poll_t(f, "1796370746812", "7F000001:BCFE_7F000001:46B4_6B127233_0000:1EF5", retry);
    poll_t(f, "1796370746812", NULL, bare);
    assert_string_not_equal(first, next);   /* a new poll */
    assert_string_equal(first, retry);      /* the same request again */
    assert_string_equal(bare, "1796370746812");   /* no balancer id: t as it is */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_post_during_own_claim_reaches_the_copy_that_stays, setup, teardown),
        cmocka_unit_test_setup_teardown(test_polls_with_one_t_are_told_apart_by_the_request_id, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
