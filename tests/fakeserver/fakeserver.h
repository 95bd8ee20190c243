/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A scripted, in-memory fake IMAP server: the peer of a sans-IO qr_session.
 * See tests/fakeserver/README.md for the script language.
 *
 * Usage:
 *   fakeserver fs;
 *   fs_init(&fs, session);
 *   static const char *const script[] = {"send * OK hi\r\n", "expect A1 NOOP\r\n", NULL};
 *   CHECK_INT_EQ(fs_run(&fs, script), 0);   // on failure fs.err says why
 *
 * The recorder (fs_rec) collects what the session's callbacks saw as lines
 * ("done A1 OK text", "untagged EXISTS", "unsolicited FETCH"), so tests
 * compare one string.
 */
#ifndef QR_TESTS_FAKESERVER_H
#define QR_TESTS_FAKESERVER_H

#include <qresync/session.h>
#include <stddef.h>

#define FS_BUF 262144

typedef struct fakeserver {
    qr_session *s;        /* the session under test (borrowed) */
    char client[FS_BUF];  /* bytes the client sent, not yet matched */
    size_t client_len;    /* bytes in client */
    size_t split;         /* deliver sends this many bytes at a time; 0 = whole */
    size_t force_split;   /* when non-zero, overrides every split (replays) */
    int last_rc;          /* result of the last send/garbage/close */
    int pauses;           /* QR_PAUSE results seen while sending */
    size_t max_in_flight; /* largest in-flight count seen */
    size_t sent_total;    /* bytes the client sent in total */
    char err[1024];       /* why fs_run failed */
} fakeserver;

void fs_init(fakeserver *fs, qr_session *s);
/* Collect what the session has to send into fs->client. 0 or the output error. */
int fs_pull(fakeserver *fs);
/* Feed bytes in pieces of the current split, resuming after QR_PAUSE. */
int fs_send(fakeserver *fs, const char *bytes, size_t len);
/* Run a NULL-terminated script. 0 on success, -1 with fs->err set. */
int fs_run(fakeserver *fs, const char *const *script);
/* Decode \r \n \t \\ \xHH escapes; returns the length written (out >= strlen(in)+1). */
size_t fs_unescape(const char *in, char *out);

/* --- recorder -------------------------------------------------------------- */

typedef struct fs_rec {
    char text[65536];      /* event lines, each ending with '\n' */
    size_t len;            /* bytes in text */
    int completions;       /* completion callbacks seen */
    int pause_on_untagged; /* return QR_PAUSE from the next untagged callback */
} fs_rec;

void fs_rec_add(fs_rec *r, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A qr_session_done_fn recording "done TAG STATUS text". payload: fs_rec. */
int fs_rec_done(qr_session *s, const qr_session_result *res, void *payload);
/* A qr_session_untagged_fn recording "untagged KIND". payload: fs_rec. */
int fs_rec_untagged(qr_session *s, const qr_resp *resp, void *payload);
/* A qr_session_untagged_fn recording "unsolicited KIND". payload: fs_rec. */
int fs_rec_unsolicited(qr_session *s, const qr_resp *resp, void *payload);
/* Name of a status for the recorder: OK, NO, BAD, CANCELED, or the strerror. */
const char *fs_status_name(int status);

#endif /* QR_TESTS_FAKESERVER_H */
