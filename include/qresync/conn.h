/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file conn.h
 * @brief A connection to an IMAP server: transport (TCP, TLS, SOCKS5,
 *        tunnel), STARTTLS, authentication, COMPRESS and ENABLE, driven
 *        without blocking.
 *
 * A qr_conn glues a transport stack to a qr_session (session.h). Its
 * options map one to one onto the configuration keys of interimap's
 * `[local]`/`[remote]` sections (docs/connection-options.md lists them
 * all, with defaults and where the library is stricter than the
 * reference implementation).
 *
 * After qr_conn_new() the connection sets itself up on its own, in this
 * order: connect (through the proxy), TLS for `imaps`, the greeting,
 * CAPABILITY, STARTTLS for `imap` (required by default), authentication,
 * CAPABILITY again, COMPRESS DEFLATE, ENABLE. Commands submitted to
 * qr_conn_session() meanwhile start once the setup is complete.
 *
 * **Driving.** Either embed the connection in your own loop:
 * @code
 * struct pollfd p = { qr_conn_fd(c), qr_conn_interest(c), 0 };
 * poll(&p, 1, qr_conn_timeout_ms(c));
 * rc = qr_conn_process(c, p.revents);    // never blocks
 * @endcode
 * (re-read the fd every time: it changes while connecting), or use the
 * convenience loop of loop.h, or the blocking qr_conn_connect_wait().
 *
 * **Errors.** A failure of the transport or of the setup is fatal: every
 * command completes with the code, qr_conn_process() returns it from then
 * on, and qr_conn_last_error() holds one line naming the problem and the
 * place (`HOST:PORT` or `tunnel COMMAND`). The library never prints,
 * never exits and never installs a signal handler; writes use
 * MSG_NOSIGNAL, so no SIGPIPE either.
 */
#ifndef QRESYNC_CONN_H
#define QRESYNC_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/auth.h>
#include <qresync/common.h>
#include <qresync/error.h>
#include <qresync/log.h>
#include <qresync/session.h>

QR_BEGIN_DECLS

/**
 * A connection (opaque). Not thread-safe.
 * @since 0.1
 */
typedef struct qr_conn qr_conn;

/**
 * The `type` key.
 * @since 0.1
 */
typedef enum qr_conn_type {
    QR_CONN_IMAPS = 0, /**< `imaps`: TLS from the start (default port 993) */
    QR_CONN_IMAP = 1,  /**< `imap`: plain TCP, then STARTTLS unless disabled (port 143) */
    QR_CONN_TUNNEL = 2 /**< `tunnel`: a local command's stdin/stdout */
} qr_conn_type;

/** Current version of qr_conn_options. @since 0.1 */
#define QR_CONN_OPTIONS_VERSION 1

/**
 * Options of a connection. Fill with QR_CONN_OPTIONS_INIT or
 * qr_conn_options_init(), then change what you need. Strings are UTF-8,
 * NUL-terminated, copied by qr_conn_new(); NULL means "not set". The
 * comment of each field gives its configuration key.
 * @since 0.1
 */
typedef struct qr_conn_options {
    unsigned int version;             /**< QR_CONN_OPTIONS_VERSION */
    qr_conn_type type;                /**< `type` (default imaps) */
    const char *host;                 /**< `host`: name, IP literal or [IP literal] (default
                                           "localhost") */
    const char *port;                 /**< `port`: number or service name (default 993 / 143) */
    const char *proxy;                /**< `proxy`: socks5://[USER:PASS@]HOST[:PORT] or socks5h://
                                           (imap and imaps only) */
    const char *command;              /**< `command`: the tunnel command (Perl exec rule) */
    int null_stderr;                  /**< `null-stderr`: the tunnel's stderr goes to /dev/null */
    int starttls;                     /**< `STARTTLS`: require STARTTLS for type imap (default 1) */
    const char *auth;                 /**< `auth`: mechanisms in order (default "PLAIN LOGIN") */
    const char *username;             /**< `username` */
    const char *password;             /**< `password`, or NULL to ask password_fn */
    qr_auth_secret_fn password_fn;    /**< asked for the password when `password` is NULL */
    qr_auth_secret_fn oauth_token_fn; /**< gives the OAuth 2.0 token (XOAUTH2, OAUTHBEARER) */
    void *auth_payload;               /**< passed to password_fn and oauth_token_fn */
    int compress;                 /**< `compress`: COMPRESS=DEFLATE when advertised (default 1) */
    int ssl_verify;               /**< `SSL_verify`: check chain and host name (default 1) */
    const char *ssl_cafile;       /**< `SSL_CAfile` */
    const char *ssl_capath;       /**< `SSL_CApath` */
    const char *ssl_hostname;     /**< `SSL_hostname`: SNI name ("" disables SNI) */
    const char *ssl_fingerprint;  /**< `SSL_fingerprint`: "[ALGO$]HEX ..." SPKI pins */
    const char *ssl_protocol_min; /**< `SSL_protocol_min`: TLSv1.2, TLSv1.3, ... */
    const char *ssl_protocol_max; /**< `SSL_protocol_max` */
    const char *ssl_protocols;    /**< `SSL_protocols` (deprecated "[!]NAME ..." list) */
    const char *ssl_cipherlist;   /**< `SSL_cipherlist` (OpenSSL syntax, mapped to GnuTLS) */
    const char *ssl_ciphersuites; /**< `SSL_ciphersuites` (TLS 1.3 names) */
    const char *ssl_priority;     /**< `SSL_priority` (ours): a raw GnuTLS priority string */
    int allow_plaintext_auth;     /**< (ours) allow a password or token over unencrypted TCP */
    int allow_weak_auth;          /**< (ours) allow CRAM-MD5, DIGEST-MD5, NTLM, ... */
    int keepalive;                /**< SO_KEEPALIVE + TCP_KEEPIDLE=60 (imap, imaps) */
    int connect_timeout_ms;       /**< per address, and for the TLS handshake and the proxy
                                       (default 30000; <= 0: none) */
    int io_timeout_ms;            /**< inactivity allowed while the server owes an answer
                                       (default 30000; <= 0: none) */
    const char *enable;           /**< extensions to ENABLE, space-separated ("QRESYNC"), or
                                       NULL for none */
    const char *tag_prefix;       /**< tag prefix, 1-8 letters (default "A") */
    unsigned int max_in_flight;   /**< most commands in flight (default 128) */
    qr_log_fn log_fn;             /**< log callback, or NULL */
    void *log_payload;            /**< passed to log_fn */
    qr_log_level log_level;       /**< most verbose level (default QR_LOG_INFO); QR_LOG_DEBUG
                                       shows the wire with secrets redacted, QR_LOG_TRACE shows
                                       the secrets too */
    qr_session_untagged_fn on_unsolicited; /**< the session's on_unsolicited, or NULL */
    void *payload;                         /**< passed to on_unsolicited */
} qr_conn_options;

/** Static initialiser with the defaults. @since 0.1 */
#define QR_CONN_OPTIONS_INIT                                                                       \
    {                                                                                              \
        QR_CONN_OPTIONS_VERSION, QR_CONN_IMAPS, NULL, NULL, NULL, NULL, 0, 1, NULL, NULL, NULL,    \
            NULL, NULL, NULL, 1, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, \
            0, 0, 30000, 30000, NULL, NULL, 128, NULL, NULL, QR_LOG_INFO, NULL, NULL               \
    }

/**
 * Where a connection is.
 * @since 0.1
 */
typedef enum qr_conn_state {
    QR_CONN_CONNECTING = 0, /**< connecting, TLS, greeting, setup */
    QR_CONN_READY = 1,      /**< set up: commands run */
    QR_CONN_CLOSING = 2,    /**< qr_conn_close() was called: LOGOUT, then shutdown */
    QR_CONN_CLOSED = 3,     /**< closed in order */
    QR_CONN_FAILED = 4      /**< a fatal error: see qr_conn_last_error() */
} qr_conn_state;

/**
 * Byte counters (spec imap-client.md §11.3).
 * @since 0.1
 */
typedef struct qr_conn_traffic_stats {
    uint64_t wire_in;   /**< bytes read from the socket or tunnel */
    uint64_t wire_out;  /**< bytes written to the socket or tunnel */
    uint64_t compr_in;  /**< compressed bytes received (after TLS, before inflate) */
    uint64_t compr_out; /**< compressed bytes sent */
    uint64_t plain_in;  /**< bytes the session received (after TLS and inflate) */
    uint64_t plain_out; /**< bytes the session sent (before deflate and TLS) */
    int compressed;     /**< 1 once COMPRESS DEFLATE is active */
    int tls;            /**< 1 while TLS is active (imaps, or after STARTTLS) */
} qr_conn_traffic_stats;

/**
 * Fill options with the defaults of QR_CONN_OPTIONS_INIT.
 *
 * @param opts    The options.
 * @param version QR_CONN_OPTIONS_VERSION.
 * @return 0; QR_EINVAL if opts is NULL or the version unknown.
 *
 * **Ownership:** `opts` belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_conn_options_init(qr_conn_options *opts, unsigned int version);

/**
 * Create a connection and start it: the tunnel command is spawned now;
 * name resolution and connect() happen in the first qr_conn_process()
 * (resolution blocks; everything else never does).
 *
 * @param out  Receives the connection. Also on most errors: then it is
 *             failed, qr_conn_last_error() says why, and the caller must
 *             still free it. NULL only when even that could not be
 *             allocated (QR_ENOMEM), for NULL arguments or an unknown
 *             options version (QR_EINVAL).
 * @param opts Options (copied).
 * @return 0; QR_EINVAL (unknown version or type, missing host or tunnel
 *         command, bad port, proxy URI, TLS option, ENABLE list or tag
 *         prefix; "Invalid proxy URI ...", "Missing tunnel command", ...);
 *         QR_ETLS (trust anchors cannot be loaded); QR_EIO (the tunnel
 *         cannot be spawned); QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_conn_free().
 * @since 0.1
 */
QR_EXTERN int qr_conn_new(qr_conn **out, const qr_conn_options *opts);

/**
 * Free a connection without waiting: the socket is shut down, the tunnel
 * child reaped (bounded wait), outstanding commands complete with
 * QR_ECANCELED. No LOGOUT is sent (see qr_conn_close()).
 *
 * @param c The connection; NULL is a no-op. Not from inside one of its
 *          session's callbacks.
 *
 * **Ownership:** frees the connection and its session.
 * @since 0.1
 */
QR_EXTERN void qr_conn_free(qr_conn *c);

/**
 * The session, to submit commands and read capabilities.
 *
 * @param c The connection.
 * @return A borrowed pointer, valid until qr_conn_free(); NULL for NULL.
 *         Do not qr_session_free() it, nor feed it yourself.
 *
 * **Ownership:** borrowed from the connection.
 * @since 0.1
 */
QR_EXTERN qr_session *qr_conn_session(qr_conn *c);

/**
 * The descriptor to poll.
 *
 * @param c The connection.
 * @return The fd, or -1 when there is none (failed, closed, between two
 *         connect attempts). It can change while connecting: ask again
 *         before every poll.
 * @since 0.1
 */
QR_EXTERN int qr_conn_fd(const qr_conn *c);

/**
 * The poll events the connection waits for.
 *
 * @param c The connection.
 * @return POLLIN and/or POLLOUT bits; 0 when failed or closed.
 * @since 0.1
 */
QR_EXTERN int qr_conn_interest(const qr_conn *c);

/**
 * How long poll may sleep.
 *
 * @param c The connection.
 * @return Milliseconds until the next deadline (connect, handshake,
 *         inactivity), 0 when qr_conn_process() must run at once (decoded
 *         input is buffered, or a deadline passed), -1 for no deadline.
 * @since 0.1
 */
QR_EXTERN int qr_conn_timeout_ms(const qr_conn *c);

/**
 * Do whatever can be done without blocking: connect, handshake, send,
 * receive, run callbacks, check deadlines.
 *
 * @param c       The connection.
 * @param revents The poll result for qr_conn_fd() (0 after a timeout;
 *                the connection tries reads and writes anyway).
 * @return 0; QR_EINVAL for NULL or a call from one of its callbacks;
 *         else the fatal code (also on every later call): QR_EIO
 *         (connect, read, write, timeout: sys_errno ETIMEDOUT), QR_ETLS,
 *         QR_ECOMPRESS, QR_EPROTO (also response injection after
 *         STARTTLS), QR_EOF, QR_EBYE, QR_EAUTH, QR_ECAPABILITY (STARTTLS,
 *         ENABLE, IMAP4rev1 missing), QR_ENOMEM, QR_EUSER.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_conn_process(qr_conn *c, int revents);

/**
 * The state of the connection.
 *
 * @param c The connection.
 * @return A qr_conn_state (QR_CONN_FAILED for NULL).
 * @since 0.1
 */
QR_EXTERN qr_conn_state qr_conn_state_get(const qr_conn *c);

/**
 * Block (poll) until the connection is set up, failed, or `timeout_ms`
 * passed.
 *
 * @param c          The connection.
 * @param timeout_ms Most milliseconds to wait; < 0: no limit.
 * @return 0 when ready; QR_EAGAIN on timeout (the connection goes on);
 *         the fatal code; QR_EINVAL for NULL or when closing or closed.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_conn_connect_wait(qr_conn *c, int timeout_ms);

/**
 * Start an orderly close: LOGOUT (once the setup is done and the
 * server's state allows), then the transport's shutdown (TLS
 * close_notify, deflate end, socket shutdown). Drive it with
 * qr_conn_process() or qr_conn_close_wait() until QR_CONN_CLOSED.
 *
 * @param c The connection.
 * @return 0; QR_EINVAL for NULL; the fatal code if it had failed.
 *
 * **Ownership:** nothing changes hands; free the connection afterwards.
 * @since 0.1
 */
QR_EXTERN int qr_conn_close(qr_conn *c);

/**
 * qr_conn_close(), then block until closed, failed or timed out.
 *
 * @param c          The connection.
 * @param timeout_ms Most milliseconds to wait; < 0: no limit.
 * @return 0 when closed; QR_EAGAIN on timeout; the fatal code.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_conn_close_wait(qr_conn *c, int timeout_ms);

/**
 * The detail of the last failure: the connection's fatal error (prefixed
 * with the place), else the session's last error (a NO, a refused call).
 *
 * @param c The connection.
 * @return A borrowed pointer, valid until the next call on the connection
 *         or its session; code QR_OK when nothing failed; NULL for NULL.
 *
 * **Ownership:** borrowed.
 * @since 0.1
 */
QR_EXTERN const qr_error *qr_conn_last_error(const qr_conn *c);

/**
 * The byte counters.
 *
 * @param c   The connection.
 * @param out Receives the counters.
 * @return 0; QR_EINVAL for NULL arguments.
 *
 * **Ownership:** `out` belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_conn_traffic(const qr_conn *c, qr_conn_traffic_stats *out);

/**
 * Where the connection goes, for messages: "HOST:PORT" or
 * "tunnel COMMAND".
 *
 * @param c The connection.
 * @return A borrowed string; "" for NULL.
 *
 * **Ownership:** borrowed until qr_conn_free().
 * @since 0.1
 */
QR_EXTERN const char *qr_conn_place(const qr_conn *c);

QR_END_DECLS

#endif /* QRESYNC_CONN_H */
