/* sb.h: a growable byte string ("string builder"). Out of memory aborts (xalloc.h).
 * Used to build responses, JSON and escaped strings; the bytes are always
 * NUL-terminated for convenience, len excludes the NUL. */
#ifndef JG_SB_H
#define JG_SB_H
#include <stddef.h>
#include <stdarg.h>

struct jg_sb {
    char *data;      /* owned; NULL until the first append */
    size_t len;      /* bytes used, excluding the NUL */
    size_t cap;      /* bytes allocated */
};

#define JG_SB_INIT { NULL, 0, 0 }

void jg_sb_reserve(struct jg_sb *sb, size_t extra);
void jg_sb_append(struct jg_sb *sb, const void *p, size_t n);
void jg_sb_appends(struct jg_sb *sb, const char *s);
void jg_sb_appendc(struct jg_sb *sb, char c);
void jg_sb_appendf(struct jg_sb *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void jg_sb_reset(struct jg_sb *sb);          /* len = 0, keeps the allocation */
void jg_sb_free(struct jg_sb *sb);           /* frees and re-inits */
/* Hands the bytes to the caller (free() them); the sb is re-initialised. */
char *jg_sb_steal(struct jg_sb *sb, size_t *len);

#endif /* JG_SB_H */
