/* test_auth.c: private-channel and meta signatures (auth.h) against openssl's HMAC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/auth.h"

static const char secret[] = "a-secret-of-16-chars+";
/* printf 'sid123:private-chat' | openssl dgst -sha256 -hmac 'a-secret-of-16-chars+' */
static const char expected[] = "149c7ba800d56f42d374ffb3a424fae6da3714c63ef2f0e806f05d12bd3cb115";

static void test_sign(void **state)
{
    char out[JG_AUTH_HEX_LEN + 1];
    jg_auth_sign(secret, "sid123", "private-chat", 12, out);
    assert_string_equal(out, expected);
}

static void test_check(void **state)
{
    char upper[JG_AUTH_HEX_LEN + 1];
    assert_true(jg_auth_check(secret, "sid123", "private-chat", 12, expected));
    for (size_t i = 0; i <= JG_AUTH_HEX_LEN; i++)
        upper[i] = (char)(expected[i] >= 'a' && expected[i] <= 'f' ? expected[i] - 32 : expected[i]);
    assert_true(jg_auth_check(secret, "sid123", "private-chat", 12, upper));
    /* another session, channel, secret, a truncated or missing signature */
    assert_false(jg_auth_check(secret, "sid124", "private-chat", 12, expected));
    assert_false(jg_auth_check(secret, "sid123", "private-chas", 12, expected));
    assert_false(jg_auth_check("another-secret-16-chars", "sid123", "private-chat", 12, expected));
    char shorter[JG_AUTH_HEX_LEN];
    memcpy(shorter, expected, JG_AUTH_HEX_LEN - 1);
    shorter[JG_AUTH_HEX_LEN - 1] = '\0';
    assert_false(jg_auth_check(secret, "sid123", "private-chat", 12, shorter));
    assert_false(jg_auth_check(secret, "sid123", "private-chat", 12, NULL));
    assert_false(jg_auth_check(secret, "sid123", "private-chat", 12, ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
