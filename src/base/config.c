/* config.c: defaults -> conf file -> environment -> command line, one table of keys.
 * Errors name the file, the line, the key and what is expected (style.md §4). */
#include "base/config.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/parse.h"
#include "base/xalloc.h"

static const char *const transport_names[JG_TR_COUNT] = {
    "websocket", "htmlfile", "xhr-polling", "jsonp-polling",
};

const char *jg_transport_name(enum jg_transport_kind kind)
{
    return (unsigned)kind < JG_TR_COUNT ? transport_names[kind] : "none";
}

int jg_transport_parse(const char *name, size_t len)
{
    for (int i = 0; i < JG_TR_COUNT; i++)
        if (strlen(transport_names[i]) == len && memcmp(transport_names[i], name, len) == 0)
            return i;
    return -1;
}

void jg_config_defaults(struct jg_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->port = 8080;
    cfg->bind = jg_xstrdup("0.0.0.0");
    cfg->public_dir = jg_xstrdup("public");
    cfg->redis_host = jg_xstrdup("127.0.0.1");
    cfg->redis_port = 6379;
    cfg->redis_queue_limit = 10000;
    cfg->redis_queue_bytes = 64u << 20;
    cfg->redis_timeout = 5;
    cfg->health_redis_grace = 30;
    cfg->max_publish_size = 1 << 20;
    cfg->transports = (1u << JG_TR_COUNT) - 1;
    cfg->heartbeat_interval = 10;
    cfg->heartbeat_timeout = 15;
    cfg->close_timeout = 25;
    cfg->polling_duration = 20;
    cfg->handshake_expiry = 30;
    cfg->max_connections = 19000;
    cfg->max_connections_per_ip = 0;
    cfg->max_unused_sessions = 10000;
    cfg->max_unused_sessions_per_ip = 0;
    cfg->max_header_size = 8192;
    cfg->max_post_body = 1 << 20;
    cfg->max_message_size = 1 << 20;
    cfg->max_output_buffer = 8 << 20;
    cfg->max_output_total = 512u << 20;
    cfg->max_session_queue = 1000;
    cfg->max_channel_length = 256;
    cfg->max_subscriptions = 1000;
    cfg->admin_bind = jg_xstrdup("127.0.0.1");
    cfg->private_prefix = jg_xstrdup("private-");
    cfg->drain_period = 10;
    cfg->io_uring = true;
    cfg->header_timeout = 10;
    cfg->keepalive_timeout = 60;
    cfg->log_level = JG_LOG_INFO;
    cfg->cluster = true;
    cfg->presence_max_members = 1000;
    cfg->instance_timeout = 5;
    cfg->leader_lease = 3;
    cfg->cluster_log_size = 10000;
    cfg->cluster_ring_size = 10000;
    cfg->cluster_ring_bytes = 16u << 20;
    cfg->history = jg_xstrdup("* 100 3600");
}

static void free_origins(struct jg_config *cfg)
{
    for (size_t i = 0; i < cfg->norigins; i++)
        free(cfg->origins[i]);
    free(cfg->origins);
    cfg->origins = NULL;
    cfg->norigins = 0;
}

void jg_config_deinit(struct jg_config *cfg)
{
    free(cfg->bind);
    free(cfg->public_dir);
    free(cfg->redis_host);
    free(cfg->redis_password);
    free(cfg->log_file);
    free(cfg->pidfile);
    free(cfg->cluster_secret);
    free(cfg->admin_bind);
    free(cfg->auth_secret);
    free(cfg->private_prefix);
    free(cfg->agent_bind);
    free(cfg->history);
    free(cfg->publish_token);
    free_origins(cfg);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- value parsers: each returns 0 or -1 with ERR saying what is expected ---- */

/* "<prefix> <count> <max-age-seconds>" rules separated by ';' ("*" = every channel). */
static int parse_history(struct jg_config *cfg, const char *v, char *err, size_t errlen)
{
    char *copy = jg_xstrdup(v), *save = NULL;
    int rc = 0;
    for (char *rule = strtok_r(copy, ";", &save); rule; rule = strtok_r(NULL, ";", &save)) {
        char prefix[300], count[24], age[24], extra;
        if (strspn(rule, " \t") == strlen(rule))
            continue;
        if (sscanf(rule, " %299s %23s %23s %c", prefix, count, age, &extra) != 3 ||
            strspn(count, "0123456789") != strlen(count) || strspn(age, "0123456789") != strlen(age)) {
            snprintf(err, errlen, "rules \"<prefix> <count> <max-age-seconds>\" separated by \";\" "
                                  "(\"*\" = every channel, count 0 = no history), e.g. \"* 100 3600; tmp: 0 0\"");
            rc = -1;
            break;
        }
    }
    free(copy);
    if (rc == 0) {
        free(cfg->history);
        cfg->history = jg_xstrdup(v);
    }
    return rc;
}

static void set_string(char **field, const char *v)
{
    free(*field);
    *field = *v ? jg_xstrdup(v) : NULL;
}

/* redis://[user][:password@]host[:port][/db] (also the original's REDISTOGO_URL form). */
/* publish-token-file PATH: publish-token is the file's content (one line; trailing
 * whitespace dropped), so a package can keep a generated token out of the conffile. Only a
 * regular file is read (never a FIFO or a device that would block). */
static int parse_publish_token_file(struct jg_config *cfg, const char *path, char *err, size_t errlen)
{
    if (!*path)
        return 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "cannot read %s: %s", path, fd < 0 ? strerror(errno) : "not a regular file");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char buf[257];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    buf[n] = '\0';
    size_t len = strcspn(buf, "\r\n");
    while (len && isspace((unsigned char)buf[len - 1]))
        len--;
    buf[len] = '\0';
    if (len < 16 || len == sizeof buf - 2) {
        snprintf(err, errlen, "%s: expected a token of 16 to 255 characters on its first line", path);
        return -1;
    }
    set_string(&cfg->publish_token, buf);
    return 0;
}

/* redis-url (and REDISTOGO_URL): host, port, db and password at once. */
static int parse_redis_url(struct jg_config *cfg, const char *url, char *err, size_t errlen)
{
    struct jg_redis_url u;
    if (jg_parse_redis_url(url, &u, err, errlen) < 0)
        return -1;
    free(cfg->redis_host);
    cfg->redis_host = u.host;
    cfg->redis_port = u.port;
    cfg->redis_db = u.db;
    free(cfg->redis_password);
    cfg->redis_password = u.password;
    return 0;
}

static int parse_transports(struct jg_config *cfg, const char *v, char *err, size_t errlen)
{
    unsigned bits = 0;
    const char *p = v;
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n) {
            int k = jg_transport_parse(p, n);
            if (k < 0) {
                snprintf(err, errlen, "expected a comma list of websocket, htmlfile, xhr-polling, "
                         "jsonp-polling; \"%.*s\" is not one", (int)n, p);
                return -1;
            }
            bits |= 1u << k;
        }
        p += n;
        p += strspn(p, ", ");
    }
    if (!bits) {
        snprintf(err, errlen, "expected at least one transport");
        return -1;
    }
    cfg->transports = bits;
    return 0;
}

static int parse_origins(struct jg_config *cfg, const char *v, char *err, size_t errlen)
{
    free_origins(cfg);
    const char *p = v;
    while (*p) {
        size_t n = strcspn(p, ", ");
        if (n) {
            if (n == 3 && memcmp(p, "*:*", 3) == 0) {
                free_origins(cfg);     /* everything allowed: no list at all */
                return 0;
            }
            cfg->origins = jg_xrealloc(cfg->origins, (cfg->norigins + 1) * sizeof *cfg->origins);
            cfg->origins[cfg->norigins++] = jg_xstrndup(p, n);
        }
        p += n;
        p += strspn(p, ", ");
    }
    if (!cfg->norigins) {
        snprintf(err, errlen, "expected \"*:*\" or a list of host:port entries");
        return -1;
    }
    return 0;
}

static int parse_redis_db(struct jg_config *cfg, const char *v, char *err, size_t errlen)
{
    size_t n;
    if (jg_parse_size(v, &n, 0, err, errlen) < 0 || n > 1000000) {
        snprintf(err, errlen, "expected a database number 0-1000000, got \"%s\"", v);
        return -1;
    }
    cfg->redis_db = (int)n;
    return 0;
}

static int parse_log_level(struct jg_config *cfg, const char *v, char *err, size_t errlen)
{
    int l = jg_log_level_parse(v);
    if (l < 0) {
        snprintf(err, errlen, "expected debug, info, warn, error or silent, got \"%s\"", v);
        return -1;
    }
    cfg->log_level = l;
    return 0;
}

static int parse_public_stats(struct jg_config *cfg, const char *v, char *err, size_t errlen)
{
    static const char *const names[] = { "counters", "full", "off" };
    for (int i = 0; i < 3; i++) {
        if (!strcmp(v, names[i])) {
            cfg->public_stats = (enum jg_public_stats)i;
            return 0;
        }
    }
    snprintf(err, errlen, "expected counters, full or off, got \"%s\"", v);
    return -1;
}

/* How a key's text becomes a value. */
enum key_type {
    K_PORT,              /* int, 1-65535 */
    K_PORT_OR_OFF,       /* int, 0 (off) or 1-65535 */
    K_SECONDS,           /* double >= min */
    K_SECONDS_OR_OFF,    /* double, 0 (off) or >= min */
    K_SIZE,              /* size_t >= min, k/m/g suffix */
    K_BOOL,              /* yes/no */
    K_STRING,            /* char *, "" = NULL */
    K_NONEMPTY,          /* char *, must not be empty; WHAT says what it is */
    K_SECRET,            /* char *, "" = NULL, else >= 16 characters; WHAT says whose */
    K_CUSTOM,            /* PARSE does it all */
};

struct key {
    const char *name;
    enum key_type type;
    size_t offset;                               /* of the field in struct jg_config */
    double min;                                  /* K_SECONDS*, K_SIZE */
    const char *what;                            /* K_NONEMPTY, K_SECRET */
    int (*parse)(struct jg_config *cfg, const char *v, char *err, size_t errlen);   /* K_CUSTOM */
};

#define F(field) offsetof(struct jg_config, field)

/* Every key of the config file; conf/juggernautd.conf documents each one. */
static const struct key keys[] = {
    { "port", K_PORT, F(port), 0, NULL, NULL },
    { "bind", K_NONEMPTY, F(bind), 0, "an IP address", NULL },
    { "public-dir", K_NONEMPTY, F(public_dir), 0, "a directory", NULL },
    { "redis-url", K_CUSTOM, 0, 0, NULL, parse_redis_url },
    { "redis-host", K_NONEMPTY, F(redis_host), 0, "a host name or address", NULL },
    { "redis-port", K_PORT, F(redis_port), 0, NULL, NULL },
    { "redis-password", K_STRING, F(redis_password), 0, NULL, NULL },
    { "redis-db", K_CUSTOM, 0, 0, NULL, parse_redis_db },
    { "redis-queue-limit", K_SIZE, F(redis_queue_limit), 0, NULL, NULL },
    { "redis-queue-bytes", K_SIZE, F(redis_queue_bytes), 65536, NULL, NULL },
    { "redis-timeout", K_SECONDS, F(redis_timeout), 0.1, NULL, NULL },
    { "health-redis-grace", K_SECONDS, F(health_redis_grace), 0.1, NULL, NULL },
    { "max-publish-size", K_SIZE, F(max_publish_size), 16, NULL, NULL },
    { "transports", K_CUSTOM, 0, 0, NULL, parse_transports },
    { "heartbeat-interval", K_SECONDS, F(heartbeat_interval), 0.05, NULL, NULL },
    { "heartbeat-timeout", K_SECONDS, F(heartbeat_timeout), 0.05, NULL, NULL },
    { "close-timeout", K_SECONDS, F(close_timeout), 0.05, NULL, NULL },
    { "polling-duration", K_SECONDS, F(polling_duration), 0.05, NULL, NULL },
    { "handshake-expiry", K_SECONDS, F(handshake_expiry), 0.05, NULL, NULL },
    { "origins", K_CUSTOM, 0, 0, NULL, parse_origins },
    { "duplicate-subscribe", K_BOOL, F(duplicate_subscribe), 0, NULL, NULL },
    { "max-connections", K_SIZE, F(max_connections), 1, NULL, NULL },
    { "max-connections-per-ip", K_SIZE, F(max_connections_per_ip), 0, NULL, NULL },
    { "max-unused-sessions", K_SIZE, F(max_unused_sessions), 1, NULL, NULL },
    { "max-unused-sessions-per-ip", K_SIZE, F(max_unused_sessions_per_ip), 0, NULL, NULL },
    { "max-header-size", K_SIZE, F(max_header_size), 256, NULL, NULL },
    { "max-post-body", K_SIZE, F(max_post_body), 16, NULL, NULL },
    { "max-message-size", K_SIZE, F(max_message_size), 16, NULL, NULL },
    { "max-output-buffer", K_SIZE, F(max_output_buffer), 1024, NULL, NULL },
    { "max-output-total", K_SIZE, F(max_output_total), 65536, NULL, NULL },
    { "max-session-queue", K_SIZE, F(max_session_queue), 1, NULL, NULL },
    { "max-channel-length", K_SIZE, F(max_channel_length), 1, NULL, NULL },
    { "max-subscriptions", K_SIZE, F(max_subscriptions), 1, NULL, NULL },
    { "header-timeout", K_SECONDS, F(header_timeout), 0.05, NULL, NULL },
    { "keepalive-timeout", K_SECONDS, F(keepalive_timeout), 0.05, NULL, NULL },
    { "admin-bind", K_NONEMPTY, F(admin_bind), 0, "an IP address", NULL },
    { "admin-port", K_PORT_OR_OFF, F(admin_port), 0, NULL, NULL },
    { "public-stats", K_CUSTOM, 0, 0, NULL, parse_public_stats },
    { "agent-bind", K_STRING, F(agent_bind), 0, NULL, NULL },
    { "agent-port", K_PORT_OR_OFF, F(agent_port), 0, NULL, NULL },
    { "drain-period", K_SECONDS_OR_OFF, F(drain_period), 0.05, NULL, NULL },
    { "reuse-port", K_BOOL, F(reuse_port), 0, NULL, NULL },
    { "io-uring", K_BOOL, F(io_uring), 0, NULL, NULL },
    { "daemonize", K_BOOL, F(daemonize), 0, NULL, NULL },
    { "auth-secret", K_SECRET, F(auth_secret), 0, "the secret the Rails app signs with", NULL },
    { "private-prefix", K_NONEMPTY, F(private_prefix), 0, "a channel name prefix such as private-", NULL },
    { "require-meta-auth", K_BOOL, F(require_meta_auth), 0, NULL, NULL },
    { "cluster-secret", K_SECRET, F(cluster_secret), 0, "a long random string shared by the instances", NULL },
    { "cluster", K_BOOL, F(cluster), 0, NULL, NULL },
    { "instance-timeout", K_SECONDS, F(instance_timeout), 1, NULL, NULL },
    { "leader-lease", K_SECONDS, F(leader_lease), 1, NULL, NULL },
    { "cluster-log-size", K_SIZE, F(cluster_log_size), 100, NULL, NULL },
    { "cluster-ring-size", K_SIZE, F(cluster_ring_size), 100, NULL, NULL },
    { "cluster-ring-bytes", K_SIZE, F(cluster_ring_bytes), 65536, NULL, NULL },
    { "history", K_CUSTOM, 0, 0, NULL, parse_history },
    { "presence-max-members", K_SIZE, F(presence_max_members), 1, NULL, NULL },
    { "publish-token", K_SECRET, F(publish_token), 0, "the token publishers send to POST /publish", NULL },
    { "publish-token-file", K_CUSTOM, 0, 0, NULL, parse_publish_token_file },
    { "log-level", K_CUSTOM, 0, 0, NULL, parse_log_level },
    { "log-file", K_STRING, F(log_file), 0, NULL, NULL },
    { "access-log", K_BOOL, F(access_log), 0, NULL, NULL },
    { "pidfile", K_STRING, F(pidfile), 0, NULL, NULL },
};

int jg_config_set(struct jg_config *cfg, const char *key, const char *v, char *err, size_t errlen)
{
    const struct key *k = NULL;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !k; i++)
        if (!strcmp(keys[i].name, key))
            k = &keys[i];
    if (!k) {
        snprintf(err, errlen, "unknown key (see conf/juggernautd.conf for the list)");
        return -1;
    }
    char *field = (char *)cfg + k->offset;
    bool off = !strcmp(v, "0");
    switch (k->type) {
    case K_PORT_OR_OFF:
        if (off) {
            *(int *)(void *)field = 0;
            return 0;
        }
        /* fall through */
    case K_PORT:
        return jg_parse_port(v, (int *)(void *)field, err, errlen);
    case K_SECONDS_OR_OFF:
        if (off) {
            *(double *)(void *)field = 0;
            return 0;
        }
        /* fall through */
    case K_SECONDS:
        return jg_parse_seconds(v, (double *)(void *)field, k->min, err, errlen);
    case K_SIZE:
        return jg_parse_size(v, (size_t *)(void *)field, (size_t)k->min, err, errlen);
    case K_BOOL:
        return jg_parse_bool(v, (bool *)(void *)field, err, errlen);
    case K_NONEMPTY:
        if (!*v) {
            snprintf(err, errlen, "expected %s", k->what);
            return -1;
        }
        /* fall through */
    case K_STRING:
        set_string((char **)(void *)field, v);
        return 0;
    case K_SECRET:
        if (*v && strlen(v) < 16) {
            snprintf(err, errlen, "expected at least 16 characters (%s), or \"\" for none", k->what);
            return -1;
        }
        set_string((char **)(void *)field, v);
        return 0;
    case K_CUSTOM:
        return k->parse(cfg, v, err, errlen);
    }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

int jg_config_load(struct jg_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%d: line longer than %zu bytes", path, lineno, sizeof line - 1);
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *key = s;
        size_t klen = strcspn(s, " \t");
        char *value = s + klen;
        if (*value)
            *value++ = '\0';
        value = trim(value);
        /* a value may be quoted to keep spaces or be empty */
        size_t vlen = strlen(value);
        if (vlen >= 2 && value[0] == '"' && value[vlen - 1] == '"') {
            value[vlen - 1] = '\0';
            value++;
        }
        char why[512];
        if (jg_config_set(cfg, key, value, why, sizeof why) < 0) {
            snprintf(err, errlen, "%s:%d: %s: %s", path, lineno, key, why);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int jg_config_apply_env(struct jg_config *cfg, char *err, size_t errlen)
{
    static const char *const names[] = { "REDISTOGO_URL", "REDIS_URL" };
    char why[512];
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(names[i]);
        if (v && *v && parse_redis_url(cfg, v, why, sizeof why) < 0) {
            snprintf(err, errlen, "environment %s: %s", names[i], why);
            return -1;
        }
    }
    const char *port = getenv("PORT");
    if (port && *port && jg_parse_port(port, &cfg->port, why, sizeof why) < 0) {
        snprintf(err, errlen, "environment PORT: %s", why);
        return -1;
    }
    return 0;
}

int jg_config_check(const struct jg_config *cfg, char *err, size_t errlen)
{
    if (cfg->polling_duration >= cfg->close_timeout) {
        snprintf(err, errlen, "polling-duration (%g s) must be shorter than close-timeout (%g s): "
                 "clients poll again only after an answer", cfg->polling_duration, cfg->close_timeout);
        return -1;
    }
    if (cfg->require_meta_auth && !cfg->auth_secret) {
        snprintf(err, errlen, "require-meta-auth needs auth-secret");
        return -1;
    }
    if (cfg->heartbeat_interval >= cfg->heartbeat_timeout)
        jg_warn("heartbeat-interval (%g s) >= heartbeat-timeout (%g s): socket.io-client 0.9 "
                "reconnects when heartbeats come slower than the advertised timeout",
                cfg->heartbeat_interval, cfg->heartbeat_timeout);
    return 0;
}

static void note(char *changed, size_t len, const char *key)
{
    size_t used = strlen(changed);
    if (strstr(changed, key))
        return;
    snprintf(changed + used, len - used, "%s%s", used ? ", " : "", key);
}

static bool same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

#define KEEP_INT(field, key) \
    do { \
        if (fresh->field != live->field) \
            note(changed, len, key); \
        fresh->field = live->field; \
    } while (0)
#define KEEP_STR(field, key) \
    do { \
        if (!same_str(fresh->field, live->field)) \
            note(changed, len, key); \
        free(fresh->field); \
        fresh->field = live->field; \
        live->field = NULL; \
    } while (0)

void jg_config_keep_fixed(struct jg_config *fresh, struct jg_config *live, char *changed, size_t len)
{
    changed[0] = '\0';
    KEEP_INT(port, "port");
    KEEP_STR(bind, "bind");
    KEEP_INT(admin_port, "admin-port");
    KEEP_STR(admin_bind, "admin-bind");
    KEEP_INT(agent_port, "agent-port");
    KEEP_STR(agent_bind, "agent-bind");
    KEEP_INT(reuse_port, "reuse-port");
    KEEP_INT(io_uring, "io-uring");
    KEEP_STR(redis_host, "redis-url");
    KEEP_INT(redis_port, "redis-url");
    KEEP_STR(redis_password, "redis-url");
    KEEP_INT(redis_db, "redis-url");
    KEEP_STR(cluster_secret, "cluster-secret");
    KEEP_INT(cluster, "cluster");
    KEEP_INT(cluster_ring_size, "cluster-ring-size");
    KEEP_INT(cluster_ring_bytes, "cluster-ring-bytes");
    KEEP_INT(daemonize, "daemonize");
    KEEP_STR(pidfile, "pidfile");
}

void jg_config_transports_list(const struct jg_config *cfg, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; i < JG_TR_COUNT; i++) {
        if (!(cfg->transports & (1u << i)))
            continue;
        size_t need = strlen(transport_names[i]) + (used ? 1 : 0);
        if (used + need >= outlen)
            break;   /* only whole names */
        snprintf(out + used, outlen - used, "%s%s", used ? "," : "", transport_names[i]);
        used += need;
    }
}

/* socket.io 0.8 origin rules (base/parse.h). */
bool jg_config_origin_allowed(const struct jg_config *cfg, const char *origin)
{
    return !cfg->origins || jg_origin_allowed(cfg->origins, cfg->norigins, origin);
}
