/* hash.c: the process's keyed hash (hash.h). */
#include "base/hash.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/random.h>

#include <sodium.h>

#include "base/log.h"

static unsigned char key[crypto_shorthash_KEYBYTES];
static bool have_key;

/* getrandom(2) rather than libsodium's generator: one source of randomness for the whole
 * daemon (sids come from it too), and the fuzz harnesses make it deterministic. */
static void draw_key(void)
{
    size_t got = 0;
    while (got < sizeof key) {
        ssize_t r = getrandom(key + got, sizeof key - got, 0);
        if (r < 0) {
            jg_error("getrandom failed; cannot key the hash tables");
            abort();
        }
        got += (size_t)r;
    }
    if (sodium_init() < 0) {
        jg_error("libsodium failed to initialise");
        abort();
    }
    have_key = true;
}

const unsigned char *jg_hash_key(void)
{
    if (!have_key)
        draw_key();
    return key;
}

uint64_t jg_hash(const void *p, size_t len)
{
    if (!have_key)
        draw_key();
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, p, len, key);   /* SipHash-2-4 */
    uint64_t h = 0;
    for (size_t i = 0; i < sizeof out; i++)
        h = h << 8 | out[i];
    return h;
}
