/* test_config.c: settings (include/config.h): defaults, every key of jg_config_set with good
 * and bad values, the file parser and its "PATH:LINE: key: ..." errors, redis URLs, the
 * environment, the transports list and origin matching. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/config.h"
#include "base/log.h"

/* ---- helpers ---- */

static int setup_cfg(void **state)
{
    struct jg_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return -1;
    jg_config_defaults(cfg);
    *state = cfg;
    return 0;
}

static int teardown_cfg(void **state)
{
    struct jg_config *cfg = *state;
    jg_config_deinit(cfg);
    free(cfg);
    return 0;
}

/* Sets KEY to VALUE and expects success. */
static void set_ok(struct jg_config *cfg, const char *key, const char *value)
{
    char err[512] = "";
    int rc = jg_config_set(cfg, key, value, err, sizeof err);
    if (rc != 0)
        fail_msg("%s \"%s\" refused: %s", key, value, err);
}

/* Sets KEY to VALUE and expects a refusal whose text contains WANT (the "expected" part). */
static void set_bad(struct jg_config *cfg, const char *key, const char *value, const char *want)
{
    char err[512] = "";
    int rc = jg_config_set(cfg, key, value, err, sizeof err);
    if (rc != -1)
        fail_msg("%s \"%s\" accepted, want an error containing \"%s\"", key, value, want);
    if (!strstr(err, want))
        fail_msg("%s \"%s\": error \"%s\" does not contain \"%s\"", key, value, err, want);
}

/* Writes TEXT to a new temporary file; its path goes into PATH (at least 64 bytes). */
static void write_temp(char *path, const char *text)
{
    strcpy(path, "/tmp/jg_test_config_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

/* Loads TEXT as a config file into CFG; returns jg_config_load's result, error in ERR
 * with the temporary path replaced by "F" so tests can compare whole messages. */
static int load_text(struct jg_config *cfg, const char *text, char *err, size_t errlen)
{
    char path[64];
    char raw[1024] = "";
    write_temp(path, text);
    int rc = jg_config_load(cfg, path, raw, sizeof raw);
    unlink(path);
    size_t plen = strlen(path);
    if (rc != 0 && strncmp(raw, path, plen) == 0)
        snprintf(err, errlen, "F%s", raw + plen);
    else
        snprintf(err, errlen, "%s", raw);
    return rc;
}

static void clear_env(void)
{
    unsetenv("REDIS_URL");
    unsetenv("REDISTOGO_URL");
    unsetenv("PORT");
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
    struct jg_config *cfg = *state;
    assert_int_equal(cfg->port, 8080);
    assert_string_equal(cfg->bind, "0.0.0.0");
    assert_string_equal(cfg->public_dir, "public");
    assert_string_equal(cfg->redis_host, "127.0.0.1");
    assert_int_equal(cfg->redis_port, 6379);
    assert_null(cfg->redis_password);
    assert_int_equal(cfg->redis_db, 0);
    assert_int_equal(cfg->transports, 0xf);
    assert_true(cfg->heartbeat_interval == 10);
    assert_true(cfg->heartbeat_timeout == 15);
    assert_true(cfg->close_timeout == 25);
    assert_true(cfg->polling_duration == 20);
    assert_true(cfg->handshake_expiry == 30);
    assert_true(cfg->header_timeout == 10);
    assert_true(cfg->keepalive_timeout == 60);
    assert_null(cfg->cluster_secret);
    assert_null(cfg->origins);
    assert_int_equal(cfg->norigins, 0);
    assert_false(cfg->duplicate_subscribe);
    assert_int_equal(cfg->log_level, JG_LOG_INFO);
    assert_null(cfg->log_file);
    assert_null(cfg->pidfile);
    assert_true(cfg->max_connections > 0);
    assert_true(cfg->max_header_size >= 256);
    assert_true(cfg->max_post_body >= 16);
    assert_true(cfg->max_session_queue > 0);
    char err[256] = "";
    assert_int_equal(jg_config_check(cfg, err, sizeof err), 0);
    char list[128];
    jg_config_transports_list(cfg, list, sizeof list);
    assert_string_equal(list, "websocket,htmlfile,xhr-polling,jsonp-polling");
}

/* ---- every key ---- */

static void test_set_every_key(void **state)
{
    struct jg_config *cfg = *state;
    set_ok(cfg, "port", "18080");
    assert_int_equal(cfg->port, 18080);
    set_ok(cfg, "bind", "127.0.0.1");
    assert_string_equal(cfg->bind, "127.0.0.1");
    set_ok(cfg, "public-dir", "/srv/www");
    assert_string_equal(cfg->public_dir, "/srv/www");
    set_ok(cfg, "redis-host", "redis.local");
    assert_string_equal(cfg->redis_host, "redis.local");
    set_ok(cfg, "redis-port", "6380");
    assert_int_equal(cfg->redis_port, 6380);
    set_ok(cfg, "redis-password", "s3cret");
    assert_string_equal(cfg->redis_password, "s3cret");
    set_ok(cfg, "redis-password", "");
    assert_null(cfg->redis_password);
    set_ok(cfg, "redis-db", "5");
    assert_int_equal(cfg->redis_db, 5);
    set_ok(cfg, "redis-queue-limit", "0");
    assert_int_equal(cfg->redis_queue_limit, 0);
    set_ok(cfg, "redis-queue-limit", "2k");
    assert_int_equal(cfg->redis_queue_limit, 2048);
    set_ok(cfg, "transports", "xhr-polling");
    assert_int_equal(cfg->transports, 1u << JG_TR_XHR_POLLING);
    set_ok(cfg, "heartbeat-interval", "2.5");
    assert_true(cfg->heartbeat_interval == 2.5);
    set_ok(cfg, "heartbeat-timeout", "7");
    assert_true(cfg->heartbeat_timeout == 7);
    set_ok(cfg, "close-timeout", "60");
    assert_true(cfg->close_timeout == 60);
    set_ok(cfg, "polling-duration", "0.25");
    assert_true(cfg->polling_duration == 0.25);
    set_ok(cfg, "handshake-expiry", "45");
    assert_true(cfg->handshake_expiry == 45);
    set_ok(cfg, "header-timeout", "2.5");
    assert_true(cfg->header_timeout == 2.5);
    set_ok(cfg, "keepalive-timeout", "120");
    assert_true(cfg->keepalive_timeout == 120);
    set_ok(cfg, "cluster-secret", "0123456789abcdef");
    assert_string_equal(cfg->cluster_secret, "0123456789abcdef");
    set_ok(cfg, "cluster-secret", "");
    assert_null(cfg->cluster_secret);
    set_ok(cfg, "origins", "a.example:80");
    assert_int_equal(cfg->norigins, 1);
    assert_string_equal(cfg->origins[0], "a.example:80");
    set_ok(cfg, "duplicate-subscribe", "yes");
    assert_true(cfg->duplicate_subscribe);
    set_ok(cfg, "duplicate-subscribe", "no");
    assert_false(cfg->duplicate_subscribe);
    set_ok(cfg, "duplicate-subscribe", "TRUE");
    assert_true(cfg->duplicate_subscribe);
    set_ok(cfg, "duplicate-subscribe", "off");
    assert_false(cfg->duplicate_subscribe);
    set_ok(cfg, "max-connections", "100");
    assert_int_equal(cfg->max_connections, 100);
    set_ok(cfg, "max-header-size", "16k");
    assert_int_equal(cfg->max_header_size, 16384);
    set_ok(cfg, "max-post-body", "2m");
    assert_int_equal(cfg->max_post_body, 2 << 20);
    set_ok(cfg, "max-message-size", "64KB");
    assert_int_equal(cfg->max_message_size, 65536);
    set_ok(cfg, "max-output-buffer", "1g");
    assert_int_equal(cfg->max_output_buffer, (size_t)1 << 30);
    set_ok(cfg, "max-session-queue", "5");
    assert_int_equal(cfg->max_session_queue, 5);
    set_ok(cfg, "max-channel-length", "64");
    assert_int_equal(cfg->max_channel_length, 64);
    set_ok(cfg, "max-subscriptions", "3");
    assert_int_equal(cfg->max_subscriptions, 3);
    set_ok(cfg, "log-level", "debug");
    assert_int_equal(cfg->log_level, JG_LOG_DEBUG);
    set_ok(cfg, "log-level", "WARN");
    assert_int_equal(cfg->log_level, JG_LOG_WARN);
    set_ok(cfg, "log-level", "silent");
    assert_int_equal(cfg->log_level, JG_LOG_SILENT);
    set_ok(cfg, "log-file", "/var/log/jg.log");
    assert_string_equal(cfg->log_file, "/var/log/jg.log");
    set_ok(cfg, "log-file", "");
    assert_null(cfg->log_file);
    set_ok(cfg, "pidfile", "/run/jg.pid");
    assert_string_equal(cfg->pidfile, "/run/jg.pid");
    set_ok(cfg, "redis-url", "redis://r.example:7000/2");
    assert_string_equal(cfg->redis_host, "r.example");
    assert_int_equal(cfg->redis_port, 7000);
    assert_int_equal(cfg->redis_db, 2);
}

static void test_set_bad_values(void **state)
{
    struct jg_config *cfg = *state;
    set_bad(cfg, "port", "0", "expected a port number 1-65535");
    set_bad(cfg, "port", "65536", "expected a port number 1-65535");
    set_bad(cfg, "port", "80x", "expected a port number 1-65535, got \"80x\"");
    set_bad(cfg, "port", "", "expected a port number");
    set_bad(cfg, "port", "-1", "expected a port number");
    set_bad(cfg, "redis-port", "http", "expected a port number");
    set_bad(cfg, "bind", "", "expected an IP address");
    set_bad(cfg, "redis-host", "", "expected a host");
    set_bad(cfg, "redis-db", "x", "got \"x\"");
    set_bad(cfg, "redis-queue-limit", "-3", "expected a whole number >= 0");
    set_bad(cfg, "heartbeat-interval", "0", "expected a number of seconds");
    set_bad(cfg, "heartbeat-timeout", "abc", "expected a number of seconds");
    set_bad(cfg, "close-timeout", "-1", "expected a number of seconds");
    set_bad(cfg, "polling-duration", "nan", "expected a number of seconds");
    set_bad(cfg, "polling-duration", "inf", "expected a number of seconds");
    set_bad(cfg, "handshake-expiry", "90000", "between 0.05 and 86400");
    set_bad(cfg, "handshake-expiry", "5s", "got \"5s\"");
    set_bad(cfg, "header-timeout", "0", "expected a number of seconds");
    set_bad(cfg, "keepalive-timeout", "never", "expected a number of seconds");
    set_bad(cfg, "cluster-secret", "short", "expected at least 16 characters");
    set_bad(cfg, "duplicate-subscribe", "maybe", "expected yes or no");
    set_bad(cfg, "max-connections", "0", "expected a whole number >= 1");
    set_bad(cfg, "max-header-size", "100", "expected a whole number >= 256");
    set_bad(cfg, "max-post-body", "10", "expected a whole number >= 16");
    set_bad(cfg, "max-message-size", "1t", "expected a whole number");
    set_bad(cfg, "max-output-buffer", "1000", "expected a whole number >= 1024");
    set_bad(cfg, "max-session-queue", "lots", "expected a whole number");
    set_bad(cfg, "max-channel-length", "1.5", "expected a whole number");
    set_bad(cfg, "max-subscriptions", "99999999999999999999999", "expected a whole number");
    set_bad(cfg, "max-subscriptions", "20000000000000g", "expected a whole number");
    set_bad(cfg, "log-level", "verbose", "expected debug, info, warn, error or silent");
    set_bad(cfg, "transports", "bogus", "\"bogus\" is not one");
    set_bad(cfg, "transports", "websocket,flashsocket", "\"flashsocket\" is not one");
    set_bad(cfg, "transports", " , ", "expected at least one transport");
    set_bad(cfg, "origins", "", "expected \"*:*\" or a list");
    set_bad(cfg, "redis-url", "localhost:6379", "expected redis://");
    /* nothing of the refused values stuck */
    assert_int_equal(cfg->port, 8080);
    assert_int_equal(cfg->transports, 0xf);
    assert_true(cfg->heartbeat_interval == 10);
}

static void test_unknown_key(void **state)
{
    struct jg_config *cfg = *state;
    set_bad(cfg, "prot", "8080", "unknown key");
    set_bad(cfg, "Port", "8080", "unknown key");
    set_bad(cfg, "", "x", "unknown key");
}

/* Every refusal must say what is expected, whatever the range check that failed. */
static void test_redis_db_out_of_range_has_message(void **state)
{
    struct jg_config *cfg = *state;
    set_bad(cfg, "redis-db", "2000000", "expected");
    assert_int_equal(cfg->redis_db, 0);
}

/* A leading blank must not let a negative number through strtoull (" -1" = SIZE_MAX). */
static void test_size_negative_with_leading_space(void **state)
{
    struct jg_config *cfg = *state;
    set_bad(cfg, "max-connections", " -1", "expected a whole number");
    set_bad(cfg, "max-output-buffer", "\t-5k", "expected a whole number");
    assert_int_equal(cfg->max_connections, 19000);
}

/* public-dir is required by the server (jg_static_load): an empty value must be refused, not
 * turned into NULL (juggernautd --public "" crashed in opendir(NULL)). */
static void test_public_dir_empty_refused(void **state)
{
    struct jg_config *cfg = *state;
    char err[512] = "";
    int rc = jg_config_set(cfg, "public-dir", "", err, sizeof err);
    assert_non_null(cfg->public_dir);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, "expected"));
}

/* ---- file parser ---- */

static void test_load_file(void **state)
{
    struct jg_config *cfg = *state;
    char err[1024];
    int rc = load_text(cfg,
                       "# comment\n"
                       "\n"
                       "   # indented comment\n"
                       "port 9090\n"
                       "\t\n"
                       "bind   127.0.0.1   \n"
                       "public-dir \"/srv/my files\"\n"
                       "pidfile \"\"\n"
                       "log-file \"x\"\r\n"
                       "transports\txhr-polling, jsonp-polling\n"
                       "origins http://a.example:80 b.example:*\n"
                       "close-timeout 30\n"
                       "polling-duration 1.5\n"
                       "redis-url redis://:pw@r.example:7001/4\n"
                       "duplicate-subscribe yes",   /* no newline at the end */
                       err, sizeof err);
    if (rc != 0)
        fail_msg("load failed: %s", err);
    assert_int_equal(cfg->port, 9090);
    assert_string_equal(cfg->bind, "127.0.0.1");
    assert_string_equal(cfg->public_dir, "/srv/my files");
    assert_null(cfg->pidfile);
    assert_string_equal(cfg->log_file, "x");
    assert_int_equal(cfg->transports, (1u << JG_TR_XHR_POLLING) | (1u << JG_TR_JSONP_POLLING));
    assert_int_equal(cfg->norigins, 2);
    assert_string_equal(cfg->origins[0], "http://a.example:80");
    assert_string_equal(cfg->origins[1], "b.example:*");
    assert_true(cfg->close_timeout == 30);
    assert_true(cfg->polling_duration == 1.5);
    assert_string_equal(cfg->redis_host, "r.example");
    assert_int_equal(cfg->redis_port, 7001);
    assert_string_equal(cfg->redis_password, "pw");
    assert_int_equal(cfg->redis_db, 4);
    assert_true(cfg->duplicate_subscribe);
}

static void test_load_errors(void **state)
{
    struct jg_config *cfg = *state;
    char err[1024];
    assert_int_equal(load_text(cfg, "port 8080\n\n# c\nport 0\n", err, sizeof err), -1);
    assert_string_equal(err, "F:4: port: expected a port number 1-65535, got \"0\"");
    assert_int_equal(load_text(cfg, "bogus-key 1\n", err, sizeof err), -1);
    assert_string_equal(err, "F:1: bogus-key: unknown key (see conf/juggernautd.conf for the list)");
    assert_int_equal(load_text(cfg, "# x\nheartbeat-interval soon\n", err, sizeof err), -1);
    assert_string_equal(err, "F:2: heartbeat-interval: expected a number of seconds between 0.05 and 86400, "
                             "got \"soon\"");
    /* a key without a value */
    assert_int_equal(load_text(cfg, "port\n", err, sizeof err), -1);
    assert_string_equal(err, "F:1: port: expected a port number 1-65535, got \"\"");
    /* the parser stops at the first bad line: later lines are not applied */
    assert_int_equal(load_text(cfg, "transports bogus\nport 1234\n", err, sizeof err), -1);
    assert_string_equal(err, "F:1: transports: expected a comma list of websocket, htmlfile, xhr-polling, "
                             "jsonp-polling; \"bogus\" is not one");
    assert_int_equal(cfg->port, 8080);
    /* comments are whole lines only (like redis.conf) */
    assert_int_equal(load_text(cfg, "port 8081 # http\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "F:1: port: expected a port number"));
    /* a line longer than the buffer */
    char *big = malloc(6000);
    assert_non_null(big);
    memset(big, 'a', 5000);
    strcpy(big + 5000, " 1\nport 1\n");
    assert_int_equal(load_text(cfg, big, err, sizeof err), -1);
    assert_non_null(strstr(err, "F:1: line longer than"));
    free(big);
}

static void test_load_missing_file(void **state)
{
    struct jg_config *cfg = *state;
    char err[512] = "";
    assert_int_equal(jg_config_load(cfg, "/nonexistent/jg.conf", err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/jg.conf: cannot open: No such file or directory");
}

static void test_load_quoted_values(void **state)
{
    struct jg_config *cfg = *state;
    char err[1024];
    /* quotes keep inner spaces; an unbalanced quote is part of the value */
    assert_int_equal(load_text(cfg, "redis-password \" a b \"\nlog-file \"x\n", err, sizeof err), 0);
    assert_string_equal(cfg->redis_password, " a b ");
    assert_string_equal(cfg->log_file, "\"x");
    assert_int_equal(load_text(cfg, "redis-password \"\"\n", err, sizeof err), 0);
    assert_null(cfg->redis_password);
    assert_int_equal(load_text(cfg, "port \"8090\"\n", err, sizeof err), 0);
    assert_int_equal(cfg->port, 8090);
}

/* The shipped example configuration loads as is and equals the defaults it documents. */
static void test_load_shipped_conf(void **state)
{
    struct jg_config *cfg = *state;
    char err[1024] = "";
    if (jg_config_load(cfg, "conf/juggernautd.conf", err, sizeof err) != 0)
        fail_msg("conf/juggernautd.conf (run from the repository root): %s", err);
    struct jg_config def;
    jg_config_defaults(&def);
    assert_int_equal(cfg->port, def.port);
    assert_string_equal(cfg->bind, def.bind);
    assert_string_equal(cfg->public_dir, def.public_dir);
    assert_string_equal(cfg->redis_host, def.redis_host);
    assert_int_equal(cfg->redis_port, def.redis_port);
    assert_int_equal(cfg->transports, def.transports);
    assert_true(cfg->heartbeat_interval == def.heartbeat_interval);
    assert_true(cfg->heartbeat_timeout == def.heartbeat_timeout);
    assert_true(cfg->close_timeout == def.close_timeout);
    assert_true(cfg->polling_duration == def.polling_duration);
    assert_true(cfg->handshake_expiry == def.handshake_expiry);
    assert_true(cfg->header_timeout == def.header_timeout);
    assert_true(cfg->keepalive_timeout == def.keepalive_timeout);
    assert_null(cfg->cluster_secret);
    assert_null(cfg->origins);
    assert_int_equal(cfg->max_connections, def.max_connections);
    assert_int_equal(cfg->max_header_size, def.max_header_size);
    assert_int_equal(cfg->max_post_body, def.max_post_body);
    assert_int_equal(cfg->max_message_size, def.max_message_size);
    assert_int_equal(cfg->max_output_buffer, def.max_output_buffer);
    assert_int_equal(cfg->max_session_queue, def.max_session_queue);
    assert_int_equal(cfg->max_channel_length, def.max_channel_length);
    assert_int_equal(cfg->max_subscriptions, def.max_subscriptions);
    assert_int_equal(cfg->log_level, def.log_level);
    assert_null(cfg->log_file);
    assert_null(cfg->pidfile);
    jg_config_deinit(&def);
}

/* ---- redis URLs ---- */

static void test_redis_url_forms(void **state)
{
    struct jg_config *cfg = *state;
    set_ok(cfg, "redis-url", "redis://h.example:7000");
    assert_string_equal(cfg->redis_host, "h.example");
    assert_int_equal(cfg->redis_port, 7000);
    assert_null(cfg->redis_password);
    assert_int_equal(cfg->redis_db, 0);

    set_ok(cfg, "redis-url", "redis://:pw@h2:7001/3");
    assert_string_equal(cfg->redis_host, "h2");
    assert_int_equal(cfg->redis_port, 7001);
    assert_string_equal(cfg->redis_password, "pw");
    assert_int_equal(cfg->redis_db, 3);

    /* REDISTOGO_URL form: user:password@host, default port */
    set_ok(cfg, "redis-url", "redis://redistogo:abc123@h3");
    assert_string_equal(cfg->redis_host, "h3");
    assert_int_equal(cfg->redis_port, 6379);
    assert_string_equal(cfg->redis_password, "abc123");
    assert_int_equal(cfg->redis_db, 0);

    /* a user without a password, a trailing slash, a db without a port */
    set_ok(cfg, "redis-url", "redis://user@h4:7002/");
    assert_string_equal(cfg->redis_host, "h4");
    assert_int_equal(cfg->redis_port, 7002);
    assert_null(cfg->redis_password);
    assert_int_equal(cfg->redis_db, 0);
    set_ok(cfg, "redis-url", "redis://h5/9");
    assert_string_equal(cfg->redis_host, "h5");
    assert_int_equal(cfg->redis_port, 6379);
    assert_int_equal(cfg->redis_db, 9);

    /* a password containing '@' and ':' */
    set_ok(cfg, "redis-url", "redis://:p@s:s@h6:7003");
    assert_string_equal(cfg->redis_password, "p@s:s");
    assert_string_equal(cfg->redis_host, "h6");
}

static void test_redis_url_bad(void **state)
{
    struct jg_config *cfg = *state;
    set_ok(cfg, "redis-url", "redis://:keep@keep.example:7777/7");
    set_bad(cfg, "redis-url", "http://h:6379", "expected redis://[:password@]host:port[/db], got \"http://h:6379\"");
    set_bad(cfg, "redis-url", "", "expected redis://");
    set_bad(cfg, "redis-url", "redis://", "expected a host in redis URL \"redis://\"");
    set_bad(cfg, "redis-url", "redis://:6379", "expected a host");
    set_bad(cfg, "redis-url", "redis://:pw@", "expected a host");
    set_bad(cfg, "redis-url", "redis://h:0", "expected a port 1-65535 in redis URL");
    set_bad(cfg, "redis-url", "redis://h:70000", "expected a port 1-65535");
    set_bad(cfg, "redis-url", "redis://h:", "expected a port 1-65535");
    set_bad(cfg, "redis-url", "redis://h:63x79", "expected a port 1-65535");
    set_bad(cfg, "redis-url", "redis://h:6379/x", "expected a database number after /");
    set_bad(cfg, "redis-url", "redis://h:6379/1/2", "expected a database number");
    set_bad(cfg, "redis-url", "redis://h/-1", "expected a database number");
    /* a refused URL changes nothing */
    assert_string_equal(cfg->redis_host, "keep.example");
    assert_int_equal(cfg->redis_port, 7777);
    assert_string_equal(cfg->redis_password, "keep");
    assert_int_equal(cfg->redis_db, 7);
}

/* ---- environment ---- */

static void test_env(void **state)
{
    struct jg_config *cfg = *state;
    char err[1024] = "";
    clear_env();
    /* nothing set: nothing changes */
    assert_int_equal(jg_config_apply_env(cfg, err, sizeof err), 0);
    assert_int_equal(cfg->port, 8080);
    assert_string_equal(cfg->redis_host, "127.0.0.1");

    /* the environment overrides the file */
    assert_int_equal(load_text(cfg, "port 9000\nredis-url redis://file.example:1000\n", err, sizeof err), 0);
    setenv("PORT", "9100", 1);
    setenv("REDISTOGO_URL", "redis://redistogo:pw@togo.example:1001", 1);
    assert_int_equal(jg_config_apply_env(cfg, err, sizeof err), 0);
    assert_int_equal(cfg->port, 9100);
    assert_string_equal(cfg->redis_host, "togo.example");
    assert_int_equal(cfg->redis_port, 1001);
    assert_string_equal(cfg->redis_password, "pw");

    /* REDIS_URL wins over REDISTOGO_URL when both are set */
    setenv("REDIS_URL", "redis://url.example:1002/1", 1);
    assert_int_equal(jg_config_apply_env(cfg, err, sizeof err), 0);
    assert_string_equal(cfg->redis_host, "url.example");
    assert_int_equal(cfg->redis_port, 1002);
    assert_int_equal(cfg->redis_db, 1);
    assert_null(cfg->redis_password);

    /* empty variables are ignored */
    clear_env();
    setenv("REDIS_URL", "", 1);
    setenv("PORT", "", 1);
    assert_int_equal(jg_config_apply_env(cfg, err, sizeof err), 0);
    assert_string_equal(cfg->redis_host, "url.example");
    assert_int_equal(cfg->port, 9100);

    /* the command line (jg_config_set after apply_env) wins over the environment */
    setenv("PORT", "9200", 1);
    assert_int_equal(jg_config_apply_env(cfg, err, sizeof err), 0);
    set_ok(cfg, "port", "9300");
    assert_int_equal(cfg->port, 9300);
    clear_env();
}

static void test_env_errors(void **state)
{
    struct jg_config *cfg = *state;
    char err[1024] = "";
    clear_env();
    setenv("PORT", "http", 1);
    assert_int_equal(jg_config_apply_env(cfg, err, sizeof err), -1);
    assert_string_equal(err, "environment PORT: expected a port number 1-65535, got \"http\"");
    clear_env();
    setenv("REDIS_URL", "localhost:6379", 1);
    assert_int_equal(jg_config_apply_env(cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "environment REDIS_URL: expected redis://"));
    clear_env();
    setenv("REDISTOGO_URL", "redis://h:99999", 1);
    assert_int_equal(jg_config_apply_env(cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "environment REDISTOGO_URL: expected a port"));
    clear_env();
    assert_string_equal(cfg->redis_host, "127.0.0.1");
    assert_int_equal(cfg->redis_port, 6379);
}

/* ---- transports ---- */

static void test_transports(void **state)
{
    struct jg_config *cfg = *state;
    char list[128];
    /* the list is always in server preference order, whatever the order given */
    set_ok(cfg, "transports", "jsonp-polling, websocket");
    jg_config_transports_list(cfg, list, sizeof list);
    assert_string_equal(list, "websocket,jsonp-polling");
    set_ok(cfg, "transports", "xhr-polling,,htmlfile , xhr-polling");
    jg_config_transports_list(cfg, list, sizeof list);
    assert_string_equal(list, "htmlfile,xhr-polling");
    /* round trip */
    set_ok(cfg, "transports", "websocket,htmlfile,xhr-polling,jsonp-polling");
    jg_config_transports_list(cfg, list, sizeof list);
    assert_string_equal(list, "websocket,htmlfile,xhr-polling,jsonp-polling");
    set_ok(cfg, "transports", list);
    assert_int_equal(cfg->transports, 0xf);
    /* a short buffer keeps only whole names */
    char small[20];
    jg_config_transports_list(cfg, small, sizeof small);
    assert_string_equal(small, "websocket,htmlfile");

    for (int k = 0; k < JG_TR_COUNT; k++) {
        const char *name = jg_transport_name((enum jg_transport_kind)k);
        assert_int_equal(jg_transport_parse(name, strlen(name)), k);
    }
    assert_string_equal(jg_transport_name(JG_TR_COUNT), "none");
    assert_int_equal(jg_transport_parse("websockets", 10), -1);
    assert_int_equal(jg_transport_parse("websocket", 6), -1);   /* "websoc" */
    assert_int_equal(jg_transport_parse("", 0), -1);
    assert_int_equal(jg_transport_parse("flashsocket", 11), -1);
}

/* ---- origins ---- */

static bool allowed(struct jg_config *cfg, const char *origin)
{
    return jg_config_origin_allowed(cfg, origin);
}

static void test_origins(void **state)
{
    struct jg_config *cfg = *state;
    /* default "*:*": everything, even no Origin at all */
    assert_true(allowed(cfg, "http://anything.example:1234"));
    assert_true(allowed(cfg, NULL));
    set_ok(cfg, "origins", "*:*");
    assert_null(cfg->origins);
    assert_true(allowed(cfg, "https://x"));
    /* "*:*" anywhere in a list means everything */
    set_ok(cfg, "origins", "a.example:80 *:*");
    assert_null(cfg->origins);
    assert_int_equal(cfg->norigins, 0);

    set_ok(cfg, "origins", "a.example:80");
    assert_true(allowed(cfg, "http://a.example"));
    assert_true(allowed(cfg, "http://a.example:80"));
    assert_true(allowed(cfg, "http://A.Example"));
    assert_false(allowed(cfg, "http://a.example:3000"));
    assert_false(allowed(cfg, "https://a.example"));        /* 443 */
    assert_false(allowed(cfg, "http://b.example"));
    assert_false(allowed(cfg, "http://a.example.evil"));
    assert_false(allowed(cfg, "http://xa.example"));
    assert_false(allowed(cfg, NULL));
    assert_false(allowed(cfg, ""));

    set_ok(cfg, "origins", "*:3000");
    assert_true(allowed(cfg, "http://a.example:3000"));
    assert_true(allowed(cfg, "http://b.example:3000"));
    assert_false(allowed(cfg, "http://a.example"));
    assert_false(allowed(cfg, "http://a.example:30000"));

    set_ok(cfg, "origins", "a.example:*");
    assert_true(allowed(cfg, "http://a.example"));
    assert_true(allowed(cfg, "https://a.example:8443"));
    assert_false(allowed(cfg, "http://b.example"));

    /* bracketed IPv6 literals */
    set_ok(cfg, "origins", "[::1]:3000");
    assert_true(allowed(cfg, "http://[::1]:3000"));
    assert_false(allowed(cfg, "http://[::1]:3001"));
    assert_false(allowed(cfg, "http://[::2]:3000"));

    /* https default port 443 */
    set_ok(cfg, "origins", "s.example:443");
    assert_true(allowed(cfg, "https://s.example"));
    assert_true(allowed(cfg, "HTTPS://s.example"));
    assert_false(allowed(cfg, "http://s.example"));

    /* entries written as full origins, several entries */
    set_ok(cfg, "origins", "http://a.example:3000, https://b.example:*");
    assert_int_equal(cfg->norigins, 2);
    assert_true(allowed(cfg, "http://a.example:3000"));
    assert_false(allowed(cfg, "http://a.example"));
    assert_true(allowed(cfg, "https://b.example"));
    assert_true(allowed(cfg, "http://b.example:81"));
    assert_false(allowed(cfg, "http://c.example"));

    /* an Origin with a path (Referer-like) still matches on host and port */
    set_ok(cfg, "origins", "a.example:3000");
    assert_true(allowed(cfg, "http://a.example:3000/page"));
    assert_false(allowed(cfg, "http://a.example/page"));
}

/* ---- cross-key checks ---- */

static void test_check(void **state)
{
    struct jg_config *cfg = *state;
    char err[512] = "";
    set_ok(cfg, "polling-duration", "25");   /* == close-timeout 25 */
    assert_int_equal(jg_config_check(cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "polling-duration (25 s) must be shorter than close-timeout (25 s)"));
    set_ok(cfg, "close-timeout", "10");
    err[0] = '\0';
    assert_int_equal(jg_config_check(cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "polling-duration"));
    set_ok(cfg, "close-timeout", "25.5");
    assert_int_equal(jg_config_check(cfg, err, sizeof err), 0);
    /* heartbeat-interval >= heartbeat-timeout is only a warning */
    set_ok(cfg, "heartbeat-interval", "20");
    assert_int_equal(jg_config_check(cfg, err, sizeof err), 0);
}


/* Cluster mode: on by default; history rules are checked; publish-token is a secret. */
static void test_cluster_keys(void **state)
{
    struct jg_config *cfg = *state;
    assert_true(cfg->cluster);
    assert_string_equal(cfg->history, "* 100 3600");
    set_ok(cfg, "cluster", "no");
    assert_false(cfg->cluster);
    set_ok(cfg, "history", "* 100 3600; chat: 500 86400 ;tmp: 0 0");
    assert_string_equal(cfg->history, "* 100 3600; chat: 500 86400 ;tmp: 0 0");
    set_bad(cfg, "history", "* 100", "<prefix> <count> <max-age-seconds>");
    set_bad(cfg, "history", "chat: -1 5", "<prefix> <count> <max-age-seconds>");
    set_bad(cfg, "history", "chat: 1 5 extra", "<prefix> <count> <max-age-seconds>");
    assert_string_equal(cfg->history, "* 100 3600; chat: 500 86400 ;tmp: 0 0");   /* unchanged */
    set_bad(cfg, "publish-token", "short", "16");
    set_ok(cfg, "publish-token", "0123456789abcdef0123");
    set_ok(cfg, "instance-timeout", "2");
    set_bad(cfg, "instance-timeout", "0.5", "");
    set_bad(cfg, "cluster-ring-size", "10", "");
}

/* publish-token-file: the token is the file's first line; a missing file, a short token
 * and anything but a regular file are refused with the reason. */
static void test_publish_token_file(void **state)
{
    struct jg_config *cfg = *state;
    char tok[64], conf[160], err[512] = "";
    write_temp(tok, "0123456789abcdef0123\n");
    snprintf(conf, sizeof conf, "publish-token-file %s\n", tok);
    assert_int_equal(load_text(cfg, conf, err, sizeof err), 0);
    assert_string_equal(cfg->publish_token, "0123456789abcdef0123");
    unlink(tok);
    assert_int_equal(load_text(cfg, conf, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file or directory"));
    write_temp(tok, "short\n");
    snprintf(conf, sizeof conf, "publish-token-file %s\n", tok);
    assert_int_equal(load_text(cfg, conf, err, sizeof err), -1);
    assert_non_null(strstr(err, "expected a token of 16 to 255 characters"));
    unlink(tok);
    assert_int_equal(load_text(cfg, "publish-token-file /tmp\n", err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
    assert_int_equal(load_text(cfg, "publish-token-file \"\"\n", err, sizeof err), 0);
}

int main(void)
{
    jg_log_threshold = JG_LOG_ERROR;   /* the heartbeat warning of test_check */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_set_every_key, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_set_bad_values, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_unknown_key, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_redis_db_out_of_range_has_message, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_size_negative_with_leading_space, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_public_dir_empty_refused, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_load_file, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_load_errors, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_load_missing_file, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_load_quoted_values, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_load_shipped_conf, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_redis_url_forms, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_redis_url_bad, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_env, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_env_errors, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_transports, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_origins, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_check, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_cluster_keys, setup_cfg, teardown_cfg),
        cmocka_unit_test_setup_teardown(test_publish_token_file, setup_cfg, teardown_cfg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
