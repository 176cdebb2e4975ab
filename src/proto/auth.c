/* auth.c: HMAC-SHA256 signatures over "session_id:subject" (see auth.h). */
#include "proto/auth.h"

#include <ctype.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/sb.h"

void jg_auth_sign(const char *secret, const char *sid, const char *subject, size_t subject_len,
                  char out[JG_AUTH_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    struct jg_sb msg = JG_SB_INIT;
    jg_sb_appends(&msg, sid);
    jg_sb_appendc(&msg, ':');
    jg_sb_append(&msg, subject, subject_len);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg.data, msg.len, md, &mdlen);
    jg_sb_free(&msg);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[JG_AUTH_HEX_LEN] = '\0';
}

bool jg_auth_check(const char *secret, const char *sid, const char *subject, size_t subject_len, const char *hex)
{
    if (!hex || strlen(hex) != JG_AUTH_HEX_LEN)
        return false;
    char expect[JG_AUTH_HEX_LEN + 1], given[JG_AUTH_HEX_LEN + 1];
    jg_auth_sign(secret, sid, subject, subject_len, expect);
    for (size_t i = 0; i <= JG_AUTH_HEX_LEN; i++)
        given[i] = (char)tolower((unsigned char)hex[i]);
    return CRYPTO_memcmp(expect, given, JG_AUTH_HEX_LEN) == 0;
}
