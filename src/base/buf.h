/* buf.h: refcounted immutable byte buffers. One buf holds one encoded packet, frame or
 * response head; fan-out queues references to it instead of copies (style.md §3). */
#ifndef JG_BUF_H
#define JG_BUF_H
#include <stddef.h>

struct jg_buf {
    unsigned refs;           /* references held; freed when it drops to 0 */
    size_t len;              /* bytes in data */
    unsigned char data[];    /* the bytes, followed by one NUL for convenience */
};

/* A new buf of LEN bytes (copied from P unless P is NULL), refs = 1 (the caller's). */
struct jg_buf *jg_buf_new(const void *p, size_t len);
/* Takes ownership of nothing; returns B with one more reference. */
struct jg_buf *jg_buf_ref(struct jg_buf *b);
/* Drops one reference; frees at 0. NULL is a no-op. */
void jg_buf_unref(struct jg_buf *b);

#endif /* JG_BUF_H */
