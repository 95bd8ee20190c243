/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * setup_p.h: the connection-setup policy of a session and the narrow
 * interface between the sans-IO session and whatever drives its bytes
 * (libqresync/conn/, or a test).
 *
 * A bare session (qr_session_new() alone) runs only the CAPABILITY and
 * IMAP4rev1 steps: the caller logs in itself. The connection layer calls
 * qr_session_setup_configure() before the greeting to add STARTTLS,
 * authentication, COMPRESS and ENABLE (setup.c, setup_auth.c).
 *
 * Layer switches. The session never touches a descriptor. When the tagged
 * OK of STARTTLS or COMPRESS arrives, the session pauses the feed exactly
 * after that line (qr_session_feed() returns QR_PAUSE with *consumed at
 * the end of the line) and qr_session_switch_pending() says what to do:
 *
 *   QR_SWITCH_TLS      push a TLS layer and run the handshake. Any byte
 *                      received after the OK line (in the same feed: the
 *                      session itself fails with QR_EPROTO; in a later
 *                      read before the handshake: the driver must fail)
 *                      is response injection and fatal.
 *   QR_SWITCH_DEFLATE  push the deflate layer, handing it the bytes after
 *                      the OK line (buf + consumed .. len): they are the
 *                      first compressed bytes.
 *
 * While a switch is pending nothing starts and nothing is queued (no byte
 * may follow `STARTTLS\r\n` before the handshake). The driver then calls
 * qr_session_switch_done() (the link's new kind and, after TLS, the
 * channel-binding bytes for SCRAM-*-PLUS), which resumes the setup; or
 * qr_session_abort() when the switch failed.
 */
#ifndef QR_SESSION_SETUP_P_H
#define QR_SESSION_SETUP_P_H

#include <qresync/auth.h>
#include <qresync/session.h>
#include <stddef.h>

#include "session/auth_p.h"

/* What carries the session's bytes (for the STARTTLS and plaintext policies). */
enum qr_link {
    QR_LINK_PLAIN = 0, /* unencrypted TCP (or unknown: a bare sans-IO session) */
    QR_LINK_TLS,       /* TLS (imaps, or after STARTTLS) */
    QR_LINK_TUNNEL     /* a local command's stdin/stdout */
};

/* A layer switch the driver must perform before the session goes on. */
enum qr_switch {
    QR_SWITCH_NONE = 0,
    QR_SWITCH_TLS,    /* STARTTLS accepted: push TLS, handshake */
    QR_SWITCH_DEFLATE /* COMPRESS accepted: push deflate with the leftover bytes */
};

#define QR_SETUP_ENABLE_MAX 16 /* most extensions in the ENABLE list */
#define QR_SETUP_CB_MAX     64 /* largest channel-binding value kept */

/* The policy, given to qr_session_setup_configure(); everything is copied. */
typedef struct qr_setup_cfg {
    enum qr_link link;           /* the link at the greeting */
    int starttls;                /* 1: STARTTLS required on a QR_LINK_PLAIN link */
    const qr_auth_options *auth; /* credentials; NULL: no authentication step */
    int compress;                /* 1: COMPRESS DEFLATE when advertised */
    const char *enable;          /* space-separated extensions to ENABLE, or NULL */
} qr_setup_cfg;

/* The session's setup state (a member of qr_session). */
typedef struct qr_setup {
    enum qr_link link;                 /* what carries the bytes now */
    int starttls;                      /* STARTTLS required (plain link) */
    int compress;                      /* COMPRESS wanted */
    int compress_active;               /* the deflate switch was done */
    qr_auth *auth;                     /* owned exchange; NULL: no auth step */
    char *enable_buf;                  /* owned storage of the names below */
    char *enable[QR_SETUP_ENABLE_MAX]; /* extensions to ENABLE (into enable_buf) */
    size_t nenable;                    /* entries in enable */
    unsigned int enabled;              /* bit i: enable[i] came back ENABLED */
    enum qr_switch xswitch;            /* pending layer switch */
    qr_auth_cb_type cb_type;           /* channel binding for -PLUS, or NONE */
    unsigned char cb[QR_SETUP_CB_MAX]; /* its bytes */
    size_t cb_len;                     /* their number */
} qr_setup;

/*
 * Set the policy. Before the greeting only (QR_EINVAL afterwards, or for
 * an ENABLE list with bad names or more than QR_SETUP_ENABLE_MAX);
 * QR_ENOMEM; auth errors of qr_auth_new().
 */
int qr_session_setup_configure(qr_session *s, const qr_setup_cfg *cfg);
/* The switch the driver must perform now, or QR_SWITCH_NONE. */
enum qr_switch qr_session_switch_pending(const qr_session *s);
/* 1 while qr_session_hold_input() holds the input: the driver neither
 * reads nor feeds, and does not count the time as waiting for the server. */
int qr_session_input_held(const qr_session *s);
/* 1 while an IDLE is idling (its "+" came, DONE is not queued): the
 * server owes nothing, so the driver does not count the time as waiting
 * for it (commands/idle.c sets and clears s->idling). */
int qr_session_idling(const qr_session *s);
/*
 * The driver performed the pending switch; `link` is the link now. After
 * TLS, cb_type/cb/cb_len give the channel binding (QR_AUTH_CB_NONE: none).
 * Resumes the setup (callbacks may run). 0, QR_EINVAL when no switch is
 * pending, or the session's fatal code.
 */
int qr_session_switch_done(qr_session *s, enum qr_link link, qr_auth_cb_type cb_type,
                           const void *cb, size_t cb_len);
/* Channel-binding bytes of the TLS link (imaps: after the handshake,
 * before feeding the greeting). Ignored when too long or empty. */
void qr_session_set_channel_binding(qr_session *s, qr_auth_cb_type cb_type, const void *cb,
                                    size_t cb_len);
/* Whether the extension was ENABLEd during setup (case-insensitive). */
int qr_session_setup_enabled(const qr_session *s, const char *name);
/* Free what the setup owns (session teardown). */
void qr_setup_free(qr_setup *st);

#endif /* QR_SESSION_SETUP_P_H */
