/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal API of the authentication exchange (options in
 * include/qresync/auth.h). A qr_auth is a sans-IO state machine the
 * session's setup steps drive; it never touches the connection:
 *
 *   qr_auth_new(&a, &opts)                  copy the options
 *   qr_auth_start(a, caps, n, &link, &cmd)  choose, check policy, build
 *                                           LOGIN or AUTHENTICATE; submit cmd
 *   for each "+ TEXT" continuation of that command:
 *       qr_auth_step(a, TEXT, len, &line)   send line->ptr + CRLF
 *   at its tagged response:
 *       qr_auth_finish(a, status, text)     0, or why it failed
 *   qr_auth_free(a)                         erases every secret
 *
 * Files: auth.c (object, choice, policy, command), auth_step.c (the
 * libgsasl glue, continuations and outcome), auth_oauth.c (XOAUTH2 and
 * OAUTHBEARER as libgsasl mechanisms of ours), auth_b64.c (strict base64).
 */
#ifndef QR_SESSION_AUTH_P_H
#define QR_SESSION_AUTH_P_H

#include <qresync/auth.h>
#include <qresync/cmd.h>
#include <stddef.h>

#include <gsasl.h>

#include "util/dynbuf.h"
#include "util/error.h"

/* Longest SASL mechanism name (RFC 4422 §3.1: 1 to 20 characters). */
#define QR_AUTH_MECH_MAX 20
/* Most mechanisms in the configured list. */
#define QR_AUTH_LIST_MAX 32
/* Largest decoded challenge, and largest response line. */
#define QR_AUTH_CHALLENGE_MAX ((size_t)64 * 1024)
#define QR_AUTH_LINE_MAX      ((size_t)256 * 1024)
/* Largest password or token accepted from the options or a callback. */
#define QR_AUTH_SECRET_MAX ((size_t)64 * 1024)

/* Channel-binding types (RFC 5929 tls-unique for TLS <= 1.2, RFC 9266
 * tls-exporter for TLS 1.3). */
typedef enum qr_auth_cb_type {
    QR_AUTH_CB_NONE = 0,
    QR_AUTH_CB_TLS_UNIQUE,
    QR_AUTH_CB_TLS_EXPORTER
} qr_auth_cb_type;

/* What the session knows about the connection when authentication starts. */
typedef struct qr_auth_link {
    int secure;              /* 1: TLS is active, or the link is a local tunnel/PREAUTH */
    qr_auth_cb_type cb_type; /* channel binding available, or QR_AUTH_CB_NONE */
    const void *cb_data;     /* its bytes (gnutls_session_channel_binding); copied */
    size_t cb_len;           /* their number */
} qr_auth_link;

/* Where an exchange is. */
enum qr_auth_state {
    QR_AUTH_NEW,     /* created; qr_auth_start() not yet called */
    QR_AUTH_SENT,    /* the command was built; continuations and the tagged reply due */
    QR_AUTH_DONE_OK, /* qr_auth_finish() accepted the outcome */
    QR_AUTH_FAILED   /* failed: err holds why */
};

/* The mechanism kinds the policy knows. */
enum qr_auth_kind {
    QR_AUTH_K_LOGIN_CMD,  /* the IMAP LOGIN command */
    QR_AUTH_K_PLAIN,      /* SASL PLAIN */
    QR_AUTH_K_SCRAM,      /* SCRAM-SHA-1, SCRAM-SHA-256 */
    QR_AUTH_K_SCRAM_PLUS, /* their channel-bound variants */
    QR_AUTH_K_OAUTH,      /* XOAUTH2, OAUTHBEARER */
    QR_AUTH_K_OTHER,      /* anything else: weak unless allowed */
    QR_AUTH_K_SASL_LOGIN  /* SASL LOGIN (qr_auth_start_sasl() only): a password mechanism */
};

typedef struct qr_auth {
    enum qr_auth_state state; /* where the exchange is */
    qr_errslot err;           /* detail of the failure */
    int first_error;          /* code of the first local failure (sent "*"), else 0 */
    /* copied options */
    char *username;                /* owned; NULL when not given */
    char *authzid;                 /* owned; NULL when not given */
    char *mechanisms;              /* owned copy of the list, or NULL for the default */
    char *oauth_host;              /* owned; NULL when not given */
    unsigned int oauth_port;       /* 0 when not given */
    int allow_weak;                /* allow mechanisms outside the known-good set */
    int allow_plaintext;           /* allow passwords/tokens over an insecure link */
    int sasl_only;                 /* qr_auth_start_sasl(): every name is a SASL mechanism */
    const char *service;           /* GSASL_SERVICE; static; NULL means "imap" */
    qr_auth_secret_fn password_fn; /* caller's, may be NULL */
    qr_auth_secret_fn token_fn;    /* caller's, may be NULL */
    void *payload;                 /* caller's, for the callbacks */
    /* secret: password (LOGIN, PLAIN, SCRAM) or bearer token (OAuth) */
    char *secret;      /* owned, NUL-terminated, erased before free; NULL if none */
    size_t secret_len; /* bytes of secret */
    /* the choice */
    char mech[QR_AUTH_MECH_MAX + 1]; /* chosen mechanism, uppercase ("LOGIN": the command) */
    enum qr_auth_kind kind;          /* its kind */
    int sasl_ir;                     /* the initial response went with the command */
    char *cb_b64;                    /* owned base64 of the channel binding, or NULL */
    qr_auth_cb_type cb_type;         /* type of cb_b64 */
    int cb_offer;                    /* give cb_b64 to the SCRAM client (-PLUS only) */
    /* libgsasl */
    Gsasl *gsasl;          /* owned context (our OAuth mechanisms registered), or NULL */
    Gsasl_session *gs;     /* owned client session, or NULL */
    int mech_done;         /* gsasl_step returned GSASL_OK: the server is verified */
    int steps;             /* gsasl_step() calls so far (the initial response counts) */
    qr_dynbuf line;        /* last response line (base64, no CRLF); erased on reuse */
    qr_dynbuf oauth_error; /* OAuth: the server's JSON error, for the message */
} qr_auth;

/* --- auth.c ------------------------------------------------------------- */

/*
 * Copy the options (NULL for the defaults). QR_EINVAL for an unknown
 * version, a malformed mechanism list (a name longer than 20 characters or
 * with bytes outside [A-Za-z0-9-_], more than 32 names); QR_ENOMEM.
 */
int qr_auth_new(qr_auth **out, const qr_auth_options *opts);
/* Erase the secrets, free everything. NULL is a no-op. */
void qr_auth_free(qr_auth *a);

/*
 * Choose the mechanism from the capability list (names as the server sent
 * them), check the policy, and build the command to submit: `LOGIN user
 * pass` or `AUTHENTICATE MECH [ir]`, secret arguments marked. *cmd belongs
 * to the caller. Errors (recorded in qr_auth_last_error(); *cmd NULL):
 * QR_EAUTH (no candidate, LOGINDISABLED, weak, plaintext, a missing user
 * name, password or token, a mechanism libgsasl lacks), QR_EUSER (a
 * callback failed), QR_EINVAL (called twice, NULL arguments, NUL in a
 * credential), QR_ENOMEM. Once it failed only qr_auth_last_error() and
 * qr_auth_free() are useful (qr_auth_start() and qr_auth_finish() repeat the
 * error).
 */
int qr_auth_start(qr_auth *a, const char *const *caps, size_t ncaps, const qr_auth_link *link,
                  qr_cmd **cmd);

/*
 * The same for a protocol whose AUTH command takes a SASL mechanism name
 * and an optional initial response (SMTP AUTH, RFC 4954): `mechs` are the
 * mechanism names the server offers (any case); every configured name is
 * a SASL mechanism (LOGIN is SASL LOGIN, a password mechanism under the
 * plaintext policy like PLAIN); LOGINDISABLED means nothing; `service` is
 * libgsasl's GSASL_SERVICE (static, e.g. "smtp"). No command is built:
 * for a mechanism that speaks first (PLAIN, SCRAM-*, XOAUTH2, ...) *ir and
 * *ir_len receive its initial response, base64 ("" when empty), borrowed
 * until the next call on a; else *ir is NULL. Then qr_auth_step() for each
 * server challenge and qr_auth_finish() (status 0 for success, QR_ENO with
 * the server's reply line as text otherwise: the message is then
 * "AUTH MECH failed: TEXT"). Errors as qr_auth_start().
 */
int qr_auth_start_sasl(qr_auth *a, const char *const *mechs, size_t nmechs,
                       const qr_auth_link *link, const char *service, const char **ir,
                       size_t *ir_len);

/* The chosen mechanism ("LOGIN" for the command), or "" before a choice. */
const char *qr_auth_mechanism(const qr_auth *a);
/* The detail of the last failure. */
const qr_error *qr_auth_last_error(const qr_auth *a);

/* Internal to auth*.c: record the first failure (later ones keep the
 * first message and code), with the place it was detected. Returns the
 * first code. */
int qr_auth_fail_at(qr_auth *a, const char *file, int line, const char *func, int code,
                    const char *fmt, ...) QR_PRINTF(6, 7);
#define qr_auth_fail(a, code, ...)                                                                 \
    qr_auth_fail_at((a), __FILE__, __LINE__, __func__, (code), __VA_ARGS__)
/* Internal: make sure a->secret holds the password, asking password_fn if
 * needed. 0, QR_EAUTH (none configured), QR_EUSER, QR_EINVAL, QR_ENOMEM. */
int qr_auth_load_password(qr_auth *a);

/* --- auth_step.c -------------------------------------------------------- */

/*
 * Create the libgsasl context and client session for a->mech, and compute
 * the initial response into a->line when ir is non-zero. Used by
 * qr_auth_start(). QR_EAUTH, QR_ENOMEM.
 */
int qr_auth_sasl_begin(qr_auth *a, int ir);

/*
 * Answer a continuation request of the AUTHENTICATE command. `text` is what
 * followed "+ " (base64; empty for "+" alone), `len` its length. On return
 * `*line`/`*len_out` hold the line to send, without its CRLF (borrowed
 * until the next call or the free; may be empty) and `*secret` says whether
 * logs must redact it:
 *   0         the next SASL response;
 *   QR_EPROTO the challenge is not base64, or the mechanism could not parse
 *             it; QR_EAUTH the mechanism refused it (a SCRAM server
 *             signature mismatch, a wrong nonce); QR_ELIMIT a challenge
 *             over QR_AUTH_CHALLENGE_MAX; QR_ENOMEM: *line is then "*",
 *             which cancels the exchange (RFC 9051 §6.2.2); send it and
 *             expect a tagged BAD. qr_auth_finish() reports the same error.
 *   QR_EINVAL not in an AUTHENTICATE exchange (LOGIN has no continuations
 *             but literal ones, which the session answers itself): *line
 *             is NULL.
 */
int qr_auth_step(qr_auth *a, const char *text, size_t len, const char **line, size_t *len_out,
                 int *secret);

/*
 * The tagged response arrived: status 0 (OK), QR_ENO or QR_EBAD (or
 * another negative code when the command never completed), `text` the
 * server's text (may be NULL). Returns 0 when authenticated; the first
 * local failure if one happened; QR_EAUTH for NO/BAD, or for an OK before
 * the mechanism verified the server (SCRAM: no server signature); status
 * itself for other negative codes. Erases the secrets either way.
 */
int qr_auth_finish(qr_auth *a, int status, const char *text);

/* Erase and release the libgsasl session and context. */
void qr_auth_sasl_end(qr_auth *a);

/* --- auth_oauth.c ------------------------------------------------------- */

/* Register XOAUTH2 and OAUTHBEARER (client side) with this context. */
int qr_auth_oauth_register(Gsasl *ctx);

/* --- auth_b64.c --------------------------------------------------------- */

/* Append the base64 of p[0..n) (RFC 4648, padded, no line breaks) to out. */
int qr_b64_encode(qr_dynbuf *out, const void *p, size_t n);
/*
 * Append the decoded bytes of the base64 text s[0..n) to out: length a
 * multiple of 4, padding only at the end, no other byte (unused bits of a
 * padded quantum are ignored). QR_EPROTO when malformed, QR_ELIMIT,
 * QR_ENOMEM (out unchanged on error).
 */
int qr_b64_decode(qr_dynbuf *out, const char *s, size_t n);

/* Overwrite and release a dynbuf that held secrets. */
void qr_auth_erase_buf(qr_dynbuf *b);

#endif /* QR_SESSION_AUTH_P_H */
