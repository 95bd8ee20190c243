/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * events.h: the textual event log of the response parser, shared by the
 * transcript runner, the parser fuzzer and the benchmark.
 *
 * An ev_log collects one line per parser event in a growing string (plain
 * malloc, so allocation-failure runs only fail the library's own
 * allocations). The format is documented in tests/transcripts/README.md.
 * Consecutive body-data events are merged into one BODY-DATA line, so the
 * log does not depend on how the input was split.
 */
#ifndef QR_TESTS_EVENTS_H
#define QR_TESTS_EVENTS_H

#include <qresync/resp.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ev_log {
    char *buf;             /* the log, NUL-terminated (malloc) */
    size_t len;            /* bytes in buf */
    size_t cap;            /* bytes allocated */
    char *body;            /* data of the current body, first 256 bytes (malloc) */
    size_t body_len;       /* bytes of it kept */
    uint64_t body_total;   /* bytes received for the current body */
    uint64_t body_hash;    /* FNV-1a of every byte of the current body */
    uint64_t body_size;    /* size announced at begin */
    int in_body;           /* between begin and end */
    int pause;             /* callbacks return QR_PAUSE */
    int last_was_response; /* the last event was on_response */
    unsigned long events;  /* events seen */
    int bad;               /* a consistency check failed (data beyond size, ...) */
} ev_log;

void ev_log_init(ev_log *l);
void ev_log_free(ev_log *l);
void ev_log_reset(ev_log *l);
/* Point the options' callbacks and payload at this log. */
void ev_log_attach(ev_log *l, qr_parser_options *opts);
/* Append the final error line for a failed feed: "ERROR NAME @off reason". */
void ev_log_error(ev_log *l, const qr_parser *p, int rc);
/* Append a formatted line (a newline is added). */
void ev_log_printf(ev_log *l, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Name of a QR_E* code: "EPROTO", ... */
const char *ev_code_name(int rc);

#endif /* QR_TESTS_EVENTS_H */
