/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file pull.h
 * @brief One-way pull of new messages from an IMAP mailbox with a
 *        crash-safe state file compatible with PullIMAP 0.5.7 (the engine
 *        of pullimap).
 *
 * A qr_pull owns a state file (big-endian UIDVALIDITY, UIDNEXT, then the
 * UIDs delivered by an unfinished pull; POSIX record lock; O_DSYNC
 * writes) and drives one connection. Each pull fetches the messages from
 * the stored UIDNEXT on (skipping those the file lists), hands each to the
 * deliver callback with its envelope sender and its body as a stream
 * (bodies above 1 MiB go through an unnamed temporary file, so memory
 * stays flat), records the UID in the file once the callback says it was
 * delivered, marks the delivered messages `\Seen`, calls the end-of-pull
 * callback (pullimap sends QUIT there), then writes the new UIDNEXT and
 * truncates the list. `purge-after` expunges old messages; idle mode waits
 * with IMAP IDLE.
 *
 * Beyond the reference: a delivery the callback reports as temporary
 * (QR_EAGAIN) leaves the message unrecorded and unmarked, and the stored
 * UIDNEXT stays at or below it (the UIDs delivered above it are kept in the
 * file's list), so the next pull retries it; nothing undelivered is ever
 * marked `\Seen` or purged.
 *
 * Log lines go to the log callback; the host adds its prefix (the mailbox
 * is qr_pull_selected(), which the callback may call): QR_LOG_INFO
 * `UID U from <SENDER> (DATE)` and `Removing N UID(s) SET` (pullimap's
 * --quiet hides them), QR_LOG_ERROR `ERROR: ...` for IMAP and connection
 * failures, QR_LOG_DEBUG `Update last clean state for MAILBOX: (...)`.
 * Failures of the state file (`Corrupted state file!`, `write: ...`; the
 * reference prints them without prefix) and of the host's callbacks are
 * not logged: they are in qr_pull_last_error().
 *
 * The deliver and end callbacks run from the engine's own code, never
 * from inside the session's processing: while a message is delivered the
 * session's input is held (the connection's inactivity timeout does not
 * run), so a slow delivery is fine. Callbacks may call the getters
 * (qr_pull_selected(), qr_pull_stats_get(), qr_pull_last_error()) and
 * qr_pull_cancel(), nothing else of the pull or its connection.
 *
 * The lock is a POSIX record lock: it excludes other processes (the Perl
 * pullimap included), not a second qr_pull of the same process on the same
 * file, and closing any descriptor of the file in the process drops it.
 */
#ifndef QRESYNC_PULL_H
#define QRESYNC_PULL_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/cmd.h>
#include <qresync/common.h>
#include <qresync/conn.h>
#include <qresync/error.h>
#include <qresync/log.h>

QR_BEGIN_DECLS

/**
 * A pull (opaque).
 * @since 0.1
 */
typedef struct qr_pull qr_pull;

/**
 * One message handed to the deliver callback.
 * @since 0.1
 */
typedef struct qr_pull_message {
    uint32_t uid;             /**< its UID */
    const char *internaldate; /**< INTERNALDATE as the server sent it */
    const char *sender;       /**< envelope sender (pullimap.md §4.3): "" for the null
                                   sender; never NULL. Beyond the reference, a domain with
                                   a byte outside 0x21-0x7E also gives "" (no CR or LF can
                                   reach `MAIL FROM:<...>`) */
    uint64_t size;            /**< body size in bytes (0 for a NIL or empty body) */
    int eightbit;             /**< 1 when the body holds bytes above 0x7F */
    qr_cmd_read_fn read;      /**< the body, readable once from its start, during the
                                   call only (bodies above 1 MiB are read back from an
                                   unnamed file in $TMPDIR) */
    void *read_payload;       /**< passed to read */
} qr_pull_message;

/**
 * Deliver one message.
 *
 * @param m       The message; borrowed for the call.
 * @param payload The options' payload.
 * @return 0 delivered (the UID is recorded, then marked `\Seen`);
 *         QR_EAGAIN temporary failure (not recorded, retried at the next
 *         pull); another negative code stops the pull with that code
 *         (nothing more is recorded, the connection is aborted, the code
 *         is not logged: the host's error text should be in its own log);
 *         a positive value counts as QR_EUSER.
 * @since 0.1
 */
typedef int (*qr_pull_deliver_fn)(const qr_pull_message *m, void *payload);

/**
 * End of a pull: the delivered messages are marked `\Seen`; the state file
 * is updated right after (pullimap sends QUIT here).
 *
 * @param payload The options' payload.
 * @return 0, or a negative code to stop (the state file then keeps the
 *         list of this pull's UIDs, as after a crash; not logged).
 * @since 0.1
 */
typedef int (*qr_pull_end_fn)(void *payload);

/** qr_pull_options.flags: idle mode (never create the state file). @since 0.1 */
#define QR_PULL_IDLE 0x1u
/** qr_pull_options.flags: --no-delivery (FETCH without bodies; nothing delivered). @since 0.1 */
#define QR_PULL_NO_DELIVERY 0x2u

/** Current version of qr_pull_options. @since 0.1 */
#define QR_PULL_OPTIONS_VERSION 1

/**
 * What to pull. Fill with qr_pull_options_init().
 * @since 0.1
 */
typedef struct qr_pull_options {
    unsigned int version;       /**< QR_PULL_OPTIONS_VERSION */
    unsigned int flags;         /**< QR_PULL_* bits */
    const char *statefile;      /**< the state file path (absolute or relative to the cwd) */
    const char *mailbox;        /**< the mailbox as the server spells it, sent as it is (no
                                     UTF-7 conversion); INBOX in any case is `INBOX`;
                                     NULL for the default "INBOX" */
    int purge;                  /**< 1 when purge-after is set */
    unsigned long purge_after;  /**< days (0: everything below UIDNEXT after each pull);
                                     with N > 0 the search runs at most every 12 hours */
    qr_pull_deliver_fn deliver; /**< deliver callback (not needed with QR_PULL_NO_DELIVERY) */
    qr_pull_end_fn end;         /**< end-of-pull callback, or NULL */
    void *payload;              /**< passed to deliver and end */
    qr_log_fn log_fn;           /**< log callback (lines as `level, QR_LOG_EVENT, text`, escaped),
                                     or NULL */
    void *log_payload;          /**< passed to log_fn */
    qr_log_level log_level;     /**< most verbose level (default QR_LOG_INFO) */
} qr_pull_options;

/**
 * Counters.
 * @since 0.1
 */
typedef struct qr_pull_stats {
    uint64_t delivered;       /**< messages delivered (or recorded with --no-delivery) */
    uint64_t delivered_bytes; /**< their bytes */
    uint64_t deferred;        /**< temporary failures */
    uint64_t purged;          /**< messages expunged by purge-after (EXPUNGE responses) */
} qr_pull_stats;

/**
 * Fill options with the defaults (mailbox "INBOX", log level QR_LOG_INFO,
 * everything else 0).
 * @param opts The options.
 * @param version QR_PULL_OPTIONS_VERSION.
 * @return 0; QR_EINVAL.
 *
 * **Ownership:** `opts` belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_pull_options_init(qr_pull_options *opts, unsigned int version);

/**
 * Create a pull; nothing is opened.
 * @param out  Receives it (NULL on failure).
 * @param opts Options (copied).
 * @return 0; QR_EINVAL (NULL arguments, unknown version or flags, no
 *         state file, no deliver callback without QR_PULL_NO_DELIVERY, an
 *         empty mailbox); QR_ENOMEM.
 *
 * **Ownership:** the strings are copied; free the pull with qr_pull_free().
 * @since 0.1
 */
QR_EXTERN int qr_pull_new(qr_pull **out, const qr_pull_options *opts);

/**
 * Open and lock the state file (pullimap.md §3.2), before any connection:
 * `O_RDWR | O_DSYNC | O_CLOEXEC`, created (mode 0600) unless QR_PULL_IDLE,
 * then `fcntl(F_SETLK)` F_WRLCK on the whole file. Harmless when open.
 * @param p The pull.
 * @return 0; QR_EINVAL; QR_EIO (`Can't open PATH: ...`), QR_ELOCKED
 *         (`Can't lock PATH: ...`), QR_ENOMEM; the message (and the errno)
 *         is in qr_pull_last_error(), not logged. A later call may succeed.
 *
 * **Ownership:** the descriptor and its lock stay with the pull until
 * qr_pull_free().
 * @since 0.1
 */
QR_EXTERN int qr_pull_open(qr_pull *p);

/**
 * Give the connection (after qr_pull_open()). It may still be connecting:
 * qr_pull_run() drives it. No ENABLE is needed (QRESYNC is not used).
 * @param p    The pull.
 * @param conn The connection (borrowed; must outlive p).
 * @return 0; QR_EINVAL (NULL, the file not open, a connection given
 *         already).
 *
 * **Ownership:** `conn` stays the caller's.
 * @since 0.1
 */
QR_EXTERN int qr_pull_attach(qr_pull *p, qr_conn *conn);

/**
 * Start-up and one pull (§4.1 steps 3-7): wait for the connection, read
 * the state file (QR_EPROTO `Corrupted state file!`), SELECT, check
 * UIDVALIDITY (QR_EUIDVALIDITY `UIDVALIDITY changed! (FILE != SERVER)  Need
 * to invalidate the UID cache for MAILBOX.`, logged while
 * qr_pull_selected() is still NULL), pull, purge. Called again, it pulls
 * and purges again in the same session.
 * @param p The pull.
 * @return 0; QR_EINVAL (no connection); QR_ECANCELED; the first error:
 *         a connection's code, QR_ENO/QR_EBAD (`ERROR: NO text`),
 *         QR_EPROTO, QR_ECAPABILITY (`Server did not advertise UIDPLUS
 *         (RFC 4315) capability.`, as the reference: after the `\Deleted`
 *         STORE, before the first UID EXPUNGE), QR_EIO (state file),
 *         or a callback's code. Failures are sticky: later calls return
 *         the same code.
 *
 * **Ownership:** nothing changes hands; the callbacks run inside.
 * @since 0.1
 */
QR_EXTERN int qr_pull_run(qr_pull *p);

/**
 * Idle mode, after qr_pull_run(): IDLE for at most `seconds` or until new
 * mail is announced, DONE, then pull (when announced, or when a delivery
 * was deferred) and purge. Call it in a loop.
 * @param p       The pull.
 * @param seconds The longest IDLE; 0 or less for 1740 (29 minutes).
 * @return 0; QR_EINVAL (qr_pull_run() did not get past the SELECT);
 *         QR_ECAPABILITY (`Server did not advertise IDLE (RFC 2177)
 *         capability.`); QR_ECANCELED after qr_pull_cancel() (the IDLE
 *         ends with DONE: the connection can still log out); as
 *         qr_pull_run().
 *
 * **Ownership:** nothing changes hands; the callbacks run inside.
 * @since 0.1
 */
QR_EXTERN int qr_pull_idle(qr_pull *p, int seconds);

/**
 * Send LOGOUT and wait for the reply (the end of a one-shot run).
 * @param p The pull.
 * @return 0; QR_EINVAL (never connected); the earlier failure; a
 *         connection error.
 *
 * **Ownership:** nothing changes hands; the connection stays open (free
 * or close it).
 * @since 0.1
 */
QR_EXTERN int qr_pull_logout(qr_pull *p);

/**
 * Stop at the next safe point (async-signal-safe: only sets a flag). In
 * IDLE, the IDLE ends cleanly; during a pull, once the message being
 * delivered is recorded, the commands in flight are aborted (the
 * connection is then unusable; the state file is consistent, as after a
 * crash). The call in progress returns QR_ECANCELED, and so do later
 * qr_pull_run() and qr_pull_idle() calls; after a cancel in IDLE,
 * qr_pull_logout() still works.
 * @param p The pull; NULL is a no-op.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN void qr_pull_cancel(qr_pull *p);

/**
 * Free: abort what is still in flight, release the lock, close the file.
 * The connection is not closed (no LOGOUT is sent).
 * @param p The pull; NULL is a no-op.
 *
 * **Ownership:** frees the pull; free it before its connection.
 * @since 0.1
 */
QR_EXTERN void qr_pull_free(qr_pull *p);

/**
 * The counters, since qr_pull_new().
 * @param p The pull.
 * @return Borrowed, valid until qr_pull_free(); NULL for NULL.
 *
 * **Ownership:** the pull keeps them.
 * @since 0.1
 */
QR_EXTERN const qr_pull_stats *qr_pull_stats_get(const qr_pull *p);

/**
 * The detail of the last failure.
 * @param p The pull.
 * @return Borrowed, valid until the next call on p; code QR_OK when
 *         nothing failed; NULL for NULL.
 *
 * **Ownership:** the pull keeps it.
 * @since 0.1
 */
QR_EXTERN const qr_error *qr_pull_last_error(const qr_pull *p);

/**
 * The mailbox while it is selected (the `%m` of log prefixes): from the
 * end of a SELECT whose UIDVALIDITY matched until LOGOUT or a failure;
 * else NULL.
 * @param p The pull.
 * @return Borrowed, valid until qr_pull_free().
 *
 * **Ownership:** the pull keeps it.
 * @since 0.1
 */
QR_EXTERN const char *qr_pull_selected(const qr_pull *p);

QR_END_DECLS

#endif /* QRESYNC_PULL_H */
