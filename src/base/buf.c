/* buf.c: refcounted immutable byte buffers. */
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

struct jg_buf *jg_buf_new(const void *p, size_t len)
{
    struct jg_buf *b = jg_xmalloc(sizeof *b + len + 1);
    b->refs = 1;
    b->len = len;
    if (p && len)
        memcpy(b->data, p, len);
    b->data[len] = '\0';
    return b;
}

struct jg_buf *jg_buf_ref(struct jg_buf *b)
{
    b->refs++;
    return b;
}

void jg_buf_unref(struct jg_buf *b)
{
    if (!b)
        return;
    if (b->refs == 0) {
        fprintf(stderr, "juggernautd: buf unref with refs == 0\n");
        abort();
    }
    if (--b->refs == 0)
        free(b);
}
