/* SPDX-License-Identifier: LGPL-2.1-or-later */
/**
 * @file loop.h
 * @brief A small poll() loop driving several connections.
 *
 * The third way to drive connections (conn.h shows the other two): add
 * them to a loop and run it until a condition holds.
 *
 * @code
 * qr_loop *loop;
 * size_t done = 0;
 * qr_loop_new(&loop);
 * qr_loop_add(loop, remote);
 * qr_loop_add(loop, local);
 * ... submit commands whose completions do done++ ...
 * rc = qr_loop_run_count(loop, &done, 2, 60000);
 * @endcode
 *
 * The loop does not own the connections; remove them (or free the loop)
 * before freeing them. It never installs signal handlers and restarts
 * poll() after EINTR.
 */
#ifndef QRESYNC_LOOP_H
#define QRESYNC_LOOP_H

#include <stddef.h>

#include <qresync/common.h>
#include <qresync/conn.h>

QR_BEGIN_DECLS

/**
 * A loop (opaque). Not thread-safe.
 * @since 0.1
 */
typedef struct qr_loop qr_loop;

/**
 * A condition for qr_loop_run_until().
 *
 * @param payload The payload given to qr_loop_run_until().
 * @return Non-zero when the loop must stop.
 * @since 0.1
 */
typedef int (*qr_loop_pred_fn)(void *payload);

/**
 * Create an empty loop.
 *
 * @param out Receives the loop; NULL on failure.
 * @return 0; QR_EINVAL for NULL; QR_ENOMEM.
 *
 * **Ownership:** the caller frees `*out` with qr_loop_free().
 * @since 0.1
 */
QR_EXTERN int qr_loop_new(qr_loop **out);

/**
 * Free a loop (not its connections).
 *
 * @param loop The loop; NULL is a no-op.
 *
 * **Ownership:** frees the loop only.
 * @since 0.1
 */
QR_EXTERN void qr_loop_free(qr_loop *loop);

/**
 * Add a connection.
 *
 * @param loop The loop.
 * @param conn The connection (borrowed: it must outlive its membership).
 * @return 0; QR_EINVAL for NULL or a connection already there; QR_ENOMEM.
 *
 * **Ownership:** the caller keeps the connection.
 * @since 0.1
 */
QR_EXTERN int qr_loop_add(qr_loop *loop, qr_conn *conn);

/**
 * Remove a connection.
 *
 * @param loop The loop.
 * @param conn The connection.
 * @return 0; QR_EINVAL when it is not in the loop.
 *
 * **Ownership:** the caller keeps the connection.
 * @since 0.1
 */
QR_EXTERN int qr_loop_remove(qr_loop *loop, qr_conn *conn);

/**
 * Drive every connection until `pred` returns non-zero (checked before
 * each poll), or the time is up.
 *
 * @param loop       The loop.
 * @param pred       The condition.
 * @param payload    Passed to pred.
 * @param timeout_ms Most milliseconds; < 0: no limit.
 * @return 0 when pred held; QR_EAGAIN on timeout; when no connection can
 *         progress any more (all failed or closed) the fatal code of the
 *         first failed one, or QR_ECANCELED when none failed; QR_EIO if
 *         poll() fails; QR_EINVAL for NULL arguments.
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_loop_run_until(qr_loop *loop, qr_loop_pred_fn pred, void *payload, int timeout_ms);

/**
 * qr_loop_run_until() with the condition `*counter >= target` (a
 * completion counter your callbacks increment).
 *
 * @param loop       The loop.
 * @param counter    The counter (read only by the loop).
 * @param target     The value to reach.
 * @param timeout_ms Most milliseconds; < 0: no limit.
 * @return As qr_loop_run_until().
 *
 * **Ownership:** nothing changes hands.
 * @since 0.1
 */
QR_EXTERN int qr_loop_run_count(qr_loop *loop, const size_t *counter, size_t target,
                                int timeout_ms);

QR_END_DECLS

#endif /* QRESYNC_LOOP_H */
