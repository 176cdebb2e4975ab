/* test_uring.c: a batch of sends through io_uring (transport/uring.h) on real loopback TCP
 * connections: every send's result comes back in its own slot; a full socket answers
 * -EAGAIN at once instead of holding the call (the loop would stop); a closed peer or a
 * bad descriptor fails that send alone and raises no SIGPIPE. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cmocka.h>

#include "transport/uring.h"

#define PAIRS 4

struct pairs {
    int lfd;
    int srv[PAIRS];    /* the sending ends (accepted, non-blocking, as the daemon's) */
    int cli[PAIRS];    /* the reading ends */
};

static void connect_pairs(struct pairs *p)
{
    p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(p->lfd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(p->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(p->lfd, PAIRS), 0);
    assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&sa, &sl), 0);
    for (int i = 0; i < PAIRS; i++) {
        p->cli[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_int_equal(connect(p->cli[i], (struct sockaddr *)&sa, sizeof sa), 0);
        p->srv[i] = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        assert_true(p->srv[i] >= 0);
    }
}

static void close_pairs(struct pairs *p)
{
    for (int i = 0; i < PAIRS; i++) {
        if (p->srv[i] >= 0)
            close(p->srv[i]);
        if (p->cli[i] >= 0)
            close(p->cli[i]);
    }
    close(p->lfd);
}

static struct jg_uring *open_ring(void)
{
    struct jg_uring *u = jg_uring_new(8);
    if (!u)   /* the daemon then writes with writev; nothing here to test */
        fail_msg("io_uring unavailable here (%s); the suite needs it to test the batched path", strerror(errno));
    return u;
}

/* Each fd gets its own two-buffer message; RES says how much went. */
static void send_batch(struct jg_uring *u, const int *fds, unsigned n, ssize_t *res, struct iovec (*iov)[2],
                       struct msghdr *msgs, const char *a, const char *b)
{
    for (unsigned i = 0; i < n; i++) {
        iov[i][0] = (struct iovec){ (void *)a, strlen(a) };
        iov[i][1] = (struct iovec){ (void *)b, strlen(b) };
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_iov = iov[i];
        msgs[i].msg_iovlen = 2;
    }
    assert_int_equal(jg_uring_sendmsgs(u, fds, msgs, res, n), 0);
}

static void test_every_send_lands_in_its_slot(void **state)
{
    struct pairs p;
    connect_pairs(&p);
    struct jg_uring *u = open_ring();
    struct iovec iov[PAIRS][2];
    struct msghdr msgs[PAIRS];
    ssize_t res[PAIRS];
    /* fds in another order than the sockets were made: results follow the batch's order */
    int fds[PAIRS] = { p.srv[2], p.srv[0], p.srv[3], p.srv[1] };
    send_batch(u, fds, PAIRS, res, iov, msgs, "hello ", "world");
    for (int i = 0; i < PAIRS; i++)
        assert_int_equal(res[i], 11);
    for (int i = 0; i < PAIRS; i++) {
        char got[32] = { 0 };
        assert_int_equal(read(p.cli[i], got, sizeof got - 1), 11);
        assert_string_equal(got, "hello world");
    }
    /* and the ring takes the next batch */
    send_batch(u, fds, 2, res, iov, msgs, "a", "b");
    assert_int_equal(res[0], 2);
    assert_int_equal(res[1], 2);
    jg_uring_free(u);
    close_pairs(&p);
}

static void test_full_socket_answers_eagain_at_once(void **state)
{
    struct pairs p;
    connect_pairs(&p);
    struct jg_uring *u = open_ring();
    /* fill srv[0] until the kernel takes no more: its reader never reads */
    static char block[65536];
    memset(block, 'x', sizeof block);
    size_t queued = 0;
    for (;;) {
        ssize_t w = send(p.srv[0], block, sizeof block, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (w < 0) {
            assert_int_equal(errno, EAGAIN);
            break;
        }
        queued += (size_t)w;
    }
    assert_true(queued > 0);
    struct iovec iov[2][2];
    struct msghdr msgs[2];
    ssize_t res[2];
    int fds[2] = { p.srv[0], p.srv[1] };
    alarm(10);   /* a send parked until the socket drains would hang here: fail instead */
    send_batch(u, fds, 2, res, iov, msgs, "more", "!");
    alarm(0);
    assert_int_equal(res[0], -EAGAIN);
    assert_int_equal(res[1], 5);
    jg_uring_free(u);
    close_pairs(&p);
}

static void test_bad_fd_and_closed_peer_fail_alone(void **state)
{
    struct pairs p;
    connect_pairs(&p);
    struct jg_uring *u = open_ring();
    /* the peer of srv[1] is gone with unread data (a reset), fd 1000 was never open */
    struct linger lg = { 1, 0 };
    setsockopt(p.cli[1], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(p.cli[1]);
    p.cli[1] = -1;
    usleep(10000);
    struct iovec iov[3][2];
    struct msghdr msgs[3];
    ssize_t res[3];
    int fds[3] = { 1000, p.srv[1], p.srv[2] };
    send_batch(u, fds, 3, res, iov, msgs, "x", "y");
    assert_int_equal(res[0], -EBADF);
    assert_true(res[1] == -EPIPE || res[1] == -ECONNRESET);
    assert_int_equal(res[2], 2);   /* the rest of the batch went */
    jg_uring_free(u);
    close_pairs(&p);
}

static void test_batch_larger_than_ring_is_refused(void **state)
{
    struct jg_uring *u = open_ring();
    assert_int_equal(jg_uring_capacity(u), 8);
    int fds[9] = { 0 };
    struct msghdr msgs[9] = { 0 };
    ssize_t res[9];
    assert_int_equal(jg_uring_sendmsgs(u, fds, msgs, res, 9), -EINVAL);
    jg_uring_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_send_lands_in_its_slot),
        cmocka_unit_test(test_full_socket_answers_eagain_at_once),
        cmocka_unit_test(test_bad_fd_and_closed_peer_fail_alone),
        cmocka_unit_test(test_batch_larger_than_ring_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
