/* hash.h: the keyed hash behind every hash table of the daemon (uthash, strtab.h's for the
 * sessions and channels, hashcount.h's keys). Tables are keyed by what clients and
 * publishers choose (channel names, session ids, message texts): with an unkeyed hash
 * anyone can compute names that all land in one bucket and turn every lookup into a list
 * walk (hash flooding). SipHash-2-4 (libsodium's crypto_shorthash) with a key drawn at
 * random once per process makes collisions unpredictable from outside.
 * Include this header instead of <uthash.h>: every table must use the same function. */
#ifndef JG_HASH_H
#define JG_HASH_H
#include <stddef.h>
#include <stdint.h>

/* SipHash-2-4 of LEN bytes at P under the process key (drawn on first use). */
uint64_t jg_hash(const void *p, size_t len);

/* The process key (16 bytes), drawn on first use; for tests. */
const unsigned char *jg_hash_key(void);

#ifdef HASH_FUNCTION
#error "hash.h must be the first to define HASH_FUNCTION (include it instead of uthash.h)"
#endif
#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = (unsigned)jg_hash((keyptr), (size_t)(keylen)))
#include <uthash.h>

#endif /* JG_HASH_H */
