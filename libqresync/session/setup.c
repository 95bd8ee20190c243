/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Connection setup as a declarative list of steps, the layer switches of
 * setup_p.h, and the typed helpers over qr_session_submit() (LOGIN,
 * LOGOUT, NOOP, CAPABILITY).
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
 * The list (spec imap-client.md §1, §4-§6; DESIGN.md "Connection setup"):
 *
 *   preauth     a PREAUTH greeting on a plain TCP link while STARTTLS is
 *               required is a man in the middle stripping TLS: fatal;
 *   capability  CAPABILITY when the list is unknown;
 *   imap4rev1   the server must be IMAP4rev1 (or rev2);
 *   starttls    required on a plain link: the capability must be there;
 *               STARTTLS is sent; its hook, at the tagged OK, sets the TLS
 *               switch and pauses the feed exactly after the line (bytes
 *               after it are injection: qr_session_feed() fails); nothing
 *               is sent until the driver calls qr_session_switch_done(),
 *               which forgets the capabilities;
 *   capability  again (after STARTTLS);
 *   auth        setup_auth.c: LOGIN or AUTHENTICATE through qr_auth;
 *   capability  again (after authentication, unless the tagged OK had a
 *               [CAPABILITY] code);
 *   compress    COMPRESS DEFLATE when wanted and advertised; at the OK the
 *               deflate switch (leftover bytes go to the inflater);
 *   enable      ENABLE of the configured extensions, checked against the
 *               untagged ENABLED answers.
 *
 * A bare session (no qr_session_setup_configure()) has no STARTTLS,
 * authentication, COMPRESS or ENABLE steps: its caller logs in itself.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "session/session_p.h"
#include "util/alloc.h"
#include "util/text.h"

/* A setup step: 0 when not needed, 1 when started, < 0 when it failed. */
typedef struct setup_step {
    const char *name;          /* for the log */
    int (*run)(qr_session *s); /* policy and start */
} setup_step;

int qr_setup_submit(qr_session *s, qr_cmd *cmd, qr_scmd_hook_fn hook, qr_scmd_cont_fn on_cont,
                    qr_session_untagged_fn on_untagged)
{
    static const qr_session_cmd_opts high = {
        QR_SESSION_CMD_OPTS_VERSION, QR_SESSION_CMD_HIGH_PRIORITY, QR_CLAIM_AUTO, NULL, NULL, NULL};
    int rc = qr_queue_submit(s, cmd, &high, NULL, on_untagged, s, QR_SCMD_INTERNAL, hook);

    if (rc < 0) {
        qr_cmd_free(cmd);
        return qr_session_fail(s, rc, "cannot queue a setup command: %s", qr_strerror(rc));
    }
    /* High priority: the record is now the head of the pending list. */
    s->pending->on_cont = on_cont;
    return 0;
}

static int submit_internal(qr_session *s, const char *name, qr_scmd_hook_fn hook)
{
    qr_cmd *cmd;
    int rc;

    if (s->dying)
        return 0; /* being freed: nothing more to ask */
    rc = qr_cmd_new(&cmd, name, 0);
    if (rc < 0)
        return qr_session_fail(s, rc, "cannot queue %s: %s", name, qr_strerror(rc));
    return qr_setup_submit(s, cmd, hook, NULL, NULL);
}

/* The server's text of a tagged response, escaped, for messages. */
static const char *resp_text(char *buf, size_t cap, const qr_resp *r)
{
    if (r->text.text.ptr == NULL)
        return "";
    qr_text_escape(buf, cap, r->text.text.ptr, r->text.text.len);
    return buf;
}

static void capability_hook(qr_session *s, qr_scmd *c, const qr_resp *tagged)
{
    char buf[256];

    (void)c;
    if (tagged->cond != QR_COND_OK) {
        qr_session_fail(s, QR_EPROTO, "CAPABILITY failed: %s %s", qr_resp_cond_name(tagged->cond),
                        resp_text(buf, sizeof(buf), tagged));
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
    return qr_session_fail(s, QR_ECAPABILITY,
                           "Missing IMAP4rev1 CAPABILITY.  Not an IMAP4 server?");
}

/* --- STARTTLS ---------------------------------------------------------------- */

static int step_preauth(qr_session *s)
{
    if (!s->setup.starttls || s->setup.link != QR_LINK_PLAIN ||
        s->state != QR_SESSION_AUTHENTICATED)
        return 0;
    return qr_session_fail(s, QR_ETLS,
                           "PREAUTH greeting on plaintext connection? MiTM in action? Aborting, "
                           "set \"STARTTLS = NO\" to ignore.");
}

static void starttls_hook(qr_session *s, qr_scmd *c, const qr_resp *tagged)
{
    char buf[256];

    (void)c;
    if (tagged->cond != QR_COND_OK) {
        qr_session_fail(s, QR_ETLS, "STARTTLS refused by the server: %s %s",
                        qr_resp_cond_name(tagged->cond), resp_text(buf, sizeof(buf), tagged));
        return;
    }
    s->setup.xswitch = QR_SWITCH_TLS;
    s->paused = 1; /* the parser stops right after this line */
}

static int step_starttls(qr_session *s)
{
    if (!s->setup.starttls || s->setup.link != QR_LINK_PLAIN)
        return 0;
    if (!qr_session_has_cap(s, QR_CAP_STARTTLS))
        return qr_session_fail(s, QR_ECAPABILITY, "Server did not advertise STARTTLS capability.");
    if (submit_internal(s, "STARTTLS", starttls_hook) < 0)
        return s->fatal;
    return 1;
}

/* --- COMPRESS ------------------------------------------------------------------ */

static void compress_hook(qr_session *s, qr_scmd *c, const qr_resp *tagged)
{
    char buf[256];

    (void)c;
    if (tagged->cond == QR_COND_NO && tagged->text.code.name.ptr != NULL &&
        strcasecmp(tagged->text.code.name.ptr, "COMPRESSIONACTIVE") == 0) {
        qr_setup_next(s); /* already compressing (RFC 4978 §3): nothing changes */
        return;
    }
    if (tagged->cond != QR_COND_OK) {
        qr_session_fail(s, QR_ECOMPRESS, "COMPRESS DEFLATE failed: %s %s",
                        qr_resp_cond_name(tagged->cond), resp_text(buf, sizeof(buf), tagged));
        return;
    }
    s->setup.xswitch = QR_SWITCH_DEFLATE;
    s->paused = 1;
}

/* Whether some COMPRESS=ALGO is advertised. */
static int any_compress_cap(const qr_session *s)
{
    size_t i;

    for (i = 0; i < s->cap_count; i++)
        if (strncasecmp(s->cap_names[i], "COMPRESS=", 9) == 0)
            return 1;
    return 0;
}

static int step_compress(qr_session *s)
{
    qr_cmd *cmd;
    int rc;

    if (!s->setup.compress || s->setup.compress_active || !any_compress_cap(s))
        return 0;
    if (!qr_session_has_cap(s, QR_CAP_COMPRESS_DEFLATE)) {
        qr_log(&s->log, QR_LOG_WARNING, QR_LOG_EVENT,
               "Couldn't find a suitable compression algorithm. Not enabling compression.");
        return 0;
    }
    rc = qr_cmd_new(&cmd, "COMPRESS", 0);
    if (rc == 0)
        rc = qr_cmd_add_atom(cmd, "DEFLATE");
    if (rc < 0) {
        qr_cmd_free(cmd);
        return qr_session_fail(s, rc, "cannot build COMPRESS: %s", qr_strerror(rc));
    }
    if (qr_setup_submit(s, cmd, compress_hook, NULL, NULL) < 0)
        return s->fatal;
    return 1;
}

/* --- ENABLE ---------------------------------------------------------------------- */

static int enabled_untagged(qr_session *s, const qr_resp *r, void *payload)
{
    size_t i, j;

    (void)payload;
    if (r->kind != QR_RESP_ENABLED)
        return 0;
    for (i = 0; i < r->u.strlist.count; i++)
        for (j = 0; j < s->setup.nenable; j++)
            if (r->u.strlist.items[i].ptr != NULL &&
                strcasecmp(r->u.strlist.items[i].ptr, s->setup.enable[j]) == 0)
                s->setup.enabled |= 1u << j;
    return 0;
}

static void enable_hook(qr_session *s, qr_scmd *c, const qr_resp *tagged)
{
    size_t j;

    (void)c;
    for (j = 0; j < s->setup.nenable; j++)
        if (tagged->cond != QR_COND_OK || !(s->setup.enabled & (1u << j))) {
            qr_session_fail(s, QR_ECAPABILITY, "Couldn't ENABLE %s", s->setup.enable[j]);
            return;
        }
    qr_setup_next(s);
}

static int step_enable(qr_session *s)
{
    qr_cmd *cmd;
    size_t j;
    int rc;

    if (s->setup.nenable == 0)
        return 0;
    if (!qr_session_has_cap(s, QR_CAP_ENABLE))
        return qr_session_fail(s, QR_ECAPABILITY,
                               "Server did not advertise ENABLE (RFC 5161) capability.");
    for (j = 0; j < s->setup.nenable; j++)
        if (!qr_session_has_cap_name(s, s->setup.enable[j]))
            return qr_session_fail(s, QR_ECAPABILITY, "Server did not advertise %s capability.",
                                   s->setup.enable[j]);
    rc = qr_cmd_new(&cmd, "ENABLE", 0);
    for (j = 0; rc == 0 && j < s->setup.nenable; j++)
        rc = qr_cmd_add_atom(cmd, s->setup.enable[j]);
    if (rc < 0) {
        qr_cmd_free(cmd);
        return qr_session_fail(s, rc, "cannot build ENABLE: %s", qr_strerror(rc));
    }
    if (qr_setup_submit(s, cmd, enable_hook, NULL, enabled_untagged) < 0)
        return s->fatal;
    return 1;
}

static const setup_step steps[] = {
    {"preauth", step_preauth},       {"capability", step_capability},
    {"imap4rev1", step_imap4},       {"starttls", step_starttls},
    {"capability", step_capability}, {"authenticate", qr_setup_step_auth},
    {"capability", step_capability}, {"compress", step_compress},
    {"enable", step_enable},
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
