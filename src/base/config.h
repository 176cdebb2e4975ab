/* config.h: settings with their defaults, read from a `key value` file, the environment
 * (PORT, REDIS_URL, REDISTOGO_URL) and the command line, in that order of precedence
 * (later wins). One table in config.c lists every key; conf/juggernautd.conf documents it. */
#ifndef JG_CONFIG_H
#define JG_CONFIG_H
#include <stdbool.h>
#include <stddef.h>

/* Transport bits, in the server's preference order (protocol.md §3.2). */
enum jg_transport_kind {
    JG_TR_WEBSOCKET = 0,
    JG_TR_HTMLFILE,
    JG_TR_XHR_POLLING,
    JG_TR_JSONP_POLLING,
    JG_TR_COUNT
};

struct jg_config {
    /* listening */
    int port;
    char *bind;                  /* owned; address to listen on */
    char *public_dir;            /* owned; static files (index.html, application.js) */
    /* Redis */
    char *redis_host;            /* owned */
    int redis_port;
    char *redis_password;        /* owned; NULL = no AUTH */
    int redis_db;
    size_t redis_queue_limit;    /* events kept while Redis is away (count) */
    size_t redis_queue_bytes;    /* bytes of the commands queued or awaiting Redis's reply */
    double redis_timeout;        /* s: Redis not answering PING this long is reconnected */
    double health_redis_grace;   /* s: /health stays 200 this long after Redis went away */
    size_t max_publish_size;     /* bytes of one message from Redis; larger ones are dropped */
    /* socket.io */
    unsigned transports;         /* bit (1 << jg_transport_kind) per enabled transport */
    double heartbeat_interval;   /* s: 2:: sent this long after open / the last reply */
    double heartbeat_timeout;    /* s: no 2:: reply within this ends the session */
    double close_timeout;        /* s: no transport for this long ends the session */
    double polling_duration;     /* s: a long-poll GET is answered 8:: after this */
    double handshake_expiry;     /* s: a handshaken sid never used is forgotten */
    char **origins;              /* owned; NULL = allow every origin ("*:*") */
    size_t norigins;
    bool duplicate_subscribe;    /* quirk J1: a second subscribe delivers twice */
    /* limits */
    size_t max_connections;      /* open client connections */
    size_t max_connections_per_ip;   /* ... from one address (0 = no limit) */
    size_t max_unused_sessions;  /* handshaken sessions no transport request used yet */
    size_t max_unused_sessions_per_ip;   /* ... handshaken from one address (0 = no limit) */
    size_t max_header_size;      /* bytes of request line + headers */
    size_t max_post_body;        /* bytes of a polling POST body */
    size_t max_message_size;     /* bytes of one WebSocket message from a client */
    size_t max_output_buffer;    /* bytes queued for one connection before it is dropped */
    size_t max_output_total;     /* bytes queued for all connections: past it the slowest go */
    size_t max_session_queue;    /* packets buffered for a session between polls */
    size_t max_channel_length;   /* bytes of a channel name */
    size_t max_subscriptions;    /* channels per session */
    double header_timeout;       /* s: a request must be complete this long after its first byte */
    double keepalive_timeout;    /* s: an idle keep-alive connection is closed after this */
    /* operations */
    char *admin_bind;            /* owned; address of the admin port */
    int admin_port;              /* 0 = no admin port (health/stats stay on the main port) */
    enum jg_public_stats {       /* /stats and /metrics on the main (public) port */
        JG_PUBLIC_STATS_COUNTERS = 0,   /* counters only: no channel names */
        JG_PUBLIC_STATS_FULL,           /* with the busiest channels' names, as the admin port */
        JG_PUBLIC_STATS_OFF,            /* 404: operators use the admin port */
    } public_stats;
    char *agent_bind;            /* owned; NULL = same as bind */
    int agent_port;              /* 0 = no HAProxy agent-check port */
    double drain_period;         /* s: SIGTERM spreads session ends over this long */
    bool reuse_port;             /* SO_REUSEPORT: two instances may share the port */
    bool io_uring;               /* write to many clients in one system call (transport/uring.h) */
    bool daemonize;              /* fork into the background (non-systemd hosts) */
    /* authorization */
    char *auth_secret;           /* owned; NULL = no private channels, no signed meta */
    char *private_prefix;        /* owned; channels starting with it need an "auth" signature */
    bool require_meta_auth;      /* meta must carry a valid "auth" signature */
    /* cluster */
    char *cluster_secret;        /* owned; NULL = plain sids, no adoption across instances */
    bool cluster;                /* cluster mode: sequenced messages, sessions in Redis */
    double instance_timeout;     /* s: an instance silent this long is dead (reaped) */
    double leader_lease;         /* s: the leader's lease in Redis */
    size_t cluster_log_size;     /* entries of jg:log */
    size_t cluster_ring_size;    /* recent sequenced messages kept in memory */
    size_t cluster_ring_bytes;   /* ... and their bytes at most */
    char *history;               /* owned; "<prefix> <count> <age-s>;..." */
    size_t presence_max_members; /* presence entries one snapshot or /presence reads */
    char *publish_token;         /* owned; NULL = no POST /publish on the admin port */
    /* process */
    int log_level;               /* enum jg_log_level */
    bool access_log;             /* one info line per HTTP answer */
    char *log_file;              /* owned; NULL = stderr */
    char *pidfile;               /* owned; NULL = none */
};

/* Fills CFG with the defaults (port 8080, Redis 127.0.0.1:6379, Juggernaut 2.1.1 timings
 * except the 10 s heartbeat interval of protocol.md §11.3). */
void jg_config_defaults(struct jg_config *cfg);
void jg_config_deinit(struct jg_config *cfg);

/* Sets one key from its text value. On error writes "what is expected" into ERR and
 * returns -1. Used by the file parser and by command-line flags. */
int jg_config_set(struct jg_config *cfg, const char *key, const char *value, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Reads PATH. On error writes "PATH:LINE: key: what is expected" into ERR, returns -1. */
int jg_config_load(struct jg_config *cfg, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Applies REDIS_URL / REDISTOGO_URL and PORT from the environment. */
int jg_config_apply_env(struct jg_config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Cross-key checks (polling duration < close timeout, ...). Returns -1 with ERR set. */
int jg_config_check(const struct jg_config *cfg, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Reload (SIGHUP): FRESH was read anew; the keys that cannot change while running (listening
 * addresses, Redis address, cluster secret, daemonize) are moved over from LIVE so they stay
 * as they are. The names of those that differed are written, comma separated, into CHANGED
 * ("" when none). */
void jg_config_keep_fixed(struct jg_config *fresh, struct jg_config *live, char *changed, size_t len);

/* "websocket,htmlfile,xhr-polling,jsonp-polling" restricted to the enabled ones. */
void jg_config_transports_list(const struct jg_config *cfg, char *out, size_t outlen);
const char *jg_transport_name(enum jg_transport_kind kind);
/* Returns the kind for NAME (LEN bytes), or -1. */
int jg_transport_parse(const char *name, size_t len);

/* True if ORIGIN (an Origin header value, e.g. "http://a.example:3000") is allowed. */
bool jg_config_origin_allowed(const struct jg_config *cfg, const char *origin);

#endif /* JG_CONFIG_H */
