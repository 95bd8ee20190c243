/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal side of a connection (public API in include/qresync/conn.h).
 *
 * A qr_conn owns a transport stack (transport_p.h) and a qr_session, and
 * moves bytes between them. Files:
 *
 *   conn.c          the object: creation, free, getters, the fatal error
 *                   (prefixed with the place), close;
 *   conn_options.c  options: defaults, copies, validation, building the
 *                   first layers (socket / SOCKS5 / tunnel, TLS for imaps)
 *                   and the session's setup policy;
 *   conn_io.c       qr_conn_process(): stepping the stack, the read/feed
 *                   and output/write pumps, the STARTTLS and COMPRESS
 *                   switches, deadlines, poll interest;
 *   conn_tls.c      the TLS layer for STARTTLS and the channel binding.
 *
 * Invariants: `stack_ready` is 0 while a layer still needs step() (connect,
 * SOCKS5 exchange, TLS handshake), and no byte is read or written then;
 * `fatal` is 0 or the first fatal code, and once set the stack is
 * destroyed (the connection is closed) and `err` holds the message;
 * `rbuf[roff, rlen)` are bytes read but not yet fed (a callback paused).
 */
#ifndef QR_CONN_CONN_P_H
#define QR_CONN_CONN_P_H

#include <qresync/conn.h>
#include <stddef.h>
#include <stdint.h>

#include "session/setup_p.h"
#include "transport/socks5_p.h"
#include "transport/tls_p.h"
#include "transport/transport_p.h"
#include "util/error.h"
#include "util/logger.h"

#define QR_CONN_RBUF       32768 /* read buffer */
#define QR_CONN_IOV        16    /* output pieces per write */
#define QR_CONN_MAX_ROUNDS 64    /* read/write rounds per qr_conn_process() */

/* What the stack is being stepped for. */
enum qr_conn_phase {
    QR_CPHASE_CONNECT,  /* the first layers: connect, proxy, imaps handshake */
    QR_CPHASE_STARTTLS, /* the TLS layer pushed after STARTTLS */
    QR_CPHASE_OPEN,     /* bytes flow */
    QR_CPHASE_SHUTDOWN  /* qr_stack_close() in progress */
};

struct qr_conn {
    qr_conn_options o;        /* copy; every string points at an owned copy (or is NULL) */
    char *place;              /* owned: "HOST:PORT" or "tunnel COMMAND" */
    char *port_buf;           /* owned default port string, or NULL */
    qr_logger log;            /* the log callback (borrowed by the TLS layer) */
    qr_errslot terr;          /* the stack's error slot (transport detail) */
    qr_errslot err;           /* the connection's fatal error, with the place */
    qr_stack stack;           /* the layers; destroyed once fatal or closed */
    qr_layer *tls;            /* the TLS layer in the stack (borrowed), or NULL */
    qr_tls_creds *creds;      /* one owned reference, or NULL without TLS */
    qr_session *session;      /* owned */
    qr_conn_state state;      /* public state */
    enum qr_conn_phase phase; /* see above */
    int stack_ready;          /* every layer is set up */
    int fatal;                /* 0, or the first fatal code */
    int compressed;           /* the deflate layer is on */
    int in_process;           /* inside qr_conn_process() (re-entrancy guard) */
    int logout_queued;        /* qr_conn_close() submitted LOGOUT */
    char *rbuf;               /* owned, QR_CONN_RBUF bytes */
    size_t roff, rlen;        /* unfed bytes are rbuf[roff, rlen) */
    int64_t last_activity;    /* CLOCK_MONOTONIC ms of the last byte moved (or start) */
    int was_awaiting;         /* the server owed us something at the last check */
};

/* --- conn.c --------------------------------------------------------------- */
/* Fail with the transport's error (c->terr) or, if from_session, the
 * session's; the message gets the place. Returns the fatal code. */
int qr_conn_fail(qr_conn *c, int code, int from_session);
/* Fail with a message of our own. */
int qr_conn_failf(qr_conn *c, int code, int sys_errno, const char *fmt, ...) QR_PRINTF(4, 5);

/* --- conn_options.c --------------------------------------------------------- */
/* Copy and check the options, make the session and the first layers. */
int qr_conn_setup(qr_conn *c, const qr_conn_options *opts);
/* The TLS options from the connection's options (strings borrowed). */
void qr_conn_tls_options(const qr_conn *c, qr_tls_options *t);
/* Free the option copies. */
void qr_conn_options_free(qr_conn *c);

/* --- conn_io.c ----------------------------------------------------------------- */
/* The body of qr_conn_process(): 0 or a fatal code (already recorded). */
int qr_conn_run(qr_conn *c);
/* Whether the server owes an answer (the inactivity timer runs). */
int qr_conn_awaiting(const qr_conn *c);

/* --- conn_tls.c ------------------------------------------------------------------ */
/* Push a TLS layer on the stack (imaps at creation, or after STARTTLS). */
int qr_conn_push_tls(qr_conn *c);
/* Hand the TLS channel binding (if any) to the session: at the switch when
 * switching, else as a plain setting. Returns what switch_done returned. */
int qr_conn_tls_ready(qr_conn *c, int switching);

#endif /* QR_CONN_CONN_P_H */
