/* test_sid.c: plain and signed session ids (sid.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/sid.h"

static const char secret[] = "0123456789abcdef-shared-by-instances";

static void assert_url_safe(const char *sid)
{
    for (const char *p = sid; *p; p++)
        assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
}

static void test_plain(void **state)
{
    char a[JG_SID_MAX + 1], b[JG_SID_MAX + 1];
    jg_sid_new(NULL, 1e9, a);
    jg_sid_new(NULL, 1e9, b);
    assert_int_equal(strlen(a), JG_SID_LEN);
    assert_url_safe(a);
    assert_string_not_equal(a, b);
    /* a plain sid never verifies, with or without a secret */
    assert_false(jg_sid_verify(secret, a, 1e9, 30));
    assert_false(jg_sid_verify(NULL, a, 1e9, 30));
}

static void test_well_formed(void **state)
{
    char a[JG_SID_MAX + 1], b[JG_SID_MAX + 1];
    jg_sid_new(NULL, 1e9, a);
    jg_sid_new(secret, 1e9, b);
    assert_true(jg_sid_well_formed(a));
    assert_true(jg_sid_well_formed(b));
    static const char *const bad[] = {
        "", "A", "AAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAAA",        /* 21, 23 */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",                           /* 37 */
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",                         /* 39 */
        "AAAAAAAAAAAAAAAAAAAAA.", "AAAAAAAAAAAAAAAAAAAAA+", "AAAAAAAAAAAAAAAAAAAAA/",
        "AAAAAAAAAAAAAAAAAAAAA=", "AAAAAAAAAAAAAAAAAAAA%2", "AAAAAAAAAAAAAAAAAAAAA\xc3",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ", "10131689012122198360",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_false(jg_sid_well_formed(bad[i]));
}

static void test_signed_roundtrip(void **state)
{
    char a[JG_SID_MAX + 1];
    jg_sid_new(secret, 1.7e9, a);
    assert_int_equal(strlen(a), JG_SID_SIGNED_LEN);
    assert_url_safe(a);
    assert_true(jg_sid_verify(secret, a, 1.7e9, 30));
    assert_true(jg_sid_verify(secret, a, 1.7e9 + 29, 30));
    /* too old, or from too far in the future */
    assert_false(jg_sid_verify(secret, a, 1.7e9 + 31, 30));
    assert_false(jg_sid_verify(secret, a, 1.7e9 - 61, 30));
    /* another secret, or no secret */
    assert_false(jg_sid_verify("another-secret-of-16+chars", a, 1.7e9, 30));
    assert_false(jg_sid_verify(NULL, a, 1.7e9, 30));
}

static void test_signed_tampered(void **state)
{
    char a[JG_SID_MAX + 1];
    jg_sid_new(secret, 1.7e9, a);
    /* flip each character in turn: no tampered id verifies */
    for (size_t i = 0; i < JG_SID_SIGNED_LEN; i++) {
        char t[JG_SID_MAX + 1];
        strcpy(t, a);
        t[i] = t[i] == 'A' ? 'B' : 'A';
        assert_false(jg_sid_verify(secret, t, 1.7e9, 30));
    }
    /* wrong lengths and characters outside the alphabet */
    char t[JG_SID_MAX + 2];
    strcpy(t, a);
    t[JG_SID_SIGNED_LEN - 1] = '\0';
    assert_false(jg_sid_verify(secret, t, 1.7e9, 30));
    strcpy(t, a);
    strcat(t, "A");
    assert_false(jg_sid_verify(secret, t, 1.7e9, 30));
    strcpy(t, a);
    t[3] = '/';
    assert_false(jg_sid_verify(secret, t, 1.7e9, 30));
    assert_false(jg_sid_verify(secret, "", 1.7e9, 30));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_well_formed),
        cmocka_unit_test(test_signed_roundtrip),
        cmocka_unit_test(test_signed_tampered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
