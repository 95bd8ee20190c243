/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one-way pull engine (include/qresync/pull.h), internal interface
 * shared by libqresync/pull/pull*.c.
 *
 * A qr_pull keeps what PullIMAP 0.5.7 keeps for its one mailbox
 * (spec/pullimap.md, imap-client.md §9): CACHE (UIDVALIDITY, UIDNEXT,
 * EXISTS and the new-messages counter, fed by a session tap that sees
 * every response) and PCACHE.UIDNEXT, the fetch cursor. Beside them sit
 * the state file's own values: the UIDNEXT written there (`stored_next`)
 * and its list of UIDs delivered above it (`rec`, in file order), which is
 * the ignore list of the next pull. Without a temporary delivery failure
 * `stored_next` equals PCACHE.UIDNEXT after every pull and `rec` is empty,
 * as with the reference.
 *
 * Commands are submitted to the session and counted in `outstanding`;
 * pl_wait() drives the loop until they have all completed. A message whose
 * FETCH response is complete is parked in `ready` with the session's
 * input held, so the loop returns and the deliver callback runs from the
 * engine's own code, never from inside a session callback; the input is
 * released once the message is handled.
 *
 * Files:
 *   pull.c         the object, options, start-up (§4.1), logging, waiting
 *   pull_state.c   the state file (§3): open, lock, read, write (pure I/O)
 *   pull_sender.c  the envelope sender (§4.3 step 1; pure)
 *   pull_fetch.c   the pull (§4.2): FETCH, bodies, delivery, \Seen, the file
 *   pull_purge.c   purge-after (§6)
 *   pull_idle.c    IDLE (§7)
 */
#ifndef QR_PULL_PULL_P_H
#define QR_PULL_PULL_P_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <qresync/commands.h>
#include <qresync/loop.h>
#include <qresync/pull.h>
#include <qresync/session.h>
#include <qresync/uidset.h>

#include "util/error.h"
#include "util/logger.h"

/* --- pull_state.c: the state file ------------------------------------------ */

/* An open, locked state file. */
typedef struct pl_state {
    int fd;     /* the descriptor (O_RDWR | O_DSYNC | O_CLOEXEC), or -1 */
    char *path; /* the path as given, owned (for messages) */
} pl_state;

/* Empty handle (fd -1). */
void pl_state_init(pl_state *st);
/* Open (creating it when `create`), lock (fcntl F_SETLK, F_WRLCK, whole
 * file). QR_EIO `Can't open PATH: ERR`, QR_ELOCKED `Can't lock PATH: ERR`
 * (errno in the slot); QR_ENOMEM. On failure nothing stays open. */
int pl_state_open(pl_state *st, const char *path, int create, qr_errslot *err);
/* The 32-bit big-endian number at byte `off`: 1 read, 0 end of file,
 * QR_EPROTO `Corrupted state file!` (1-3 bytes), QR_EIO `read: ERR`. */
int pl_state_read(const pl_state *st, uint64_t off, uint32_t *out, qr_errslot *err);
/* Write n numbers big-endian from byte `off` (durable on return, O_DSYNC).
 * 0 or QR_EIO `write: ERR`. */
int pl_state_write(const pl_state *st, uint64_t off, const uint32_t *v, size_t n, qr_errslot *err);
/* End of a pull: UIDNEXT at byte 4, then `keep` from byte 8, then the file
 * cut to 8 + 4 n bytes. Crash-safe as long as `keep` is an ordered
 * subsequence of the list in the file and uidnext is at least the file's.
 * 0 or QR_EIO (`write: ERR`, `truncate: ERR`). */
int pl_state_finish(const pl_state *st, uint32_t uidnext, const uint32_t *keep, size_t n,
                    qr_errslot *err);
/* Close (releases the lock); harmless when closed. */
void pl_state_close(pl_state *st);

/* --- pull_sender.c ----------------------------------------------------------- */

/* The envelope sender of a local part and a domain (either NULL for NIL):
 * `L@D` for a dot-string L, `"L'"@D` for another printable ASCII L (`"`
 * and `\` escaped), "" otherwise (8-bit or control bytes in L, a domain
 * holding bytes outside 0x21-0x7E, NIL). Owned; NULL only on ENOMEM. */
char *pl_sender(const char *local, size_t llen, const char *domain, size_t dlen);
/* pl_sender() of the first address of an ENVELOPE's Sender (NULL: ""). */
char *pl_envelope_sender(const qr_resp_envelope *e);

/* --- the engine ----------------------------------------------------------------- */

/* A body as it streams in: memory up to PL_SPILL_MIN, else an unnamed file. */
typedef struct pl_body {
    int active;        /* between body_begin and the FETCH response */
    int complete;      /* body_end came */
    uint64_t size;     /* announced size (0 for NIL) */
    uint64_t have;     /* bytes received */
    char *mem;         /* in-memory bytes, owned, or NULL */
    int fd;            /* spill file, or -1 */
    int eightbit;      /* a byte above 0x7F was seen */
    uint64_t read_off; /* bytes handed to the deliver callback's reads */
} pl_body;

/* A message waiting for delivery (the session's input is held meanwhile). */
typedef struct pl_ready {
    int set;      /* a message is parked */
    uint32_t uid; /* its UID */
    char *date;   /* INTERNALDATE as sent, owned ("" when absent) */
    char *sender; /* envelope sender, owned */
    pl_body body; /* its body (nothing with QR_PULL_NO_DELIVERY) */
} pl_ready;

struct qr_pull {
    qr_pull_options o;               /* copy; statefile and mailbox point at the copies below */
    char *statefile;                 /* owned */
    char *mailbox;                   /* owned; INBOX in any case is `INBOX` */
    pl_state st;                     /* the state file */
    qr_logger log;                   /* the options' log callback */
    qr_errslot err;                  /* detail of the first failure */
    int failed;                      /* first failure code, sticky */
    volatile sig_atomic_t cancelled; /* qr_pull_cancel() (signal handlers) */
    qr_pull_stats stats;

    qr_conn *conn;      /* borrowed (qr_pull_attach) */
    qr_session *s;      /* its session once ready */
    qr_loop *loop;      /* owned; holds conn */
    size_t outstanding; /* commands counted by pl_wait() */
    int started;        /* qr_pull_run() got past the SELECT */
    int selected;       /* the SELECT succeeded and UIDVALIDITY matched */

    /* CACHE of the selected mailbox (imap-client.md §8.2-§8.4), from the tap */
    int c_has_uidvalidity, c_has_uidnext, c_has_exists;
    uint32_t c_uidvalidity, c_uidnext, c_exists;
    uint32_t new_mails; /* EXISTS growth not yet pulled */
    /* PCACHE.UIDNEXT: every UID below was handled (delivered, deferred or gone) */
    uint32_t p_uidnext;

    /* the state file's contents */
    uint32_t uidvalidity; /* UIDVALIDITY at byte 0 */
    uint32_t stored_next; /* UIDNEXT at byte 4 */
    uint32_t *rec;        /* the list from byte 8, in file order */
    size_t nrec, arec;

    /* the pull in progress (pull_fetch.c) */
    qr_uidset *ignore;     /* rec as a set: skipped by the FETCH */
    qr_uidset *delivered;  /* delivered (or recorded) in this pull */
    qr_uidset *handled;    /* handled in this pull (delivered or deferred) */
    qr_uidset *fetch_set;  /* the set of the FETCH in flight */
    uint32_t deferred_min; /* lowest UID deferred in this pull, 0 for none */
    uint32_t maxuid;       /* highest UID a FETCH response carried */
    int held;              /* the session's input is held for `ready` */
    pl_body body;          /* the body streaming in */
    pl_ready ready;        /* the message to deliver */

    /* purge (pull_purge.c) */
    int purged_once;    /* a purge search ran */
    int64_t last_purge; /* when (seconds since 1970) */
    void *purge_ctx;    /* the search in flight (pull_purge.c), or NULL */
};

/* --- pull.c ---------------------------------------------------------------------- */
/* Log a line (printf-style, any length; control bytes escaped). */
void pl_log(struct qr_pull *p, qr_log_level level, const char *fmt, ...) QR_PRINTF(3, 4);
/* Record the first failure and log it as `ERROR: TEXT`; returns code. */
int pl_fail(struct qr_pull *p, int code, const char *fmt, ...) QR_PRINTF(3, 4);
/* Record the first failure without logging it (state file, callbacks). */
int pl_fail_quiet(struct qr_pull *p, int code, const char *fmt, ...) QR_PRINTF(3, 4);
/* QR_ECANCELED at a safe point (nothing in flight): recorded in the error
 * slot but not sticky, so the connection may still log out. */
int pl_cancelled(struct qr_pull *p);
/* The failure of a command (its result): `ERROR: NO text`, or the connection's. */
int pl_cmd_failed(struct qr_pull *p, const qr_session_result *res);
/* Completion counting one outstanding command; failures recorded. payload = p. */
int pl_done(qr_session *s, const qr_session_result *res, void *payload);
/* Submit a built command (freed on failure), counted, completing with
 * pl_done(); `co` (claims, body callbacks; NULL for QR_CLAIM_AUTO) and
 * on_untagged get p as payload. */
int pl_submit(struct qr_pull *p, qr_cmd *cmd, const qr_session_cmd_opts *co,
              qr_session_untagged_fn on_untagged);
/* pl_submit() `NAME PIECE TAIL` for each <= 4096-byte piece of set (§7.4). */
int pl_submit_pieces(struct qr_pull *p, const char *name, const qr_uidset *set, const char *tail,
                     const qr_session_cmd_opts *co, qr_session_untagged_fn on_untagged);
/* Drive the loop until nothing is outstanding, delivering parked messages.
 * With `keep_cancel`, a cancel does not stop the wait (IDLE's DONE). */
int pl_wait(struct qr_pull *p, int keep_cancel);
/* Debug `Update last clean state for MAILBOX: (...)`. */
void pl_log_pcache(struct qr_pull *p, int have_state);
/* Whether new messages were announced: EXISTS growth or UIDNEXT moved. */
int pl_has_new_mails(const struct qr_pull *p);

/* --- pull_fetch.c ---------------------------------------------------------------- */
/* Append a UID to rec (the mirror of the file's list). 0 or QR_ENOMEM. */
int pl_rec_add(struct qr_pull *p, uint32_t uid);
/* §4.2: one pull with the file's list as ignore list, then the file update. */
int pl_pull(struct qr_pull *p);
/* Deliver (or record) the parked message and release the input. */
int pl_handle_ready(struct qr_pull *p);
/* Forget the parked message and the streaming body (files closed). */
void pl_fetch_reset(struct qr_pull *p);

/* --- pull_purge.c ---------------------------------------------------------------- */
/* §6, then a pull when new messages were announced meanwhile. */
int pl_purge(struct qr_pull *p);

#endif /* QR_PULL_PULL_P_H */
