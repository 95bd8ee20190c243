/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file session.h
 * @brief The sans-IO IMAP session: command queue, pipelining, capabilities
 *        and routing of responses.
 *
 * A qr_session is the protocol half of an IMAP connection. It does no I/O:
 * the caller feeds it the bytes the server sent (qr_session_feed()) and
 * takes from it the bytes to send (qr_session_output() then
 * qr_session_consume()), in the style of nghttp2's mem_recv/mem_send. So
 * the same session runs over a socket, TLS, a tunnel, a fuzzer or a test
 * script.
 *
 * @code
 * qr_session *s;
 * qr_session_new(&s, NULL);
 * qr_session_login(s, "joe", "secret", on_login, NULL);
 * for (;;) {
 *     qr_iov iov[8]; size_t n;
 *     qr_session_output(s, iov, 8, &n);      // write them, then
 *     qr_session_consume(s, bytes_written);  // say how many went out
 *     ... read bytes ...
 *     qr_session_feed(s, buf, len, &used);   // callbacks fire in here
 * }
 * @endcode
 *
 * **Connection setup.** Nothing is sent before the server's greeting.
 * `* OK` gives the not-authenticated state, `* PREAUTH` the authenticated
 * one, `* BYE` fails the session with QR_EBYE. Capabilities come from a
 * `[CAPABILITY ...]` code in the greeting; without one, a CAPABILITY
 * command is sent first. Then the session is *ready* (options.on_ready) and
 * the commands submitted meanwhile start. A session made by qr_conn_new()
 * (conn.h) also runs STARTTLS, authentication, COMPRESS and ENABLE before
 * it is ready; a bare session leaves logging in to its caller.
 *
 * **Queue.** Commands wait in a pending list and move to the in-flight
 * list when sent, each with a tag made of the session's prefix and a
 * counter ("A1", "A2", ...). A command stays pending while any of these
 * holds: the in-flight count has reached max_in_flight; the command being
 * sent waits for a continuation `+` (synchronizing literal) or for a
 * streamed body (QR_EAGAIN); a barrier command is in flight; the output
 * queue holds output_cap bytes or more. A barrier command (STARTTLS,
 * COMPRESS, AUTHENTICATE, LOGIN, ENABLE, SELECT, EXAMINE, UNSELECT, CLOSE,
 * LOGOUT, or any command with QR_SESSION_CMD_BARRIER) is sent alone: it
 * also waits until nothing is in flight.
 *
 * **Completions.** Every command accepted by qr_session_submit() (or a
 * helper) gets exactly one completion: at its tagged response; with
 * QR_ECANCELED when cancelled while pending, when the server closed the
 * connection, or when the session is freed; with the fatal code when the
 * session fails. A submit that returns an error never calls its callbacks.
 *
 * **Routing of untagged responses.** Each untagged response first updates
 * the session's own trackers (capabilities, the selected mailbox view),
 * then goes to the on_untagged callback of the *oldest* in-flight command
 * whose claim mask has its kind, and otherwise to options.on_unsolicited.
 * FETCH bodies go to the body callbacks of the oldest in-flight command
 * claiming FETCH (dropped when there is none).
 *
 * **Pausing.** Every callback returning int may return QR_PAUSE: feeding
 * stops right after that event and qr_session_feed() returns QR_PAUSE;
 * feed the remaining bytes later. A negative return fails the session with
 * QR_EUSER.
 *
 * **Re-entrancy.** Callbacks may submit and cancel commands and may free
 * the session: the free is then deferred until the library returns from
 * the outermost call.
 *
 * **Errors.** Protocol violations (unknown or repeated tag, a `+` nobody
 * waits for, a parser error) and BYE are fatal: the session is unusable,
 * every command completes, and feed, output and submit return the same
 * code from then on (qr_error_is_fatal()).
 */
#ifndef QRESYNC_SESSION_H
#define QRESYNC_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/cmd.h>
#include <qresync/common.h>
#include <qresync/error.h>
#include <qresync/log.h>
#include <qresync/resp.h>

QR_BEGIN_DECLS

/**
 * A session (opaque). Not thread-safe.
 * @since 0.1
 */
typedef struct qr_session qr_session;

/**
 * One piece of output: `len` bytes at `base`.
 * @since 0.1
 */
typedef struct qr_iov {
    const void *base; /**< the bytes (borrowed from the session until consumed) */
    size_t len;       /**< their number, never 0 */
} qr_iov;

/**
 * The IMAP connection state (RFC 3501 §3) plus the session's own ends.
 * @since 0.1
 */
typedef enum qr_session_state {
    QR_SESSION_GREETING = 0,          /**< waiting for the server's greeting */
    QR_SESSION_NOT_AUTHENTICATED = 1, /**< `* OK` greeting; before login */
    QR_SESSION_AUTHENTICATED = 2,     /**< logged in (or PREAUTH), no mailbox selected */
    QR_SESSION_SELECTED = 3,          /**< a mailbox is selected */
    QR_SESSION_LOGOUT = 4,            /**< LOGOUT completed (or its BYE arrived) */
    QR_SESSION_FAILED = 5             /**< a fatal error happened: see last_error */
} qr_session_state;

/**
 * Known capabilities, for qr_session_has_cap() and qr_session_require().
 * The names are matched case-insensitively.
 * @since 0.1
 */
typedef enum qr_cap {
    QR_CAP_IMAP4REV1 = 0,    /**< IMAP4rev1 */
    QR_CAP_IMAP4REV2,        /**< IMAP4rev2 */
    QR_CAP_LITERALPLUS,      /**< LITERAL+ */
    QR_CAP_LITERALMINUS,     /**< LITERAL- */
    QR_CAP_UIDPLUS,          /**< UIDPLUS */
    QR_CAP_CONDSTORE,        /**< CONDSTORE */
    QR_CAP_QRESYNC,          /**< QRESYNC */
    QR_CAP_ENABLE,           /**< ENABLE */
    QR_CAP_LIST_EXTENDED,    /**< LIST-EXTENDED */
    QR_CAP_LIST_STATUS,      /**< LIST-STATUS */
    QR_CAP_MULTIAPPEND,      /**< MULTIAPPEND */
    QR_CAP_COMPRESS_DEFLATE, /**< COMPRESS=DEFLATE */
    QR_CAP_STARTTLS,         /**< STARTTLS */
    QR_CAP_LOGINDISABLED,    /**< LOGINDISABLED */
    QR_CAP_SASL_IR,          /**< SASL-IR */
    QR_CAP_IDLE,             /**< IDLE */
    QR_CAP_NAMESPACE,        /**< NAMESPACE */
    QR_CAP_MOVE,             /**< MOVE */
    QR_CAP_ESEARCH,          /**< ESEARCH */
    QR_CAP_BINARY,           /**< BINARY */
    QR_CAP_UNSELECT,         /**< UNSELECT */
    QR_CAP_ID,               /**< ID */
    QR_CAP_UTF8_ACCEPT,      /**< UTF8=ACCEPT */
    QR_CAP_SPECIAL_USE,      /**< SPECIAL-USE */
    QR_CAP_NOTIFY,           /**< NOTIFY */
    QR_CAP_COUNT             /**< number of known capabilities (not one) */
} qr_cap;

/**
 * The outcome of a command, given to its completion callback.
 * @since 0.1
 */
typedef struct qr_session_result {
    int status;               /**< 0 (OK), QR_ENO, QR_EBAD, QR_ECANCELED, or the session's
                                   fatal code */
    const char *tag;          /**< the tag it was sent with, or NULL if never sent */
    const qr_resp_code *code; /**< the tagged response's code (kind QR_CODE_NONE when it
                                   had none), or NULL without a tagged response */
    const char *text;         /**< the server's text, or "" without a tagged response;
                                   NUL-terminated, unescaped */
    size_t text_len;          /**< bytes of text */
} qr_session_result;

/**
 * Completion callback of a command.
 *
 * @param s       The session.
 * @param res     The outcome; borrowed for the call.
 * @param payload The payload given at submission.
 * @return 0, or QR_PAUSE to stop feeding after this response; a negative
 *         value fails the session with QR_EUSER. Ignored when the session
 *         is failing, cancelling or being freed.
 * @since 0.1
 */
typedef int (*qr_session_done_fn)(qr_session *s, const qr_session_result *res, void *payload);

/**
 * Untagged response callback (a command's on_untagged, the session's
 * on_unsolicited).
 *
 * @param s       The session.
 * @param resp    The response; everything in it is borrowed for the call.
 * @param payload The command's or the session's payload.
 * @return 0, QR_PAUSE, or a negative value (the session fails with QR_EUSER).
 * @since 0.1
 */
typedef int (*qr_session_untagged_fn)(qr_session *s, const qr_resp *resp, void *payload);

/** A claim-mask bit for a qr_resp_kind. @since 0.1 */
#define QR_CLAIM(kind) (1u << (unsigned int)(kind))
/** qr_session_cmd_opts.claims: derive the mask from the command name. @since 0.1 */
#define QR_CLAIM_AUTO 0x80000000u

/** qr_session_cmd_opts.flags: the command is a barrier. @since 0.1 */
#define QR_SESSION_CMD_BARRIER 0x1u
/** qr_session_cmd_opts.flags: queue at the head of the pending list. @since 0.1 */
#define QR_SESSION_CMD_HIGH_PRIORITY 0x2u

/** Current version of qr_session_cmd_opts. @since 0.1 */
#define QR_SESSION_CMD_OPTS_VERSION 1

/**
 * Per-command options of qr_session_submit().
 * @since 0.1
 */
typedef struct qr_session_cmd_opts {
    unsigned int version; /**< QR_SESSION_CMD_OPTS_VERSION */
    unsigned int flags;   /**< QR_SESSION_CMD_* bits */
    uint32_t claims;      /**< QR_CLAIM() bits of the untagged kinds this command
                               collects, or QR_CLAIM_AUTO (the default): FETCH and
                               VANISHED for (UID) FETCH, FETCH for STORE, LIST, LSUB and
                               STATUS for LIST, SEARCH and ESEARCH for SEARCH, FLAGS,
                               EXISTS, RECENT, VANISHED and FETCH for SELECT/EXAMINE, ... */
    /** A FETCH body starts (see qr_parser_callbacks); may be NULL. */
    int (*on_body_begin)(qr_session *s, const qr_body_info *info, void *payload);
    /** The next bytes of the body; may be NULL. */
    int (*on_body_data)(qr_session *s, const char *data, size_t len, void *payload);
    /** The body is complete; may be NULL. */
    int (*on_body_end)(qr_session *s, void *payload);
} qr_session_cmd_opts;

/** Static initialiser of qr_session_cmd_opts. @since 0.1 */
#define QR_SESSION_CMD_OPTS_INIT                                                                   \
    {                                                                                              \
        QR_SESSION_CMD_OPTS_VERSION, 0, QR_CLAIM_AUTO, NULL, NULL, NULL                            \
    }

/** Current version of qr_session_options. @since 0.1 */
#define QR_SESSION_OPTIONS_VERSION 1

/**
 * Options of a session. Fill with QR_SESSION_OPTIONS_INIT or
 * qr_session_options_init(), then change what you need.
 * @since 0.1
 */
typedef struct qr_session_options {
    unsigned int version;                  /**< QR_SESSION_OPTIONS_VERSION */
    const char *tag_prefix;                /**< tag prefix, 1-8 letters (default "A"); copied */
    unsigned int max_in_flight;            /**< most commands in flight (default 128; 1 = one
                                                at a time, as the reference) */
    size_t output_cap;                     /**< no command starts while this many bytes wait to
                                                be sent (default 1 MiB) */
    size_t max_small_literal;              /**< parser limit; 0 for the parser's default */
    uint64_t max_literal;                  /**< parser limit; 0 for the parser's default */
    size_t max_token;                      /**< parser limit; 0 for the parser's default */
    unsigned int max_depth;                /**< parser limit; 0 for the parser's default */
    size_t max_response;                   /**< parser limit; 0 for the parser's default */
    qr_log_fn log_fn;                      /**< log callback, or NULL */
    void *log_payload;                     /**< passed to log_fn */
    qr_log_level log_level;                /**< most verbose level logged (default QR_LOG_INFO);
                                                wire lines are QR_LOG_DEBUG, secrets shown only at
                                                QR_LOG_TRACE */
    qr_session_untagged_fn on_unsolicited; /**< untagged responses no command claims;
                                                may be NULL */
    /** Setup is complete; submitted commands start now. May be NULL. */
    int (*on_ready)(qr_session *s, void *payload);
    void *payload; /**< passed to on_unsolicited and on_ready */
} qr_session_options;

/** Static initialiser with the defaults. @since 0.1 */
#define QR_SESSION_OPTIONS_INIT                                                                    \
    {                                                                                              \
        QR_SESSION_OPTIONS_VERSION, "A", 128, 1048576, 0, 0, 0, 0, 0, NULL, NULL, QR_LOG_INFO,     \
            NULL, NULL, NULL                                                                       \
    }

/**
 * The selected mailbox as the session tracks it. Values are those of the
 * last responses seen; `present` says which arrived since the SELECT (or
 * its [CLOSED] boundary).
 * @since 0.1
 */
typedef struct qr_session_selected {
    int selected;           /**< 1 when a mailbox is selected */
    int read_only;          /**< 1 after [READ-ONLY] (EXAMINE) */
    unsigned int present;   /**< QR_STATUS_* bits of the fields below that are known */
    uint32_t exists;        /**< EXISTS (adjusted by VANISHED without EARLIER) */
    uint32_t uidnext;       /**< UIDNEXT (raised by FETCH UID and VANISHED) */
    uint32_t uidvalidity;   /**< UIDVALIDITY */
    uint64_t highestmodseq; /**< HIGHESTMODSEQ (raised by FETCH MODSEQ) */
} qr_session_selected;

/**
 * Fill options with the defaults of QR_SESSION_OPTIONS_INIT.
 *
 * @param opts    The options.
 * @param version QR_SESSION_OPTIONS_VERSION.
 * @return 0; QR_EINVAL if opts is NULL or the version unknown.
 *
 * **Ownership:** `opts` belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_session_options_init(qr_session_options *opts, unsigned int version);

/**
 * Fill command options with the defaults of QR_SESSION_CMD_OPTS_INIT.
 *
 * @param opts    The options.
 * @param version QR_SESSION_CMD_OPTS_VERSION.
 * @return 0; QR_EINVAL if opts is NULL or the version unknown.
 *
 * **Ownership:** `opts` belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_session_cmd_opts_init(qr_session_cmd_opts *opts, unsigned int version);

/**
 * Create a session waiting for the greeting.
 *
 * @param out  Receives the session; NULL on failure.
 * @param opts Options (copied, the tag prefix too), or NULL for defaults.
 * @return 0; QR_EINVAL for an unknown version, a bad tag prefix, a zero
 *         max_in_flight or output_cap, or a parser limit out of range;
 *         QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_session_free().
 * @since 0.1
 */
QR_EXTERN int qr_session_new(qr_session **out, const qr_session_options *opts);

/**
 * Free a session. Every outstanding command completes with QR_ECANCELED
 * first (their callbacks cannot submit any more). Called from inside one of
 * the session's callbacks, the free happens when the library call that ran
 * the callback returns.
 *
 * @param s The session; NULL is a no-op.
 *
 * **Ownership:** frees the session and every command it owns.
 * @since 0.1
 */
QR_EXTERN void qr_session_free(qr_session *s);

/**
 * Feed bytes received from the server. Callbacks fire from here.
 *
 * @param s        The session.
 * @param buf      The bytes (borrowed for the call); NULL allowed when len is 0.
 * @param len      Their number.
 * @param consumed Receives how many were used; never NULL.
 * @return 0 (all consumed); QR_PAUSE (a callback paused: feed
 *         `buf + *consumed` later); fatal: QR_EPROTO (protocol or grammar
 *         violation), QR_ELIMIT (a parser limit), QR_EBYE, QR_ENOMEM,
 *         QR_EUSER (a callback returned a negative value), QR_ECAPABILITY
 *         (not an IMAP4rev1 server), or the earlier fatal code; QR_EINVAL
 *         for NULL arguments or a call from inside a feed callback.
 *
 * **Ownership:** `buf` is only read during the call.
 * @since 0.1
 */
QR_EXTERN int qr_session_feed(qr_session *s, const char *buf, size_t len, size_t *consumed);

/**
 * Tell the session that the server closed the connection. Outstanding
 * commands complete with QR_ECANCELED.
 *
 * @param s The session.
 * @return 0 after a LOGOUT (a normal end); QR_EBYE after a BYE; else QR_EOF
 *         (fatal); or the earlier fatal code.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_session_eof(qr_session *s);

/**
 * Fail the session because the transport failed (I/O, TLS, deflate error).
 * Every outstanding command completes with `code`.
 *
 * @param s       The session.
 * @param code    A negative QR_E* code; QR_ERROR is used for anything else.
 * @param message Detail for qr_session_last_error(), or NULL.
 * @return The session's fatal code (the earlier one if it had failed).
 *
 * **Ownership:** `message` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_session_abort(qr_session *s, int code, const char *message);

/**
 * The bytes waiting to be sent, as up to `max` pieces.
 *
 * Also resumes a streamed literal whose source answered QR_EAGAIN.
 *
 * @param s   The session.
 * @param iov Receives the pieces; they stay valid until qr_session_consume()
 *            covers them or the session is freed.
 * @param max Room at iov.
 * @param n   Receives the number of pieces filled (0 when nothing waits).
 * @return 0; QR_EINVAL for NULL arguments; a fatal code (also when a
 *         stream source failed: the command is then incomplete on the wire).
 *
 * **Ownership:** the bytes stay the session's.
 * @since 0.1
 */
QR_EXTERN int qr_session_output(qr_session *s, qr_iov *iov, size_t max, size_t *n);

/**
 * Say that the first `bytes` bytes of the output were sent.
 *
 * @param s     The session.
 * @param bytes At most the bytes qr_session_output() offered.
 * @return 0; QR_EINVAL if `bytes` is more than the output holds; a fatal code.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_session_consume(qr_session *s, size_t bytes);

/**
 * Whether the session wants bytes from the server.
 *
 * @param s The session.
 * @return 1 unless the session failed or completed a LOGOUT.
 * @since 0.1
 */
QR_EXTERN int qr_session_want_read(const qr_session *s);

/**
 * Whether the session has bytes to send.
 *
 * @param s The session.
 * @return 1 if qr_session_output() would give bytes, else 0.
 * @since 0.1
 */
QR_EXTERN int qr_session_want_write(const qr_session *s);

/**
 * Hold (or release) the session's input: lasting back-pressure for a
 * body sink that cannot take more bytes now (a relay whose buffer is
 * full).
 *
 * A callback's QR_PAUSE stops only the current qr_session_feed(); a
 * driver such as qr_conn_process() feeds the rest at once. While the
 * input is held, qr_session_feed() consumes nothing and returns QR_PAUSE,
 * qr_session_want_read() answers 0, and qr_conn_process() neither reads
 * nor feeds (the bytes it already read wait in its buffer) and does not
 * count the time against its inactivity timeout. Set from inside a feed
 * callback, the parser stops right after the current event, as with
 * QR_PAUSE. Releasing resumes nothing by itself: the next
 * qr_session_feed() (or qr_conn_process(), whose timeout is then 0 when
 * bytes wait) goes on where it stopped.
 *
 * @param s    The session.
 * @param hold 1 to hold, 0 to release.
 * @return 0; QR_EINVAL for NULL.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_session_hold_input(qr_session *s, int hold);

/**
 * Say that the stream source (qr_cmd_add_literal_stream()) that answered
 * QR_EAGAIN has bytes now. qr_session_want_write() then answers 1 again,
 * so a poll loop wakes for output, and qr_session_output() asks the
 * source again. Harmless when no source waits.
 *
 * @param s The session.
 * @return 0; QR_EINVAL for NULL.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_session_source_ready(qr_session *s);

/**
 * Submit a command.
 *
 * The command is sent when the queue rules allow (see the file
 * documentation), with the literal forms the server's capabilities allow.
 *
 * @param s           The session.
 * @param cmd         A complete command (no sticky error, no open list).
 * @param opts        Options, or NULL for QR_SESSION_CMD_OPTS_INIT.
 * @param on_done     Completion callback, or NULL.
 * @param on_untagged Receives the untagged responses the command claims, or NULL.
 * @param payload     Passed to every callback of the command.
 * @return 0; QR_EINVAL (NULL session or command, a command with an error
 *         or an open list, unknown options version or flags, a call during
 *         qr_session_free() or after LOGOUT); QR_ENOMEM; or the session's
 *         fatal code.
 *
 * **Ownership:** on success the session owns `cmd` (it frees it after the
 * completion); on error the caller keeps it and no callback ever fires.
 * @since 0.1
 */
QR_EXTERN int qr_session_submit(qr_session *s, qr_cmd *cmd, const qr_session_cmd_opts *opts,
                                qr_session_done_fn on_done, qr_session_untagged_fn on_untagged,
                                void *payload);

/**
 * Cancel the pending commands: each completes with QR_ECANCELED before
 * this returns, oldest first. Commands in flight finish normally.
 *
 * @param s The session.
 * @return The number of commands cancelled, or QR_EINVAL for NULL.
 *
 * **Ownership:** the cancelled commands are freed.
 * @since 0.1
 */
QR_EXTERN int qr_session_cancel_all(qr_session *s);

/**
 * Send LOGIN with the user name and password (the password marked secret
 * in logs). On OK the state becomes AUTHENTICATED and the capabilities are
 * taken from the `[CAPABILITY]` code, or dropped and asked for again with
 * a CAPABILITY command queued first.
 *
 * @param s        The session.
 * @param user     User name, UTF-8.
 * @param password Password, UTF-8.
 * @param on_done  Completion (QR_ENO / QR_EBAD carry the server's text).
 * @param payload  Passed to on_done.
 * @return As qr_session_submit(); also QR_EINVAL for NULL or NUL-holding
 *         strings and QR_ECAPABILITY when LOGINDISABLED is advertised.
 *
 * **Ownership:** the strings are copied.
 * @since 0.1
 */
QR_EXTERN int qr_session_login(qr_session *s, const char *user, const char *password,
                               qr_session_done_fn on_done, void *payload);

/**
 * Send LOGOUT. Its BYE is expected; pending commands behind it complete
 * with QR_ECANCELED once it completes.
 *
 * @param s       The session.
 * @param on_done Completion, or NULL.
 * @param payload Passed to on_done.
 * @return As qr_session_submit().
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_session_logout(qr_session *s, qr_session_done_fn on_done, void *payload);

/**
 * Send NOOP.
 *
 * @param s       The session.
 * @param on_done Completion, or NULL.
 * @param payload Passed to on_done.
 * @return As qr_session_submit().
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_session_noop(qr_session *s, qr_session_done_fn on_done, void *payload);

/**
 * Send CAPABILITY; the capability list is replaced by the answer.
 *
 * @param s       The session.
 * @param on_done Completion, or NULL.
 * @param payload Passed to on_done.
 * @return As qr_session_submit().
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_session_capability(qr_session *s, qr_session_done_fn on_done, void *payload);

/**
 * The connection state.
 *
 * @param s The session.
 * @return A qr_session_state.
 * @since 0.1
 */
QR_EXTERN qr_session_state qr_session_state_get(const qr_session *s);

/**
 * Whether setup is complete (greeting and capabilities).
 *
 * @param s The session.
 * @return 1 or 0.
 * @since 0.1
 */
QR_EXTERN int qr_session_ready(const qr_session *s);

/**
 * The selected mailbox view.
 *
 * @param s The session.
 * @return A borrowed pointer, valid until the next call on the session.
 *
 * **Ownership:** borrowed from the session.
 * @since 0.1
 */
QR_EXTERN const qr_session_selected *qr_session_selected_get(const qr_session *s);

/**
 * Whether the capability list is known (since the greeting, a CAPABILITY
 * answer or a `[CAPABILITY]` code, and not invalidated since).
 *
 * @param s The session.
 * @return 1 or 0.
 * @since 0.1
 */
QR_EXTERN int qr_session_caps_known(const qr_session *s);

/**
 * Whether a known capability is advertised.
 *
 * @param s   The session.
 * @param cap A qr_cap.
 * @return 1 or 0 (also for an unknown list or an out-of-range cap).
 * @since 0.1
 */
QR_EXTERN int qr_session_has_cap(const qr_session *s, qr_cap cap);

/**
 * Whether a capability is advertised, by name (case-insensitive, exact:
 * "AUTH=PLAIN", "X-GM-EXT-1").
 *
 * @param s    The session.
 * @param name The name.
 * @return 1 or 0.
 * @since 0.1
 */
QR_EXTERN int qr_session_has_cap_name(const qr_session *s, const char *name);

/**
 * The capability list as the server sent it.
 *
 * @param s     The session.
 * @param count Receives the number of names (0 when unknown); may be NULL.
 * @return An array of NUL-terminated names, borrowed until the list is
 *         replaced or invalidated; NULL when empty.
 *
 * **Ownership:** borrowed from the session.
 * @since 0.1
 */
QR_EXTERN const char *const *qr_session_cap_list(const qr_session *s, size_t *count);

/**
 * Forget the capability list (after STARTTLS or authentication).
 *
 * @param s The session.
 *
 * **Ownership:** the old list is freed.
 * @since 0.1
 */
QR_EXTERN void qr_session_caps_invalidate(qr_session *s);

/**
 * The name of a known capability.
 *
 * @param cap A qr_cap.
 * @return A static string such as "QRESYNC"; "" when out of range.
 *
 * **Ownership:** static.
 * @since 0.1
 */
QR_EXTERN const char *qr_cap_name(qr_cap cap);

/**
 * Check that the server advertises every capability given.
 *
 * @param s    The session.
 * @param caps The capabilities needed.
 * @param n    Their number.
 * @return 0; QR_ECAPABILITY (the error detail names every missing one,
 *         e.g. "server lacks UIDPLUS QRESYNC"), also when the list is not
 *         known yet; QR_EINVAL for NULL arguments or an out-of-range cap.
 *
 * **Ownership:** `caps` is read during the call only.
 * @since 0.1
 */
QR_EXTERN int qr_session_require(qr_session *s, const qr_cap *caps, size_t n);

/**
 * The detail of the last failure: the fatal error, or the last NO/BAD
 * (with the server's code and text), or a refused call.
 *
 * @param s The session.
 * @return A borrowed pointer; code QR_OK when nothing failed.
 *
 * **Ownership:** borrowed, valid until the next call on the session.
 * @since 0.1
 */
QR_EXTERN const qr_error *qr_session_last_error(const qr_session *s);

/**
 * Counts for statistics and tests.
 *
 * @param s         The session.
 * @param pending   Receives the number of pending commands; may be NULL.
 * @param in_flight Receives the number of commands in flight; may be NULL.
 * @return 0, or QR_EINVAL for NULL.
 * @since 0.1
 */
QR_EXTERN int qr_session_queue_counts(const qr_session *s, size_t *pending, size_t *in_flight);

QR_END_DECLS

#endif /* QRESYNC_SESSION_H */
