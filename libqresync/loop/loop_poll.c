/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The convenience loop (level 3 of DESIGN.md "Driving I/O"): poll() over
 * the connections' descriptors with their interest and timeouts, then
 * qr_conn_process() on each, until a condition holds or time is up.
 *
 * The loop borrows its connections (an array of pointers, grown as
 * needed). Each turn: check the condition; collect fd, interest and
 * timeout of every connection still alive (not failed, not closed); stop
 * when none is; poll() for the smallest timeout (bounded by the caller's
 * deadline; EINTR restarts); process every alive connection, whatever its
 * revents (processing never blocks). A connection whose fd is -1 for a
 * moment (between connect attempts) is still processed; the wait is then
 * capped so that the loop cannot sleep forever.
 *
 * qr_conn_connect_wait() and qr_conn_close_wait() are the blocking shims
 * over the same turn, for one connection, without allocating.
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <qresync/loop.h>

#include "conn/conn_p.h"
#include "util/alloc.h"

#define LOOP_IDLE_CAP_MS 100 /* longest sleep when no fd is pollable */

struct qr_loop {
    qr_conn **conns;   /* borrowed connections, `n` of them */
    struct pollfd *pf; /* owned, same size as conns */
    size_t n;          /* connections */
    size_t alloc;      /* room in conns and pf */
};

QR_EXTERN int qr_loop_new(qr_loop **out)
{
    if (out == NULL)
        return QR_EINVAL;
    *out = qr_calloc(1, sizeof(**out));
    return *out != NULL ? 0 : QR_ENOMEM;
}

QR_EXTERN void qr_loop_free(qr_loop *loop)
{
    if (loop == NULL)
        return;
    qr_free(loop->conns);
    qr_free(loop->pf);
    qr_free(loop);
}

QR_EXTERN int qr_loop_add(qr_loop *loop, qr_conn *conn)
{
    size_t i;

    if (loop == NULL || conn == NULL)
        return QR_EINVAL;
    for (i = 0; i < loop->n; i++)
        if (loop->conns[i] == conn)
            return QR_EINVAL;
    if (loop->n == loop->alloc) {
        size_t na = loop->alloc ? loop->alloc * 2 : 4;
        qr_conn **nc = qr_reallocarray(loop->conns, na, sizeof(*nc));
        struct pollfd *np;

        if (nc == NULL)
            return QR_ENOMEM;
        loop->conns = nc;
        np = qr_reallocarray(loop->pf, na, sizeof(*np));
        if (np == NULL)
            return QR_ENOMEM;
        loop->pf = np;
        loop->alloc = na;
    }
    loop->conns[loop->n++] = conn;
    return 0;
}

QR_EXTERN int qr_loop_remove(qr_loop *loop, qr_conn *conn)
{
    size_t i;

    if (loop == NULL)
        return QR_EINVAL;
    for (i = 0; i < loop->n; i++)
        if (loop->conns[i] == conn) {
            loop->conns[i] = loop->conns[--loop->n];
            return 0;
        }
    return QR_EINVAL;
}

static int alive(const qr_conn *c)
{
    qr_conn_state st = qr_conn_state_get(c);

    return st != QR_CONN_FAILED && st != QR_CONN_CLOSED;
}

/* Smaller of two poll timeouts (-1: infinite). */
static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

/*
 * One turn over conns[0..n): poll then process. 1 when a turn ran, 0 when
 * nothing is alive (*failed: the first fatal code, or 0), < 0 on timeout
 * (QR_EAGAIN) or a poll failure (QR_EIO).
 */
static int turn(qr_conn **conns, struct pollfd *pf, size_t n, int64_t deadline, int *failed)
{
    int wait = -1, any_fd = 0, nalive = 0, rc;
    size_t i;

    *failed = 0;
    for (i = 0; i < n; i++) {
        pf[i].fd = -1;
        pf[i].events = pf[i].revents = 0;
        if (!alive(conns[i])) {
            if (*failed == 0 && qr_conn_state_get(conns[i]) == QR_CONN_FAILED)
                *failed = qr_conn_last_error(conns[i])->code;
            continue;
        }
        nalive++;
        pf[i].fd = qr_conn_fd(conns[i]);
        pf[i].events = (short)qr_conn_interest(conns[i]);
        any_fd |= pf[i].fd >= 0;
        wait = min_timeout(wait, qr_conn_timeout_ms(conns[i]));
    }
    if (nalive == 0)
        return 0;
    if (deadline >= 0) {
        int64_t left = deadline - qr_now_ms();

        if (left <= 0)
            return QR_EAGAIN;
        wait = min_timeout(wait, left > 0x7fffffff ? 0x7fffffff : (int)left);
    }
    if (!any_fd)
        wait = min_timeout(wait, LOOP_IDLE_CAP_MS);
    rc = poll(pf, (nfds_t)n, wait);
    if (rc < 0 && errno != EINTR)
        return QR_EIO;
    for (i = 0; i < n; i++)
        if (alive(conns[i]))
            qr_conn_process(conns[i], rc > 0 ? pf[i].revents : 0);
    return 1;
}

static int64_t deadline_of(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : qr_now_ms() + timeout_ms;
}

QR_EXTERN int qr_loop_run_until(qr_loop *loop, qr_loop_pred_fn pred, void *payload, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    int failed, rc;

    if (loop == NULL || pred == NULL)
        return QR_EINVAL;
    for (;;) {
        if (pred(payload))
            return 0;
        rc = turn(loop->conns, loop->pf, loop->n, deadline, &failed);
        if (rc == 0)
            return pred(payload) ? 0 : failed != 0 ? failed : QR_ECANCELED;
        if (rc < 0)
            return rc;
    }
}

/* The condition of qr_loop_run_count(). */
typedef struct count_pred {
    const size_t *counter; /* borrowed */
    size_t target;         /* value to reach */
} count_pred;

static int count_reached(void *payload)
{
    const count_pred *p = payload;

    return *p->counter >= p->target;
}

QR_EXTERN int qr_loop_run_count(qr_loop *loop, const size_t *counter, size_t target, int timeout_ms)
{
    count_pred p = {counter, target};

    if (counter == NULL)
        return QR_EINVAL;
    return qr_loop_run_until(loop, count_reached, &p, timeout_ms);
}

/* Run c alone until its state is not `while_state`. */
static int wait_one(qr_conn *c, qr_conn_state while_state, int timeout_ms)
{
    int64_t deadline = deadline_of(timeout_ms);
    struct pollfd pf;
    int failed, rc;

    for (;;) {
        qr_conn_state st = qr_conn_state_get(c);

        if (st == QR_CONN_FAILED)
            return qr_conn_last_error(c)->code;
        if (st != while_state)
            return 0;
        rc = turn(&c, &pf, 1, deadline, &failed);
        if (rc < 0)
            return rc;
    }
}

QR_EXTERN int qr_conn_connect_wait(qr_conn *c, int timeout_ms)
{
    if (c == NULL)
        return QR_EINVAL;
    if (qr_conn_state_get(c) == QR_CONN_CLOSING || qr_conn_state_get(c) == QR_CONN_CLOSED)
        return QR_EINVAL;
    return wait_one(c, QR_CONN_CONNECTING, timeout_ms);
}

QR_EXTERN int qr_conn_close_wait(qr_conn *c, int timeout_ms)
{
    int rc;

    if (c == NULL)
        return QR_EINVAL;
    rc = qr_conn_close(c);
    if (rc < 0)
        return rc;
    return wait_one(c, QR_CONN_CLOSING, timeout_ms);
}
