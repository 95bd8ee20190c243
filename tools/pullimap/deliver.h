/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * deliver.h: handing the pulled messages to the SMTP or LMTP server
 * (pullimap.md §5), through the library's qr_smtp.
 *
 * The pull engine calls pl_deliver_message() for each new message and
 * pl_deliver_end() at the end of each pull. The connection is made at the
 * first message of a pull and closed with QUIT at its end, as the
 * reference did (each pull of --idle mode has its own connection).
 *
 * Failures, beyond the reference (which died at the first one):
 *
 *   a 4xx reply, or the connection failing or timing out, is temporary:
 *   `WARNING: temporary delivery failure for UID U: CODE TEXT; will
 *   retry` (or the connection's error instead of CODE TEXT) and
 *   QR_EAGAIN to the engine, which neither records nor marks the message,
 *   so the next pull retries it. After a failed connection attempt the
 *   other messages of the same pull are deferred without a new attempt
 *   and one line at the end of the pull counts them; a connection lost
 *   while sending is made again for the next message;
 *
 *   a 5xx reply is permanent: `ERROR: permanent delivery failure for UID
 *   U: CODE TEXT`, the pull stops (QR_EUSER), and pullimap exits 1;
 *
 *   a TLS, authentication or configuration problem (certificate refused,
 *   STARTTLS required and not offered, AUTH refused, SMTPUTF8 needed) is
 *   an error too: `ERROR: cannot deliver UID U: DETAIL`, status 1.
 *
 * Lines about a message carry the prefix `SECTION(MAILBOX): `.
 */
#ifndef PL_DELIVER_H
#define PL_DELIVER_H

#include <stdint.h>

#include <qresync/pull.h>
#include <qresync/smtp.h>

#include "log.h"
#include "settings.h"

/** The delivery side of a run. */
struct pl_deliver {
    qr_smtp_options opts;     /* the connection's options; strings point into the settings */
    char port[8];             /* opts.port's storage */
    const char *rcpt;         /* the envelope recipient (borrowed; NULL with --no-delivery) */
    int no_delivery;          /* --no-delivery: accept every message at once */
    struct pl_log *log;       /* the sink (borrowed) */
    qr_smtp *smtp;            /* the connection of the current pull, or NULL */
    int down;                 /* connecting failed in this pull: defer the rest */
    uint64_t not_tried;       /* messages deferred without an attempt since */
    int read_error;           /* the last error of the engine's body stream, 0 */
    int failed;               /* a permanent failure was reported: exit 1 */
    long long first_ms;       /* monotonic ms of the first message since pl_deliver_mark(), -1 */
    const qr_pull_message *m; /* the message being sent (for the body wrapper) */
};

/**
 * Prepare: the qr_smtp options from the settings (deliver-method,
 * deliver-ehlo, the delivery security keys; STARTTLS by default when
 * offered, except with a loopback host, 127.0.0.0/8, ::1 or localhost,
 * where the default is plain text as with the reference and AUTH may go
 * without TLS), debug the number of --debug.
 */
void pl_deliver_init(struct pl_deliver *d, const struct qrt_pullimap_settings *s, const char *rcpt,
                     int no_delivery, int debug, struct pl_log *log);

/** Whether host is 127.0.0.0/8, ::1 or "localhost" (any case). */
int pl_deliver_is_loopback(const char *host);

/** qr_pull_deliver_fn; payload is the struct pl_deliver. */
int pl_deliver_message(const qr_pull_message *m, void *payload);

/** qr_pull_end_fn: QUIT, and the count of deferred messages; payload as above. */
int pl_deliver_end(void *payload);

/** Start measuring a pull: first_ms = -1. */
void pl_deliver_mark(struct pl_deliver *d);

/** Close the connection without QUIT (cleanup, reconnection). */
void pl_deliver_close(struct pl_deliver *d);

#endif /* PL_DELIVER_H */
