/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file auth.h
 * @brief How a session logs in: credentials, mechanisms and the policy
 *        that refuses weak or exposed ones.
 *
 * The options below describe *what* to authenticate with; the session
 * performs the exchange (the IMAP LOGIN command, or AUTHENTICATE with a
 * SASL mechanism through libgsasl) during connection setup.
 *
 * **Choosing a mechanism.** The candidates are `LOGIN` (the IMAP LOGIN
 * command, always possible) and every `X` the server advertises as
 * `AUTH=X`. The configured list (`mechanisms`, default `"PLAIN LOGIN"`) is
 * walked in order and the first candidate is used; a configured `LOGIN`
 * always means the LOGIN command, never SASL LOGIN. `SCRAM-*-PLUS` counts
 * as a candidate only when the connection offers channel binding (TLS).
 *
 * **Policy.** Then the choice is checked, and refused (QR_EAUTH, the
 * message naming the reason) rather than replaced by the next entry:
 *   - LOGIN and PLAIN when the server advertises `LOGINDISABLED`;
 *   - LOGIN, PLAIN, XOAUTH2 and OAUTHBEARER, which show the password or the
 *     bearer token to anyone on the path, over a connection that is neither
 *     TLS nor a local tunnel, unless `allow_plaintext` is set;
 *   - every mechanism outside the known-good set (LOGIN, PLAIN,
 *     SCRAM-SHA-1, SCRAM-SHA-256, their -PLUS variants, XOAUTH2,
 *     OAUTHBEARER), e.g. CRAM-MD5, DIGEST-MD5 or NTLM, unless `allow_weak`
 *     is set.
 *
 * @code
 * qr_auth_options ao;
 * qr_auth_options_init(&ao, QR_AUTH_OPTIONS_VERSION);
 * ao.username = "joe";
 * ao.password = "s3cret";
 * ao.mechanisms = "SCRAM-SHA-256-PLUS SCRAM-SHA-256 PLAIN";
 * @endcode
 */
#ifndef QRESYNC_AUTH_H
#define QRESYNC_AUTH_H

#include <qresync/buf.h>
#include <qresync/common.h>

QR_BEGIN_DECLS

/**
 * Callback giving a secret (a password, or an OAuth 2.0 access token)
 * when the library needs it, so that the caller need not keep it in the
 * options.
 *
 * @param out     Point `out->ptr` and `out->size` at the secret (no NUL
 *                byte inside), leaving `out->reserved` 0. The bytes stay
 *                the callback's: they must stay valid until the library
 *                call that ran the callback returns, and the library copies
 *                them at once (and erases its copy after use).
 * @param payload qr_auth_options.payload.
 * @return 0; a negative value makes the authentication fail with QR_EUSER.
 * @since 0.1
 */
typedef int (*qr_auth_secret_fn)(qr_buf *out, void *payload);

/** Current version of qr_auth_options. @since 0.1 */
#define QR_AUTH_OPTIONS_VERSION 1

/**
 * What to authenticate with. Fill with QR_AUTH_OPTIONS_INIT or
 * qr_auth_options_init(), then change what you need. Strings are UTF-8,
 * NUL-terminated, and copied when the options are handed over.
 * @since 0.1
 */
typedef struct qr_auth_options {
    unsigned int version;          /**< QR_AUTH_OPTIONS_VERSION */
    const char *username;          /**< user name (SASL authentication identity); needed by
                                        every mechanism */
    const char *password;          /**< password, or NULL to ask `password_fn` */
    qr_auth_secret_fn password_fn; /**< asked for the password when `password` is NULL
                                        and the mechanism needs one; may be NULL */
    const char *authzid;           /**< SASL authorization identity (act as this user), or
                                        NULL for none; not used by the LOGIN command */
    const char *mechanisms;        /**< mechanisms to try, in order, separated by spaces
                                        (`"SCRAM-SHA-256 PLAIN LOGIN"`, any case); NULL for
                                        the default `"PLAIN LOGIN"` */
    int allow_weak;                /**< non-zero: allow mechanisms outside the known-good set
                                        (CRAM-MD5, DIGEST-MD5, NTLM, ...) */
    int allow_plaintext;           /**< non-zero: allow sending a password or a bearer token
                                        over an unencrypted connection */
    qr_auth_secret_fn token_fn;    /**< gives the OAuth 2.0 access token for XOAUTH2 and
                                        OAUTHBEARER; may be NULL (those mechanisms then fail) */
    const char *oauth_host;        /**< OAUTHBEARER `host=` value (RFC 7628), or NULL to omit */
    unsigned int oauth_port;       /**< OAUTHBEARER `port=` value, or 0 to omit */
    void *payload;                 /**< passed to password_fn and token_fn */
} qr_auth_options;

/** Static initialiser with the defaults. @since 0.1 */
#define QR_AUTH_OPTIONS_INIT                                                                       \
    {                                                                                              \
        QR_AUTH_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, 0, 0, NULL, NULL, 0, NULL           \
    }

/**
 * Fill options with the defaults of QR_AUTH_OPTIONS_INIT.
 *
 * @param opts    The options.
 * @param version QR_AUTH_OPTIONS_VERSION.
 * @return 0; QR_EINVAL if opts is NULL or the version unknown.
 *
 * **Ownership:** `opts` belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_auth_options_init(qr_auth_options *opts, unsigned int version);

QR_END_DECLS

#endif /* QRESYNC_AUTH_H */
