/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Helpers shared by the QRESYNC engine tests and fuzzer: feed raw server
 * bytes through the real response parser into an engine, and render a
 * change set as one comparable line of text.
 *
 * Rendered change set (mbox_render):
 *   "V=<vanished> N=<new uids> U=<uid>/<modseq><flags>;... F=<flags hex>"
 * where <flags> is ` (\Flagged \Seen)` as the reference prints it, or ` ?`
 * when the server reported a change without FLAGS.
 */
#ifndef QR_TESTS_MBOX_UTIL_H
#define QR_TESTS_MBOX_UTIL_H

#include <qresync/mbox.h>
#include <qresync/resp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Feeding state: the engine and the first error it returned. */
typedef struct mbox_feed {
    qr_mbox_engine *e; /* engine fed (borrowed) */
    int rc;            /* first non-zero qr_mbox_engine_feed() result */
    unsigned long n;   /* responses fed */
} mbox_feed;

static inline int mbox_on_response(const qr_resp *resp, void *payload)
{
    mbox_feed *f = payload;
    int rc = qr_mbox_engine_feed(f->e, resp);

    f->n++;
    if (rc != 0 && f->rc == 0)
        f->rc = rc;
    return 0;
}

/*
 * Parse `len` bytes (whole, or in slices of `step` bytes when step > 0),
 * after a greeting `* OK ready`, and feed every response to e. Returns the parser's result (0 when
 * the bytes parsed) and stores the engine's first error in *engine_rc.
 */
static inline int mbox_feed_bytes(qr_mbox_engine *e, const char *wire, size_t len, size_t step,
                                  int *engine_rc)
{
    qr_parser_options o = QR_PARSER_OPTIONS_INIT;
    qr_parser *p = NULL;
    mbox_feed f;
    size_t off = 0, used = 0;
    int rc;

    f.e = e;
    f.rc = 0;
    f.n = 0;
    o.callbacks.on_response = mbox_on_response;
    o.payload = &f;
    rc = qr_parser_new(&p, &o);
    /* a session's parser has read the greeting before any mailbox work */
    if (rc == 0)
        rc = qr_parser_feed(p, "* OK ready\r\n", 12, &used);
    while (rc == 0 && off < len) {
        size_t n = step ? (len - off < step ? len - off : step) : len - off;
        rc = qr_parser_feed(p, wire + off, n, &used);
        off += n;
    }
    qr_parser_free(p);
    *engine_rc = f.rc;
    return rc;
}

/* Append text to a bounded buffer. */
static inline void mbox_cat(char *out, size_t cap, const char *s)
{
    size_t have = strlen(out), n = strlen(s);

    if (have + n + 1 > cap)
        n = cap - have - 1;
    memcpy(out + have, s, n);
    out[have + n] = '\0';
}

static inline void mbox_cat_set(char *out, size_t cap, const qr_uidset *set)
{
    qr_buf b = QR_BUF_INIT;

    if (qr_uidset_format(set, &b) == 0)
        mbox_cat(out, cap, b.ptr);
    else
        mbox_cat(out, cap, "<nomem>");
    qr_buf_dispose(&b);
}

/* Render a change set (format in the comment at the top). */
static inline void mbox_render(const qr_changes *c, const qr_kwtable *kw, char *out, size_t cap)
{
    const qr_flag_update *u;
    size_t n = 0, i;
    char tmp[64];

    out[0] = '\0';
    mbox_cat(out, cap, "V=");
    mbox_cat_set(out, cap, qr_changes_vanished(c));
    mbox_cat(out, cap, " N=");
    mbox_cat_set(out, cap, qr_changes_new_uids(c));
    mbox_cat(out, cap, " U=");
    u = qr_changes_updates(c, &n);
    for (i = 0; i < n; i++) {
        qr_buf b = QR_BUF_INIT;

        snprintf(tmp, sizeof(tmp), "%s%lu/%llu ", i ? ";" : "", (unsigned long)u[i].uid,
                 (unsigned long long)u[i].modseq);
        mbox_cat(out, cap, tmp);
        if (!u[i].flags_known)
            mbox_cat(out, cap, "?");
        else if (qr_flagset_format(&u[i].flags, kw, QR_FLAGSET_FORMAT_PARENS, &b) == 0)
            mbox_cat(out, cap, b.ptr);
        qr_buf_dispose(&b);
    }
    snprintf(tmp, sizeof(tmp), " F=%x", qr_changes_flags(c));
    mbox_cat(out, cap, tmp);
}

/* Render a state as "uv/uidnext/hms/exists|-/nomodseq". */
static inline void mbox_render_state(const qr_mbox_state *s, char *out, size_t cap)
{
    char ex[16];

    if (s->exists_known)
        snprintf(ex, sizeof(ex), "%lu", (unsigned long)s->exists);
    else
        snprintf(ex, sizeof(ex), "-");
    snprintf(out, cap, "%lu/%lu/%llu/%s/%d", (unsigned long)s->uidvalidity,
             (unsigned long)s->uidnext, (unsigned long long)s->highestmodseq, ex, s->nomodseq);
}

#endif /* QR_TESTS_MBOX_UTIL_H */
