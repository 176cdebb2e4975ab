/* static.c: in-memory static files. Paths are looked up in the table loaded at start, so
 * a request can never reach the filesystem, let alone outside the public directory. */
#include "transport/static.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/hash.h"

#include "base/buf.h"
#include "transport/conn.h"
#include "transport/http.h"
#include "base/log.h"
#include "base/xalloc.h"

#define MAX_DEPTH 4
#define MAX_FILE_SIZE (16 << 20)   /* bytes; larger files are skipped with a warning */

struct file {
    char *path;                   /* owned: "/index.html" */
    UT_hash_handle hh;
    struct jg_buf *body;          /* owned ref */
    const char *content_type;     /* static string */
    char etag[48];
    char last_modified[40];
};

struct jg_static {
    struct file *by_path;         /* uthash head */
};

static const char *content_type_for(const char *name)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html" }, { ".htm", "text/html" }, { ".js", "text/javascript" },
        { ".mjs", "text/javascript" }, /* <script type="module"> refuses any other type */
        { ".css", "text/css" }, { ".json", "application/json" }, { ".txt", "text/plain" },
        { ".png", "image/png" }, { ".jpg", "image/jpeg" }, { ".gif", "image/gif" },
        { ".svg", "image/svg+xml" }, { ".ico", "image/x-icon" }, { ".swf", "application/x-shockwave-flash" },
    };
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcasecmp(dot, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

static int load_file(struct jg_static *st, const char *fs_path, const char *url_path, const struct stat *sb)
{
    if (sb->st_size > MAX_FILE_SIZE) {
        jg_warn("static: %s is larger than %d bytes; not served", fs_path, MAX_FILE_SIZE);
        return 0;
    }
    int fd = open(fs_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        jg_warn("static: cannot open %s: %s", fs_path, strerror(errno));
        return 0;
    }
    struct jg_buf *body = jg_buf_new(NULL, (size_t)sb->st_size);
    size_t got = 0;
    while (got < body->len) {
        ssize_t n = read(fd, body->data + got, body->len - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    if (got != body->len) {
        jg_warn("static: short read on %s; not served", fs_path);
        jg_buf_unref(body);
        return 0;
    }
    struct file *f = jg_xcalloc(1, sizeof *f);
    f->path = jg_xstrdup(url_path);
    f->body = body;
    f->content_type = content_type_for(url_path);
    snprintf(f->etag, sizeof f->etag, "\"%llx-%llx-%llx\"", (unsigned long long)sb->st_ino,
             (unsigned long long)sb->st_size, (unsigned long long)sb->st_mtime);
    struct tm tm;
    gmtime_r(&sb->st_mtime, &tm);
    strftime(f->last_modified, sizeof f->last_modified, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    HASH_ADD_KEYPTR(hh, st->by_path, f->path, strlen(f->path), f);
    return 0;
}

static int load_dir(struct jg_static *st, const char *fs_dir, const char *url_dir, int depth)
{
    DIR *d = opendir(fs_dir);
    if (!d)
        return -errno;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;   /* hidden files, "." and ".." */
        char fs_path[4096], url_path[4096];
        if ((size_t)snprintf(fs_path, sizeof fs_path, "%s/%s", fs_dir, e->d_name) >= sizeof fs_path ||
            (size_t)snprintf(url_path, sizeof url_path, "%s/%s", url_dir, e->d_name) >= sizeof url_path)
            continue;
        struct stat sb;
        if (stat(fs_path, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode) && depth < MAX_DEPTH)
            load_dir(st, fs_path, url_path, depth + 1);
        else if (S_ISREG(sb.st_mode))
            load_file(st, fs_path, url_path, &sb);
    }
    closedir(d);
    return 0;
}

struct jg_static *jg_static_load(const char *dir, char *err, size_t errlen)
{
    struct jg_static *st = jg_xcalloc(1, sizeof *st);
    int rc = load_dir(st, dir, "", 0);
    if (rc < 0) {
        snprintf(err, errlen, "public-dir %s: %s", dir, strerror(-rc));
        jg_static_free(st);
        return NULL;
    }
    jg_info("static: %u files from %s", HASH_COUNT(st->by_path), dir);
    return st;
}

void jg_static_free(struct jg_static *st)
{
    if (!st)
        return;
    struct file *f, *tmp;
    HASH_ITER(hh, st->by_path, f, tmp) {
        HASH_DEL(st->by_path, f);
        jg_buf_unref(f->body);
        free(f->path);
        free(f);
    }
    free(st);
}

void jg_static_serve(struct jg_static *st, struct jg_conn *c, const char *path)
{
    struct jg_http_req *req = c->req;
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        jg_http_respond(c, 405, "text/plain", "Allow: GET, HEAD\r\n", "Method Not Allowed\n", 19);
        return;
    }
    if (strstr(path, "..")) {
        jg_http_respond(c, 403, "text/plain", NULL, "Forbidden\n", 10);
        return;
    }
    if (!strcmp(path, "/"))
        path = "/index.html";
    struct file *f = NULL;
    HASH_FIND_STR(st->by_path, path, f);
    if (!f) {
        jg_http_respond(c, 404, NULL, NULL, "", 0);
        return;
    }
    char extra[256];
    snprintf(extra, sizeof extra, "Cache-Control: max-age=3600\r\nEtag: %s\r\nLast-Modified: %s\r\n",
             f->etag, f->last_modified);
    if (req->if_none_match && !strcmp(req->if_none_match, f->etag)) {
        jg_http_respond(c, 304, NULL, extra, "", 0);
        return;
    }
    jg_http_respond_buf(c, 200, f->content_type, extra, f->body, req->method == HTTP_HEAD);
}
