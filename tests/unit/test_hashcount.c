/* test_hashcount.c: the counts per 64-bit hash behind the cluster's pending messages
 * (base/hashcount.h), against a plain model: adds and removes in random order, keys that
 * share their low bits (one long run of slots, emptied from the middle), growth and
 * shrinking, a removal that gives back a slot while later keys of the run stay findable. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/hashcount.h"

#define KEYS 3000

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void)   /* xorshift64: the same sequence on every run */
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void check_all(const struct jg_hashcount *t, const uint64_t *keys, const uint64_t *model, size_t n)
{
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(jg_hashcount_get(t, keys[i]), model[i]);
        live += model[i] > 0;
    }
    assert_int_equal(t->live, live);
}

static void test_random_against_model(void **state)
{
    /* half the keys random, half sharing their low 12 bits with another: long runs */
    static uint64_t keys[KEYS], model[KEYS];
    for (size_t i = 0; i < KEYS; i++)
        keys[i] = i % 2 ? (rnd() << 12) | (keys[i - 1] & 0xfff) : rnd();
    struct jg_hashcount t;
    jg_hashcount_init(&t);
    assert_int_equal(jg_hashcount_get(&t, 42), 0);   /* empty: no slots yet */
    for (int round = 0; round < 200000; round++) {
        size_t i = rnd() % KEYS;
        /* more adds than removes first, then more removes: the table grows, then shrinks */
        int add_pct = round < 100000 ? 60 : 35;
        if ((int)(rnd() % 100) < add_pct) {
            jg_hashcount_add(&t, keys[i]);
            model[i]++;
        } else if (model[i]) {
            jg_hashcount_remove(&t, keys[i]);
            model[i]--;
        }
        if (round % 20000 == 0)
            check_all(&t, keys, model, KEYS);
        assert_true(t.live * 2 <= t.cap);
    }
    check_all(&t, keys, model, KEYS);
    for (size_t i = 0; i < KEYS; i++)
        while (model[i]--)
            jg_hashcount_remove(&t, keys[i]);
    assert_int_equal(t.live, 0);
    assert_true(t.cap <= 64);   /* gave the memory of the peak back */
    jg_hashcount_free(&t);
}

static void test_run_emptied_from_the_middle(void **state)
{
    /* 20 keys with the same home slot, and 20 homed right after it: one run of 40 */
    struct jg_hashcount t;
    jg_hashcount_init(&t);
    uint64_t keys[40];
    for (int i = 0; i < 40; i++) {
        keys[i] = ((uint64_t)(i + 1) << 32) | (i < 20 ? 5 : 6 + (i - 20) % 3);
        jg_hashcount_add(&t, keys[i]);
    }
    for (int i = 0; i < 40; i += 3)
        jg_hashcount_remove(&t, keys[i]);
    for (int i = 0; i < 40; i++)
        assert_int_equal(jg_hashcount_get(&t, keys[i]), i % 3 ? 1 : 0);
    /* a count above 1 keeps its key until the last remove */
    jg_hashcount_add(&t, keys[1]);
    jg_hashcount_remove(&t, keys[1]);
    assert_int_equal(jg_hashcount_get(&t, keys[1]), 1);
    /* removing a key that is not there changes nothing */
    size_t live = t.live;
    jg_hashcount_remove(&t, keys[0]);
    jg_hashcount_remove(&t, 12345);
    assert_int_equal(t.live, live);
    jg_hashcount_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_against_model),
        cmocka_unit_test(test_run_emptied_from_the_middle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
