/* static.h: the files of the public directory (the demo page and the browser client), read
 * into memory at start and served from there with ETag/Last-Modified caching headers. */
#ifndef JG_STATIC_H
#define JG_STATIC_H
#include <stdbool.h>
#include <stddef.h>

struct jg_conn;
struct jg_static;

/* Loads every regular file under DIR (a few levels deep). Returns NULL with ERR set when
 * DIR cannot be read. */
struct jg_static *jg_static_load(const char *dir, char *err, size_t errlen);
void jg_static_free(struct jg_static *st);
/* Answers c->req for PATH (no query): 200/304, 403 for "..", 404, or 405 for methods other
 * than GET and HEAD. */
void jg_static_serve(struct jg_static *st, struct jg_conn *c, const char *path);

#endif /* JG_STATIC_H */
