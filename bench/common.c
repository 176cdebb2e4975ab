/* common.c: helpers shared by loadgen and ceiling (bench.h). */
#include "bench.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t rusage_ns(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return ((int64_t)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000 +
           ((int64_t)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000;
}

int64_t bench_self_cpu_ns(void) { return rusage_ns(RUSAGE_SELF); }
int64_t bench_children_cpu_ns(void) { return rusage_ns(RUSAGE_CHILDREN); }

int bench_pin_cpu(int cpu)
{
    if (cpu < 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof set, &set);
}

/* Reads a small /proc file into BUF; byte count or -1. */
/* Reads FD until EOF, an error or CAP - 1 bytes; NUL-terminates; returns the length. */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    while (len < cap - 1) {
        ssize_t n = read(fd, buf + len, cap - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

static ssize_t slurp(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = read_all(fd, buf, cap);
    close(fd);
    return (ssize_t)len;
}

/* CPU time of every thread of PID in ns from /proc/PID/task/TID/schedstat (the
 * scheduler's exact run time, no clock-tick rounding); -1 when unavailable. */
static int64_t schedstat_ns(int pid, int64_t *wait_ns)
{
    char path[300], buf[256];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int64_t sum = 0, wait = 0;
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        if (slurp(path, buf, sizeof buf) > 0) {
            char *end;
            sum += strtoll(buf, &end, 10);      /* on-CPU time */
            wait += strtoll(end, NULL, 10);     /* run-queue delay */
            seen++;
        }
    }
    closedir(d);
    *wait_ns = seen ? wait : -1;
    return seen ? sum : -1;
}

void bench_proc_read(int pid, struct bench_proc *out)
{
    char path[64], buf[8192];
    out->cpu_ns = out->wait_ns = out->syscw = out->rss_kb = out->pss_kb = -1;
    if (pid <= 0)
        return;
    out->cpu_ns = schedstat_ns(pid, &out->wait_ns);
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (out->cpu_ns < 0 && slurp(path, buf, sizeof buf) > 0) {
        /* fields after the ")" that ends the command name: state is field 3, utime 14,
         * stime 15 */
        char *p = strrchr(buf, ')');
        unsigned long long ut = 0, st = 0;
        if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                        &ut, &st) == 2) {
            long hz = sysconf(_SC_CLK_TCK);
            out->cpu_ns = (int64_t)(ut + st) * (1000000000 / (hz > 0 ? hz : 100));
        }
    }
    snprintf(path, sizeof path, "/proc/%d/io", pid);
    if (slurp(path, buf, sizeof buf) > 0)
        out->syscw = bench_find_num(buf, "syscw");
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (slurp(path, buf, sizeof buf) > 0)
        out->rss_kb = bench_find_num(buf, "VmRSS");
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", pid);
    if (slurp(path, buf, sizeof buf) > 0)
        out->pss_kb = bench_find_num(buf, "Pss");
}

static int hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (int)v;
    int e = 63 - __builtin_clzll(v); /* >= 6 */
    if (e > 6 + 39)
        return HIST_BUCKETS - 1;
    int sub = (int)((v >> (e - 6)) & (HIST_SUB - 1));
    return HIST_SUB + (e - 6) * HIST_SUB + sub;
}

static uint64_t hist_value(int i)
{
    if (i < HIST_SUB)
        return (uint64_t)i;
    int e = (i - HIST_SUB) / HIST_SUB + 6;
    int sub = (i - HIST_SUB) % HIST_SUB;
    uint64_t lo = (uint64_t)(HIST_SUB + sub) << (e - 6);
    return lo + (((uint64_t)1 << (e - 6)) >> 1); /* middle of the bucket */
}

void bench_hist_add(struct bench_hist *h, int64_t v)
{
    if (v < 0)
        v = 0;
    h->b[hist_index((uint64_t)v)]++;
    h->count++;
    if ((uint64_t)v > h->max)
        h->max = (uint64_t)v;
}

void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from)
{
    for (int i = 0; i < HIST_BUCKETS; i++)
        into->b[i] += from->b[i];
    into->count += from->count;
    if (from->max > into->max)
        into->max = from->max;
}

uint64_t bench_hist_quantile(const struct bench_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->count);
    if (want >= h->count)
        want = h->count - 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > want) {
            uint64_t v = hist_value(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

int bench_connect(int port, int src)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    if (src > 1 && src < 255) {
        /* choose the port at connect() time, against the full 4-tuple */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        sa.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t)src);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            close(fd);
            return -1;
        }
    }
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

int bench_http_get(int port, const char *path, char *buf, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {.tv_sec = 3, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    char req[512];
    int rl = snprintf(req, sizeof req,
                      "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n",
                      path, port);
    if (write(fd, req, (size_t)rl) != rl) {
        close(fd);
        return -1;
    }
    size_t len = read_all(fd, buf, cap);
    close(fd);
    return len > 0 ? (int)len : -1;
}

int64_t bench_find_num(const char *text, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = strstr(text, key); p; p = strstr(p + 1, key)) {
        /* a whole key: not preceded by a name character */
        if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
            continue;
        const char *q = p + kl;
        if (*q == '"')
            q++;
        if (*q != ':')
            continue;
        q++;
        while (*q == ' ' || *q == '\t')
            q++;
        if (!isdigit((unsigned char)*q) && *q != '-')
            continue;
        return strtoll(q, NULL, 10);
    }
    return -1;
}
