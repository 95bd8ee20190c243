/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Connection setup as a declarative list of steps, and the typed helpers
 * over qr_session_submit() (LOGIN, LOGOUT, NOOP, CAPABILITY).
 *
 * After the greeting (session.c) the session is in the SETUP phase: only
 * commands flagged QR_SCMD_INTERNAL start, and they go at the head of the
 * pending list. qr_setup_next() walks `steps` from s->setup_step: each step
 * either is not needed (returns 0: go on), or submits its command and
 * returns 1; the command's hook calls qr_setup_next() again when the tagged
 * reply arrives. A step failing fails the session. When the list is done
 * the phase becomes READY, options.on_ready runs, and the commands the user
 * submitted meanwhile start at the next qr_session_output().
 *
 * This round's list: CAPABILITY when the greeting did not announce the
 * capabilities, then the IMAP4rev1 check (spec §4.2). The next round slots
 * in, in this order (DESIGN.md "Connection setup"): STARTTLS (its hook
 * pauses the feed right after the tagged OK, which the parser guarantees
 * leaves the TLS bytes unconsumed; the driver pushes the TLS layer;
 * qr_session_caps_invalidate(); the CAPABILITY step again), AUTHENTICATE
 * through libgsasl (a continuation hook on the record answers each "+";
 * SASL-IR when advertised; then caps from the [CAPABILITY] code or the
 * CAPABILITY step again), COMPRESS DEFLATE (pause after OK, push the
 * deflate layer), ENABLE QRESYNC. Each is one more row in `steps` with its
 * own policy function.
 */
#include "config.h"

#include <string.h>

#include "session/session_p.h"

/* A setup step: 0 when not needed, 1 when started, < 0 when it failed. */
typedef struct setup_step {
    const char *name;          /* for the log */
    int (*run)(qr_session *s); /* policy and start */
} setup_step;

static int submit_internal(qr_session *s, const char *name, qr_scmd_hook_fn hook)
{
    static const qr_session_cmd_opts high = {
        QR_SESSION_CMD_OPTS_VERSION, QR_SESSION_CMD_HIGH_PRIORITY, QR_CLAIM_AUTO, NULL, NULL, NULL};
    qr_cmd *cmd;
    int rc;

    if (s->dying)
        return 0; /* being freed: nothing more to ask */
    rc = qr_cmd_new(&cmd, name, 0);
    if (rc == 0) {
        rc = qr_queue_submit(s, cmd, &high, NULL, NULL, NULL, QR_SCMD_INTERNAL, hook);
        if (rc < 0)
            qr_cmd_free(cmd);
    }
    if (rc < 0)
        return qr_session_fail(s, rc, "cannot queue %s: %s", name, qr_strerror(rc));
    return 0;
}

static void capability_hook(qr_session *s, qr_scmd *c, const qr_resp *tagged)
{
    (void)c;
    if (tagged->cond != QR_COND_OK) {
        qr_session_fail(s, QR_EPROTO, "CAPABILITY failed: %s %.200s",
                        qr_resp_cond_name(tagged->cond),
                        tagged->text.text.ptr ? tagged->text.text.ptr : "");
        return;
    }
    if (!s->caps_known) {
        qr_session_fail(s, QR_EPROTO, "CAPABILITY answered without a capability list");
        return;
    }
    qr_setup_next(s);
}

static int step_capability(qr_session *s)
{
    if (s->caps_known)
        return 0;
    if (submit_internal(s, "CAPABILITY", capability_hook) < 0)
        return s->fatal;
    return 1;
}

static int step_imap4(qr_session *s)
{
    if (qr_session_has_cap(s, QR_CAP_IMAP4REV1) || qr_session_has_cap(s, QR_CAP_IMAP4REV2))
        return 0;
    return qr_session_fail(s, QR_ECAPABILITY, "missing IMAP4rev1 capability: not an IMAP4 server?");
}

static const setup_step steps[] = {
    {"capability", step_capability}, {"imap4rev1", step_imap4},
    /* next round: starttls, capability, authenticate, capability, compress, enable */
};

void qr_setup_next(qr_session *s)
{
    if (s->dying || s->fatal)
        return;
    while (s->setup_step < sizeof(steps) / sizeof(steps[0])) {
        const setup_step *st = &steps[s->setup_step++];
        int rc = st->run(s);

        if (rc < 0 || s->fatal)
            return;
        if (rc > 0) {
            qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_EVENT, "setup: %s", st->name);
            return;
        }
    }
    if (s->phase == QR_PHASE_READY)
        return;
    s->phase = QR_PHASE_READY;
    qr_log(&s->log, QR_LOG_DEBUG, QR_LOG_EVENT, "setup: ready");
    if (s->opts.on_ready != NULL)
        qr_session_user_rc(s, s->opts.on_ready(s, s->opts.payload), "ready");
}

/* --- helpers ---------------------------------------------------------------- */

static void login_hook(qr_session *s, qr_scmd *c, const qr_resp *tagged)
{
    (void)c;
    if (tagged->cond != QR_COND_OK || tagged->text.code.kind == QR_CODE_CAPABILITY)
        return;
    /* Capabilities change with authentication (spec §4.2 step 9). */
    qr_caps_clear(s);
    submit_internal(s, "CAPABILITY", NULL);
}

static int submit_simple(qr_session *s, const char *name, qr_session_done_fn on_done, void *payload)
{
    qr_cmd *cmd;
    int rc;

    if (s == NULL)
        return QR_EINVAL;
    rc = qr_cmd_new(&cmd, name, 0);
    if (rc < 0)
        return qr_err_set(&s->err, rc, "cannot build %s", name);
    rc = qr_queue_submit(s, cmd, NULL, on_done, NULL, payload, 0, NULL);
    if (rc < 0)
        qr_cmd_free(cmd);
    return rc;
}

QR_EXTERN int qr_session_login(qr_session *s, const char *user, const char *password,
                               qr_session_done_fn on_done, void *payload)
{
    qr_cmd *cmd;
    int rc;

    if (s == NULL || user == NULL || password == NULL)
        return QR_EINVAL;
    if (qr_session_has_cap(s, QR_CAP_LOGINDISABLED))
        return qr_err_set(&s->err, QR_ECAPABILITY, "server advertises LOGINDISABLED");
    rc = qr_cmd_new(&cmd, "LOGIN", 0);
    if (rc < 0)
        return qr_err_set(&s->err, rc, "cannot build LOGIN");
    qr_cmd_add_astring(cmd, user, strlen(user));
    qr_cmd_set_secret(cmd, 1);
    qr_cmd_add_astring(cmd, password, strlen(password));
    qr_cmd_set_secret(cmd, 0);
    rc = qr_cmd_error(cmd);
    if (rc < 0) {
        qr_cmd_free(cmd);
        return qr_err_set(&s->err, rc, "cannot build LOGIN: %s", qr_strerror(rc));
    }
    rc = qr_queue_submit(s, cmd, NULL, on_done, NULL, payload, 0, login_hook);
    if (rc < 0)
        qr_cmd_free(cmd);
    return rc;
}

QR_EXTERN int qr_session_logout(qr_session *s, qr_session_done_fn on_done, void *payload)
{
    return submit_simple(s, "LOGOUT", on_done, payload);
}

QR_EXTERN int qr_session_noop(qr_session *s, qr_session_done_fn on_done, void *payload)
{
    return submit_simple(s, "NOOP", on_done, payload);
}

QR_EXTERN int qr_session_capability(qr_session *s, qr_session_done_fn on_done, void *payload)
{
    return submit_simple(s, "CAPABILITY", on_done, payload);
}
