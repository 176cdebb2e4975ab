/* test_ring.c: the ring of recent sequenced messages keeps at most its count and its bytes,
 * drops the oldest first, and finds the first entry after a seq. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "cluster/ring.h"

static void push(struct jg_ring *r, uint64_t seq, size_t bytes)
{
    struct jg_ring_entry *e = jg_ring_push(r, bytes);
    e->seq = seq;
    e->kind = 'L';
}

static void test_count_bound(void **state)
{
    struct jg_ring r;
    jg_ring_init(&r, 3, 1 << 20);
    for (uint64_t s = 1; s <= 5; s++)
        push(&r, s, 10);
    assert_int_equal(r.len, 3);
    assert_int_equal(jg_ring_at(&r, 0)->seq, 3);
    assert_int_equal(jg_ring_at(&r, 2)->seq, 5);
    assert_int_equal(r.bytes, 30);
    jg_ring_deinit(&r);
}

static void test_byte_bound(void **state)
{
    struct jg_ring r;
    jg_ring_init(&r, 10000, 1000);
    for (uint64_t s = 1; s <= 10; s++)
        push(&r, s, 100);
    assert_int_equal(r.len, 10);
    assert_int_equal(r.bytes, 1000);
    /* one large message pushes out as many old ones as it needs */
    push(&r, 11, 450);
    assert_int_equal(r.len, 6);
    assert_int_equal(jg_ring_at(&r, 0)->seq, 6);
    assert_true(r.bytes <= 1000);
    /* a message larger than the whole budget is still kept, alone */
    push(&r, 12, 5000);
    assert_int_equal(r.len, 1);
    assert_int_equal(jg_ring_at(&r, 0)->seq, 12);
    assert_int_equal(r.bytes, 5000);
    push(&r, 13, 10);
    assert_int_equal(r.len, 1);
    assert_int_equal(jg_ring_at(&r, 0)->seq, 13);
    jg_ring_deinit(&r);
}

static void test_after(void **state)
{
    struct jg_ring r;
    jg_ring_init(&r, 4, 1 << 20);
    assert_int_equal(jg_ring_after(&r, 0), 0);
    for (uint64_t s = 10; s <= 60; s += 10)   /* wraps: 30..60 kept */
        push(&r, s, 1);
    assert_int_equal(jg_ring_after(&r, 0), 0);
    assert_int_equal(jg_ring_after(&r, 30), 1);
    assert_int_equal(jg_ring_after(&r, 35), 1);
    assert_int_equal(jg_ring_after(&r, 59), 3);
    assert_int_equal(jg_ring_after(&r, 60), 4);
    jg_ring_deinit(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_bound),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_after),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
