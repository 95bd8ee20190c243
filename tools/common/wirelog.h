/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wirelog.h: protocol trace lines (--debug) as the tools print them.
 */
#ifndef QRT_WIRELOG_H
#define QRT_WIRELOG_H

#include <stddef.h>

#include <qresync/log.h>

/**
 * The text of one wire line of the library (category QR_LOG_WIRE_OUT or
 * QR_LOG_WIRE_IN) as the reference prints it: "C: " (resp. "S: ") in
 * front when the library did not put it there, and, in client lines,
 * every run of the library's "<redacted>" markers separated by single
 * spaces shown as one "[REDACTED]" (`C: 000001 LOGIN [REDACTED]`,
 * interimap.md §4.5). Other categories are copied. Returns an owned
 * string.
 */
char *qrt_wire_text(qr_log_category category, const char *text, size_t len);

/** Per-connection state of qrt_wire_hide_auth(). Zero it to start. */
struct qrt_wire_auth {
    char tag[32]; /* tag of the redacted LOGIN/AUTHENTICATE, "" when none */
};

/**
 * The reference's view of a redacted authentication (interimap.md §4.5):
 * `C: TAG LOGIN [REDACTED]` is shown as `C: xxx LOGIN [REDACTED]`, its
 * tagged reply `S: TAG OK ...` as `S: xxx OK ...`, and the SASL
 * continuation exchange in between is not shown at all. `*line` is a
 * qrt_wire_text() result (owned; may be replaced by a new malloc'd
 * string). Returns 1 when the line must be dropped, else 0.
 */
int qrt_wire_hide_auth(struct qrt_wire_auth *st, char **line);

#endif /* QRT_WIRELOG_H */
