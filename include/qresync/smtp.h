/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file smtp.h
 * @brief A small SMTP / LMTP submission client: deliver one message after
 *        another to one server, streaming each body in constant memory.
 *
 * Made for pullimap (one envelope recipient per message), usable by any
 * program that hands mail to a local MTA or an LMTP server. The calls
 * block (with timeouts); use one handle per thread.
 *
 * Conversation: greeting `220`; `EHLO` (SMTP) or `LHLO` (LMTP); STARTTLS
 * when offered (or required), then EHLO again; AUTH through libgsasl when
 * a mechanism list and credentials are given; then per message `MAIL
 * FROM:<sender>` (with `SIZE=`, `BODY=8BITMIME` and `SMTPUTF8` when the
 * server offers them and the message needs them), `RCPT TO:<rcpt>`,
 * `DATA`, the body and `.`; PIPELINING when offered. The body is sent
 * byte for byte except that every line ends in CRLF (a bare LF or CR
 * becomes CRLF, so no bare LF ever reaches DATA) and a line starting with
 * `.` gets another `.` (RFC 5321 §4.5.2). A body not ending in a line
 * break gets CRLF before the final `.`.
 *
 * Wire lines go to the log callback as QR_LOG_WIRE_OUT (`C: ...`) and
 * QR_LOG_WIRE_IN (`S: ...`) at QR_LOG_DEBUG; the message data is logged
 * once as `C: [...]`; AUTH exchanges are redacted below QR_LOG_TRACE.
 * Errors are returned, never printed: qr_smtp_last_error() holds one line
 * "smtp HOST:PORT: STEP: DETAIL" (STEP is "connect", "greeting", "EHLO",
 * "LHLO", "STARTTLS", "AUTH", "MAIL FROM", "RCPT TO", "DATA", "end of
 * data" or "QUIT"), e.g. "smtp 127.0.0.1:25: RCPT TO: 550 5.1.1 no such
 * user"; for a refusal its resp_code is the 3-digit code and resp_text the
 * server's text.
 *
 * Replies: every line must end in CRLF and carry the same code, 2xx to
 * 5xx (else QR_EPROTO); keywords of the EHLO reply are matched without
 * regard to case. Any 2xx accepts MAIL, RCPT and the data (251, 252 too);
 * 4xx and 5xx refuse (QR_ENO); anything else is QR_EPROTO. A 421 reply
 * also closes the connection (RFC 5321 §3.8).
 *
 * Life of a handle: qr_smtp_new() (nothing connected), qr_smtp_connect(),
 * any number of qr_smtp_send(), qr_smtp_quit(); then qr_smtp_connect()
 * again if wanted, and qr_smtp_free(). A fatal error (QR_EOF, QR_EIO,
 * QR_ETLS, QR_EPROTO, QR_EAGAIN for a timeout, QR_ENOMEM, a failing read
 * callback) closes the connection; so does a refused RSET or a 421.
 * qr_smtp_send() then fails with QR_EOF until the next connect (QR_EINVAL
 * before the first connect and after QUIT).
 *
 * Differences from the reference (pullimap 0.5.7, spec pullimap.md §5):
 * an empty body is sent as the terminator alone (`.` CRLF, an empty
 * message) where the reference sends an empty line first; bare LF and CR
 * in the body become CRLF (and a `.` after them is stuffed); a refusal is
 * reported (QR_ENO) and the session kept usable with RSET.
 */
#ifndef QRESYNC_SMTP_H
#define QRESYNC_SMTP_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/cmd.h>
#include <qresync/common.h>
#include <qresync/error.h>
#include <qresync/log.h>

QR_BEGIN_DECLS

/**
 * A connection to an SMTP or LMTP server (opaque).
 * @since 0.1
 */
typedef struct qr_smtp qr_smtp;

/** The protocol. @since 0.1 */
typedef enum qr_smtp_proto {
    QR_SMTP_PROTO_SMTP = 0, /**< SMTP: EHLO */
    QR_SMTP_PROTO_LMTP = 1  /**< LMTP (RFC 2033): LHLO, one reply per recipient after DATA */
} qr_smtp_proto;

/** @name qr_smtp_options.starttls @{ */
#define QR_SMTP_STARTTLS_NEVER    0 /**< never */
#define QR_SMTP_STARTTLS_OFFERED  1 /**< when the server offers it (the default) */
#define QR_SMTP_STARTTLS_REQUIRED 2 /**< refuse to go on without it */
/** @} */

/** Current version of qr_smtp_options. @since 0.1 */
#define QR_SMTP_OPTIONS_VERSION 1

/**
 * Where and how to connect. Fill with qr_smtp_options_init().
 * @since 0.1
 */
typedef struct qr_smtp_options {
    unsigned int version;         /**< QR_SMTP_OPTIONS_VERSION */
    qr_smtp_proto proto;          /**< SMTP or LMTP */
    const char *host;             /**< host name, IPv4 address, IPv6 address with or without
                                       brackets (default "127.0.0.1") */
    const char *port;             /**< port number or service (default "25"; "24" for LMTP is
                                       NOT assumed: give it) */
    const char *helo;             /**< the EHLO/LHLO argument (default "localhost.localdomain") */
    int starttls;                 /**< QR_SMTP_STARTTLS_* (default OFFERED) */
    int ssl_verify;               /**< check the certificate chain and host name (default 1) */
    const char *ssl_cafile;       /**< CA file, or NULL for the system's */
    const char *ssl_capath;       /**< CA folder, or NULL */
    const char *ssl_hostname;     /**< name to verify and send as SNI (NULL or "": host);
                                       unlike qr_conn_options' SNI-only ssl_hostname */
    const char *ssl_fingerprint;  /**< "[ALGO$]HEX ..." SPKI pins, or NULL */
    const char *ssl_protocol_min; /**< "TLSv1.2", ... or NULL */
    const char *auth;             /**< SASL mechanisms to try in order ("PLAIN LOGIN", ...), or
                                       NULL for no AUTH */
    const char *username;         /**< AUTH user name */
    const char *password;         /**< AUTH password */
    int allow_plaintext_auth;     /**< allow a password or token over AUTH without TLS (default
                                       0; 1 for 127.0.0.1 / ::1 and LMTP is NOT implied) */
    int pipelining;               /**< use PIPELINING when offered (default 1) */
    int connect_timeout_ms;       /**< per address, and for the TLS handshake (default 30000;
                                       <= 0: none) */
    int io_timeout_ms;            /**< waiting for a reply, or for the server to take bytes,
                                       without progress (default 300000, RFC 5321 §4.5.3.2;
                                       <= 0: none) */
    qr_log_fn log_fn;             /**< log callback, or NULL */
    void *log_payload;            /**< passed to log_fn */
    qr_log_level log_level;       /**< most verbose level (default QR_LOG_INFO) */
} qr_smtp_options;

/**
 * The server's last reply.
 * @since 0.1
 */
typedef struct qr_smtp_reply {
    int code;         /**< the 3-digit code (0 when none was read) */
    const char *text; /**< its text lines joined with "\n", without the codes and the
                           separators after them; never NULL */
} qr_smtp_reply;

/**
 * Fill options with the defaults.
 *
 * @param opts    The options.
 * @param version QR_SMTP_OPTIONS_VERSION.
 * @return 0; QR_EINVAL for NULL or an unknown version.
 *
 * **Ownership:** `opts` belongs to the caller; every string is set to NULL.
 * @since 0.1
 */
QR_EXTERN int qr_smtp_options_init(qr_smtp_options *opts, unsigned int version);

/**
 * Create a handle; nothing is connected yet.
 *
 * @param out  Receives the handle; NULL on failure.
 * @param opts The options (copied, strings too). NULL or "" for host, port
 *             and helo mean their defaults.
 * @return 0; QR_EINVAL (NULL argument, unknown version or value, a host,
 *         port or helo with control characters, a helo with a space, auth
 *         without a username, a malformed mechanism list, and unless
 *         starttls is NEVER a bad ssl_protocol_min or ssl_fingerprint);
 *         QR_ENOMEM. Trust anchors are loaded at the first STARTTLS.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_smtp_free();
 * `opts` and its strings stay the caller's (the password copy is erased
 * when the handle is freed).
 * @since 0.1
 */
QR_EXTERN int qr_smtp_new(qr_smtp **out, const qr_smtp_options *opts);

/**
 * Connect: greeting, EHLO/LHLO, STARTTLS, AUTH.
 *
 * The TLS certificate is verified as on the IMAP side: chain (ssl_cafile,
 * ssl_capath or the system's) and name (ssl_hostname, else host; an IP
 * address against the certificate's IP addresses), unless ssl_verify is
 * 0; ssl_fingerprint pins are checked either way. Bytes that arrive after
 * the STARTTLS reply, before the handshake, are refused (QR_EPROTO), and
 * the EHLO reply is asked for again over TLS. AUTH uses the first
 * mechanism of the list that the server offers (`AUTH` keyword), under the
 * IMAP side's policy: no password or token without TLS unless
 * allow_plaintext_auth; mechanisms outside PLAIN, LOGIN, SCRAM-*,
 * XOAUTH2 and OAUTHBEARER are refused as weak.
 *
 * @param s The handle (not connected).
 * @return 0; QR_EIO / QR_EOF (connection), QR_ETLS, QR_EAUTH (refused
 *         with 535 and the like: see qr_smtp_last_reply(); or the policy),
 *         QR_ECAPABILITY (STARTTLS required and not offered; AUTH asked
 *         and no mechanism in common), QR_ENO (a 4xx or 5xx reply to the
 *         greeting, EHLO/LHLO or STARTTLS: see qr_smtp_last_reply()),
 *         QR_EPROTO (a malformed or unexpected reply), QR_EAGAIN (timeout),
 *         QR_EINVAL (NULL, or already connected), QR_ENOMEM. On failure the
 *         connection is closed and the handle may connect again.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_smtp_connect(qr_smtp *s);

/**
 * Deliver one message.
 *
 * @param s            A connected handle.
 * @param sender       The reverse-path without brackets ("" for the null sender
 *                     `<>`); must not hold CR, LF, `<` or `>` (QR_EINVAL).
 * @param rcpt         The recipient without brackets (same rule).
 * @param size         The body's size in bytes (for `SIZE=`), 0 if unknown.
 * @param eightbit     1 when the body holds 8-bit bytes (`BODY=8BITMIME` when
 *                     offered), else 0.
 * @param utf8         1 when the sender or recipient holds 8-bit bytes
 *                     (`SMTPUTF8`, required then: QR_ECAPABILITY without it,
 *                     before anything is sent); implied by an 8-bit byte in
 *                     either address. With 8BITMIME offered it also sends
 *                     `BODY=8BITMIME`.
 * @param read         The body source (see qr_cmd_read_fn; asked for at most
 *                     16 KiB at a time; QR_EAGAIN is not allowed here, and
 *                     the size is not checked against `size`), read to its
 *                     end once, after the server's 354.
 * @param read_payload Passed to read.
 * @return 0 when the server accepted the message (2xx after the data);
 *         QR_ENO when it refused it at any step (qr_smtp_last_reply() has
 *         the refusing reply: 4xx temporary, 5xx permanent; after a refused
 *         MAIL, RCPT or DATA an RSET keeps the connection usable, and with
 *         PIPELINING the first refusal is the one reported); QR_EINVAL (a
 *         NULL argument, a bad address, never connected or after QUIT);
 *         QR_EOF (the connection was closed by an earlier failure, a 421
 *         or a refused RSET: connect again); QR_ECAPABILITY; a
 *         connection error, QR_EPROTO or QR_EAGAIN (timeout): the
 *         connection is then closed; or the read callback's error (QR_EINVAL
 *         for QR_EAGAIN or a positive value): the connection is then closed,
 *         without the final `.`, since the message cannot be withdrawn after
 *         DATA.
 *
 * **Ownership:** the strings are read during the call; `read_payload`
 * stays the caller's.
 * @since 0.1
 */
QR_EXTERN int qr_smtp_send(qr_smtp *s, const char *sender, const char *rcpt, uint64_t size,
                           int eightbit, int utf8, qr_cmd_read_fn read, void *read_payload);

/**
 * Send QUIT (expect 221) and close.
 *
 * @param s The handle; closed in any case (not freed).
 * @return 0 (also when not connected); a connection error, QR_EPROTO or
 *         QR_ENO (no 221); QR_EINVAL for NULL.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_smtp_quit(qr_smtp *s);

/**
 * Close without QUIT and free.
 *
 * @param s The handle; NULL is a no-op.
 *
 * **Ownership:** frees the handle; every pointer it returned dies with it.
 * @since 0.1
 */
QR_EXTERN void qr_smtp_free(qr_smtp *s);

/**
 * Whether the server announced an EHLO/LHLO keyword (case-insensitive),
 * e.g. "PIPELINING", "8BITMIME".
 *
 * @param s    The handle.
 * @param name The keyword.
 * @return 1 or 0 (also when not connected, or an argument is NULL). After
 *         STARTTLS: what the server announced over TLS.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_smtp_has_ext(const qr_smtp *s, const char *name);

/**
 * The last reply read: after QR_ENO, the reply that refused (the RSET that
 * follows does not replace it); after success, the final reply.
 *
 * @param s The handle (NULL gives code 0).
 * @return Never NULL.
 *
 * **Ownership:** borrowed from the handle until the next call on it.
 * @since 0.1
 */
QR_EXTERN const qr_smtp_reply *qr_smtp_last_reply(const qr_smtp *s);

/**
 * The detail of the last failure (one line naming the problem and the
 * server, e.g. "smtp 127.0.0.1:25: RCPT TO: 550 no such user").
 *
 * @param s The handle (NULL gives a static QR_EINVAL error).
 * @return Never NULL; code QR_OK when the last call did not fail.
 *
 * **Ownership:** borrowed from the handle until the next call on it.
 * @since 0.1
 */
QR_EXTERN const qr_error *qr_smtp_last_error(const qr_smtp *s);

QR_END_DECLS

#endif /* QRESYNC_SMTP_H */
