/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Blocking I/O for qr_smtp over the non-blocking transport stack
 * (transport_p.h): a TCP socket layer, and a TLS layer on top after
 * STARTTLS.
 *
 * Every wait is one poll() on the bottom layer's descriptor with the
 * events the caller wants plus the layers' own interest (a connect in
 * progress, a TLS handshake, queued output). Reads are always tried
 * before waiting, so input a layer holds without the descriptor knowing
 * (TLS records already decrypted) is never missed. EINTR restarts the
 * wait; the library installs no signal handler.
 *
 * Timeouts: set-up rounds (each address's connect, the TLS handshake)
 * end at the layers' deadlines, from connect_timeout_ms. Reading a reply
 * and writing fail with QR_EAGAIN (sys_errno ETIMEDOUT) after
 * io_timeout_ms without a byte moving; <= 0 waits for ever.
 *
 * Input lands in rbuf and is given to the reply parser line by line;
 * what follows a complete reply stays there for the next one (replies to
 * pipelined commands often arrive in one segment). Each line is logged
 * `S: LINE` at QR_LOG_DEBUG, each command line `C: LINE` (its secret part
 * `<redacted>` unless the level is QR_LOG_TRACE).
 *
 * Any failure here is fatal for the connection: the message is recorded
 * ("smtp PLACE: STEP: ..."), the stack destroyed, and the code returned.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>

#include "smtp/smtp_p.h"
#include "util/text.h"

/* The inactivity deadline starting now, or -1 for none. */
static int64_t io_deadline(const qr_smtp *s)
{
    return s->o.io_timeout_ms > 0 ? qr_now_ms() + s->o.io_timeout_ms : -1;
}

/*
 * Wait until the descriptor may be ready for want (plus the layers'
 * interest), a layer's deadline, or `deadline`. 0 (look again), 1 when
 * `deadline` has passed, or a fatal error (recorded).
 */
static int wait_io(qr_smtp *s, int want, int64_t deadline)
{
    int64_t now = qr_now_ms(), until = deadline, ld = qr_stack_deadline(&s->stack);
    struct pollfd p;
    int timeout = -1, rc;

    if (deadline >= 0 && now >= deadline)
        return 1;
    if (ld >= 0 && (until < 0 || ld < until))
        until = ld;
    if (until >= 0)
        timeout = until - now > INT_MAX ? INT_MAX : until <= now ? 0 : (int)(until - now);
    p.fd = qr_stack_fd(&s->stack);
    p.events = (short)(want | qr_stack_interest(&s->stack));
    p.revents = 0;
    if (p.fd < 0) /* between two connect attempts: just let time pass */
        rc = poll(NULL, 0, timeout < 0 || timeout > 100 ? 100 : timeout);
    else
        rc = poll(&p, 1, timeout);
    if (rc < 0 && errno != EINTR && errno != EAGAIN) {
        int saved = errno;

        qr_smtp_failf(s, QR_EIO, "poll: %s", strerror(saved));
        s->err.pub.sys_errno = saved;
        return qr_smtp_fatal(s, QR_EIO);
    }
    return deadline >= 0 && qr_now_ms() >= deadline ? 1 : 0;
}

static int timed_out(qr_smtp *s, const char *what)
{
    qr_smtp_failf(s, QR_EAGAIN, "%s within %d ms", what, s->o.io_timeout_ms);
    s->err.pub.sys_errno = ETIMEDOUT;
    return qr_smtp_fatal(s, QR_EAGAIN);
}

/* Step the layers until every one is set up. */
static int step_all(qr_smtp *s)
{
    for (;;) {
        int rc = qr_stack_step(&s->stack);

        if (rc == 0)
            return 0;
        if (rc != QR_EAGAIN)
            return qr_smtp_fail_transport(s, rc);
        rc = wait_io(s, 0, -1);
        if (rc < 0)
            return rc;
    }
}

int qr_smtp_io_open(qr_smtp *s)
{
    qr_socket_options so = {s->o.host, s->o.port, 0, s->o.connect_timeout_ms};
    qr_layer *l = NULL;
    int rc;

    qr_errslot_clear(&s->terr);
    rc = qr_socket_layer_create(&l, &s->stack, &so);
    if (rc < 0)
        return qr_smtp_fail_transport(s, rc);
    qr_stack_push(&s->stack, l);
    s->connected = 1;
    s->roff = s->rlen = 0;
    return step_all(s);
}

int qr_smtp_io_starttls(qr_smtp *s)
{
    qr_tls_options t;
    qr_layer *l = NULL;
    int rc;

    qr_tls_options_init(&t);
    t.host = s->o.host;
    if (s->o.ssl_hostname != NULL && s->o.ssl_hostname[0] != '\0')
        t.host = t.hostname = s->o.ssl_hostname; /* checked and sent as SNI (smtp.h) */
    t.verify = s->o.ssl_verify;
    t.cafile = s->o.ssl_cafile;
    t.capath = s->o.ssl_capath;
    t.fingerprints = s->o.ssl_fingerprint;
    t.protocol_min = s->o.ssl_protocol_min;
    t.handshake_timeout_ms = s->o.connect_timeout_ms;
    if (s->creds == NULL) {
        rc = qr_tls_creds_new(&s->creds, &t, &s->terr, &s->log);
        if (rc < 0)
            return qr_smtp_fail_transport(s, rc);
    }
    rc = qr_tls_layer_create(&l, &s->stack, &t, s->creds, &s->log);
    if (rc < 0)
        return qr_smtp_fail_transport(s, rc);
    qr_stack_push(&s->stack, l);
    rc = step_all(s);
    if (rc == 0)
        s->tls = 1;
    return rc;
}

int qr_smtp_io_write(qr_smtp *s, const void *p, size_t len)
{
    const char *b = p;
    int64_t deadline = io_deadline(s);
    int rc;

    while (len > 0) {
        struct iovec iov = {(void *)(uintptr_t)b, len};
        ssize_t n = qr_stack_write(&s->stack, &iov, 1);

        if (n > 0) {
            b += n;
            len -= (size_t)n;
            deadline = io_deadline(s);
            continue;
        }
        if (n != QR_EAGAIN)
            return qr_smtp_fail_transport(s, n < 0 ? (int)n : QR_EIO);
        rc = wait_io(s, POLLOUT, deadline);
        if (rc != 0)
            return rc < 0 ? rc : timed_out(s, "could not write");
    }
    while ((rc = qr_stack_flush(&s->stack)) != 0) {
        if (rc != QR_EAGAIN)
            return qr_smtp_fail_transport(s, rc);
        rc = wait_io(s, POLLOUT, deadline);
        if (rc != 0)
            return rc < 0 ? rc : timed_out(s, "could not write");
    }
    return 0;
}

/* The parser refused the input: log what it has of the line, fail. */
static int bad_reply(qr_smtp *s, int rc)
{
    char esc[256];
    const qr_dynbuf *l = &s->rp.line;

    if (rc != QR_EPROTO)
        return qr_smtp_fatal(s, qr_smtp_failf(s, rc, "%s", qr_strerror(rc)));
    qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_IN, "S: %s", qr_dynbuf_str(l));
    qr_text_escape(esc, sizeof(esc), qr_dynbuf_str(l), l->len);
    qr_smtp_failf(s, QR_EPROTO, "invalid reply (%s): %s", s->rp.why, esc);
    return qr_smtp_fatal(s, QR_EPROTO);
}

/* Keep the reply just read as s->last. */
static int keep_reply(qr_smtp *s)
{
    qr_dynbuf_reset(&s->last_text);
    s->last.code = 0;
    s->last.text = "";
    if (qr_dynbuf_add(&s->last_text, s->rp.text.ptr, s->rp.text.len) != 0)
        return qr_smtp_fatal(s, qr_smtp_failf(s, QR_ENOMEM, "out of memory"));
    s->last.code = s->rp.code;
    s->last.text = qr_dynbuf_str(&s->last_text);
    return 0;
}

/* Parse buffered input: 1 with a complete reply, 0 when more is needed. */
static int parse_buffered(qr_smtp *s)
{
    while (s->roff < s->rlen) {
        size_t used = 0;
        int rc = qr_smtp_rparser_feed(&s->rp, s->rbuf + s->roff, s->rlen - s->roff, &used);

        s->roff += used;
        if (rc < 0)
            return bad_reply(s, rc);
        if (rc == QR_SMTP_R_MORE)
            continue;
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_IN, "S: %s", qr_dynbuf_str(&s->rp.line));
        if (rc == QR_SMTP_R_DONE)
            return 1;
    }
    s->roff = s->rlen = 0;
    return 0;
}

int qr_smtp_io_reply(qr_smtp *s, int keep)
{
    int64_t deadline = io_deadline(s);
    int rc;

    qr_smtp_rparser_reset(&s->rp);
    for (;;) {
        ssize_t n;

        rc = parse_buffered(s);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return keep && (rc = keep_reply(s)) < 0 ? rc : s->rp.code;
        n = qr_stack_read(&s->stack, s->rbuf, QR_SMTP_RBUF);
        if (n > 0) {
            s->rlen = (size_t)n;
            deadline = io_deadline(s);
            continue;
        }
        if (n == QR_EOF) {
            qr_smtp_failf(s, QR_EOF, "connection closed by the server%s",
                          s->rp.line.len > 0 ? " in the middle of a reply line" : "");
            return qr_smtp_fatal(s, QR_EOF);
        }
        if (n != QR_EAGAIN)
            return qr_smtp_fail_transport(s, n < 0 ? (int)n : QR_EIO);
        rc = wait_io(s, POLLIN, deadline);
        if (rc != 0)
            return rc < 0 ? rc : timed_out(s, "no reply");
    }
}

int qr_smtp_io_input_pending(qr_smtp *s)
{
    ssize_t n;

    if (s->roff < s->rlen)
        return 1;
    s->roff = s->rlen = 0;
    n = qr_stack_read(&s->stack, s->rbuf, QR_SMTP_RBUF);
    if (n > 0) {
        s->rlen = (size_t)n;
        return 1;
    }
    return 0;
}

/* ---- command lines ----------------------------------------------------------- */

void qr_smtp_cmd_begin(qr_smtp *s)
{
    s->line_start = s->cmd.len;
    s->secret_at = SIZE_MAX;
}

void qr_smtp_cmd_add(qr_smtp *s, const char *p, size_t len)
{
    int rc;

    if (s->cmd_err != 0)
        return;
    rc = qr_dynbuf_add(&s->cmd, p, len);
    if (rc != 0)
        s->cmd_err = rc == QR_ELIMIT ? QR_EINVAL : rc;
}

void qr_smtp_cmd_adds(qr_smtp *s, const char *str)
{
    qr_smtp_cmd_add(s, str, strlen(str));
}

void qr_smtp_cmd_secret(qr_smtp *s)
{
    s->secret_at = s->cmd.len;
}

int qr_smtp_cmd_end(qr_smtp *s)
{
    const char *line = s->cmd.ptr != NULL ? s->cmd.ptr + s->line_start : "";
    size_t n = s->cmd.len - s->line_start;

    if (s->cmd_err != 0)
        return s->cmd_err;
    if (s->secret_at != SIZE_MAX && !qr_logger_enabled(&s->log, QR_LOG_TRACE))
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: %.*s<redacted>",
               (int)(s->secret_at - s->line_start), line);
    else
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: %.*s", (int)n, line);
    qr_smtp_cmd_add(s, "\r\n", 2);
    return s->cmd_err;
}

void qr_smtp_cmd_clear(qr_smtp *s)
{
    if (s->cmd.ptr != NULL)
        explicit_bzero(s->cmd.ptr, s->cmd.len);
    qr_dynbuf_reset(&s->cmd);
    s->cmd_err = 0;
    s->line_start = 0;
    s->secret_at = SIZE_MAX;
}

int qr_smtp_cmd_send(qr_smtp *s)
{
    int rc = s->cmd_err;

    if (rc == QR_EINVAL)
        qr_smtp_failf(s, rc, "command line too long");
    else if (rc != 0)
        qr_smtp_failf(s, rc, "out of memory");
    else
        rc = qr_smtp_io_write(s, s->cmd.ptr, s->cmd.len);
    qr_smtp_cmd_clear(s);
    return rc;
}
