/* bench.h: helpers shared by the benchmark programs (loadgen, ceiling): clocks, CPU
 * pinning, /proc readers for a server process, a log-linear latency histogram, loopback
 * sockets. Not part of the daemon; see bench/README.md. */
#ifndef BENCH_H
#define BENCH_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* CLOCK_MONOTONIC in nanoseconds: one clock for every process on the machine, so a
 * timestamp written by the publisher is comparable with one read by a receiver. */
int64_t bench_now_ns(void);
/* CPU time (user + system) of this process, of its waited-for children, in ns. */
int64_t bench_self_cpu_ns(void);
int64_t bench_children_cpu_ns(void);
/* Pins the calling process to one CPU (-1 = leave alone). 0 on success. */
int bench_pin_cpu(int cpu);

/* What /proc says about a server process; -1 where a file could not be read. */
struct bench_proc {
    int64_t cpu_ns;       /* CPU time of all threads: /proc/PID/task/.../schedstat (exact),
                           * or utime + stime from /proc/PID/stat (10 ms ticks) without it */
    int64_t wait_ns;      /* time spent runnable but waiting for a CPU (schedstat), or -1 */
    int64_t syscw;        /* write-type syscalls from /proc/PID/io (write, writev, ...) */
    int64_t rss_kb;       /* VmRSS from /proc/PID/status */
    int64_t pss_kb;       /* Pss from /proc/PID/smaps_rollup */
};
void bench_proc_read(int pid, struct bench_proc *out);

/* Latency histogram: exact below 64 ns, then 64 sub-buckets per power of two (relative
 * error < 1.6 %). Values are nanoseconds. Plain arrays, so they can live in shared
 * memory between a worker and its parent. */
#define HIST_SUB 64
#define HIST_BUCKETS (HIST_SUB + 40 * HIST_SUB)
struct bench_hist {
    uint64_t count;
    uint64_t max;
    uint64_t b[HIST_BUCKETS];
};
void bench_hist_add(struct bench_hist *h, int64_t v);
void bench_hist_merge(struct bench_hist *into, const struct bench_hist *from);
/* The value below which a fraction Q (0..1) of the samples lie; 0 when empty. */
uint64_t bench_hist_quantile(const struct bench_hist *h, double q);

/* A non-blocking TCP socket connecting to 127.0.0.1:PORT from source address
 * 127.0.0.SRC (1..254; spreading clients over source addresses keeps the ephemeral port
 * range from running out when thousands of connections open and close). Returns the fd
 * (connect in progress) or -1. */
int bench_connect(int port, int src);
/* Blocking HTTP GET of PATH on 127.0.0.1:PORT; the whole answer (headers and body) goes
 * into BUF (NUL-terminated). Returns the byte count, or -1. */
int bench_http_get(int port, const char *path, char *buf, size_t cap);
/* The integer that follows KEY in TEXT, as in `"KEY":123` (JSON) or `KEY: 123` (text);
 * -1 when absent. */
int64_t bench_find_num(const char *text, const char *key);

#endif /* BENCH_H */
