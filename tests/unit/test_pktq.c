/* test_pktq.c: a session's packet queue hands packets out in order (take: up to a seq, and
 * those without one; confirm: drops what the client has), and an emptied queue keeps no
 * arrays, since most sessions are idle most of the time, yet takes packets again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"
#include "core/pktq.h"

static void push(struct jg_pktq *q, const char *text, uint64_t seq)
{
    struct jg_buf *b = jg_buf_new(text, 1);
    jg_pktq_push(q, b, seq);
    jg_buf_unref(b);   /* the queue holds its own reference */
}

/* Takes up to UPTO and checks the first bytes of what came out. */
static void take_expect(struct jg_pktq *q, uint64_t upto, const char *want)
{
    struct jg_buf **out;
    size_t n = jg_pktq_take(q, upto, &out);
    assert_int_equal(n, strlen(want));
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i]->data[0], (unsigned char)want[i]);
        jg_buf_unref(out[i]);
    }
    free(out);
}

static void test_take_in_order_and_release(void **state)
{
    struct jg_pktq q = { 0 };
    push(&q, "a", 1);
    push(&q, "b", 0);   /* no seq: always taken */
    push(&q, "c", 3);
    take_expect(&q, 1, "ab");
    assert_int_equal(q.len, 1);
    assert_non_null(q.pkts);
    take_expect(&q, 3, "c");
    assert_int_equal(q.len, 0);
    assert_null(q.pkts);
    assert_null(q.seqs);
    assert_int_equal(q.cap, 0);
    /* and it works again after */
    push(&q, "d", 4);
    take_expect(&q, 9, "d");
    assert_null(q.pkts);
}

static void test_confirm_releases_when_empty(void **state)
{
    struct jg_pktq q = { 0 };
    for (uint64_t s = 1; s <= 9; s++)   /* grows past its first capacity */
        push(&q, "x", s);
    jg_pktq_confirm(&q, 5);
    assert_int_equal(q.len, 4);
    bool plain;
    assert_int_equal(jg_pktq_last_seq(&q, 100, &plain), 9);
    assert_false(plain);
    jg_pktq_confirm(&q, 9);
    assert_int_equal(q.len, 0);
    assert_null(q.pkts);
    assert_int_equal(q.cap, 0);
    jg_pktq_clear(&q);   /* harmless on an empty queue */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_in_order_and_release),
        cmocka_unit_test(test_confirm_releases_when_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
