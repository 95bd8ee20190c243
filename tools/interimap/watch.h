/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch.h: what watch mode needs besides the engine (interimap.md §14,
 * §15; beyond the reference): telling a lost connection from the other
 * failures of a pass. The reconnection back-off and the sleep that
 * signals cut short are tools/common/retry.h's (qrt_backoff_*,
 * qrt_sleep()), shared with pullimap --idle.
 *
 * The reference stops at the first error, also in watch mode, and relies
 * on its systemd unit (Restart=on-failure, RestartSec=10min) to start it
 * again. We reconnect by ourselves when the failure is the connection's
 * (the server restarted, the network dropped, the tunnel died): the
 * servers refused nothing, the data and the database are fine, and
 * connecting again is all it takes. Everything else (a tagged NO or BAD,
 * a protocol violation, a failed authentication, a missing extension, a
 * UIDVALIDITY change, a mailbox gone from one side, a database error)
 * still ends the program as in the reference.
 */
#ifndef IM_WATCH_H
#define IM_WATCH_H

#include <qresync/sync.h>

/**
 * Whether the failure `code` of a pass (qr_sync_run()) or of a wait
 * (qr_sync_idle()), about component `comp` (qr_sync_error_component()),
 * is a lost or failed connection, which reconnecting may cure: what
 * qrt_connection_lost(code, cancelled) says (retry.h),
 *
 *   QR_EOF, QR_EIO, QR_ETLS, QR_EBYE, QR_ECOMPRESS (the stream was cut or
 *   mangled), QR_EAGAIN (a timeout) and QR_ECANCELED when `cancelled` is 0
 *   (commands aborted because their connection went away, not because
 *   the program asked to stop);
 *
 * but not when `comp` is the database (QR_EIO then is a disk error).
 * Every other code (QR_ENO, QR_EBAD, QR_EPROTO, QR_EAUTH,
 * QR_ECAPABILITY, QR_EUIDVALIDITY, QR_ERROR, QR_ESTORE, QR_ELOCKED,
 * QR_ENOMEM, QR_ELIMIT, QR_EUSER, QR_EINVAL, ...) is not: 0.
 */
int im_connection_lost(int code, qr_sync_component comp, int cancelled);

#endif /* IM_WATCH_H */
