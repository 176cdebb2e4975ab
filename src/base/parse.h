/* parse.h: text to values, as config keys and the environment give them; each returns 0,
 * or -1 with ERR saying what was expected. No state. */
#ifndef JG_PARSE_H
#define JG_PARSE_H
#include <stdbool.h>
#include <stddef.h>

/* A whole number >= MIN, with an optional k, m or g suffix (KiB, MiB, GiB; a trailing b too). */
int jg_parse_size(const char *v, size_t *out, size_t min, char *err, size_t errlen);
/* A number of seconds between MIN and 86400. */
int jg_parse_seconds(const char *v, double *out, double min, char *err, size_t errlen);
/* A TCP port, 1-65535. */
int jg_parse_port(const char *v, int *out, char *err, size_t errlen);
/* yes/no, true/false, on/off, 1/0. */
int jg_parse_bool(const char *v, bool *out, char *err, size_t errlen);

/* redis://[user][:password@]host[:port][/db] (also the original's REDISTOGO_URL form). */
struct jg_redis_url {
    char *host;               /* owned */
    int port;                 /* 6379 when absent */
    int db;                   /* 0 when absent */
    char *password;           /* owned; NULL when absent */
};
int jg_parse_redis_url(const char *url, struct jg_redis_url *out, char *err, size_t errlen);

/* socket.io 0.8 origin rules: ORIGINS entries "host:port" where either side may be "*"; an
 * entry may also be written as a full origin "scheme://host:port". A missing port in
 * ORIGIN (an Origin header) means 80 (443 for https). */
bool jg_origin_allowed(char *const *origins, size_t norigins, const char *origin);

#endif /* JG_PARSE_H */
