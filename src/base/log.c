/* log.c: one-line log records with a timestamp, pid and level letter. No buffering
 * beyond stdio's line buffer: a crash must not eat the last lines. */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

enum jg_log_level jg_log_threshold = JG_LOG_INFO;
static FILE *log_file;   /* NULL = stderr */

int jg_log_open(const char *path)
{
    if (!path || !*path) {
        if (log_file)
            fclose(log_file);
        log_file = NULL;
        return 0;
    }
    FILE *f = fopen(path, "a");
    if (!f)
        return -errno;
    setvbuf(f, NULL, _IOLBF, 0);
    if (log_file)
        fclose(log_file);
    log_file = f;
    return 0;
}

int jg_log_level_parse(const char *s)
{
    static const char *const names[] = { "debug", "info", "warn", "error", "silent" };
    for (int i = 0; i < 5; i++)
        if (strcasecmp(s, names[i]) == 0)
            return i;
    if (strcasecmp(s, "warning") == 0)
        return JG_LOG_WARN;
    return -1;
}

void jg_log_write(enum jg_log_level lvl, const char *fmt, ...)
{
    static const char letters[] = "DIWE";
    struct timeval tv;
    struct tm tm;
    char stamp[32];
    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", &tm);

    FILE *f = log_file ? log_file : stderr;
    int saved = errno;
    flockfile(f);
    fprintf(f, "%s.%03d %d %c ", stamp, (int)(tv.tv_usec / 1000), (int)getpid(),
            letters[lvl < 4 ? lvl : 3]);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    funlockfile(f);
    fflush(f);
    errno = saved;
}
