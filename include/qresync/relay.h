/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file relay.h
 * @brief Copy one message from a session to another in constant memory:
 *        a FETCH body on the source streamed into an APPEND on the
 *        destination.
 *
 * A relay joins the body sink of a `UID FETCH` on the *source* session to
 * the streamed literal (qr_cmd_add_literal_stream()) of an `APPEND` on the
 * *destination* session. The new message gets the source's flags (without
 * `\Recent`) and internal date.
 *
 * **Two ways to run.** The session reports FLAGS and INTERNALDATE only
 * with the complete FETCH response, after the body, so whether a server
 * sent them before or after the body cannot be known when the body
 * starts. Hence:
 *  - *streaming* (the default): `UID FETCH uid (UID FLAGS INTERNALDATE
 *    RFC822.SIZE)` first; when it completes, `UID FETCH uid (UID
 *    BODY.PEEK[])`, and at the body's start the APPEND is submitted with
 *    the literal size the server announced. The bytes go straight through
 *    a fixed ring buffer (QR_RELAY_OPTIONS.ring_size);
 *  - *spilling* (QR_RELAY_SINGLE_FETCH): one `UID FETCH uid (UID FLAGS
 *    INTERNALDATE RFC822.SIZE BODY.PEEK[])`; the body goes to a temporary
 *    file without a name (O_TMPFILE, or mkstemp() then unlink() at once) in
 *    spill_dir, at most max_spill bytes, and the APPEND streams it from
 *    the file once the FETCH completed. The file is closed when the relay
 *    completes, so nothing is left on disk.
 *
 * **Back-pressure.** When the ring's free room falls under max_chunk, the
 * source's input is held (qr_session_hold_input()): qr_conn_process()
 * stops reading it and the server's sending stalls on TCP. The APPEND's
 * source answers QR_EAGAIN while the ring is empty; each byte put in the
 * ring calls qr_session_source_ready() on the destination, and draining
 * the ring to half releases the source. Both sessions must be driven by
 * the same loop (qr_loop_add() both connections, or a host loop calling
 * qr_conn_process() on each as qr_conn_interest() and qr_conn_timeout_ms()
 * say). A body-data slice larger than the free room (only possible when
 * a caller feeds the source in slices larger than max_chunk; qr_conn
 * feeds at most 32 KiB) fails the source session with QR_EUSER.
 *
 * **Failures.** Once `APPEND ... {size}` is announced its bytes must all
 * be sent, and sending made-up bytes would store a damaged message. So if
 * the source fails after the APPEND started, the APPEND's source answers
 * QR_ECANCELED: the *destination session fails* (qr_session_output()
 * returns QR_ECANCELED, its connection becomes unusable, every command on
 * it completes) and the server drops the unfinished message. If the
 * destination fails first (NO, or its connection dies) the rest of the
 * body is read and dropped, so the source session stays usable. The
 * relay's completion fires exactly once, after both sides' commands
 * completed.
 *
 * **Rules.** The source has the message's mailbox selected, and runs no
 * other FETCH (or SELECT) while the relay's FETCHes are in flight: body
 * events go to the oldest in-flight command claiming FETCH. The two
 * sessions must differ. One message per qr_relay_start(); a relay may be
 * started again after its completion, so messages can be relayed one
 * after another.
 */
#ifndef QRESYNC_RELAY_H
#define QRESYNC_RELAY_H

#include <stddef.h>
#include <stdint.h>

#include <qresync/common.h>
#include <qresync/session.h>

QR_BEGIN_DECLS

/**
 * A relay (opaque). Not thread-safe.
 * @since 0.1
 */
typedef struct qr_relay qr_relay;

/** qr_relay_options.flags: one FETCH and a spill file (see the file documentation). @since 0.1 */
#define QR_RELAY_SINGLE_FETCH 0x1u

/** Current version of qr_relay_options. @since 0.1 */
#define QR_RELAY_OPTIONS_VERSION 1

/**
 * Options of a relay.
 * @since 0.1
 */
typedef struct qr_relay_options {
    unsigned int version;  /**< QR_RELAY_OPTIONS_VERSION */
    unsigned int flags;    /**< QR_RELAY_* bits */
    size_t ring_size;      /**< the ring buffer (default 256 KiB; at least 2 * max_chunk) */
    size_t max_chunk;      /**< largest body-data slice the source is fed at once
                                (default 64 KiB, at least 4096) */
    const char *spill_dir; /**< folder of the spill file; NULL for $TMPDIR, else /tmp;
                                copied */
    uint64_t max_spill;    /**< largest body spilled (default 2 GiB - 1); a bigger one fails
                                the relay with QR_ELIMIT */
} qr_relay_options;

/** Static initialiser with the defaults. @since 0.1 */
#define QR_RELAY_OPTIONS_INIT                                                                      \
    {                                                                                              \
        QR_RELAY_OPTIONS_VERSION, 0, 262144, 65536, NULL, 2147483647u                              \
    }

/** qr_relay_result.failed: which side failed. @since 0.1 */
typedef enum qr_relay_side {
    QR_RELAY_SIDE_NONE = 0,   /**< nothing failed */
    QR_RELAY_SIDE_SOURCE = 1, /**< the FETCH (or the spill file) */
    QR_RELAY_SIDE_DEST = 2    /**< the APPEND */
} qr_relay_side;

/**
 * The outcome of one relayed message.
 * @since 0.1
 */
typedef struct qr_relay_result {
    int status;               /**< 0, or the first failure's code (see qr_relay_start()) */
    qr_relay_side failed;     /**< which side gave `status` */
    uint32_t src_uid;         /**< the source message's UID */
    uint32_t dst_uidvalidity; /**< APPENDUID: the destination mailbox's UIDVALIDITY, else 0 */
    uint32_t dst_uid;         /**< APPENDUID: the new message's UID, else 0 */
    uint64_t size;            /**< the body's size in bytes (0 when it never started) */
    int spilled;              /**< 1 when the body went through a spill file */
} qr_relay_result;

/**
 * Completion of a relay.
 *
 * @param r       The relay; it may be started again or freed from here.
 * @param res     The outcome; borrowed for the call.
 * @param payload The payload given to qr_relay_start().
 * @since 0.1
 */
typedef void (*qr_relay_done_fn)(qr_relay *r, const qr_relay_result *res, void *payload);

/**
 * Fill options with the defaults of QR_RELAY_OPTIONS_INIT.
 *
 * @param opts    The options.
 * @param version QR_RELAY_OPTIONS_VERSION.
 * @return 0; QR_EINVAL if opts is NULL or the version unknown.
 *
 * **Ownership:** `opts` belongs to the caller.
 * @since 0.1
 */
QR_EXTERN int qr_relay_options_init(qr_relay_options *opts, unsigned int version);

/**
 * Create an idle relay; its ring buffer is allocated now.
 *
 * @param out  Receives the relay; NULL on failure.
 * @param opts Options (copied, spill_dir too), or NULL for the defaults.
 * @return 0; QR_EINVAL (NULL out, unknown version or flags, max_chunk under
 *         4096, ring_size under 2 * max_chunk, max_spill 0); QR_ENOMEM.
 *
 * **Ownership:** the caller owns `*out` and frees it with qr_relay_free().
 * @since 0.1
 */
QR_EXTERN int qr_relay_new(qr_relay **out, const qr_relay_options *opts);

/**
 * Free a relay. It must be idle (never started, or its completion fired):
 * a running relay's commands point at it. To stop a running relay, fail
 * or free its sessions first (each command completes, and so does the
 * relay).
 *
 * @param r The relay; NULL is a no-op.
 *
 * **Ownership:** frees the relay and its buffers.
 * @since 0.1
 */
QR_EXTERN void qr_relay_free(qr_relay *r);

/**
 * Relay one message: submit the FETCH on `src` now, the APPEND on `dst`
 * later (see the file documentation). `done` fires exactly once, from
 * inside a later qr_session_feed()/qr_session_output() of one of the
 * sessions (or qr_conn_process(), qr_session_free() ...), never from
 * here. Its status:
 *  - 0: appended (dst_uid is 0 when the server sent no APPENDUID);
 *  - source side: QR_ENO / QR_EBAD (the FETCH failed), QR_ENO also when
 *    the FETCH gave no such message or no body, QR_EPROTO when the body
 *    was NIL, QR_ELIMIT (a body over max_spill), QR_EIO (the spill file
 *    failed), or the source session's fatal code or QR_ECANCELED;
 *  - destination side: QR_ENO / QR_EBAD (the APPEND was refused), or the
 *    destination session's fatal code or QR_ECANCELED.
 *
 * @param r       An idle relay.
 * @param src     The source session; the message's mailbox is selected.
 * @param uid     The message's UID there (not 0).
 * @param dst     The destination session (authenticated; not `src`).
 * @param mailbox The destination mailbox, UTF-8 (copied).
 * @param done    Completion; not NULL.
 * @param payload Passed to done.
 * @return 0; QR_EINVAL (NULL argument, uid 0, src == dst, a running
 *         relay); QR_ENOMEM; or what qr_session_submit() returned for the
 *         first FETCH (then `done` never fires).
 *
 * **Ownership:** the sessions are borrowed and must outlive the relay's
 * completion; `mailbox` is copied.
 * @since 0.1
 */
QR_EXTERN int qr_relay_start(qr_relay *r, qr_session *src, uint32_t uid, qr_session *dst,
                             const char *mailbox, qr_relay_done_fn done, void *payload);

/**
 * Whether the relay was started and has not completed yet.
 *
 * @param r The relay.
 * @return 1 or 0 (also for NULL).
 * @since 0.1
 */
QR_EXTERN int qr_relay_running(const qr_relay *r);

QR_END_DECLS

#endif /* QRESYNC_RELAY_H */
