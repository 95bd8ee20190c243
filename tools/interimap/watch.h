/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watch.h: what watch mode needs besides the engine (interimap.md §14,
 * §15; beyond the reference): telling a lost connection from the other
 * failures of a pass, the reconnection back-off, and a sleep that signals
 * cut short.
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

#include <signal.h>

#include <qresync/sync.h>

/**
 * Whether the failure `code` of a pass (qr_sync_run()) or of a wait
 * (qr_sync_idle()), about component `comp` (qr_sync_error_component()),
 * is a lost or failed connection, which reconnecting may cure:
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

/** The longest wait between two reconnection attempts, in seconds. */
#define IM_BACKOFF_MAX 300u

/** The reconnection back-off: 1, 2, 4, ... seconds, capped at IM_BACKOFF_MAX. */
struct im_backoff {
    unsigned next; /* the next delay; 0 before the first */
};

/** Start again from 1 s (after a successful pass). */
void im_backoff_reset(struct im_backoff *b);

/** The delay before the next attempt, in seconds; doubles it for the one after. */
unsigned im_backoff_next(struct im_backoff *b);

/**
 * Sleep `seconds` seconds, or less when *stop becomes non-zero. The
 * signals of `wake` are blocked except inside pselect(2), so that one
 * delivered just before the sleep starts still ends it: no signal is lost
 * between the check of *stop and the wait. Other signals of `wake` (e.g.
 * SIGHUP) wake it up and it sleeps on. Returns 1 when *stop ended it, 0
 * when the time was up.
 */
int im_sleep(unsigned seconds, const sigset_t *wake, const volatile sig_atomic_t *stop);

#endif /* IM_WATCH_H */
