/* sid.c: session id generation and verification (see sid.h). */
#include "proto/sid.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/log.h"

#define RANDOM_BYTES 16
#define TIME_BYTES 4
#define TAG_BYTES 8
#define MAX_SKEW 60.0   /* s an issue time may lie in the future (instances' clocks) */

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void fill_random(unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(p + got, n - got, 0);
        if (r < 0) {
            jg_error("getrandom failed; cannot make session ids");
            abort();
        }
        got += (size_t)r;
    }
}

/* URL-safe base64 without padding of N bytes; writes ceil(8n/6) characters and a NUL. */
static void encode(const unsigned char *in, size_t n, char *out)
{
    size_t bits = n * 8, chars = (bits + 5) / 6;
    for (size_t i = 0; i < chars; i++) {
        size_t bit = i * 6, byte = bit / 8;
        unsigned v = (unsigned)in[byte] << 8 | (byte + 1 < n ? in[byte + 1] : 0);
        out[i] = alphabet[(v >> (10 - bit % 8)) & 63];
    }
    out[chars] = '\0';
}

/* Inverse of encode for exactly N bytes; false on a character outside the alphabet. */
static bool decode(const char *in, size_t n, unsigned char *out)
{
    size_t chars = (n * 8 + 5) / 6;
    memset(out, 0, n);
    for (size_t i = 0; i < chars; i++) {
        const char *p = in[i] ? strchr(alphabet, in[i]) : NULL;
        if (!p)
            return false;
        unsigned v = (unsigned)(p - alphabet);
        for (int b = 5; b >= 0; b--) {
            size_t bit = i * 6 + (size_t)(5 - b);
            if (!(v >> b & 1))
                continue;
            if (bit >= n * 8)
                return false;   /* padding bits must be 0: one spelling per id */
            out[bit / 8] |= (unsigned char)(0x80 >> bit % 8);
        }
    }
    return true;
}

bool jg_sid_well_formed(const char *sid)
{
    size_t n = strspn(sid, alphabet);
    return sid[n] == '\0' && (n == JG_SID_LEN || n == JG_SID_SIGNED_LEN);
}

static void tag(const char *secret, const unsigned char *msg, size_t len, unsigned char out[TAG_BYTES])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), msg, len, md, &mdlen);
    memcpy(out, md, TAG_BYTES);
}

void jg_sid_new(const char *secret, double now, char out[JG_SID_MAX + 1])
{
    unsigned char raw[RANDOM_BYTES + TIME_BYTES + TAG_BYTES];
    fill_random(raw, RANDOM_BYTES);
    if (!secret) {
        encode(raw, RANDOM_BYTES, out);
        return;
    }
    uint32_t t = (uint32_t)now;
    for (int i = 0; i < TIME_BYTES; i++)
        raw[RANDOM_BYTES + i] = (unsigned char)(t >> (24 - 8 * i));
    tag(secret, raw, RANDOM_BYTES + TIME_BYTES, raw + RANDOM_BYTES + TIME_BYTES);
    encode(raw, sizeof raw, out);
}

bool jg_sid_verify(const char *secret, const char *sid, double now, double max_age)
{
    unsigned char raw[RANDOM_BYTES + TIME_BYTES + TAG_BYTES], expect[TAG_BYTES];
    if (!secret || strlen(sid) != JG_SID_SIGNED_LEN || !decode(sid, sizeof raw, raw))
        return false;
    tag(secret, raw, RANDOM_BYTES + TIME_BYTES, expect);
    if (CRYPTO_memcmp(expect, raw + RANDOM_BYTES + TIME_BYTES, TAG_BYTES) != 0)
        return false;
    uint32_t t = 0;
    for (int i = 0; i < TIME_BYTES; i++)
        t = t << 8 | raw[RANDOM_BYTES + i];
    double age = now - (double)t;
    return age <= max_age && age >= -MAX_SKEW;
}
