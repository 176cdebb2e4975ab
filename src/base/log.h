/* log.h: leveled one-line logging to stderr or a file that SIGUSR1 (and SIGHUP) reopens.
 * Each line: time, pid, level letter, message. The macros test the level before
 * evaluating their arguments, so debug lines cost nothing when off. */
#ifndef JG_LOG_H
#define JG_LOG_H

enum jg_log_level { JG_LOG_DEBUG = 0, JG_LOG_INFO, JG_LOG_WARN, JG_LOG_ERROR, JG_LOG_SILENT };

extern enum jg_log_level jg_log_threshold;   /* the one process-wide logging setting */

void jg_log_write(enum jg_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends later lines to PATH (NULL or "" = stderr). Returns 0 or -errno; keeps the old
 * destination on failure. Called again by SIGUSR1 and SIGHUP to reopen after logrotate. */
int jg_log_open(const char *path) __attribute__((warn_unused_result));
/* Parses "debug|info|warn|error|silent"; returns -1 when unknown. */
int jg_log_level_parse(const char *s);

#define jg_log(lvl, ...) \
    do { \
        if ((lvl) >= jg_log_threshold) \
            jg_log_write((lvl), __VA_ARGS__); \
    } while (0)
#define jg_debug(...) jg_log(JG_LOG_DEBUG, __VA_ARGS__)
#define jg_info(...) jg_log(JG_LOG_INFO, __VA_ARGS__)
#define jg_warn(...) jg_log(JG_LOG_WARN, __VA_ARGS__)
#define jg_error(...) jg_log(JG_LOG_ERROR, __VA_ARGS__)

#endif /* JG_LOG_H */
