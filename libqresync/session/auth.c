/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr_auth: the authentication step of connection setup, as a sans-IO
 * object (see auth_p.h for the calling sequence).
 *
 * This file holds the object, the choice of a mechanism, the policy and
 * the first command. The choice follows the reference (spec §4.2): the
 * candidates are LOGIN (the IMAP command, always possible) and every X of
 * an advertised `AUTH=X` (prefix case-insensitive, X compared
 * uppercased); the configured list (default "PLAIN LOGIN") is walked in
 * order and its first candidate wins. A configured LOGIN is the command,
 * never SASL LOGIN. Beyond the reference, SCRAM-*-PLUS is a candidate only
 * when the link gives channel-binding bytes.
 *
 * The policy then refuses the choice (it never falls back to the next
 * entry, so what happens is what the configuration says):
 *   1. LOGIN or PLAIN with `LOGINDISABLED` advertised (matched
 *      case-sensitively, as the reference does): "Logins are disabled.";
 *   2. a mechanism outside the known-good set (LOGIN, PLAIN, SCRAM-SHA-1,
 *      SCRAM-SHA-256, their -PLUS variants, XOAUTH2, OAUTHBEARER) unless
 *      allow_weak;
 *   3. a password (LOGIN, PLAIN) or a bearer token (XOAUTH2, OAUTHBEARER)
 *      over a link that is not secure (neither TLS nor a local tunnel)
 *      unless allow_plaintext. SCRAM never shows the password, so it is
 *      fine anywhere.
 * Then the credentials are checked (user name; password from the options
 * or the callback; OAuth token from the callback) and the command is
 * built with the typed builder, secret arguments marked so logs redact
 * them: `LOGIN user pass`, or `AUTHENTICATE MECH [ir]` where the initial
 * response goes with the command when the server advertises SASL-IR and
 * the mechanism speaks first (an empty one is sent as `=`, RFC 4959).
 *
 * qr_auth_start_sasl() makes the same choice under the same policy for
 * SMTP AUTH (libqresync/smtp/smtp_auth.c): the candidates are the
 * mechanism names of the EHLO `AUTH` keyword, LOGIN is the SASL mechanism
 * (a password one, so the plaintext rule applies), LOGINDISABLED is an
 * IMAP matter, and instead of a command it hands back the initial
 * response; qr_auth_step() and qr_auth_finish() then work unchanged.
 *
 * Secrets: the password or token lives in a->secret from the moment it is
 * needed until the exchange ends (right after building LOGIN; at
 * qr_auth_finish() or qr_auth_free() for SASL), and is overwritten with
 * explicit_bzero() before it is freed. A failed qr_auth_start() leaves the
 * object failed: only qr_auth_last_error() and qr_auth_free() remain.
 */
#include "config.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "proto/builder_p.h"
#include "session/auth_p.h"
#include "util/alloc.h"

#define DEFAULT_MECHANISMS "PLAIN LOGIN"

/* The mechanisms the policy knows, by kind. */
static const struct {
    const char *name;
    enum qr_auth_kind kind;
} known_mechs[] = {
    {"LOGIN", QR_AUTH_K_LOGIN_CMD},
    {"PLAIN", QR_AUTH_K_PLAIN},
    {"SCRAM-SHA-1", QR_AUTH_K_SCRAM},
    {"SCRAM-SHA-256", QR_AUTH_K_SCRAM},
    {"SCRAM-SHA-1-PLUS", QR_AUTH_K_SCRAM_PLUS},
    {"SCRAM-SHA-256-PLUS", QR_AUTH_K_SCRAM_PLUS},
    {"XOAUTH2", QR_AUTH_K_OAUTH},
    {"OAUTHBEARER", QR_AUTH_K_OAUTH},
};

/* Mechanisms that send the first message, so they can use SASL-IR. */
static const char *const client_first[] = {
    "PLAIN",   "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS",
    "XOAUTH2", "OAUTHBEARER", "EXTERNAL",      "ANONYMOUS",
};

int qr_auth_options_init(qr_auth_options *opts, unsigned int version)
{
    static const qr_auth_options defaults = QR_AUTH_OPTIONS_INIT;

    if (opts == NULL || version != QR_AUTH_OPTIONS_VERSION)
        return QR_EINVAL;
    *opts = defaults;
    return 0;
}

int qr_auth_fail_at(qr_auth *a, const char *file, int line, const char *func, int code,
                    const char *fmt, ...)
{
    va_list ap;

    a->state = QR_AUTH_FAILED;
    if (a->first_error != 0)
        return a->first_error;
    a->first_error = code;
    va_start(ap, fmt);
    qr_errslot_vset(&a->err, file, line, func, code, fmt, ap);
    va_end(ap);
    return code;
}

static enum qr_auth_kind mech_kind(const char *mech)
{
    size_t i;

    for (i = 0; i < sizeof(known_mechs) / sizeof(known_mechs[0]); i++)
        if (strcmp(known_mechs[i].name, mech) == 0)
            return known_mechs[i].kind;
    return QR_AUTH_K_OTHER;
}

static int is_client_first(const char *mech)
{
    size_t i;

    for (i = 0; i < sizeof(client_first) / sizeof(client_first[0]); i++)
        if (strcmp(client_first[i], mech) == 0)
            return 1;
    return 0;
}

static int is_mech_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

/*
 * The next name of a mechanism list from *p, uppercased into name
 * (QR_AUTH_MECH_MAX + 1 bytes). Returns 1 with a name, 0 at the end, -1
 * for a malformed name.
 */
static int next_mech(const char **p, char *name)
{
    const char *s = *p;
    size_t n = 0;

    while (is_space(*s))
        s++;
    if (*s == '\0')
        return 0;
    while (*s != '\0' && !is_space(*s)) {
        if (!is_mech_char((unsigned char)*s) || n == QR_AUTH_MECH_MAX)
            return -1;
        name[n++] = (*s >= 'a' && *s <= 'z') ? (char)(*s - 'a' + 'A') : *s;
        s++;
    }
    name[n] = '\0';
    *p = s;
    return 1;
}

static int list_valid(const char *list)
{
    char name[QR_AUTH_MECH_MAX + 1];
    int rc, count = 0;

    while ((rc = next_mech(&list, name)) == 1)
        if (++count > QR_AUTH_LIST_MAX)
            return 0;
    return rc == 0;
}

/* Copy s (may be NULL) into *dst. 0 or QR_ENOMEM. */
static int copy_opt(char **dst, const char *s)
{
    if (s == NULL)
        return 0;
    *dst = qr_strdup(s);
    return *dst != NULL ? 0 : QR_ENOMEM;
}

int qr_auth_new(qr_auth **out, const qr_auth_options *opts)
{
    static const qr_auth_options defaults = QR_AUTH_OPTIONS_INIT;
    qr_auth *a;

    if (out == NULL)
        return QR_EINVAL;
    *out = NULL;
    if (opts == NULL)
        opts = &defaults;
    if (opts->version != QR_AUTH_OPTIONS_VERSION ||
        (opts->mechanisms != NULL && !list_valid(opts->mechanisms)) || opts->oauth_port > 65535)
        return QR_EINVAL;
    a = qr_calloc(1, sizeof(*a));
    if (a == NULL)
        return QR_ENOMEM;
    qr_errslot_clear(&a->err);
    qr_dynbuf_init(&a->line, QR_AUTH_LINE_MAX);
    qr_dynbuf_init(&a->oauth_error, 512);
    a->oauth_port = opts->oauth_port;
    a->allow_weak = opts->allow_weak != 0;
    a->allow_plaintext = opts->allow_plaintext != 0;
    a->password_fn = opts->password_fn;
    a->token_fn = opts->token_fn;
    a->payload = opts->payload;
    if (copy_opt(&a->username, opts->username) != 0 || copy_opt(&a->authzid, opts->authzid) != 0 ||
        copy_opt(&a->mechanisms, opts->mechanisms) != 0 ||
        copy_opt(&a->oauth_host, opts->oauth_host) != 0 ||
        (opts->password != NULL &&
         (a->secret = qr_memdup0(opts->password, strlen(opts->password))) == NULL)) {
        qr_auth_free(a);
        return QR_ENOMEM;
    }
    if (a->secret != NULL)
        a->secret_len = strlen(a->secret);
    *out = a;
    return 0;
}

static void erase_secret(qr_auth *a)
{
    if (a->secret != NULL) {
        explicit_bzero(a->secret, a->secret_len);
        qr_free(a->secret);
    }
    a->secret = NULL;
    a->secret_len = 0;
}

void qr_auth_free(qr_auth *a)
{
    if (a == NULL)
        return;
    qr_auth_sasl_end(a);
    erase_secret(a);
    qr_free(a->username);
    qr_free(a->authzid);
    qr_free(a->mechanisms);
    qr_free(a->oauth_host);
    qr_free(a->cb_b64);
    qr_auth_erase_buf(&a->line);
    qr_dynbuf_free(&a->oauth_error);
    qr_free(a);
}

const char *qr_auth_mechanism(const qr_auth *a)
{
    return a != NULL ? a->mech : "";
}

const qr_error *qr_auth_last_error(const qr_auth *a)
{
    return qr_errslot_get(&a->err);
}

/* Whether `AUTH=mech` is advertised (prefix and name case-insensitive). */
static int has_auth_cap(const char *const *caps, size_t ncaps, const char *mech)
{
    size_t i;

    for (i = 0; i < ncaps; i++)
        if (caps[i] != NULL && strncasecmp(caps[i], "AUTH=", 5) == 0 &&
            strcasecmp(caps[i] + 5, mech) == 0)
            return 1;
    return 0;
}

static int has_cap(const char *const *caps, size_t ncaps, const char *name, int exact_case)
{
    size_t i;

    for (i = 0; i < ncaps; i++)
        if (caps[i] != NULL &&
            (exact_case ? strcmp(caps[i], name) : strcasecmp(caps[i], name)) == 0)
            return 1;
    return 0;
}

/* Walk the configured list; fills a->mech and a->kind. 0 or QR_EAUTH. */
static int choose(qr_auth *a, const char *const *caps, size_t ncaps, const qr_auth_link *link)
{
    const char *p = a->mechanisms != NULL ? a->mechanisms : DEFAULT_MECHANISMS;
    char name[QR_AUTH_MECH_MAX + 1];

    while (next_mech(&p, name) == 1) {
        enum qr_auth_kind kind = mech_kind(name);

        if (a->sasl_only) { /* SMTP AUTH: plain mechanism names, LOGIN is SASL */
            if (!has_cap(caps, ncaps, name, 0))
                continue;
            if (kind == QR_AUTH_K_LOGIN_CMD)
                kind = QR_AUTH_K_SASL_LOGIN;
        } else if (kind != QR_AUTH_K_LOGIN_CMD && !has_auth_cap(caps, ncaps, name))
            continue;
        if (kind == QR_AUTH_K_SCRAM_PLUS && link->cb_type == QR_AUTH_CB_NONE)
            continue; /* no channel binding on this link */
        memcpy(a->mech, name, strlen(name) + 1);
        a->kind = kind;
        return 0;
    }
    return qr_auth_fail(a, QR_EAUTH, "Failed to choose an authentication mechanism");
}

static int check_policy(qr_auth *a, const char *const *caps, size_t ncaps, const qr_auth_link *link)
{
    enum qr_auth_kind k = a->kind;

    if ((k == QR_AUTH_K_LOGIN_CMD || k == QR_AUTH_K_PLAIN) && !a->sasl_only &&
        has_cap(caps, ncaps, "LOGINDISABLED", 1))
        return qr_auth_fail(a, QR_EAUTH, "Logins are disabled.");
    if (k == QR_AUTH_K_OTHER && !a->allow_weak)
        return qr_auth_fail(a, QR_EAUTH,
                            "mechanism %s refused: weak (set auth-allow-weak to use it anyway)",
                            a->mech);
    if ((k == QR_AUTH_K_LOGIN_CMD || k == QR_AUTH_K_PLAIN || k == QR_AUTH_K_OAUTH ||
         k == QR_AUTH_K_SASL_LOGIN) &&
        !link->secure && !a->allow_plaintext)
        return qr_auth_fail(a, QR_EAUTH,
                            "refusing to send a %s over an unencrypted connection (mechanism "
                            "%s; set auth-allow-plaintext to override)",
                            k == QR_AUTH_K_OAUTH ? "bearer token" : "password", a->mech);
    return 0;
}

/* Ask a secret callback; the bytes are copied into a->secret. */
static int call_secret_fn(qr_auth *a, qr_auth_secret_fn fn, const char *what)
{
    qr_buf got = QR_BUF_INIT;
    int rc = fn(&got, a->payload);

    if (rc < 0)
        return qr_auth_fail(a, QR_EUSER, "the %s callback failed (%d)", what, rc);
    if (got.ptr == NULL || got.size == 0)
        return qr_auth_fail(a, QR_EAUTH, "the %s callback gave an empty %s", what, what);
    if (got.size > QR_AUTH_SECRET_MAX || memchr(got.ptr, '\0', got.size) != NULL)
        return qr_auth_fail(a, QR_EINVAL, "the %s callback gave a %s over 64 KiB or with NUL", what,
                            what);
    a->secret = qr_memdup0(got.ptr, got.size);
    if (a->secret == NULL)
        return qr_auth_fail(a, QR_ENOMEM, "out of memory copying the %s", what);
    a->secret_len = got.size;
    return 0;
}

/* The bytes a bearer token may hold (RFC 6750 b64token), and a user name
 * must not hold the OAuth separator 0x01. */
static int oauth_text_ok(const char *s, int token)
{
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (token ? !(is_mech_char(c) || c == '.' || c == '~' || c == '+' || c == '/' || c == '=')
                  : c == 0x01)
            return 0;
    }
    return 1;
}

/* Check and load what the chosen mechanism needs. */
static int load_credentials(qr_auth *a)
{
    enum qr_auth_kind k = a->kind;
    int rc;

    if (k != QR_AUTH_K_OTHER && (a->username == NULL || a->username[0] == '\0'))
        return qr_auth_fail(a, QR_EAUTH, "Missing option username");
    if (k == QR_AUTH_K_OAUTH) {
        erase_secret(a); /* a password is no token */
        if (a->token_fn == NULL)
            return qr_auth_fail(a, QR_EAUTH,
                                "Missing option token (mechanism %s needs an "
                                "OAuth token callback)",
                                a->mech);
        rc = call_secret_fn(a, a->token_fn, "token");
        if (rc != 0)
            return rc;
        if (!oauth_text_ok(a->secret, 1) || !oauth_text_ok(a->username, 0))
            return qr_auth_fail(a, QR_EINVAL,
                                "the OAuth token or user name holds a byte "
                                "RFC 6750 does not allow");
        return 0;
    }
    if (k == QR_AUTH_K_OTHER || a->secret != NULL)
        return 0; /* others ask through libgsasl if they need one */
    if (a->password_fn == NULL)
        return qr_auth_fail(a, QR_EAUTH, "Missing option password");
    return call_secret_fn(a, a->password_fn, "password");
}

int qr_auth_load_password(qr_auth *a)
{
    if (a->secret != NULL)
        return 0;
    if (a->password_fn == NULL)
        return QR_EAUTH;
    return call_secret_fn(a, a->password_fn, "password");
}

/*
 * Keep the channel binding for SCRAM-*-PLUS, base64 as libgsasl wants it.
 * Plain SCRAM gets none, so its gs2 header says "n" (client does not
 * bind): RFC 5802 would have it say "y" when the client could bind but the
 * server advertises no -PLUS, but libgsasl 2.2's SCRAM client fails
 * (GSASL_AUTHENTICATION_ERROR) as soon as it is given channel-binding data
 * outside a -PLUS mechanism.
 */
static int keep_channel_binding(qr_auth *a, const qr_auth_link *link)
{
    qr_dynbuf b;
    int rc;

    if (a->kind != QR_AUTH_K_SCRAM_PLUS)
        return 0;
    qr_dynbuf_init(&b, QR_AUTH_LINE_MAX);
    rc = qr_b64_encode(&b, link->cb_data, link->cb_len);
    if (rc != 0) {
        qr_dynbuf_free(&b);
        return qr_auth_fail(a, rc, "cannot keep the channel binding");
    }
    a->cb_b64 = b.ptr;
    a->cb_type = link->cb_type;
    a->cb_offer = 1;
    return 0;
}

static int build_login(qr_auth *a, qr_cmd **cmd)
{
    qr_cmd *c;
    int rc = qr_cmd_new(&c, "LOGIN", 0);

    if (rc != 0)
        return qr_auth_fail(a, rc, "cannot build LOGIN");
    qr_cmd_set_secret(c, 1);
    qr_cmd_add_astring(c, a->username, strlen(a->username));
    qr_cmd_add_astring(c, a->secret, a->secret_len);
    qr_cmd_set_secret(c, 0);
    erase_secret(a); /* the command holds it now */
    rc = qr_cmd_error(c);
    if (rc != 0) {
        qr_cmd_free(c);
        return qr_auth_fail(a, rc, "cannot build LOGIN");
    }
    *cmd = c;
    return 0;
}

static int build_authenticate(qr_auth *a, const char *const *caps, size_t ncaps, qr_cmd **cmd)
{
    qr_cmd *c;
    int rc, ir = has_cap(caps, ncaps, "SASL-IR", 0) && is_client_first(a->mech);

    rc = qr_auth_sasl_begin(a, ir);
    if (rc != 0)
        return rc;
    rc = qr_cmd_new(&c, "AUTHENTICATE", 0);
    if (rc != 0)
        return qr_auth_fail(a, rc, "cannot build AUTHENTICATE");
    qr_cmd_add_atom(c, a->mech);
    if (ir) {
        qr_cmd_set_secret(c, 1);
        qr_cmd_add_atom(c, a->line.len > 0 ? a->line.ptr : "=");
        qr_cmd_set_secret(c, 0);
    }
    qr_auth_erase_buf(&a->line);
    qr_dynbuf_init(&a->line, QR_AUTH_LINE_MAX);
    rc = qr_cmd_error(c);
    if (rc != 0) {
        qr_cmd_free(c);
        return qr_auth_fail(a, rc, "cannot build AUTHENTICATE");
    }
    if (ir && a->kind != QR_AUTH_K_SCRAM && a->kind != QR_AUTH_K_SCRAM_PLUS &&
        a->kind != QR_AUTH_K_OTHER)
        erase_secret(a); /* PLAIN and OAuth have sent it; SCRAM needs it later */
    a->sasl_ir = ir;
    *cmd = c;
    return 0;
}

int qr_auth_start(qr_auth *a, const char *const *caps, size_t ncaps, const qr_auth_link *link,
                  qr_cmd **cmd)
{
    int rc;

    if (cmd != NULL)
        *cmd = NULL;
    if (a == NULL || cmd == NULL || link == NULL || (caps == NULL && ncaps > 0) ||
        (link->cb_type != QR_AUTH_CB_NONE && (link->cb_data == NULL || link->cb_len == 0)))
        return QR_EINVAL;
    if (a->state != QR_AUTH_NEW)
        return a->state == QR_AUTH_FAILED ? a->first_error : QR_EINVAL;
    rc = choose(a, caps, ncaps, link);
    if (rc == 0)
        rc = check_policy(a, caps, ncaps, link);
    if (rc == 0)
        rc = load_credentials(a);
    if (rc == 0)
        rc = keep_channel_binding(a, link);
    if (rc == 0)
        rc = a->kind == QR_AUTH_K_LOGIN_CMD ? build_login(a, cmd)
                                            : build_authenticate(a, caps, ncaps, cmd);
    if (rc != 0) {
        erase_secret(a);
        qr_auth_sasl_end(a);
        return rc;
    }
    a->state = QR_AUTH_SENT;
    return 0;
}

int qr_auth_start_sasl(qr_auth *a, const char *const *mechs, size_t nmechs,
                       const qr_auth_link *link, const char *service, const char **ir,
                       size_t *ir_len)
{
    int rc, first;

    if (ir != NULL)
        *ir = NULL;
    if (ir_len != NULL)
        *ir_len = 0;
    if (a == NULL || ir == NULL || ir_len == NULL || link == NULL || service == NULL ||
        (mechs == NULL && nmechs > 0) ||
        (link->cb_type != QR_AUTH_CB_NONE && (link->cb_data == NULL || link->cb_len == 0)))
        return QR_EINVAL;
    if (a->state != QR_AUTH_NEW)
        return a->state == QR_AUTH_FAILED ? a->first_error : QR_EINVAL;
    a->sasl_only = 1;
    a->service = service;
    rc = choose(a, mechs, nmechs, link);
    if (rc == 0)
        rc = check_policy(a, mechs, nmechs, link);
    if (rc == 0)
        rc = load_credentials(a);
    if (rc == 0)
        rc = keep_channel_binding(a, link);
    first = rc == 0 && is_client_first(a->mech);
    if (rc == 0)
        rc = qr_auth_sasl_begin(a, first);
    if (rc != 0) {
        erase_secret(a);
        qr_auth_sasl_end(a);
        return rc;
    }
    if (first) {
        *ir = a->line.ptr != NULL ? a->line.ptr : "";
        *ir_len = a->line.len;
        if (a->kind == QR_AUTH_K_PLAIN || a->kind == QR_AUTH_K_OAUTH)
            erase_secret(a); /* sent with the initial response; SCRAM needs it later */
    }
    a->sasl_ir = first;
    a->state = QR_AUTH_SENT;
    return 0;
}
