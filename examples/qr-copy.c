/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qr-copy: copy every message of a mailbox to a mailbox on another server,
 * with its flags and internal date, in constant memory.
 *
 *     qr-copy CONFIG SRC_SECTION SRC_MAILBOX DST_SECTION DST_MAILBOX
 *
 * prints `SRC_UID -> DST_UID` per message (DST_UID is 0 when the server
 * does not report APPENDUID). The destination mailbox must exist.
 * Each message is streamed by a qr_relay: `UID FETCH BODY.PEEK[]` on the
 * source feeds `APPEND` on the destination through a fixed ring buffer, so
 * a 1 GiB message needs no more memory than a 1 KiB one.
 * Build: cc -o qr-copy qr-copy.c config.c $(pkg-config --cflags --libs libqresync)
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <qresync/qresync.h>

#include "config.h"

/* What the callbacks report back to main(). */
typedef struct app {
    size_t done;        /* completions: the loop runs until it grows */
    int status;         /* status of the last command */
    qr_uidset *uids;    /* the source's UIDs (UID SEARCH ALL) */
    qr_relay_result rr; /* outcome of the last relayed message */
} app;

static int select_done(qr_session *s, const qr_session_result *res,
                       const qr_imap_select_result *sel, void *payload)
{
    app *a = payload;

    (void)s;
    (void)sel;
    a->status = res->status;
    a->done++;
    return 0;
}

static int search_done(qr_session *s, const qr_session_result *res, const qr_uidset *uids,
                       int has_modseq, uint64_t modseq, int esearch, void *payload)
{
    app *a = payload;

    (void)s;
    (void)has_modseq;
    (void)modseq;
    (void)esearch;
    /* `uids` is borrowed for this call only: keep a copy */
    a->status = res->status;
    if (a->status == 0 && qr_uidset_union(a->uids, uids) != 0)
        a->status = QR_ENOMEM;
    a->done++;
    return 0;
}

static void relay_done(qr_relay *r, const qr_relay_result *res, void *payload)
{
    app *a = payload;

    (void)r;
    a->rr = *res;
    a->status = res->status;
    a->done++;
}

/* Open a connection from a section of the configuration file. */
static qr_conn *open_conn(const char *path, const char *section, const char *tag_prefix)
{
    qr_conn_options o;
    ex_config cfg;
    qr_conn *c = NULL;

    if (ex_config_load(&cfg, path, section, &o) != 0)
        return NULL;
    o.tag_prefix = tag_prefix; /* tells the two connections apart in logs */
    if (qr_conn_new(&c, &o) != 0) {
        fprintf(stderr, "qr-copy: [%s]: %s\n", section,
                c != NULL ? qr_conn_last_error(c)->message : "out of memory");
        qr_conn_free(c);
        c = NULL;
    }
    ex_config_free(&cfg);
    return c;
}

/* Run the loop until one more completion; report a failure on `c`. */
static int wait_one(qr_loop *loop, app *a, qr_conn *c, const char *what)
{
    size_t target = a->done + 1;
    int rc = qr_loop_run_count(loop, &a->done, target, -1);

    if (rc == 0)
        rc = a->status;
    if (rc != 0)
        fprintf(stderr, "qr-copy: %s: %s (%s)\n", what, qr_conn_last_error(c)->message,
                qr_strerror(rc));
    return rc;
}

int main(int argc, char **argv)
{
    app a = {0, 0, NULL, {0, QR_RELAY_SIDE_NONE, 0, 0, 0, 0, 0}};
    qr_imap_search_options all = QR_IMAP_SEARCH_OPTIONS_INIT;
    qr_conn *src = NULL, *dst = NULL;
    qr_loop *loop = NULL;
    qr_relay *relay = NULL;
    qr_uidset_iter it;
    uint32_t uid;
    int rc = 1;

    if (argc != 6) {
        fprintf(stderr, "usage: qr-copy CONFIG SRC_SECTION SRC_MAILBOX DST_SECTION DST_MAILBOX\n");
        return 2;
    }
    if (qr_uidset_new(&a.uids) != 0 || qr_loop_new(&loop) != 0 || qr_relay_new(&relay, NULL) != 0) {
        fprintf(stderr, "qr-copy: out of memory\n");
        goto out;
    }
    src = open_conn(argv[1], argv[2], "S");
    dst = open_conn(argv[1], argv[4], "D");
    /* A relay needs both sessions driven by the same loop. */
    if (src == NULL || dst == NULL || qr_loop_add(loop, src) != 0 || qr_loop_add(loop, dst) != 0)
        goto out;

    /* EXAMINE (read-only SELECT) the source, then list its UIDs. Both
     * commands are queued at once: the session sends them in order. */
    if (qr_imap_select(qr_conn_session(src), argv[3], QR_SELECT_EXAMINE, NULL, NULL, select_done,
                       &a) != 0 ||
        wait_one(loop, &a, src, "EXAMINE") != 0)
        goto out;
    if (qr_imap_uid_search(qr_conn_session(src), &all, search_done, &a) != 0 ||
        wait_one(loop, &a, src, "UID SEARCH") != 0)
        goto out;

    /* One relay, reused message after message. */
    qr_uidset_iter_init(&it, a.uids);
    while (qr_uidset_iter_next(&it, &uid)) {
        if (qr_relay_start(relay, qr_conn_session(src), uid, qr_conn_session(dst), argv[5],
                           relay_done, &a) != 0) {
            fprintf(stderr, "qr-copy: UID %" PRIu32 ": %s\n", uid,
                    qr_conn_last_error(src)->message);
            goto out;
        }
        /* The completion fires once, after both sides' commands completed. */
        rc = qr_loop_run_count(loop, &a.done, a.done + 1, -1);
        if (rc != 0 || a.status != 0) {
            qr_conn *side = a.rr.failed == QR_RELAY_SIDE_DEST ? dst : src;

            fprintf(stderr, "qr-copy: UID %" PRIu32 ": %s side: %s (%s)\n", uid,
                    side == dst ? "destination" : "source", qr_conn_last_error(side)->message,
                    qr_strerror(rc != 0 ? rc : a.status));
            rc = 1;
            goto out;
        }
        printf("%" PRIu32 " -> %" PRIu32 "\n", a.rr.src_uid, a.rr.dst_uid);
    }
    if (fflush(stdout) != 0)
        goto out;
    rc = 0;

out:
    if (src != NULL)
        qr_loop_remove(loop, src);
    if (dst != NULL)
        qr_loop_remove(loop, dst);
    if (rc == 0 && (qr_conn_close_wait(src, 10000) != 0 || qr_conn_close_wait(dst, 10000) != 0))
        rc = 1;
    /* Free the connections first: a relay still running (after an error)
     * completes when its sessions go, and only then may it be freed. */
    qr_conn_free(src);
    qr_conn_free(dst);
    qr_relay_free(relay);
    qr_loop_free(loop);
    qr_uidset_free(a.uids);
    return rc;
}
