/* ceiling.c: the kernel's limit for fan-out on this machine. Writes one prebuilt
 * ~100-byte WebSocket frame per message to each of N connected loopback sockets: one
 * write(2) per socket per message, or (--coalesce K) one writev(2) carrying K frames, or
 * (--uring B) the sends of B sockets in one io_uring call, as juggernautd makes them.
 * Nothing else happens in the writer (no parsing, no queues, no event loop), so no server
 * can do better with the same system calls. Reader processes, pinned to another CPU, drain
 * the sockets and report when every byte has arrived.
 *
 * Output (one line, same keys as loadgen): rate = deliveries/s, srv_cpu_us = writer CPU
 * per delivery, srv_writes = write calls per delivery. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <liburing.h>

#include "bench.h"

#define MAX_READERS 16
#define MAX_COALESCE 64
#define MAX_URING 4096

struct reader_report {
    int64_t t_done;   /* CLOCK_MONOTONIC when the last expected byte arrived (0 = never) */
    int64_t cpu_ns;   /* reader CPU time during the run */
    uint64_t bytes;
};

static void die(const char *what)
{
    fprintf(stderr, "ceiling: %s: %s\n", what, strerror(errno));
    exit(2);
}

/* Connects COUNT sockets to PORT, tells the parent, drains them until EXPECT bytes came. */
static void reader_main(int port, int count, uint64_t expect, int cpu, int ready_fd, int go_fd,
                        int report_fd)
{
    bench_pin_cpu(cpu);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    for (int i = 0; i < count; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket");
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons((uint16_t)port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
            die("connect");
        fcntl(fd, F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            die("epoll_ctl");
    }
    char c = 'r';
    if (write(ready_fd, &c, 1) != 1)
        die("ready pipe");
    if (read(go_fd, &c, 1) != 1) /* the writer starts */
        _exit(1);
    int64_t cpu0 = bench_self_cpu_ns();
    static char buf[256 * 1024];
    struct epoll_event evs[512];
    struct reader_report rep = {0};
    int64_t deadline = bench_now_ns() + (int64_t)600 * 1000000000;
    while (rep.bytes < expect && bench_now_ns() < deadline) {
        int n = epoll_wait(ep, evs, 512, 1000);
        for (int i = 0; i < n; i++) {
            ssize_t r = read(evs[i].data.fd, buf, sizeof buf);
            if (r > 0)
                rep.bytes += (uint64_t)r;
        }
    }
    rep.t_done = rep.bytes >= expect ? bench_now_ns() : 0;
    rep.cpu_ns = bench_self_cpu_ns() - cpu0;
    if (write(report_fd, &rep, sizeof rep) != (ssize_t)sizeof rep)
        die("report pipe");
    _exit(0);
}

int main(int argc, char **argv)
{
    int n = 1000, coalesce = 1, size = 100, readers = 0, wcpu = -1, rcpu = -1, batch = 0;
    long messages = 1000;
    static const struct option lo[] = {
        {"messages", 1, 0, 'm'}, {"coalesce", 1, 0, 'k'}, {"size", 1, 0, 's'},
        {"readers", 1, 0, 'r'}, {"writer-cpu", 1, 0, 'W'}, {"reader-cpu", 1, 0, 'R'},
        {"uring", 1, 0, 'U'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "n:m:k:s:r:", lo, NULL)) != -1) {
        switch (ch) {
        case 'n': n = atoi(optarg); break;
        case 'm': messages = atol(optarg); break;
        case 'k': coalesce = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'r': readers = atoi(optarg); break;
        case 'W': wcpu = atoi(optarg); break;
        case 'R': rcpu = atoi(optarg); break;
        case 'U': batch = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: ceiling -n SOCKETS -m MESSAGES [--coalesce K] [--size B]\n"
                            "               [--readers R] [--writer-cpu C] [--reader-cpu C] [--uring B]\n");
            return 2;
        }
    }
    if (coalesce < 1 || coalesce > MAX_COALESCE || size < 3 || size > 125 + 2 || n < 1 || batch < 0 ||
        batch > MAX_URING || (batch && coalesce > 1))
        return fprintf(stderr, "ceiling: bad arguments\n"), 2;
    messages -= messages % coalesce;
    if (readers <= 0)
        readers = n > 8000 ? (n + 7999) / 8000 : 1;
    if (readers > MAX_READERS)
        readers = MAX_READERS;
    signal(SIGPIPE, SIG_IGN);

    /* the frame a server would send: FIN + text, 7-bit length, payload */
    uint8_t frame[128];
    frame[0] = 0x81;
    frame[1] = (uint8_t)(size - 2);
    memset(frame + 2, 'x', (size_t)size - 2);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        die("socket");
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 4096) != 0 ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl) != 0)
        die("listen");
    int port = ntohs(sa.sin_port);

    int ready[2], go[2], report[2];
    if (pipe(ready) != 0 || pipe(go) != 0 || pipe(report) != 0)
        die("pipe");
    pid_t pids[MAX_READERS];
    for (int r = 0; r < readers; r++) {
        int count = n / readers + (r < n % readers ? 1 : 0);
        uint64_t expect = (uint64_t)count * (uint64_t)messages * (uint64_t)size;
        pids[r] = fork();
        if (pids[r] < 0)
            die("fork");
        if (pids[r] == 0) {
            close(lfd);
            reader_main(port, count, expect, rcpu, ready[1], go[0], report[1]);
        }
    }
    bench_pin_cpu(wcpu);
    int *fds = calloc((size_t)n, sizeof *fds);
    if (!fds)
        die("calloc");
    for (int i = 0; i < n; i++) {
        fds[i] = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fds[i] < 0)
            die("accept");
        int one = 1;
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    for (int r = 0; r < readers; r++) {
        char c;
        if (read(ready[0], &c, 1) != 1)
            die("reader");
    }

    struct iovec iov[MAX_COALESCE];
    for (int k = 0; k < coalesce; k++) {
        iov[k].iov_base = frame;
        iov[k].iov_len = (size_t)size;
    }
    char gob[MAX_READERS];
    memset(gob, 'g', sizeof gob);
    if (write(go[1], gob, (size_t)readers) != readers)
        die("go pipe");
    struct bench_proc p0, p1;
    bench_proc_read(getpid(), &p0);
    int64_t cpu0 = bench_self_cpu_ns();
    int64_t t0 = bench_now_ns();
    uint64_t calls = 0;
    struct io_uring ring;
    if (batch && io_uring_queue_init(MAX_URING, &ring, 0) != 0)
        die("io_uring_queue_init");
    for (long m = 0; batch && m < messages; m++) {
        /* a batch of sends, one call; every one must have gone whole (blocking sockets) */
        for (int i = 0; i < n;) {
            int k = 0;
            for (; k < batch && i < n; k++, i++)
                io_uring_prep_send(io_uring_get_sqe(&ring), fds[i], frame, (size_t)size, 0);
            if (io_uring_submit_and_wait(&ring, (unsigned)k) < 0)
                die("io_uring_submit_and_wait");
            calls++;
            struct io_uring_cqe *cqe;
            unsigned head, seen = 0;
            io_uring_for_each_cqe(&ring, head, cqe) {
                if (cqe->res != size) {
                    errno = cqe->res < 0 ? -cqe->res : EIO;
                    die("send");
                }
                seen++;
            }
            io_uring_cq_advance(&ring, seen);
            if ((int)seen != k)
                die("io_uring: missing completions");
        }
    }
    for (long m = 0; !batch && m < messages; m += coalesce) {
        for (int i = 0; i < n; i++) {
            ssize_t w = coalesce == 1 ? write(fds[i], frame, (size_t)size)
                                      : writev(fds[i], iov, coalesce);
            calls++;
            /* blocking sockets, no signal handlers: a write is whole or fails */
            if (w != (ssize_t)((size_t)size * (size_t)coalesce))
                die("write");
        }
    }
    int64_t t_written = bench_now_ns();
    int64_t cpu1 = bench_self_cpu_ns();
    bench_proc_read(getpid(), &p1);
    int64_t t_done = 0, rcpu_ns = 0;
    int complete = 1;
    for (int r = 0; r < readers; r++) {
        struct reader_report rep;
        if (read(report[0], &rep, sizeof rep) != (ssize_t)sizeof rep)
            die("report pipe");
        if (rep.t_done == 0)
            complete = 0;
        if (rep.t_done > t_done)
            t_done = rep.t_done;
        rcpu_ns += rep.cpu_ns;
    }
    for (int r = 0; r < readers; r++)
        waitpid(pids[r], NULL, 0);
    if (!complete)
        fprintf(stderr, "ceiling: a reader did not get every byte\n");
    double deliveries = (double)n * (double)messages;
    double secs = (double)((t_done > t_written ? t_done : t_written) - t0) / 1e9;
    printf("mode=ceiling n=%d coalesce=%d size=%d delivered=%.0f rate=%.0f srv_cpu_us=%.3f "
           "srv_writes=%.4f srv_cpu_pct=%.0f srv_wait_pct=%.0f lg_cpu_pct=%.0f secs=%.2f lost=%d\n",
           n, coalesce, size, deliveries, deliveries / secs,
           (double)(cpu1 - cpu0) / 1e3 / deliveries, (double)calls / deliveries,
           100.0 * (double)(cpu1 - cpu0) / (double)(t_written - t0),
           p0.wait_ns >= 0 ? 100.0 * (double)(p1.wait_ns - p0.wait_ns) / (double)(t_written - t0) : -1.0,
           100.0 * (double)rcpu_ns / ((double)secs * 1e9), secs, complete ? 0 : 1);
    return complete ? 0 : 1;
}
