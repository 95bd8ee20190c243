/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The authentication step of connection setup: the glue between the
 * session's queue and the sans-IO qr_auth exchange (auth_p.h).
 *
 * The step runs only when the session was configured with credentials
 * (qr_session_setup_configure()) and the server greeted with `* OK`
 * (PREAUTH needs none). qr_auth_start() chooses the mechanism from the
 * current capability list, applies the policy (LOGINDISABLED, weak
 * mechanisms, passwords on an unencrypted link) and builds `LOGIN user
 * pass` or `AUTHENTICATE MECH [initial-response]`; the link it is told
 * about is "secure" for TLS and tunnels, and carries the TLS channel
 * binding the driver handed over at the STARTTLS switch (or at
 * configuration, for imaps).
 *
 * The command is an internal barrier with a continuation handler: each
 * `+ challenge` goes to qr_auth_step() and its answer is queued as one
 * line, erased from memory once sent and shown as `<redacted>` in the
 * log unless the level is QR_LOG_TRACE. A failure of the mechanism makes
 * qr_auth_step() answer `*` (cancel) and the tagged BAD that follows
 * reports it. At the tagged response qr_auth_finish() decides (a SCRAM
 * OK without the server's signature is a failure); any failure is fatal
 * for the session with QR_EAUTH and the server's text. After success the
 * capabilities come from the tagged [CAPABILITY] code, or are forgotten
 * so that the next CAPABILITY step asks again.
 */
#include "config.h"

#include <string.h>

#include "session/session_p.h"

/* Fail the session with the exchange's error (message, code, server text). */
static int fail_auth(qr_session *s, int rc)
{
    const qr_error *e = qr_auth_last_error(s->setup.auth);

    if (e == NULL || e->code == 0)
        return qr_session_fail(s, rc, "authentication failed: %s", qr_strerror(rc));
    rc = qr_session_fail(s, e->code, "%s", e->message);
    if (e->resp_text != NULL || e->resp_code != NULL)
        qr_errslot_set_resp(&s->err, e->resp_code, e->resp_text);
    return rc;
}

static int auth_cont(qr_session *s, qr_scmd *c, const qr_resp *r)
{
    const char *line = NULL;
    size_t len = 0;
    int secret = 0;
    int rc = qr_auth_step(s->setup.auth, r->text.text.ptr != NULL ? r->text.text.ptr : "",
                          r->text.text.len, &line, &len, &secret);

    if (rc == QR_EINVAL || line == NULL)
        return QR_EPROTO; /* LOGIN has no continuations of its own */
    /* rc < 0: line is "*", which cancels; the tagged BAD then reports rc. */
    if (qr_queue_push_line(s, c, line, len, secret) < 0)
        return QR_ENOMEM;
    if (!secret || qr_logger_enabled(&s->log, QR_LOG_TRACE))
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: %.*s", (int)len, line);
    else
        qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_WIRE_OUT, "C: <redacted>");
    return 0;
}

static void auth_hook(qr_session *s, qr_scmd *c, const qr_resp *tagged)
{
    int status = tagged->cond == QR_COND_OK ? 0 : tagged->cond == QR_COND_NO ? QR_ENO : QR_EBAD;
    int rc;

    (void)c;
    rc = qr_auth_finish(s->setup.auth, status, tagged->text.text.ptr);
    if (rc < 0) {
        fail_auth(s, rc);
        if (tagged->text.code.name.ptr != NULL || tagged->text.text.ptr != NULL)
            qr_errslot_set_resp(&s->err, tagged->text.code.name.ptr, tagged->text.text.ptr);
        return;
    }
    qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_EVENT, "authenticated with %s",
           qr_auth_mechanism(s->setup.auth));
    if (tagged->text.code.kind != QR_CODE_CAPABILITY)
        qr_caps_clear(s); /* capabilities change with authentication (spec §4.2) */
    qr_setup_next(s);
}

int qr_setup_step_auth(qr_session *s)
{
    const char *const *caps;
    qr_auth_link link;
    qr_cmd *cmd = NULL;
    size_t n = 0;
    int rc;

    if (s->setup.auth == NULL || s->state != QR_SESSION_NOT_AUTHENTICATED)
        return 0;
    memset(&link, 0, sizeof(link));
    link.secure = s->setup.link != QR_LINK_PLAIN;
    link.cb_type = s->setup.cb_len > 0 ? s->setup.cb_type : QR_AUTH_CB_NONE;
    link.cb_data = s->setup.cb;
    link.cb_len = s->setup.cb_len;
    caps = qr_session_cap_list(s, &n);
    rc = qr_auth_start(s->setup.auth, caps, n, &link, &cmd);
    if (rc < 0)
        return fail_auth(s, rc);
    qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_EVENT, "authenticating with %s",
           qr_auth_mechanism(s->setup.auth));
    if (qr_setup_submit(s, cmd, auth_hook, auth_cont, NULL) < 0)
        return s->fatal;
    return 1;
}
