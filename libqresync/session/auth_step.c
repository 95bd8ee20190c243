/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The SASL half of qr_auth: libgsasl glue, continuation requests and the
 * outcome.
 *
 * Each qr_auth that chose a SASL mechanism owns one Gsasl context (there is
 * no global libgsasl state; gsasl_init() and gsasl_done() cost about half a
 * microsecond) with our XOAUTH2 and OAUTHBEARER registered on it alone,
 * and one client session. libgsasl asks for what it needs through one
 * property callback, which answers from the qr_auth: the user name, the
 * authorization identity, the password (asked from the caller's callback
 * at most once), and the channel binding, base64, for the type the link
 * has (libgsasl 2.2's SCRAM client asks for tls-exporter first, then
 * tls-unique, and names the one it got in its gs2 header). The session
 * hook of the libgsasl session points back at the qr_auth, so that our
 * OAuth mechanisms can read the token and the OAUTHBEARER host and port.
 *
 * The exchange: a continuation's text is strictly base64-decoded,
 * given to gsasl_step(), and its output is base64-encoded into a->line,
 * the next line to send (marked secret). GSASL_OK from gsasl_step() sets
 * mech_done: for SCRAM that happens only once the server's signature was
 * verified, so a tagged OK before it is refused (the server never proved
 * it knows the password). Any local failure records its reason once
 * (qr_auth_fail keeps the first), answers `*` to cancel the exchange, and
 * is what qr_auth_finish() reports whatever the server then says.
 *
 * Secrets: every buffer that held SASL output is overwritten before it is
 * freed (a->line, the decoded challenge, libgsasl's outputs), and the
 * password-derived properties libgsasl keeps in its session (password,
 * SCRAM salted password and keys) are overwritten before gsasl_finish().
 * What libgsasl frees inside its mechanisms without erasing (the SCRAM
 * client's proof and keys on its stack) is out of our reach.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "session/auth_p.h"
#include "util/alloc.h"

static int gsasl_property_cb(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
    qr_auth *a = gsasl_callback_hook_get(ctx);
    const char *value = NULL;

    if (a == NULL)
        return GSASL_NO_CALLBACK;
    switch (prop) {
    case GSASL_AUTHID:
        value = a->username;
        break;
    case GSASL_AUTHZID:
        value = a->authzid;
        break;
    case GSASL_PASSWORD:
        if (qr_auth_load_password(a) != 0)
            return GSASL_NO_PASSWORD;
        value = a->secret;
        break;
    case GSASL_SERVICE:
        value = a->service != NULL ? a->service : "imap";
        break;
    case GSASL_HOSTNAME:
        value = a->oauth_host;
        break;
    case GSASL_CB_TLS_UNIQUE:
    case GSASL_CB_TLS_EXPORTER:
        if (a->cb_offer && a->cb_type == (prop == GSASL_CB_TLS_UNIQUE ? QR_AUTH_CB_TLS_UNIQUE
                                                                      : QR_AUTH_CB_TLS_EXPORTER))
            value = a->cb_b64;
        break;
    default:
        break;
    }
    if (value == NULL)
        return GSASL_NO_CALLBACK;
    return gsasl_property_set(sctx, prop, value);
}

/* Record a libgsasl failure of gsasl_step() call number a->steps. */
static int gsasl_failure(qr_auth *a, int grc)
{
    int scram = a->kind == QR_AUTH_K_SCRAM || a->kind == QR_AUTH_K_SCRAM_PLUS;
    int fresh = a->first_error == 0, rc;

    if (grc == GSASL_MALLOC_ERROR)
        rc = qr_auth_fail(a, QR_ENOMEM, "%s: out of memory in libgsasl", a->mech);
    else if (grc == GSASL_MECHANISM_PARSE_ERROR)
        rc = qr_auth_fail(a, QR_EPROTO, "%s: malformed server message", a->mech);
    else if (grc == GSASL_MECHANISM_CALLED_TOO_MANY_TIMES)
        rc = qr_auth_fail(a, QR_EPROTO, "%s: the server asked for more than the mechanism has",
                          a->mech);
    else if (scram && grc == GSASL_AUTHENTICATION_ERROR && a->steps == 3)
        rc = qr_auth_fail(a, QR_EAUTH, "SCRAM server signature mismatch");
    else if (scram && grc == GSASL_AUTHENTICATION_ERROR && a->steps == 2)
        rc = qr_auth_fail(a, QR_EAUTH, "SCRAM server nonce does not extend ours");
    else
        rc = qr_auth_fail(a, QR_EAUTH, "%s: %s", a->mech, gsasl_strerror(grc));
    if (fresh)
        qr_errslot_set_lib_code(&a->err, grc);
    return rc;
}

/* gsasl_step() on in[0..n); its output, base64, goes to a fresh a->line. */
static int sasl_respond(qr_auth *a, const char *in, size_t n)
{
    char *out = NULL;
    size_t out_len = 0;
    int grc, rc;

    a->steps++;
    grc = gsasl_step(a->gs, in, n, &out, &out_len);
    if (grc != GSASL_OK && grc != GSASL_NEEDS_MORE) {
        if (out != NULL)
            explicit_bzero(out, out_len);
        gsasl_free(out);
        return gsasl_failure(a, grc);
    }
    if (grc == GSASL_OK)
        a->mech_done = 1;
    qr_auth_erase_buf(&a->line);
    qr_dynbuf_init(&a->line, QR_AUTH_LINE_MAX);
    rc = qr_b64_encode(&a->line, out, out_len);
    if (out != NULL)
        explicit_bzero(out, out_len);
    gsasl_free(out);
    if (rc != 0)
        return qr_auth_fail(a, rc, "%s: cannot encode the response", a->mech);
    return 0;
}

int qr_auth_sasl_begin(qr_auth *a, int ir)
{
    int grc;

    grc = gsasl_init(&a->gsasl);
    if (grc != GSASL_OK) {
        a->gsasl = NULL;
        return gsasl_failure(a, grc);
    }
    gsasl_callback_hook_set(a->gsasl, a);
    gsasl_callback_set(a->gsasl, gsasl_property_cb);
    if (a->kind == QR_AUTH_K_OAUTH) {
        grc = qr_auth_oauth_register(a->gsasl);
        if (grc != GSASL_OK)
            return gsasl_failure(a, grc);
    }
    if (!gsasl_client_support_p(a->gsasl, a->mech))
        return qr_auth_fail(a, QR_EAUTH, "Unsupported authentication mechanism: %s", a->mech);
    grc = gsasl_client_start(a->gsasl, a->mech, &a->gs);
    if (grc != GSASL_OK) {
        a->gs = NULL;
        return gsasl_failure(a, grc);
    }
    gsasl_session_hook_set(a->gs, a);
    return ir ? sasl_respond(a, "", 0) : 0;
}

void qr_auth_sasl_end(qr_auth *a)
{
    static const Gsasl_property secret_props[] = {
        GSASL_PASSWORD,
        GSASL_SCRAM_SALTED_PASSWORD,
        GSASL_SCRAM_SERVERKEY,
        GSASL_SCRAM_STOREDKEY,
    };
    size_t i;

    if (a->gs != NULL) {
        for (i = 0; i < sizeof(secret_props) / sizeof(secret_props[0]); i++) {
            char *p = (char *)gsasl_property_fast(a->gs, secret_props[i]);
            if (p != NULL)
                explicit_bzero(p, strlen(p));
        }
        gsasl_finish(a->gs);
        a->gs = NULL;
    }
    if (a->gsasl != NULL) {
        gsasl_done(a->gsasl);
        a->gsasl = NULL;
    }
}

static const char cancel_line[] = "*";

int qr_auth_step(qr_auth *a, const char *text, size_t len, const char **line, size_t *len_out,
                 int *secret)
{
    qr_dynbuf in;
    int rc;

    if (line == NULL || len_out == NULL || secret == NULL)
        return QR_EINVAL;
    *line = NULL;
    *len_out = 0;
    *secret = 0;
    if (a == NULL || (text == NULL && len > 0) ||
        (a->state != QR_AUTH_SENT && a->state != QR_AUTH_FAILED) || a->gs == NULL)
        return QR_EINVAL;
    if (a->first_error == 0) {
        qr_dynbuf_init(&in, QR_AUTH_CHALLENGE_MAX);
        rc = qr_b64_decode(&in, text, len);
        if (rc == QR_EPROTO)
            qr_auth_fail(a, rc, "%s: the server's challenge is not base64", a->mech);
        else if (rc != 0)
            qr_auth_fail(a, rc, "%s: the server's challenge is too long", a->mech);
        else
            sasl_respond(a, in.ptr != NULL ? in.ptr : "", in.len);
        qr_auth_erase_buf(&in);
    }
    if (a->first_error != 0) {
        *line = cancel_line;
        *len_out = 1;
        return a->first_error;
    }
    *line = a->line.ptr != NULL ? a->line.ptr : "";
    *len_out = a->line.len;
    *secret = 1;
    return 0;
}

/* "LOGIN" or "AUTHENTICATE MECH", for messages. */
static const char *command_name(const qr_auth *a, char *buf, size_t cap)
{
    if (a->kind == QR_AUTH_K_LOGIN_CMD)
        return "LOGIN";
    snprintf(buf, cap, "%s %s", a->sasl_only ? "AUTH" : "AUTHENTICATE", a->mech);
    return buf;
}

int qr_auth_finish(qr_auth *a, int status, const char *text)
{
    char name[QR_AUTH_MECH_MAX + 16];
    const char *what;

    if (a == NULL || a->state == QR_AUTH_NEW || a->state == QR_AUTH_DONE_OK)
        return QR_EINVAL;
    what = command_name(a, name, sizeof(name));
    qr_auth_sasl_end(a);
    if (a->secret != NULL) {
        explicit_bzero(a->secret, a->secret_len);
        qr_free(a->secret);
        a->secret = NULL;
        a->secret_len = 0;
    }
    qr_auth_erase_buf(&a->line);
    if (a->first_error != 0)
        return a->first_error;
    if (text == NULL)
        text = "";
    if (status == 0) {
        if (a->kind != QR_AUTH_K_LOGIN_CMD && !a->mech_done)
            return qr_auth_fail(a, QR_EAUTH,
                                "%s: the server accepted before the mechanism completed (%s)", what,
                                a->kind == QR_AUTH_K_SCRAM || a->kind == QR_AUTH_K_SCRAM_PLUS
                                    ? "SCRAM server signature missing"
                                    : "server not verified");
        a->state = QR_AUTH_DONE_OK;
        return 0;
    }
    if ((status == QR_ENO || status == QR_EBAD) && a->sasl_only) {
        qr_auth_fail(a, QR_EAUTH, "%s failed: %s%s%s%s", what, text,
                     a->oauth_error.len > 0 ? " (server's OAuth error: " : "",
                     qr_dynbuf_str(&a->oauth_error), a->oauth_error.len > 0 ? ")" : "");
        qr_errslot_set_resp(&a->err, NULL, text);
        return QR_EAUTH;
    }
    if (status == QR_ENO || status == QR_EBAD) {
        qr_auth_fail(a, QR_EAUTH, "%s failed: %s %s%s%s%s", what, status == QR_ENO ? "NO" : "BAD",
                     text, a->oauth_error.len > 0 ? " (server's OAuth error: " : "",
                     qr_dynbuf_str(&a->oauth_error), a->oauth_error.len > 0 ? ")" : "");
        qr_errslot_set_resp(&a->err, NULL, text);
        return QR_EAUTH;
    }
    return qr_auth_fail(a, status < 0 ? status : QR_ERROR, "%s did not complete: %s", what,
                        qr_strerror(status));
}
