/* parse.c: text to values for the config (parse.h). */
#include "base/parse.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/xalloc.h"

int jg_parse_size(const char *v, size_t *out, size_t min, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)v[0])) {   /* strtoull would take " -1" as a huge number */
        snprintf(err, errlen, "expected a whole number >= %zu (k, m or g suffix allowed), got \"%s\"", min, v);
        return -1;
    }
    unsigned long long n = strtoull(v, &end, 10);
    unsigned long long mult = 1;
    if (end != v) {
        if (*end == 'k' || *end == 'K')
            mult = 1024, end++;
        else if (*end == 'm' || *end == 'M')
            mult = 1024 * 1024, end++;
        else if (*end == 'g' || *end == 'G')
            mult = 1024ull * 1024 * 1024, end++;
        if ((*end == 'b' || *end == 'B') && mult > 1)
            end++;
    }
    if (end == v || *end || errno || v[0] == '-' || n * mult < min || n > (unsigned long long)SIZE_MAX / mult) {
        snprintf(err, errlen, "expected a whole number >= %zu (k, m or g suffix allowed), got \"%s\"", min, v);
        return -1;
    }
    *out = (size_t)(n * mult);
    return 0;
}

int jg_parse_seconds(const char *v, double *out, double min, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (end == v || *end || errno || !isfinite(d) || d < min || d > 86400) {
        snprintf(err, errlen, "expected a number of seconds between %g and 86400, got \"%s\"", min, v);
        return -1;
    }
    *out = d;
    return 0;
}

int jg_parse_port(const char *v, int *out, char *err, size_t errlen)
{
    size_t n;
    if (jg_parse_size(v, &n, 1, err, errlen) < 0 || n > 65535) {
        snprintf(err, errlen, "expected a port number 1-65535, got \"%s\"", v);
        return -1;
    }
    *out = (int)n;
    return 0;
}

int jg_parse_bool(const char *v, bool *out, char *err, size_t errlen)
{
    if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "on"))
        *out = true;
    else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "off"))
        *out = false;
    else {
        snprintf(err, errlen, "expected yes or no, got \"%s\"", v);
        return -1;
    }
    return 0;
}

int jg_parse_redis_url(const char *url, struct jg_redis_url *out, char *err, size_t errlen)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) {
        snprintf(err, errlen, "expected redis://[:password@]host:port[/db], got \"%s\"", url);
        return -1;
    }
    p += 8;
    char *password = NULL;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon && at > colon + 1)
            password = jg_xstrndup(colon + 1, (size_t)(at - colon - 1));
        p = at + 1;
    }
    const char *hostend = p + strcspn(p, ":/");
    if (hostend == p) {
        free(password);
        snprintf(err, errlen, "expected a host in redis URL \"%s\"", url);
        return -1;
    }
    int port = 6379, db = 0;
    const char *q = hostend;
    if (*q == ':') {
        char *end;
        long n = strtol(q + 1, &end, 10);
        if (end == q + 1 || n < 1 || n > 65535 || (*end && *end != '/')) {
            free(password);
            snprintf(err, errlen, "expected a port 1-65535 in redis URL \"%s\"", url);
            return -1;
        }
        port = (int)n;
        q = end;
    }
    if (*q == '/' && q[1]) {
        char *end;
        long n = strtol(q + 1, &end, 10);
        if (end == q + 1 || *end || n < 0 || n > 1000000) {
            free(password);
            snprintf(err, errlen, "expected a database number after / in redis URL \"%s\"", url);
            return -1;
        }
        db = (int)n;
    }
    out->host = jg_xstrndup(p, (size_t)(hostend - p));
    out->port = port;
    out->db = db;
    out->password = password;
    return 0;
}

/* Length of the host at the start of S: up to ':' or '/', or a bracketed IPv6 literal. */
static size_t host_length(const char *s)
{
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close)
            return (size_t)(close - s) + 1;
    }
    return strcspn(s, ":/");
}

/* socket.io 0.8 origin rules: entries "host:port" where either side may be "*"; an
 * entry may also be written as a full origin "scheme://host:port". A missing port
 * in the Origin means 80 (443 for https). */
bool jg_origin_allowed(char *const *origins, size_t norigins, const char *origin)
{
    if (!origin || !*origin)
        return false;
    const char *hostp = origin;
    const char *scheme_end = strstr(origin, "://");
    bool https = false;
    if (scheme_end) {
        https = (size_t)(scheme_end - origin) == 5 && !strncasecmp(origin, "https", 5);
        hostp = scheme_end + 3;
    }
    size_t hlen = host_length(hostp);
    char port[16];
    if (hostp[hlen] == ':')
        snprintf(port, sizeof port, "%.*s", (int)strcspn(hostp + hlen + 1, "/"), hostp + hlen + 1);
    else
        snprintf(port, sizeof port, "%s", https ? "443" : "80");
    for (size_t i = 0; i < norigins; i++) {
        const char *e = origins[i];
        const char *se = strstr(e, "://");
        if (se)
            e = se + 3;
        size_t elen = host_length(e);
        const char *eport = e[elen] == ':' ? e + elen + 1 : "*";
        bool host_ok = (elen == 1 && e[0] == '*') || (elen == hlen && !strncasecmp(e, hostp, hlen));
        bool port_ok = !strcmp(eport, "*") || !strcmp(eport, port);
        if (host_ok && port_ok)
            return true;
    }
    return false;
}
