/* uring.h: many sends in one system call. On this kind of machine a system call costs more
 * than the send it carries (bench/RESULTS.md: a 100-byte write(2) on loopback 7.5 µs of
 * CPU, the same send batched through io_uring 3.9 µs), and a loop turn that delivers to
 * thousands of connections makes one call per connection. jg_uring_sendmsgs makes one for
 * all of them.
 *
 * The ring is used synchronously: every send carries MSG_DONTWAIT, so the kernel performs
 * it during the submitting call or answers -EAGAIN at once, and no completion is ever left
 * to arrive later; nothing else in the loop knows the ring exists. Loop thread only. */
#ifndef JG_URING_H
#define JG_URING_H
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct jg_uring;

/* A ring for batches of up to ENTRIES sends, or NULL (errno set) when the kernel refuses
 * io_uring: too old, disabled (sysctl kernel.io_uring_disabled), or filtered by seccomp. */
struct jg_uring *jg_uring_new(unsigned entries);
void jg_uring_free(struct jg_uring *u);
/* How many sends one batch may hold. */
unsigned jg_uring_capacity(const struct jg_uring *u);

/* Sends MSGS[i] on FDS[i] for every i < N (N <= capacity), with MSG_DONTWAIT and
 * MSG_NOSIGNAL, and stores what sendmsg(2) would have returned in RES[i]: the bytes sent,
 * or -errno (-EAGAIN: the socket's buffer is full). The messages and the memory they
 * point to need to live only until the call returns. Returns 0, or -errno when the ring
 * itself failed: then RES[i] is -EAGAIN for a send that was never made and -EIO for one
 * whose outcome is unknown, and the ring must not be used again. */
int jg_uring_sendmsgs(struct jg_uring *u, const int *fds, const struct msghdr *msgs, ssize_t *res, unsigned n);

#endif /* JG_URING_H */
