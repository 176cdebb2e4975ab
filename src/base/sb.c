/* sb.c: growable byte strings. Geometric growth; always NUL-terminated. */
#include "base/sb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void jg_sb_reserve(struct jg_sb *sb, size_t extra)
{
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap *= 2;
    sb->data = jg_xrealloc(sb->data, cap);
    sb->cap = cap;
}

void jg_sb_append(struct jg_sb *sb, const void *p, size_t n)
{
    jg_sb_reserve(sb, n);
    if (n)
        memcpy(sb->data + sb->len, p, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void jg_sb_appends(struct jg_sb *sb, const char *s)
{
    jg_sb_append(sb, s, strlen(s));
}

void jg_sb_appendc(struct jg_sb *sb, char c)
{
    jg_sb_append(sb, &c, 1);
}

void jg_sb_appendf(struct jg_sb *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        jg_sb_append(sb, small, (size_t)n);
        return;
    }
    jg_sb_reserve(sb, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void jg_sb_reset(struct jg_sb *sb)
{
    sb->len = 0;
    if (sb->data)
        sb->data[0] = '\0';
}

void jg_sb_free(struct jg_sb *sb)
{
    free(sb->data);
    sb->data = NULL;
    sb->len = sb->cap = 0;
}

char *jg_sb_steal(struct jg_sb *sb, size_t *len)
{
    if (!sb->data)
        jg_sb_reserve(sb, 0);
    char *p = sb->data;
    if (len)
        *len = sb->len;
    sb->data = NULL;
    sb->len = sb->cap = 0;
    return p;
}
