/* xalloc.h: allocation that never returns NULL. Out of memory is fatal (style.md §3):
 * input limits, not malloc failures, are how the daemon degrades. */
#ifndef JG_XALLOC_H
#define JG_XALLOC_H
#include <stddef.h>

void *jg_xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *jg_xcalloc(size_t n, size_t size) __attribute__((malloc, returns_nonnull));
void *jg_xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *jg_xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *jg_xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));

#endif /* JG_XALLOC_H */
