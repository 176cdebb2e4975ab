/* uring.c: batches of sendmsg through one io_uring (uring.h). */
#include "transport/uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/xalloc.h"

struct jg_uring {
    struct io_uring ring;
    unsigned entries;
};

struct jg_uring *jg_uring_new(unsigned entries)
{
    struct jg_uring *u = jg_xcalloc(1, sizeof *u);
    /* SUBMIT_ALL (Linux 5.18): a send that fails early does not stop the rest of the
     * batch from being submitted; older kernels refuse the flag and get a plain ring,
     * where the submitting loop below picks up what was left */
    int r = io_uring_queue_init(entries, &u->ring, IORING_SETUP_SUBMIT_ALL);
    if (r == -EINVAL)
        r = io_uring_queue_init(entries, &u->ring, 0);
    if (r < 0) {
        free(u);
        errno = -r;
        return NULL;
    }
    u->entries = entries;
    return u;
}

void jg_uring_free(struct jg_uring *u)
{
    if (!u)
        return;
    io_uring_queue_exit(&u->ring);
    free(u);
}

unsigned jg_uring_capacity(const struct jg_uring *u)
{
    return u->entries;
}

int jg_uring_sendmsgs(struct jg_uring *u, const int *fds, const struct msghdr *msgs, ssize_t *res, unsigned n)
{
    if (n > u->entries)
        return -EINVAL;
    for (unsigned i = 0; i < n; i++) {
        struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
        if (!sqe)   /* cannot happen: every batch is reaped whole before the next */
            return -EBUSY;
        io_uring_prep_sendmsg(sqe, fds[i], &msgs[i], MSG_DONTWAIT | MSG_NOSIGNAL);
        io_uring_sqe_set_data64(sqe, i);
    }
    for (unsigned i = 0; i < n; i++)
        res[i] = -EAGAIN;   /* not sent, until it is submitted */
    unsigned submitted = 0, done = 0;
    while (submitted < n) {
        int r = io_uring_submit(&u->ring);
        if (r == -EINTR || r == -EAGAIN)
            continue;
        if (r < 0)
            return r;
        for (unsigned i = submitted; i < submitted + (unsigned)r && i < n; i++)
            res[i] = -EIO;  /* submitted: unknown until its completion comes */
        submitted += (unsigned)r;
    }
    /* The sends ran inside that call: their completions are there already. Waiting is
     * only a guard; MSG_DONTWAIT keeps a full socket from parking a send. */
    while (done < n) {
        struct io_uring_cqe *cqe;
        int r = io_uring_wait_cqe(&u->ring, &cqe);
        if (r == -EINTR)
            continue;
        if (r < 0)
            return r;
        uint64_t i = io_uring_cqe_get_data64(cqe);
        if (i < n)
            res[i] = cqe->res;
        io_uring_cqe_seen(&u->ring, cqe);
        done++;
    }
    return 0;
}
