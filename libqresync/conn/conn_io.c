/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Driving a connection without blocking: qr_conn_process() and the poll
 * parameters (interest, timeout).
 *
 * One qr_conn_process() runs rounds until nothing progresses (at most
 * QR_CONN_MAX_ROUNDS, so one busy connection cannot starve the others of
 * a loop). A round:
 *
 *   1. while a layer is not set up (phase CONNECT: socket connect, SOCKS5,
 *      the imaps handshake; phase STARTTLS: the handshake after STARTTLS),
 *      qr_stack_step(); when it completes, the TLS channel binding goes to
 *      the session, and after STARTTLS qr_session_switch_done() resumes the
 *      setup;
 *   2. output: qr_session_output() pieces are offered to qr_stack_write(),
 *      what the stack accepted is consumed, then the stack is flushed;
 *   3. input: qr_stack_read() into rbuf, qr_session_feed(). A feed that
 *      pauses with a switch pending performs it:
 *        TLS      anything already received after the OK line made the
 *                 session fail (injection); one more read of the plain
 *                 stack catches bytes that arrived in a later segment
 *                 before the handshake (injection, fatal too); then the
 *                 TLS layer is pushed and phase STARTTLS begins. Nothing
 *                 is written meanwhile: the session starts no command
 *                 while a switch is pending.
 *        DEFLATE  the deflate layer is created with the bytes that follow
 *                 the OK line (already compressed) and pushed;
 *      a pause without a switch (a callback's QR_PAUSE) keeps the rest of
 *      rbuf for the next call, and qr_conn_timeout_ms() answers 0.
 *
 * Deadlines: the layers' own (connect attempt, handshake, SOCKS5) are
 * noticed by their step(); the inactivity timeout (io_timeout_ms) runs
 * while qr_conn_awaiting(): setting up, commands in flight (not an IDLE
 * that is idling), output waiting, or closing. Any byte read or written restarts it, and so does
 * the start of a wait after an idle period. Expiry fails the connection
 * with QR_EIO (sys_errno ETIMEDOUT).
 *
 * Close (conn.c starts it): once the LOGOUT completed (or was not needed),
 * phase SHUTDOWN runs qr_stack_close() until done, then the stack is
 * destroyed and the state is CLOSED.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>

#include "conn/conn_p.h"

static enum qr_link link_of(const qr_conn *c)
{
    if (c->tls != NULL)
        return QR_LINK_TLS;
    return c->o.type == QR_CONN_TUNNEL ? QR_LINK_TUNNEL : QR_LINK_PLAIN;
}

int qr_conn_awaiting(const qr_conn *c)
{
    size_t pending = 0, inflight = 0;

    if (c->phase != QR_CPHASE_OPEN || c->state == QR_CONN_CLOSING)
        return 1;
    if (!qr_session_ready(c->session))
        return 1;
    if (qr_session_input_held(c->session))
        return 0; /* the caller holds the input: not waiting for the server */
    if (qr_session_idling(c->session))
        return qr_session_want_write(c->session); /* IDLE: the server owes nothing */
    qr_session_queue_counts(c->session, &pending, &inflight);
    return inflight > 0 || qr_session_want_write(c->session);
}

/* Step the layers: 1 set up now, 0 not yet, < 0 fatal. */
static int step_stack(qr_conn *c)
{
    int rc = qr_stack_step(&c->stack);

    if (rc == QR_EAGAIN)
        return 0;
    if (rc < 0)
        return qr_conn_fail(c, rc, 0);
    c->stack_ready = 1;
    c->last_activity = qr_now_ms();
    if (c->phase == QR_CPHASE_STARTTLS) {
        c->phase = QR_CPHASE_OPEN;
        if (qr_conn_tls_ready(c, 1) < 0)
            return qr_conn_fail(c, qr_session_last_error(c->session)->code, 1);
    } else if (c->phase == QR_CPHASE_CONNECT) {
        c->phase = QR_CPHASE_OPEN;
        qr_conn_tls_ready(c, 0);
    }
    return 1;
}

/* Output: 1 bytes moved, 0 none, < 0 fatal. */
static int conn_write(qr_conn *c)
{
    qr_iov iov[QR_CONN_IOV];
    struct iovec v[QR_CONN_IOV];
    int progress = 0, rc;
    size_t n, i;

    for (;;) {
        ssize_t w;

        rc = qr_session_output(c->session, iov, QR_CONN_IOV, &n);
        if (rc < 0)
            return qr_conn_fail(c, rc, 1);
        if (n == 0)
            break;
        for (i = 0; i < n; i++) {
            v[i].iov_base = (void *)(uintptr_t)iov[i].base;
            v[i].iov_len = iov[i].len;
        }
        w = qr_stack_write(&c->stack, v, (int)n);
        if (w == QR_EAGAIN)
            break;
        if (w < 0)
            return qr_conn_fail(c, (int)w, 0);
        qr_session_consume(c->session, (size_t)w);
        c->last_activity = qr_now_ms();
        progress = 1;
    }
    rc = qr_stack_flush(&c->stack);
    if (rc < 0 && rc != QR_EAGAIN)
        return qr_conn_fail(c, rc, 0);
    return progress;
}

/* STARTTLS accepted: check for injection, push TLS. 1 or < 0. */
static int start_tls(qr_conn *c)
{
    ssize_t n = qr_stack_read(&c->stack, c->rbuf, QR_CONN_RBUF);
    int rc;

    c->roff = c->rlen = 0;
    if (n > 0)
        return qr_conn_failf(c, QR_EPROTO, 0,
                             "response injection: %zd bytes received after the STARTTLS OK, "
                             "before the TLS handshake",
                             n);
    if (n == QR_EOF)
        return qr_conn_failf(c, QR_EOF, 0, "server closed the connection after STARTTLS");
    if (n != QR_EAGAIN)
        return qr_conn_fail(c, (int)n, 0);
    rc = qr_conn_push_tls(c);
    if (rc < 0)
        return qr_conn_fail(c, rc, 0);
    c->phase = QR_CPHASE_STARTTLS;
    return 1;
}

/* COMPRESS accepted: the rest of rbuf is compressed already. 1 or < 0. */
static int start_deflate(qr_conn *c)
{
    qr_layer *l = NULL;
    int rc = qr_deflate_layer_create(&l, &c->stack, c->rbuf + c->roff, c->rlen - c->roff);

    c->roff = c->rlen = 0;
    if (rc < 0)
        return qr_conn_fail(c, rc, 0);
    qr_stack_push(&c->stack, l);
    c->compressed = 1;
    if (qr_session_switch_done(c->session, link_of(c), QR_AUTH_CB_NONE, NULL, 0) < 0)
        return qr_conn_fail(c, qr_session_last_error(c->session)->code, 1);
    return 1;
}

/* Feed rbuf: 0 all fed, 1 paused (switch done or a callback's pause), < 0. */
static int feed(qr_conn *c)
{
    size_t used = 0;
    int rc = qr_session_feed(c->session, c->rbuf + c->roff, c->rlen - c->roff, &used);

    c->roff += used;
    if (rc == 0)
        return 0;
    if (rc < 0)
        return qr_conn_fail(c, rc, 1);
    switch (qr_session_switch_pending(c->session)) {
    case QR_SWITCH_TLS:
        return start_tls(c);
    case QR_SWITCH_DEFLATE:
        return start_deflate(c);
    default:
        return 1;
    }
}

static int on_eof(qr_conn *c)
{
    int rc = qr_session_eof(c->session);

    if (rc < 0)
        return qr_conn_fail(c, rc, 1);
    c->phase = QR_CPHASE_SHUTDOWN; /* after LOGOUT: a normal end */
    return 1;
}

/* Input: 1 bytes moved, 0 none, < 0 fatal. */
static int conn_read(qr_conn *c)
{
    int progress = 0, rounds = 0, rc;

    while (!c->fatal && c->stack_ready && c->phase == QR_CPHASE_OPEN) {
        if (qr_session_input_held(c->session))
            break; /* qr_session_hold_input(): rbuf keeps its bytes */
        if (c->roff == c->rlen) {
            ssize_t n;

            if (!qr_session_want_read(c->session) || rounds++ >= QR_CONN_MAX_ROUNDS)
                break;
            n = qr_stack_read(&c->stack, c->rbuf, QR_CONN_RBUF);
            if (n == QR_EAGAIN)
                break;
            if (n == QR_EOF)
                return on_eof(c);
            if (n < 0)
                return qr_conn_fail(c, (int)n, 0);
            c->roff = 0;
            c->rlen = (size_t)n;
            c->last_activity = qr_now_ms();
            progress = 1;
        }
        rc = feed(c);
        if (rc < 0)
            return rc;
        if (rc > 0)
            return 1;
    }
    return progress;
}

/* Closing: 1 when the shutdown may start. */
static int close_now(const qr_conn *c)
{
    if (c->phase != QR_CPHASE_OPEN)
        return c->phase != QR_CPHASE_SHUTDOWN; /* not set up: no LOGOUT */
    if (!c->logout_queued)
        return 1;
    return qr_session_state_get(c->session) == QR_SESSION_LOGOUT;
}

static void conn_shutdown(qr_conn *c)
{
    if (c->stack_ready && qr_stack_close(&c->stack) == QR_EAGAIN)
        return;
    qr_stack_destroy(&c->stack); /* closed, or failing to close: done either way */
    c->tls = NULL;
    c->stack_ready = 0;
    c->state = QR_CONN_CLOSED;
}

static const char *waiting_for(const qr_conn *c)
{
    if (c->phase == QR_CPHASE_CONNECT)
        return "connecting";
    if (c->phase == QR_CPHASE_STARTTLS)
        return "TLS handshake after STARTTLS";
    if (qr_session_state_get(c->session) == QR_SESSION_GREETING)
        return "waiting for the greeting";
    if (!qr_session_ready(c->session))
        return "connection setup";
    return c->state == QR_CONN_CLOSING ? "closing" : "waiting for a reply";
}

static void check_inactivity(qr_conn *c)
{
    int64_t now = qr_now_ms();
    int awaiting = qr_conn_awaiting(c);

    if (awaiting && !c->was_awaiting)
        c->last_activity = now;
    c->was_awaiting = awaiting;
    if (awaiting && c->o.io_timeout_ms > 0 && now - c->last_activity >= c->o.io_timeout_ms)
        qr_conn_failf(c, QR_EIO, ETIMEDOUT, "no data from the server for %d ms (%s)",
                      c->o.io_timeout_ms, waiting_for(c));
}

int qr_conn_run(qr_conn *c)
{
    int round, p;

    for (round = 0; round < QR_CONN_MAX_ROUNDS && !c->fatal; round++) {
        if (c->state == QR_CONN_CLOSING && c->phase != QR_CPHASE_SHUTDOWN && close_now(c))
            c->phase = QR_CPHASE_SHUTDOWN;
        if (c->phase == QR_CPHASE_SHUTDOWN) {
            conn_shutdown(c);
            break;
        }
        if (!c->stack_ready && step_stack(c) <= 0)
            break;
        p = conn_write(c);
        if (p >= 0) {
            int r = conn_read(c);

            p = r < 0 ? r : p | r;
        }
        if (c->state == QR_CONN_CONNECTING && qr_session_ready(c->session))
            c->state = QR_CONN_READY;
        if (p <= 0)
            break;
    }
    if (!c->fatal && c->state != QR_CONN_CLOSED)
        check_inactivity(c);
    if (c->phase == QR_CPHASE_SHUTDOWN && c->state != QR_CONN_CLOSED && !c->fatal &&
        c->state != QR_CONN_CLOSING)
        c->state = QR_CONN_CLOSING; /* LOGOUT sent by the caller through the session */
    return c->fatal;
}

QR_EXTERN int qr_conn_process(qr_conn *c, int revents)
{
    int rc;

    (void)revents; /* reads and writes are tried anyway; they never block */
    if (c == NULL || c->in_process)
        return QR_EINVAL;
    if (c->fatal)
        return c->fatal;
    if (c->state == QR_CONN_CLOSED)
        return 0;
    c->in_process = 1;
    rc = qr_conn_run(c);
    c->in_process = 0;
    return rc;
}

QR_EXTERN int qr_conn_fd(const qr_conn *c)
{
    if (c == NULL || c->fatal || c->state == QR_CONN_CLOSED)
        return -1;
    return qr_stack_fd(&c->stack);
}

QR_EXTERN int qr_conn_interest(const qr_conn *c)
{
    int bits;

    if (c == NULL || c->fatal || c->state == QR_CONN_CLOSED)
        return 0;
    bits = qr_stack_interest(&c->stack);
    if (!c->stack_ready)
        return bits != 0 ? bits : POLLIN;
    if (qr_session_want_read(c->session) || c->phase == QR_CPHASE_SHUTDOWN)
        bits |= POLLIN;
    if (qr_session_want_write(c->session))
        bits |= POLLOUT;
    return bits;
}

QR_EXTERN int qr_conn_timeout_ms(const qr_conn *c)
{
    int64_t now, best, d;

    if (c == NULL || c->fatal || c->state == QR_CONN_CLOSED)
        return -1;
    if (!qr_session_input_held(c->session) &&
        (c->roff < c->rlen || (c->stack_ready && qr_stack_pending_input(&c->stack))))
        return 0;
    if (c->state == QR_CONN_CLOSING && c->phase != QR_CPHASE_SHUTDOWN && close_now(c))
        return 0;
    now = qr_now_ms();
    best = qr_stack_deadline(&c->stack);
    if (c->o.io_timeout_ms > 0 && qr_conn_awaiting(c)) {
        d = (c->was_awaiting ? c->last_activity : now) + c->o.io_timeout_ms;
        if (best < 0 || d < best)
            best = d;
    }
    if (best < 0)
        return -1;
    if (best <= now)
        return 0;
    return best - now > INT_MAX ? INT_MAX : (int)(best - now);
}
