/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * retry.h: what the long-running modes (interimap --watch, pullimap
 * --idle) need to survive a lost connection, beyond the reference, which
 * stopped at the first error and left restarting to systemd: telling a
 * lost connection from the other failures, the reconnection back-off and
 * a sleep that SIGINT / SIGTERM cut short.
 */
#ifndef QRT_RETRY_H
#define QRT_RETRY_H

#include <signal.h>

/**
 * Whether a library failure `code` means that the connection to the
 * server was lost or could not be made, so that connecting again may
 * cure it: QR_EOF, QR_EIO, QR_ETLS, QR_EBYE and QR_ECOMPRESS (the stream
 * ended, failed or was mangled), QR_EAGAIN (a time-out), and QR_ECANCELED
 * unless `cancelled` says the program asked for it (commands abandoned
 * because their connection went away). Every other code is an answer of
 * the server or a local problem that connecting again would not change.
 */
int qrt_connection_lost(int code, int cancelled);

/** The longest wait between two attempts, in seconds. */
#define QRT_BACKOFF_MAX 300u

/** Reconnection delays: 1, 2, 4, ... 256, then QRT_BACKOFF_MAX seconds. */
struct qrt_backoff {
    unsigned next; /* the next delay in seconds; 0 means 1 (fresh start) */
};

/** Start again from one second (after a success). */
void qrt_backoff_reset(struct qrt_backoff *b);

/** The delay to wait now; the following one is twice as long (capped). */
unsigned qrt_backoff_next(struct qrt_backoff *b);

/**
 * Sleep `seconds` seconds unless *stop is or becomes non-zero. The
 * signals of `wake` are blocked outside the wait itself and let in during
 * it (ppoll(2)), also when the caller had them blocked, so a stop signal
 * arriving right before the wait is not missed; other signals of `wake`
 * wake the wait up and it goes on. The caller's signal mask is restored.
 * Returns 1 when *stop ended the sleep, 0 when the time was up.
 */
int qrt_sleep(unsigned seconds, const sigset_t *wake, const volatile sig_atomic_t *stop);

#endif /* QRT_RETRY_H */
