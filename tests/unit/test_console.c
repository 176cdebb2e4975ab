/* test_console.c: the admin console's credential check (console.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "app/console.h"

static const char token[] = "console-unit-token-0123456789";

/* "Basic " + base64(TEXT) */
static void basic(const char *text, size_t len, char *out, size_t outlen)
{
    memcpy(out, "Basic ", 6);
    sodium_bin2base64(out + 6, outlen - 6, (const unsigned char *)text, len, sodium_base64_VARIANT_ORIGINAL);
}

static void test_accepted(void **state)
{
    char h[256];
    basic("admin:console-unit-token-0123456789", 35, h, sizeof h);
    assert_true(jg_console_credential_ok(token, h));
    basic(":console-unit-token-0123456789", 30, h, sizeof h);
    assert_true(jg_console_credential_ok(token, h));
    assert_true(jg_console_credential_ok(token, "Bearer console-unit-token-0123456789"));
}

static void test_refused(void **state)
{
    char h[2048];
    assert_false(jg_console_credential_ok(token, NULL));
    assert_false(jg_console_credential_ok(NULL, "Bearer x"));
    assert_false(jg_console_credential_ok("", "Bearer "));
    assert_false(jg_console_credential_ok(token, ""));
    assert_false(jg_console_credential_ok(token, token));
    assert_false(jg_console_credential_ok(token, "Bearer console-unit-token-012345678"));
    assert_false(jg_console_credential_ok(token, "Bearer console-unit-token-01234567890"));
    assert_false(jg_console_credential_ok(token, "bearer console-unit-token-0123456789"));
    /* the token as the user name, no colon, a prefix, a NUL inside, not base64 */
    basic("console-unit-token-0123456789:", 30, h, sizeof h);
    assert_false(jg_console_credential_ok(token, h));
    basic("console-unit-token-0123456789", 29, h, sizeof h);
    assert_false(jg_console_credential_ok(token, h));
    basic("a:console-unit-token", 20, h, sizeof h);
    assert_false(jg_console_credential_ok(token, h));
    basic("a:console-unit-token-0123456789\0", 32, h, sizeof h);
    assert_false(jg_console_credential_ok(token, h));
    assert_false(jg_console_credential_ok(token, "Basic !!!!"));
    assert_false(jg_console_credential_ok(token, "Basic YTpi=x"));
    /* longer than the credential buffer: refused, not overrun */
    char big[1200];
    memset(big, 'x', sizeof big);
    memcpy(big, "a:", 2);
    basic(big, sizeof big, h, sizeof h);
    assert_false(jg_console_credential_ok(token, h));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
