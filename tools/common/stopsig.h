/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * stopsig.h: SIGINT and SIGTERM for the programs that run an engine
 * (interimap's qr_sync, pullimap's qr_pull): instead of dying, ask the
 * engine to stop at its next safe point, and let the program end the
 * usual way.
 *
 * The handlers (sigaction without SA_RESTART, so that the signal cuts the
 * library's poll() short) record the signal and call the cancel hook of
 * the current target (qrt_stop_target()), which must be async-signal-safe
 * (qr_sync_cancel() and qr_pull_cancel() only set a flag). A signal can
 * land between the engine's last look at its flag and its next wait, so
 * until the program is back the hook is called again every second
 * (alarm(2)). A second SIGINT or SIGTERM kills the process at once.
 */
#ifndef QRT_STOPSIG_H
#define QRT_STOPSIG_H

#include <signal.h>

/** Install the handlers of SIGINT, SIGTERM and SIGALRM. */
void qrt_stop_install(void);

/**
 * Make cancel(obj) the hook the handlers call (NULL: none), with the
 * signals blocked while it changes; if a stop signal came already, the
 * new target is cancelled at once.
 */
void qrt_stop_target(void (*cancel)(void *obj), void *obj);

/** 0, or the stop signal received (SIGINT or SIGTERM). */
int qrt_stop_received(void);

/** The flag behind qrt_stop_received(), for qrt_sleep() (retry.h). */
const volatile sig_atomic_t *qrt_stop_flag(void);

/** SIGINT, SIGTERM and SIGALRM: the signals to block around a sleep. */
const sigset_t *qrt_stop_signals(void);

#endif /* QRT_STOPSIG_H */
