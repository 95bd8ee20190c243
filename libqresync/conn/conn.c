/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The connection object: creation, free, getters, the fatal error, and
 * the orderly close.
 *
 * Errors. A connection has two error slots: `terr`, where the transport
 * layers record their detail (the stack borrows it), and `err`, the
 * connection's own fatal error. qr_conn_fail() copies the detail of the
 * failing side (transport or session) into `err`, prefixed with the place
 * ("127.0.0.1:993: ...", "tunnel doveadm exec imap: ...") unless the
 * message names it already, then aborts the session with that message
 * (every command completes with the code) and destroys the stack: the
 * socket is shut down and closed at once, the tunnel child reaped. From
 * then on every entry point answers the same code. qr_conn_last_error()
 * shows `err` once fatal, else the session's last error (a NO, a refused
 * call), which is not fatal.
 *
 * Close. qr_conn_close() queues LOGOUT when the session is set up (its
 * BYE and tagged OK are expected) and marks the connection CLOSING;
 * conn_io.c then waits for the LOGOUT to complete (or the server to
 * close), runs qr_stack_close() (deflate end, TLS close_notify, socket
 * shutdown) and ends CLOSED. A connection that is not set up yet is
 * closed without LOGOUT.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "conn/conn_p.h"
#include "util/alloc.h"

/* Copy src's detail into c->err with the place in front. */
static void set_err(qr_conn *c, int code, const qr_error *src)
{
    const char *msg = src != NULL && src->message[0] ? src->message : qr_strerror(code);

    if (strstr(msg, c->place) != NULL)
        qr_err_set(&c->err, code, "%s", msg);
    else
        qr_err_set(&c->err, code, "%s: %s", c->place, msg);
    if (src == NULL)
        return;
    if (src->sys_errno)
        qr_errslot_set_errno(&c->err, src->sys_errno);
    if (src->lib_code)
        qr_errslot_set_lib_code(&c->err, src->lib_code);
    if (src->resp_code != NULL || src->resp_text != NULL)
        qr_errslot_set_resp(&c->err, src->resp_code, src->resp_text);
}

/* Record the fatal state: the session learns it, the transport goes. */
static int conn_fatal(qr_conn *c, int code)
{
    c->fatal = code;
    c->state = QR_CONN_FAILED;
    if (c->session != NULL)
        qr_session_abort(c->session, code, c->err.pub.message);
    qr_stack_destroy(&c->stack);
    c->tls = NULL;
    c->stack_ready = 0;
    return code;
}

int qr_conn_fail(qr_conn *c, int code, int from_session)
{
    if (c->fatal)
        return c->fatal;
    if (code >= 0)
        code = QR_ERROR;
    if (from_session && c->session != NULL)
        set_err(c, code, qr_session_last_error(c->session));
    else
        set_err(c, code, qr_errslot_get(&c->terr));
    return conn_fatal(c, code);
}

int qr_conn_failf(qr_conn *c, int code, int sys_errno, const char *fmt, ...)
{
    char msg[QR_ERR_MESSAGE_MAX];
    va_list ap;

    if (c->fatal)
        return c->fatal;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    qr_err_set(&c->err, code, "%s: %s", c->place, msg);
    if (sys_errno)
        qr_errslot_set_errno(&c->err, sys_errno);
    return conn_fatal(c, code);
}

QR_EXTERN int qr_conn_new(qr_conn **out, const qr_conn_options *opts)
{
    qr_conn *c;
    int rc;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (opts == NULL)
        return QR_EINVAL;
    c = qr_calloc(1, sizeof(*c));
    if (c == NULL)
        return QR_ENOMEM;
    qr_errslot_clear(&c->terr);
    qr_errslot_clear(&c->err);
    qr_stack_init(&c->stack, &c->terr);
    c->rbuf = qr_malloc(QR_CONN_RBUF);
    c->state = QR_CONN_CONNECTING;
    c->last_activity = qr_now_ms();
    if (c->rbuf == NULL) {
        qr_free(c);
        return QR_ENOMEM;
    }
    rc = qr_conn_setup(c, opts);
    *out = c;
    if (rc < 0) {
        if (c->place == NULL) { /* nothing to name the place with: no handle */
            qr_conn_free(c);
            *out = NULL;
            return rc;
        }
        return qr_conn_fail(c, rc, 0);
    }
    return 0;
}

QR_EXTERN void qr_conn_free(qr_conn *c)
{
    if (c == NULL)
        return;
    qr_session_free(c->session);
    qr_stack_destroy(&c->stack);
    qr_tls_creds_unref(c->creds);
    qr_conn_options_free(c);
    qr_free(c->rbuf);
    qr_free(c);
}

QR_EXTERN qr_session *qr_conn_session(qr_conn *c)
{
    return c != NULL ? c->session : NULL;
}

QR_EXTERN qr_conn_state qr_conn_state_get(const qr_conn *c)
{
    return c != NULL ? c->state : QR_CONN_FAILED;
}

QR_EXTERN const char *qr_conn_place(const qr_conn *c)
{
    return c != NULL && c->place != NULL ? c->place : "";
}

QR_EXTERN const qr_error *qr_conn_last_error(const qr_conn *c)
{
    if (c == NULL)
        return NULL;
    if (c->fatal || c->session == NULL)
        return qr_errslot_get(&c->err);
    return qr_session_last_error(c->session);
}

QR_EXTERN int qr_conn_traffic(const qr_conn *c, qr_conn_traffic_stats *out)
{
    if (c == NULL || out == NULL)
        return QR_EINVAL;
    memset(out, 0, sizeof(*out));
    out->wire_in = c->stack.traffic.wire_in;
    out->wire_out = c->stack.traffic.wire_out;
    out->compr_in = c->stack.traffic.compr_in;
    out->compr_out = c->stack.traffic.compr_out;
    out->plain_in = c->stack.traffic.plain_in;
    out->plain_out = c->stack.traffic.plain_out;
    out->compressed = c->compressed;
    out->tls = c->tls != NULL;
    return 0;
}

QR_EXTERN int qr_conn_close(qr_conn *c)
{
    qr_session_state st;

    if (c == NULL)
        return QR_EINVAL;
    if (c->fatal)
        return c->fatal;
    if (c->state == QR_CONN_CLOSING || c->state == QR_CONN_CLOSED)
        return 0;
    c->state = QR_CONN_CLOSING;
    st = qr_session_state_get(c->session);
    if (qr_session_ready(c->session) && st != QR_SESSION_LOGOUT) {
        int rc = qr_session_logout(c->session, NULL, NULL);

        c->logout_queued = rc == 0;
    }
    return 0;
}
