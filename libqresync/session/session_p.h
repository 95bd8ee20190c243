/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Internal side of the session (public API in include/qresync/session.h).
 *
 * Files:
 *   session.c  the object, its options, feed and the parser callbacks,
 *              greeting, routing of untagged responses, fatal errors,
 *              the reference count that defers qr_session_free();
 *   queue.c    command records, the pending and in-flight lists, the
 *              sendability rules, the writer pump, the output queue,
 *              completions and cancellation;
 *   caps.c     the capability bitmask and raw list;
 *   setup.c    the declarative list of connection-setup steps (STARTTLS,
 *              COMPRESS, ENABLE, the layer switches of setup_p.h) and the
 *              typed helpers (LOGIN, LOGOUT, NOOP, CAPABILITY);
 *   setup_auth.c  the authentication step over qr_auth (auth*.c);
 *   log.c      C: and S: wire lines.
 */
#ifndef QR_SESSION_SESSION_P_H
#define QR_SESSION_SESSION_P_H

#include <qresync/session.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/builder_p.h"
#include "session/setup_p.h"
#include "util/dynbuf.h"
#include "util/error.h"
#include "util/logger.h"

#define QR_SESSION_PREFIX_MAX 8  /* longest tag prefix */
#define QR_SESSION_TAG_MAX    32 /* room for a tag: prefix + 20 digits + NUL */
#define QR_SESSION_PULL_CHUNK 16384
#define QR_SESSION_WIRE_LINE  2048 /* longest S: line kept for the log */

/* Where a command record is. */
enum qr_scmd_where {
    QR_SCMD_PENDING,   /* in s->pending, not sent */
    QR_SCMD_IN_FLIGHT, /* in s->inflight, tag assigned, bytes (partly) queued */
    QR_SCMD_DONE       /* completed; alive only while output still points into it */
};

/* qr_scmd.flags beyond the public QR_SESSION_CMD_* bits */
#define QR_SCMD_INTERNAL 0x100u /* setup command: may start before the session is ready */

typedef struct qr_scmd qr_scmd;

/* Internal hook run at the tagged response, before the user's completion. */
typedef void (*qr_scmd_hook_fn)(qr_session *s, qr_scmd *c, const qr_resp *tagged);
/* Internal handler of the server's "+" for a command that answers it itself
 * (AUTHENTICATE): 0, or a code that fails the session. */
typedef int (*qr_scmd_cont_fn)(qr_session *s, qr_scmd *c, const qr_resp *cont);

/* Known command names, for barriers, automatic claims and trackers. */
enum qr_scmd_kind {
    QR_K_OTHER,
    QR_K_CAPABILITY,
    QR_K_LOGIN,
    QR_K_AUTHENTICATE,
    QR_K_STARTTLS,
    QR_K_COMPRESS,
    QR_K_ENABLE,
    QR_K_SELECT, /* SELECT and EXAMINE */
    QR_K_UNSELECT,
    QR_K_CLOSE,
    QR_K_LOGOUT,
    QR_K_FETCH,
    QR_K_STORE,
    QR_K_SEARCH,
    QR_K_LIST,
    QR_K_STATUS,
    QR_K_EXPUNGE,
    QR_K_NAMESPACE,
    QR_K_ID
};

struct qr_scmd {
    qr_scmd *prev, *next;               /* links in s->pending or s->inflight */
    qr_cmd *cmd;                        /* owned command; freed with the record */
    enum qr_scmd_where where;           /* which list, or done */
    enum qr_scmd_kind kind;             /* from the command name */
    unsigned int flags;                 /* QR_SESSION_CMD_* and QR_SCMD_* bits */
    uint32_t claims;                    /* QR_CLAIM() bits */
    char tag[QR_SESSION_TAG_MAX];       /* assigned when sent; "" before */
    qr_session_done_fn on_done;         /* user completion, or NULL */
    qr_session_untagged_fn on_untagged; /* user untagged handler, or NULL */
    qr_session_cmd_opts opts;           /* copy of the user's options (body callbacks) */
    void *payload;                      /* user payload, not owned */
    qr_scmd_hook_fn hook;               /* internal tagged hook, or NULL */
    qr_scmd_cont_fn on_cont;            /* internal "+" handler, or NULL */
    qr_cmdw w;                          /* serializer state while being written */
    int writing;                        /* 1 while chunks remain to be queued */
    int wait_cont;                      /* 1 while waiting for the server's "+" */
    int src_wait;                       /* 1 while a stream source said QR_EAGAIN */
    size_t out_refs;                    /* output entries still pointing into cmd */
};

/* One piece of the output queue. */
typedef struct qr_outent {
    const char *ptr;  /* bytes (into rec->cmd, or owned) */
    size_t len;       /* bytes left to send */
    qr_scmd *rec;     /* the record the bytes belong to (its out_refs counts us) */
    char *owned;      /* pulled bytes this entry owns, or NULL */
    size_t owned_len; /* bytes allocated at owned */
    int wipe;         /* owned bytes are secret: erase them before the free */
} qr_outent;

/* The setup phase. */
enum qr_phase {
    QR_PHASE_GREETING, /* nothing sent yet */
    QR_PHASE_SETUP,    /* only internal commands start */
    QR_PHASE_READY     /* everything starts */
};

struct qr_session {
    qr_session_options opts;                /* copy; tag_prefix points at prefix[] */
    char prefix[QR_SESSION_PREFIX_MAX + 1]; /* tag prefix */
    uint64_t next_tag;                      /* counter of the next tag */
    qr_parser *parser;                      /* owned response parser */
    qr_logger log;                          /* the log callback and threshold */
    qr_errslot err;                         /* detail of the last failure */
    int fatal;                              /* 0, or the sticky fatal code */
    qr_session_state state;                 /* IMAP state */
    enum qr_phase phase;                    /* setup phase */
    size_t setup_step;                      /* index of the next setup step */
    unsigned int refs;                      /* 1 + calls in progress (deferred free) */
    int dying;                              /* qr_session_free() was called */
    int in_feed;                            /* inside qr_parser_feed() */
    int paused;                             /* a user callback returned QR_PAUSE */
    int held;                               /* qr_session_hold_input(): feed nothing */
    int idling;                             /* an IDLE got its "+", no DONE queued yet */
    int user_error;                         /* a user callback returned < 0 */
    int bye;                                /* an unexpected BYE arrived */
    char bye_code[64];                      /* its response code name, or "" */
    char bye_text[512];                     /* its text (raw, NUL-terminated, maybe cut) */
    int logout_sent;                        /* a LOGOUT was sent */
    int quiet_callbacks;                    /* completions may not submit (teardown) */

    qr_scmd *pending, *pending_tail;   /* not yet sent, in order */
    qr_scmd *inflight, *inflight_tail; /* sent, oldest first */
    size_t npending, ninflight;        /* list lengths */
    size_t barriers_in_flight;         /* barrier commands in flight */
    qr_scmd *writer;                   /* the in-flight command still being written */
    qr_scmd *body_target;              /* command receiving the current FETCH body */
    int body_active;                   /* between on_body_begin and on_body_end */

    qr_outent *out;                      /* output queue: entries [out_head, out_len) */
    size_t out_head, out_len, out_alloc; /* queue indices and size */
    size_t out_bytes;                    /* bytes queued, not yet consumed */

    uint64_t caps;    /* bitmask of known capabilities */
    int caps_known;   /* the list below is valid */
    char **cap_names; /* owned array of cap_count owned names */
    size_t cap_count; /* names in cap_names */

    qr_session_selected sel; /* the selected mailbox view */
    qr_setup setup;          /* connection-setup policy and switches (setup_p.h) */

    qr_session_untagged_fn tap; /* qr_session_set_tap(): sees every response, or NULL */
    void *tap_payload;          /* passed to tap */

    qr_dynbuf wire_in;      /* S: line being assembled (capped) */
    int wire_after_literal; /* the next S: line follows a literal */
    int wire_in_cut;        /* the current S: line was cut */
};

/* --- session.c ---------------------------------------------------------- */
/* Record a fatal error (first one wins), complete every command with it. */
int qr_session_fail(qr_session *s, int code, const char *fmt, ...) QR_PRINTF(3, 4);
void qr_session_ref(qr_session *s);
/* Drops a reference; frees the session when the last one goes while dying. */
void qr_session_unref(qr_session *s);
/* Map a callback's return: 0 go on; QR_PAUSE pause; < 0 fail with QR_EUSER. */
int qr_session_user_rc(qr_session *s, int rc, const char *what);

/*
 * Internal to libqresync (the sync engines): a tap that sees every untagged
 * and tagged response, after the session's own trackers and before the
 * routing to commands, as the reference client's response handler does.
 * Its return value is handled as an on_untagged callback's. NULL removes it.
 */
void qr_session_set_tap(qr_session *s, qr_session_untagged_fn tap, void *payload);

/* --- queue.c ------------------------------------------------------------ */
int qr_queue_submit(qr_session *s, qr_cmd *cmd, const qr_session_cmd_opts *opts,
                    qr_session_done_fn on_done, qr_session_untagged_fn on_untagged, void *payload,
                    unsigned int internal_flags, qr_scmd_hook_fn hook);
/* Start and write whatever the rules allow. 0 or the fatal code. */
int qr_queue_pump(qr_session *s);
/* The command in flight with this tag, or NULL. */
qr_scmd *qr_queue_find(qr_session *s, const char *tag, size_t len);
/* Complete an in-flight command with its tagged response. */
void qr_queue_complete_tagged(qr_session *s, qr_scmd *c, const qr_resp *resp);
/* A "+" arrived: 0, QR_EPROTO when nobody waits for it, or the code of
 * a command's continuation handler. */
int qr_queue_continue(qr_session *s, const qr_resp *r);
/* Queue line + CRLF as output of the in-flight command c (a continuation
 * answer); secret: erased once sent. 0 or QR_ENOMEM. */
int qr_queue_push_line(qr_session *s, qr_scmd *c, const char *line, size_t len, int secret);
/* Complete every command (pending and in flight) with status. */
void qr_queue_complete_all(qr_session *s, int status);
/* Complete the pending commands with QR_ECANCELED; returns how many. */
size_t qr_queue_cancel_pending(qr_session *s);
/* Free the output queue and every record (teardown, after completions). */
void qr_queue_destroy(qr_session *s);
/* The oldest in-flight command claiming kind, or NULL. */
qr_scmd *qr_queue_claimer(qr_session *s, int kind);
/* Literal mode from the capabilities. */
qr_cmd_literal_mode qr_queue_literal_mode(const qr_session *s);

/* --- caps.c ------------------------------------------------------------- */
/* Replace the list with these names. QR_ENOMEM leaves the list unknown. */
int qr_caps_set(qr_session *s, const qr_resp_strlist *list);
void qr_caps_clear(qr_session *s);

/* --- setup.c ------------------------------------------------------------ */
/* Run the next setup steps after the greeting or a step's completion. */
void qr_setup_next(qr_session *s);
/* Submit an internal setup command at the head of the queue. 0 or the
 * session's fatal code (the command is freed on failure). */
int qr_setup_submit(qr_session *s, qr_cmd *cmd, qr_scmd_hook_fn hook, qr_scmd_cont_fn on_cont,
                    qr_session_untagged_fn on_untagged);

/* --- setup_auth.c ------------------------------------------------------- */
/* The authentication step: 0 not needed, 1 started, < 0 failed. */
int qr_setup_step_auth(qr_session *s);

/* --- log.c -------------------------------------------------------------- */
void qr_slog_wire_in(qr_session *s, const char *bytes, size_t len);
void qr_slog_wire_out(qr_session *s, const qr_scmd *c);

#endif /* QR_SESSION_SESSION_P_H */
