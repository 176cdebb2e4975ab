/* test_deadline.c: the sessions' deadlines behind one libev timer (core/deadline.h), on a
 * real libev loop: each falls due once, in order and not early; stopped ones never fall
 * due; re-arming moves one; a callback may arm deadlines (itself included), and one armed
 * for 0 s from a callback waits for the next turn of the loop instead of spinning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <ev.h>

#include "base/list.h"
#include "core/deadline.h"

#define N 200

struct item {
    struct jg_deadline d;
    double want;          /* seconds after the start it was armed for */
    double fired_at;      /* CLOCK_MONOTONIC time it fell due */
    int fired;
    int rearm;            /* times it arms itself again, 0 s later, from its callback */
};

static struct jg_deadlines Q;
static struct item items[N];
static struct item *order[N * 4];
static size_t fired_n;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void due(struct jg_deadline *d)
{
    struct item *it = jg_container_of(d, struct item, d);
    it->fired++;
    it->fired_at = mono();
    order[fired_n++] = it;
    if (it->rearm > 0) {
        it->rearm--;
        jg_deadline_set(&Q, &it->d, 0);
    }
}

static void setup_loop(void)
{
    memset(items, 0, sizeof items);
    fired_n = 0;
    jg_deadlines_init(&Q, EV_DEFAULT, due);
}

static void run_until_idle(void)
{
    /* every deadline here is under a second; the loop returns once none is armed */
    ev_run(Q.loop, 0);
}

static void test_in_order_once_never_early(void **state)
{
    setup_loop();
    double start = mono();
    srand(7);
    for (int i = 0; i < N; i++) {
        items[i].want = (double)(rand() % 50) / 1000.0;   /* 0-49 ms, with ties */
        jg_deadline_set(&Q, &items[i].d, items[i].want);
        assert_true(jg_deadline_armed(&items[i].d));
    }
    run_until_idle();
    assert_int_equal(fired_n, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(items[i].fired, 1);
        assert_false(jg_deadline_armed(&items[i].d));
        assert_true(items[i].fired_at >= start + items[i].want - 1e-9);
    }
    for (size_t k = 1; k < fired_n; k++)
        assert_true(order[k - 1]->d.at <= order[k]->d.at);
    jg_deadlines_free(&Q);
}

static void test_stop_and_rearm(void **state)
{
    setup_loop();
    for (int i = 0; i < 10; i++)
        jg_deadline_set(&Q, &items[i].d, 0.001 * (i + 1));
    /* the earliest, one in the middle and the last are stopped; one is stopped twice */
    jg_deadline_stop(&Q, &items[0].d);
    jg_deadline_stop(&Q, &items[5].d);
    jg_deadline_stop(&Q, &items[5].d);
    jg_deadline_stop(&Q, &items[9].d);
    /* the second falls due last now, the eighth first */
    jg_deadline_set(&Q, &items[1].d, 0.020);
    jg_deadline_set(&Q, &items[7].d, 0.0);
    run_until_idle();
    assert_int_equal(fired_n, 7);
    assert_ptr_equal(order[0], &items[7]);
    assert_ptr_equal(order[6], &items[1]);
    assert_int_equal(items[0].fired + items[5].fired + items[9].fired, 0);
    jg_deadlines_free(&Q);
}

static void test_callback_arms_again(void **state)
{
    setup_loop();
    items[0].rearm = 3;   /* falls due 4 times, each 0 s after the last */
    jg_deadline_set(&Q, &items[0].d, 0.001);
    jg_deadline_set(&Q, &items[1].d, 0.002);
    run_until_idle();
    assert_int_equal(items[0].fired, 4);
    assert_int_equal(items[1].fired, 1);
    assert_int_equal(fired_n, 5);
    jg_deadlines_free(&Q);
}

static void test_fire_by_hand(void **state)
{
    setup_loop();
    jg_deadline_fire(&Q, &items[0].d);   /* not armed: nothing */
    assert_int_equal(fired_n, 0);
    jg_deadline_set(&Q, &items[0].d, 60);
    jg_deadline_set(&Q, &items[1].d, 0.001);
    jg_deadline_fire(&Q, &items[0].d);
    assert_int_equal(items[0].fired, 1);
    assert_false(jg_deadline_armed(&items[0].d));
    run_until_idle();   /* returns at once after the 1 ms one: the 60 s one is gone */
    assert_int_equal(items[1].fired, 1);
    assert_int_equal(fired_n, 2);
    jg_deadlines_free(&Q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_order_once_never_early),
        cmocka_unit_test(test_stop_and_rearm),
        cmocka_unit_test(test_callback_arms_again),
        cmocka_unit_test(test_fire_by_hand),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
