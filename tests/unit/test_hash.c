/* test_hash.c: the keyed hash of every hash table (hash.h). The key is drawn per process (two
 * runs of this binary get different keys), keys an attacker computed to collide under
 * uthash's unkeyed default (Jenkins) do not collide under ours, and a table built through
 * the HASH_* macros really uses jg_hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/hash.h"

#define KEY_BYTES 16

static void hex(const unsigned char *k, char out[2 * KEY_BYTES + 1])
{
    for (int i = 0; i < KEY_BYTES; i++)
        snprintf(out + 2 * i, 3, "%02x", k[i]);
}

/* The key another process of this binary draws: /proc/self/exe run with JG_PRINT_HASH_KEY. */
static void key_of_new_process(char out[2 * KEY_BYTES + 1])
{
    char exe[4096], cmd[4200];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);   /* not the shell's */
    assert_true(n > 0);
    exe[n] = '\0';
    snprintf(cmd, sizeof cmd, "JG_PRINT_HASH_KEY=1 '%s'", exe);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[128] = "";
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
    line[strcspn(line, "\n")] = '\0';
    assert_int_equal(strlen(line), 2 * KEY_BYTES);
    memcpy(out, line, 2 * KEY_BYTES + 1);
}

static void test_key_differs_per_process(void **state)
{
    (void)state;
    char mine[2 * KEY_BYTES + 1], a[2 * KEY_BYTES + 1], b[2 * KEY_BYTES + 1];
    hex(jg_hash_key(), mine);
    key_of_new_process(a);
    key_of_new_process(b);
    assert_string_not_equal(a, b);
    assert_string_not_equal(mine, a);
    assert_string_not_equal(mine, b);
    /* and within a process it is stable: tables stay consistent */
    assert_true(jg_hash("room", 4) == jg_hash("room", 4));
    assert_false(jg_hash("room", 4) == jg_hash("roon", 4));
}

struct item {
    char name[32];
    UT_hash_handle hh;
};

/* 512 channel names that all fall in bucket 0 of a 1024-bucket table under uthash's unkeyed
 * Jenkins hash (found offline by anyone, here by brute force): under the keyed hash the
 * table built from them has short chains, and the names spread over the buckets. */
static void test_precomputed_collisions_do_not_collide(void **state)
{
    (void)state;
    enum { N = 512, LOW_BITS_MASK = 1023 };
    static char names[N][32];
    int found = 0;
    for (unsigned long i = 0; found < N; i++) {
        char s[32];
        int len = snprintf(s, sizeof s, "room-%lu", i);
        unsigned jen = 0;
        HASH_JEN(s, (unsigned)len, jen);
        if ((jen & LOW_BITS_MASK) == 0)
            memcpy(names[found++], s, (size_t)len + 1);
    }
    struct item *table = NULL, *items = calloc(N, sizeof *items);
    assert_non_null(items);
    unsigned bucket_hits[1024] = { 0 };
    for (int i = 0; i < N; i++) {
        unsigned jen = 0;
        HASH_JEN(names[i], strlen(names[i]), jen);
        assert_int_equal(jen & LOW_BITS_MASK, 0);   /* they do collide without the key */
        bucket_hits[jg_hash(names[i], strlen(names[i])) & LOW_BITS_MASK]++;
        strcpy(items[i].name, names[i]);
        HASH_ADD_STR(table, name, &items[i]);
    }
    unsigned worst = 0;
    for (int b = 0; b < 1024; b++)
        worst = bucket_hits[b] > worst ? bucket_hits[b] : worst;
    /* 512 names in 1024 buckets: a chain of 10 is already a 1e-9 event for a random function */
    assert_true(worst <= 10);
    /* the table itself: uthash's buckets, filled through HASH_FUNCTION = jg_hash */
    unsigned longest = 0;
    for (unsigned b = 0; b < table->hh.tbl->num_buckets; b++)
        longest = table->hh.tbl->buckets[b].count > longest ? table->hh.tbl->buckets[b].count : longest;
    /* uthash keeps about N / buckets per chain; under the unkeyed hash one chain would hold
     * every name that shares the bucket bits */
    unsigned mean = N / table->hh.tbl->num_buckets;
    assert_true(longest <= 3 * mean + 8);
    assert_int_equal(table->hh.tbl->noexpand, 0);   /* uthash never saw an ineffective expansion */
    struct item *hit = NULL;
    HASH_FIND_STR(table, names[N - 1], hit);
    assert_ptr_equal(hit, &items[N - 1]);
    HASH_CLEAR(hh, table);
    free(items);
}

int main(void)
{
    if (getenv("JG_PRINT_HASH_KEY")) {
        char k[2 * KEY_BYTES + 1];
        hex(jg_hash_key(), k);
        printf("%s\n", k);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_differs_per_process),
        cmocka_unit_test(test_precomputed_collisions_do_not_collide),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
