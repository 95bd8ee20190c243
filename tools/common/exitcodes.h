/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * exitcodes.h: the exit statuses of interimap and pullimap.
 *
 * The reference (Perl InterIMAP 0.5.7) exits 0 on success, --help and
 * --version; 1 on usage errors and on every "ERROR:" line; 255 on a PANIC;
 * and, for its "die" errors (configuration, command-line environment,
 * database), with whatever errno happened to hold (2, 11, 17, ... or 255
 * when errno was 0). We keep 0 and 1 and give every "die"-class error the
 * fixed status 255 (docs/compatibility.md, "Exit statuses"), so scripts
 * and systemd units can rely on it.
 */
#ifndef QRT_EXITCODES_H
#define QRT_EXITCODES_H

/** Success, --help, --version (and SIGTERM for interimap). */
#define QRT_EXIT_OK 0
/** Command-line usage error: message(s), short usage, status 1. */
#define QRT_EXIT_USAGE 1
/** A run-time "ERROR:" (server, protocol, SIGINT): status 1 as the reference. */
#define QRT_EXIT_FAILURE 1
/**
 * "die"-class errors: configuration file, environment (XDG directories),
 * invalid mailbox name or target, database open/lock, internal PANIC.
 */
#define QRT_EXIT_FATAL 255

#endif /* QRT_EXITCODES_H */
