/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smtp_p.h: the internal side of the SMTP / LMTP client (public API in
 * include/qresync/smtp.h; issue 8, spec pullimap.md §5).
 *
 * Files, one job each:
 *
 *   smtp_reply.c  the reply parser: bytes in, lines and complete replies
 *                 out (RFC 5321 §4.2: `CODE-text` continuation lines, then
 *                 `CODE text`); no I/O, fuzzed (tests/fuzz/fuzz-smtp-reply.c);
 *   smtp_data.c   the DATA encoder: CRLF normalisation and dot-stuffing,
 *                 streaming, no I/O;
 *   smtp_io.c     blocking I/O over the transport stack (transport_p.h):
 *                 set-up steps, writing everything, reading one reply,
 *                 poll() with the inactivity timeout;
 *   smtp.c        the object: options, new/free, getters, error messages;
 *   smtp_session.c connect (greeting, EHLO/LHLO, STARTTLS) and QUIT;
 *   smtp_auth.c   AUTH over qr_auth (session/auth_p.h, libgsasl);
 *   smtp_send.c   one transaction: MAIL, RCPT, DATA, the body, the reply.
 *
 * Invariants: `connected` is 1 exactly while the stack holds layers (a
 * socket at least); every fatal failure (connection error, timeout, a
 * malformed reply, a read callback's error mid-DATA) destroys the stack,
 * so a handle is either connected and between commands, or closed. `err`
 * holds the last failure, "smtp PLACE: STEP: DETAIL", one line. `last`
 * is the reply a caller should look at after QR_ENO: the one that refused
 * (an RSET's reply never replaces it).
 */
#ifndef QR_SMTP_SMTP_P_H
#define QR_SMTP_SMTP_P_H

#include <qresync/smtp.h>
#include <stddef.h>
#include <stdint.h>

#include "transport/tls_p.h"
#include "transport/transport_p.h"
#include "util/dynbuf.h"
#include "util/error.h"
#include "util/logger.h"

/* Longest reply line we accept, CRLF included (RFC 5321 §4.5.3.1.5 says 512). */
#define QR_SMTP_LINE_MAX 4096
/* Most text of one reply (all its lines joined). */
#define QR_SMTP_REPLY_MAX ((size_t)64 * 1024)
/* Longest command line we build (RFC 5321: 512; AUTH lines may be longer). */
#define QR_SMTP_CMD_MAX ((size_t)16 * 1024)
/* Longest AUTH line with the initial response on it (RFC 4954 §4). */
#define QR_SMTP_AUTH_IR_MAX 512
/* Input buffer, and body bytes read per read-callback call. */
#define QR_SMTP_RBUF  4096
#define QR_SMTP_CHUNK 16384

/* ---- the reply parser (smtp_reply.c) ----------------------------------- */

/* What qr_smtp_rparser_feed() found. */
enum {
    QR_SMTP_R_MORE = 0, /* every byte consumed, the line is not complete */
    QR_SMTP_R_LINE = 1, /* a line ended; the reply goes on */
    QR_SMTP_R_DONE = 2  /* a line ended and so did the reply */
};

typedef struct qr_smtp_rparser {
    int code;          /* the reply's code (from its first line); 0 before one */
    int done;          /* the reply is complete */
    size_t nlines;     /* lines of the reply so far */
    qr_dynbuf line;    /* the current line without its CRLF (complete after LINE/DONE) */
    int line_complete; /* `line` holds a whole line (the next feed starts a new one) */
    qr_dynbuf text;    /* the lines' texts joined with "\n", without the codes */
    const char *why;   /* static: why the last feed failed, else NULL */
} qr_smtp_rparser;

/* An empty parser (allocates nothing). */
void qr_smtp_rparser_init(qr_smtp_rparser *p);
/* Forget the reply (keeps the memory): ready for the next one. */
void qr_smtp_rparser_reset(qr_smtp_rparser *p);
void qr_smtp_rparser_free(qr_smtp_rparser *p);
/*
 * Feed bytes of a reply. Consumes bytes up to the end of the next line and
 * stops there: *used says how many. Returns QR_SMTP_R_MORE (all consumed,
 * the line goes on), QR_SMTP_R_LINE (p->line holds the line, for the log),
 * QR_SMTP_R_DONE (the same, and the reply is complete: p->code, p->text),
 * QR_EPROTO (p->why says why: a line not ending in CRLF, a bad code, a code
 * different from the first line's, NUL or a bare CR in a line, a line or a
 * reply too long; p->line holds what was read of the line), QR_ENOMEM.
 * After DONE or an error, qr_smtp_rparser_reset() before the next reply.
 */
int qr_smtp_rparser_feed(qr_smtp_rparser *p, const char *buf, size_t len, size_t *used);

/*
 * Whether an EHLO reply's text (lines joined with "\n"; the first is the
 * server's name) holds the keyword (case-insensitive). *params, when not
 * NULL and found, receives what follows the keyword (after one space or
 * `=`), and *plen its length (up to the line's end).
 */
int qr_smtp_ehlo_find(const char *text, const char *keyword, const char **params, size_t *plen);

/* ---- the DATA encoder (smtp_data.c) ------------------------------------- */

/*
 * Streaming transparency for DATA (RFC 5321 §4.5.2): every bare LF, bare
 * CR and CRLF becomes CRLF; a line starting with `.` gets another; other
 * bytes (8-bit ones too) pass unchanged. Any split of the input gives the
 * same output.
 */
typedef struct qr_smtp_enc {
    int bol;      /* the next byte starts a line (true at the start) */
    int cr;       /* the last byte was a CR whose line break is not written yet */
    uint64_t in;  /* bytes consumed */
    uint64_t out; /* bytes produced */
} qr_smtp_enc;

/* Room qr_smtp_enc_update() needs for len input bytes. */
#define QR_SMTP_ENC_BOUND(len) (2 * (size_t)(len) + 2)
/* Room qr_smtp_enc_finish() needs. */
#define QR_SMTP_ENC_FINISH_MAX 5

void qr_smtp_enc_init(qr_smtp_enc *e);
/* Encode in[0..len) into out (room for QR_SMTP_ENC_BOUND(len)); bytes written. */
size_t qr_smtp_enc_update(qr_smtp_enc *e, const void *in, size_t len, char *out);
/*
 * The end: the pending line break, CRLF when the body does not end with a
 * line break (an empty body needs none), then ".\r\n". Bytes written to
 * out (room for QR_SMTP_ENC_FINISH_MAX).
 */
size_t qr_smtp_enc_finish(qr_smtp_enc *e, char *out);

/* ---- the object ---------------------------------------------------------- */

struct qr_smtp {
    qr_smtp_options o;   /* copy; every string points at an owned copy (or is NULL) */
    char *place;         /* owned: "HOST:PORT", an IPv6 host in brackets */
    qr_logger log;       /* the log callback (borrowed by the TLS layer) */
    qr_errslot err;      /* the last failure, "smtp PLACE: STEP: DETAIL" */
    qr_errslot terr;     /* the stack's error slot (transport detail) */
    qr_stack stack;      /* the layers while connected */
    int connected;       /* the stack holds layers */
    int lost;            /* the connection was closed by a failure (not QUIT): QR_EOF */
    int tls;             /* the TLS layer is on and its handshake done */
    qr_tls_creds *creds; /* trust anchors, loaded at the first STARTTLS; owned ref */
    const char *step;    /* static: what is being done, for messages ("RCPT TO") */
    char *rbuf;          /* owned, QR_SMTP_RBUF bytes of input */
    size_t roff, rlen;   /* unparsed input is rbuf[roff, rlen) */
    qr_smtp_rparser rp;  /* the reply being read */
    qr_smtp_reply last;  /* public view of the last reply (text in last_text) */
    qr_dynbuf last_text; /* owned text of `last` */
    qr_dynbuf ehlo;      /* the EHLO/LHLO reply's text of this session */
    qr_dynbuf cmd;       /* command lines being built (may hold secrets: erased) */
    size_t line_start;   /* offset in cmd of the line being built */
    size_t secret_at;    /* offset in cmd where its secret part starts, or SIZE_MAX */
    int cmd_err;         /* sticky failure while building, or 0 */
    char *ibuf;          /* owned, QR_SMTP_CHUNK bytes: body read buffer */
    char *obuf;          /* owned, QR_SMTP_ENC_BOUND(QR_SMTP_CHUNK) bytes: encoded */
};

/* ---- smtp.c --------------------------------------------------------------- */

/* Record "smtp PLACE: STEP: MESSAGE" as the failure; returns code. */
int qr_smtp_failf(qr_smtp *s, int code, const char *fmt, ...) QR_PRINTF(3, 4);
/* The same with the transport's detail (s->terr) as MESSAGE; closes. */
int qr_smtp_fail_transport(qr_smtp *s, int code);
/*
 * s->last refused (code QR_ENO: a 4xx or 5xx): record "smtp PLACE: STEP:
 * CODE TEXT" (resp_code the 3 digits, resp_text the text); a 421 closes
 * the connection (RFC 5321 §3.8). Or s->last makes no sense here (code
 * QR_EPROTO): "...: unexpected reply CODE TEXT", and close. Returns code.
 */
int qr_smtp_fail_reply(qr_smtp *s, int code);
/*
 * Read a reply (kept as s->last) and judge it: 0 when its code is `want`
 * (or, for want < 10, in the class want: 2 for any 2xx); else as
 * qr_smtp_fail_reply() (QR_ENO for 4xx/5xx, fatal QR_EPROTO otherwise), or
 * a connection error.
 */
int qr_smtp_expect(qr_smtp *s, int want);
/* Whether code is what `want` asks for (see qr_smtp_expect()). */
int qr_smtp_code_ok(int code, int want);
/* Send one command line made of the NULL-terminated pieces. */
int qr_smtp_command(qr_smtp *s, const char *first, ...);
/* Destroy the stack (no QUIT): the handle is closed. */
void qr_smtp_close(qr_smtp *s);
/* A fatal code: close, return code (the message is already recorded). */
int qr_smtp_fatal(qr_smtp *s, int code);

/* ---- smtp_io.c ------------------------------------------------------------ */

/* Push the socket layer and step the stack until connected. */
int qr_smtp_io_open(qr_smtp *s);
/* Push the TLS layer and run the handshake (after STARTTLS's 220). */
int qr_smtp_io_starttls(qr_smtp *s);
/* Write len bytes and flush them to the fd. Fatal errors close. */
int qr_smtp_io_write(qr_smtp *s, const void *p, size_t len);
/*
 * Read one reply (logging each line `S: ...`); s->rp holds it. With
 * keep != 0 it becomes s->last. Returns its code (> 0), or a fatal error
 * (recorded; the handle is closed).
 */
int qr_smtp_io_reply(qr_smtp *s, int keep);
/* Input already read but not parsed (for the STARTTLS injection check). */
int qr_smtp_io_input_pending(qr_smtp *s);
/*
 * Command lines: qr_smtp_cmd_begin() starts a line in s->cmd,
 * qr_smtp_cmd_add() appends bytes (a failure is sticky until the next
 * send), qr_smtp_cmd_secret() marks the rest of the line secret,
 * qr_smtp_cmd_end() logs the line (`C: LINE`, the secret part as
 * `<redacted>` below QR_LOG_TRACE) and adds CRLF; several lines may be
 * built before qr_smtp_cmd_send() writes them at once (PIPELINING) and
 * erases the buffer (qr_smtp_cmd_clear(), which also drops what a failed
 * step left). QR_EINVAL (a line too long), QR_ENOMEM, or a write
 * error.
 */
void qr_smtp_cmd_clear(qr_smtp *s);
void qr_smtp_cmd_begin(qr_smtp *s);
void qr_smtp_cmd_add(qr_smtp *s, const char *p, size_t len);
void qr_smtp_cmd_adds(qr_smtp *s, const char *str);
void qr_smtp_cmd_secret(qr_smtp *s);
int qr_smtp_cmd_end(qr_smtp *s);
int qr_smtp_cmd_send(qr_smtp *s);

/* ---- smtp_auth.c ---------------------------------------------------------- */

/* AUTH with the configured mechanisms (after EHLO, over TLS when on). */
int qr_smtp_auth(qr_smtp *s);

#endif /* QR_SMTP_SMTP_P_H */
