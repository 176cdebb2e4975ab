/* test_strtab.c: the string-keyed pointer table behind the sessions (base/strtab.h): finds
 * what was added and nothing else, grows past many entries, reuses removed slots without
 * growing for ever, and lets a walk remove entries (the current one or others) while every
 * entry still in the table is seen exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/strtab.h"

#define N 5000

struct item {
    char key[24];
    int seen;
    bool in;
    bool dropped;   /* removed by the walk before it got there */
};

static const char *key_of(const void *e)
{
    return ((const struct item *)e)->key;
}

static struct item *items_new(void)
{
    struct item *v = calloc(N, sizeof *v);
    for (int i = 0; i < N; i++)
        snprintf(v[i].key, sizeof v[i].key, "sid-%d", i);
    return v;
}

static void test_add_find_remove(void **state)
{
    struct jg_strtab t;
    jg_strtab_init(&t, key_of);
    assert_null(jg_strtab_find(&t, "sid-1"));   /* empty: no slots yet */
    struct item *v = items_new();
    for (int i = 0; i < N; i++)
        jg_strtab_add(&t, &v[i]);
    assert_int_equal(t.live, N);
    assert_true(t.cap >= N * 4 / 3);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(jg_strtab_find(&t, v[i].key), &v[i]);
    assert_null(jg_strtab_find(&t, "sid-"));
    assert_null(jg_strtab_find(&t, "sid-5000"));
    for (int i = 0; i < N; i += 2)
        jg_strtab_remove(&t, &v[i]);
    assert_int_equal(t.live, N / 2);
    for (int i = 0; i < N; i++)
        assert_ptr_equal(jg_strtab_find(&t, v[i].key), i % 2 ? &v[i] : NULL);
    /* removing what is not there changes nothing */
    jg_strtab_remove(&t, &v[0]);
    struct item stranger = { .key = "sid-1" };   /* same key, another entry */
    jg_strtab_remove(&t, &stranger);
    assert_int_equal(t.live, N / 2);
    assert_ptr_equal(jg_strtab_find(&t, "sid-1"), &v[1]);
    jg_strtab_free(&t);
    free(v);
}

static void test_churn_reuses_slots(void **state)
{
    struct jg_strtab t;
    jg_strtab_init(&t, key_of);
    struct item *v = items_new();
    /* 100 entries at a time, replaced 50 times over: the table stays the size 100 needs */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 100; i++)
            jg_strtab_add(&t, &v[round * 100 + i]);
        for (int i = 0; i < 100; i++)
            assert_ptr_equal(jg_strtab_find(&t, v[round * 100 + i].key), &v[round * 100 + i]);
        for (int i = 0; i < 100; i++)
            jg_strtab_remove(&t, &v[round * 100 + i]);
        assert_int_equal(t.live, 0);
    }
    assert_true(t.cap <= 512);
    assert_null(jg_strtab_find(&t, v[0].key));
    jg_strtab_free(&t);
    free(v);
}

static void test_walk_while_removing(void **state)
{
    struct jg_strtab t;
    jg_strtab_init(&t, key_of);
    struct item *v = items_new();
    for (int i = 0; i < N; i++) {
        jg_strtab_add(&t, &v[i]);
        v[i].in = true;
    }
    /* each visit removes the entry it is at and, every third time, one it has not seen yet */
    size_t pos = 0, visits = 0, other = N;
    for (struct item *e; (e = jg_strtab_next(&t, &pos));) {
        e->seen++;
        visits++;
        jg_strtab_remove(&t, e);
        e->in = false;
        if (visits % 3 == 0) {
            while (other > 0 && (!v[other - 1].in || v[other - 1].seen))
                other--;
            if (other > 0) {
                jg_strtab_remove(&t, &v[other - 1]);
                v[other - 1].in = false;
                v[other - 1].dropped = true;
            }
        }
    }
    assert_int_equal(t.live, 0);
    for (int i = 0; i < N; i++) {
        assert_false(v[i].in);
        assert_int_equal(v[i].seen, v[i].dropped ? 0 : 1);   /* each once, none twice */
    }
    assert_true(visits > N / 2);
    jg_strtab_free(&t);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_find_remove),
        cmocka_unit_test(test_churn_reuses_slots),
        cmocka_unit_test(test_walk_while_removing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
