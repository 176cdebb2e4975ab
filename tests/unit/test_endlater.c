/* test_endlater.c: the sessions to end from the check phase (core/endlater.h) come out in
 * the order added, taken-out entries skipped, those added while handing out included; an
 * emptied list keeps no array and takes entries again. The sessions are never looked into:
 * fake pointers stand for them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/endlater.h"

static char sess[40];   /* S(i) is a distinct fake session pointer */
#define S(i) ((struct jg_session *)(void *)&sess[i])

static void test_order_remove_and_add_meanwhile(void **state)
{
    struct jg_endlater l = { 0 };
    const char *reason = NULL;
    assert_null(jg_endlater_next(&l, &reason));   /* empty */
    uint32_t p1 = jg_endlater_add(&l, S(1), "one");
    uint32_t p2 = jg_endlater_add(&l, S(2), "two");
    uint32_t p3 = jg_endlater_add(&l, S(3), "three");
    assert_int_equal(p1, 1);
    assert_int_equal(p2, 2);
    assert_int_equal(p3, 3);
    jg_endlater_remove(&l, p2);
    assert_ptr_equal(jg_endlater_next(&l, &reason), S(1));
    assert_string_equal(reason, "one");
    /* added while handing out (an end asks for another): it comes in this pass */
    for (int i = 4; i < 30; i++)   /* and past the first growth */
        jg_endlater_add(&l, S(i), "more");
    assert_ptr_equal(jg_endlater_next(&l, &reason), S(3));
    assert_string_equal(reason, "three");
    for (int i = 4; i < 30; i++) {
        assert_ptr_equal(jg_endlater_next(&l, &reason), S(i));
        assert_string_equal(reason, "more");
    }
    assert_null(jg_endlater_next(&l, &reason));
    assert_null(l.v);   /* handed out: freed */
    assert_int_equal(l.n, 0);
    /* and it takes entries again, from position 1 */
    assert_int_equal(jg_endlater_add(&l, S(5), "again"), 1);
    assert_ptr_equal(jg_endlater_next(&l, &reason), S(5));
    assert_null(jg_endlater_next(&l, &reason));
}

static void test_all_removed_and_deinit(void **state)
{
    struct jg_endlater l = { 0 };
    const char *reason = NULL;
    jg_endlater_remove(&l, jg_endlater_add(&l, S(1), "one"));
    assert_null(jg_endlater_next(&l, &reason));
    assert_null(reason);   /* untouched when nothing comes */
    assert_null(l.v);
    jg_endlater_add(&l, S(2), "two");
    jg_endlater_deinit(&l);   /* forgotten */
    assert_null(l.v);
    assert_null(jg_endlater_next(&l, &reason));
    jg_endlater_deinit(&l);   /* harmless when empty */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_remove_and_add_meanwhile),
        cmocka_unit_test(test_all_removed_and_deinit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
