/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * dc-util: blocking helpers for the engine-against-Dovecot test. A dc_conn
 * is a PREAUTH tunnel to the rig's store with QRESYNC enabled and its own
 * poll loop; dc_run() submits one command and waits for its completion;
 * dc_scan() takes a full scan of a mailbox (SELECT, then
 * UID FETCH 1:* (UID FLAGS MODSEQ)) into a dc_scan.
 */
#ifndef QR_TESTS_DC_UTIL_H
#define QR_TESTS_DC_UTIL_H

#include <qresync/conn.h>
#include <qresync/loop.h>
#include <qresync/mbox.h>
#include <stddef.h>
#include <stdint.h>

/* A connection to the store with its loop. */
typedef struct dc_conn {
    qr_conn *c;          /* the connection (owned) */
    qr_loop *loop;       /* its loop (owned) */
    qr_mbox_engine *eng; /* when set, unsolicited responses are fed to it */
    int feed_rc;         /* first failing qr_mbox_engine_feed() of the feeding */
} dc_conn;

/* One message of a full scan. */
typedef struct dc_msg {
    uint32_t uid;
    uint64_t modseq;
    qr_flagset flags; /* without \Recent */
} dc_msg;

/* A full scan of a mailbox. */
typedef struct dc_scan {
    uint32_t uidvalidity, uidnext;
    uint64_t hms;
    uint32_t exists;
    dc_msg *m; /* sorted by UID */
    size_t n, cap;
} dc_scan;

/* Outcome of a command for dc_run(): status and the tagged code. */
typedef struct dc_result {
    int status;
    qr_code_kind code;
    uint32_t appenduid; /* first UID of [APPENDUID], else 0 */
    char text[200];
} dc_result;

/* Claims of every untagged kind. */
#define DC_CLAIM_ALL 0x7ffffffeu

int dc_open(dc_conn *d, qr_kwtable *kw);
void dc_close(dc_conn *d);
/* Submit cmd (owned by the session from then on, freed on error) with the
 * claims; on_untagged may be NULL; when d->eng is set, the tagged
 * response is fed to it too. Waits for the completion. */
int dc_run(dc_conn *d, qr_cmd *cmd, uint32_t claims, qr_session_untagged_fn on_untagged,
           void *payload, dc_result *res);
/* Run a command given as atoms and raw text ("NOOP", "UNSELECT", ...). */
int dc_simple(dc_conn *d, const char *name, const char *raw_args);
int dc_select(dc_conn *d, const char *mbox);
/* NAME mailbox: CREATE, DELETE, SELECT, ... */
int dc_mailbox_cmd(dc_conn *d, const char *name, const char *mbox);
int dc_append(dc_conn *d, const char *mbox, const char *const *flags, size_t nflags,
              uint32_t *uid_out);
int dc_store(dc_conn *d, uint32_t uid, const char *op, const char *const *flags, size_t nflags);
int dc_scan_take(dc_conn *d, const char *mbox, qr_kwtable *kw, dc_scan *out);
void dc_scan_dispose(dc_scan *s);
const dc_msg *dc_scan_find(const dc_scan *s, uint32_t uid);
/* Feed every response of a command to d->eng (an on_untagged callback). */
int dc_feed_engine(qr_session *s, const qr_resp *resp, void *payload);

#endif /* QR_TESTS_DC_UTIL_H */
